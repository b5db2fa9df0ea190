"""Training (course_lib.train): LoRA share, weights move, determinism, loud failures, SIGKILL + resume, save/merge/reload.

All runs use the smoke profile (fp32, so CPU results are bit-for-bit repeatable) on a few support records with
a handful of optimiser steps: they check behaviour, not quality.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from course_lib import cli, evaluation, models, train
from course_lib.errors import ConfigError
from course_lib.paths import data_path

SYSTEM = "You are the support assistant for Brightleaf Notes."
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def records():
    lines = data_path("support", "support_clean.jsonl").read_text(encoding="utf-8").splitlines()[:40]
    return [json.loads(line) for line in lines]


def _fresh(smoke_runtime):
    return models.load_causal_lm(runtime=smoke_runtime, verbose=False)


def _quick(**overrides):
    base = dict(method="lora", max_steps=3, logging_steps=1, save_steps=100, eval_steps=100, live="off",
                system_prompt=SYSTEM, train_examples=12, batch_size=4)
    return train.TrainConfig(**{**base, **overrides})


def _losses(result):
    return [e["loss"] for e in result.log_history if "loss" in e]


@pytest.fixture(scope="module")
def lora_run(records, smoke_runtime, tmp_path_factory):
    model, tok = _fresh(smoke_runtime)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    result = train.train(records[:30], [], config=_quick(), runtime=smoke_runtime,
                         output_dir=tmp_path_factory.mktemp("lora_a"), model=model, tokenizer=tok)
    return result, before


def test_lora_trains_few_parameters_and_they_move(lora_run):
    result, before = lora_run
    assert 0 < result.trainable_fraction < 0.02
    state = train.trainable_state(result.model)
    assert state and all("lora_" in name for name in state)
    assert any(float(t.abs().max()) > 0 for n, t in state.items() if "lora_B" in n)  # B starts at zero
    # The frozen base weights did not move.
    base = {n.replace("base_model.model.", "").replace(".base_layer", ""): p
            for n, p in result.model.named_parameters() if "lora_" not in n}
    assert set(before) == set(base)
    assert all(float((base[n] - w).abs().max()) == 0 for n, w in before.items())
    assert len(_losses(result)) == 3 and all(v == v for v in _losses(result))
    assert result.useful_tokens > 0 and result.useful_tokens_per_s > 0 and result.peak_memory_bytes > 0
    summary = json.loads((result.output_dir / "metrics.json").read_text())
    assert summary["steps"] == 3 and summary["trainable_params"] == result.trainable_params
    stamp = json.loads(result.stamp_path.read_text())
    assert stamp["seed"] == 0 and stamp["train"]["method"] == "lora"
    assert (result.final_dir / "adapter_config.json").exists()
    # The base model's name is saved inside the adapter folder, before it appears under its final name.
    assert (result.final_dir / "course_base_model.txt").read_text().strip() == "smollm2-135m-instruct"
    assert [p.name for p in result.final_dir.parent.iterdir() if p.name.startswith(".")] == []
    assert train.folder_size_bytes(result.final_dir) < 20 * 2**20


def test_same_seed_same_losses(lora_run, records, smoke_runtime, tmp_path):
    first, _ = lora_run
    model, tok = _fresh(smoke_runtime)
    again = train.train(records[:30], [], config=_quick(save_final=False), runtime=smoke_runtime,
                        output_dir=tmp_path, model=model, tokenizer=tok)
    assert _losses(again) == _losses(first)  # fp32 on CPU: bit-for-bit


def test_nan_loss_fails_loudly(records, smoke_runtime, tmp_path):
    import torch

    model, tok = _fresh(smoke_runtime)
    with torch.no_grad():
        model.model.norm.weight[0] = float("nan")
    with pytest.raises(train.TrainingFailed, match="loss became nan at step 1"):
        train.train(records[:8], [], config=_quick(max_steps=2), runtime=smoke_runtime, output_dir=tmp_path,
                    model=model, tokenizer=tok)


def test_unchanged_weights_fail_loudly(records, smoke_runtime, tmp_path):
    model, tok = _fresh(smoke_runtime)
    with pytest.raises(train.TrainingFailed, match="no trainable weight changed"):
        train.train(records[:8], [], config=_quick(max_steps=1, learning_rate=0.0), runtime=smoke_runtime,
                    output_dir=tmp_path, model=model, tokenizer=tok)


def test_config_resolution_and_arguments(smoke_runtime, tmp_path):
    cfg = train.TrainConfig(method="full").resolve(smoke_runtime.profile)
    assert cfg.learning_rate == smoke_runtime.profile.full_learning_rate
    assert cfg.batch_size == smoke_runtime.profile.batch_size and cfg.lora_r == smoke_runtime.profile.lora_r
    args = train.training_arguments(cfg, smoke_runtime, tmp_path)
    assert args.optim == "adamw_torch" and not args.bf16 and not args.fp16 and args.use_cpu
    assert args.save_steps == smoke_runtime.profile.save_steps and args.seed == 0
    assert not args.logging_nan_inf_filter
    with pytest.raises(ConfigError, match="unknown training method"):
        train.TrainConfig(method="qlora").resolve(smoke_runtime.profile)
    with pytest.raises(ConfigError, match="multiple of eval_steps"):
        train.TrainConfig(early_stopping_patience=2, eval_steps=3, save_steps=4).resolve(smoke_runtime.profile)


def test_optimizer_choice(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "bitsandbytes"
                        else real(name, *a))
    assert train.choose_optimizer("cuda") == "paged_adamw_32bit"
    assert train.choose_optimizer("cpu") == "adamw_torch"  # bitsandbytes' paged optimisers need CUDA
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "bitsandbytes"
                        else real(name, *a))
    assert train.choose_optimizer("cuda") == "adamw_torch"


def test_save_merge_reload_generate_same_tokens(lora_run, smoke_runtime, tmp_path):
    result, _ = lora_run
    questions = ["How long are deleted notes kept?", "How do I add a table to a note?"]

    def answer(model, tok):
        return evaluation.generate_answers(model, tok, questions, max_new_tokens=10, batch_size=2,
                                           progress=False, system=SYSTEM)

    trained = answer(result.model, result.tokenizer)
    reloaded, tok = train.load_trained(result.final_dir, runtime=smoke_runtime)
    assert answer(reloaded, tok) == trained
    merged = train.merge_adapter(reloaded)
    assert not hasattr(merged, "peft_config")
    assert answer(merged, tok) == trained
    folder = train.save_trained(merged, tok, tmp_path / "merged")
    again, tok2 = train.load_trained(folder, runtime=smoke_runtime)
    assert answer(again, tok2) == trained
    assert train.folder_size_bytes(folder) > 20 * train.folder_size_bytes(result.final_dir)


def _cli_args(data, eval_data, out, resume=False):
    args = ["train", "--data", str(data), "--eval-data", str(eval_data), "--method", "lora", "--profile", "smoke",
            "--out", str(out), "--max-steps", "4", "--save-steps", "2", "--eval-steps", "100",
            "--logging-steps", "1", "--system-prompt", SYSTEM]
    return args + (["--resume"] if resume else [])


def _adapter_tensors(folder):
    from safetensors.torch import load_file

    return load_file(str(Path(folder) / "adapter_model.safetensors"))


def test_sigkill_then_resume_matches_uninterrupted_run(records, tmp_path, capsys):
    data, eval_data = tmp_path / "train.jsonl", tmp_path / "eval.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records[:24]), encoding="utf-8")
    eval_data.write_text("".join(json.dumps(r) + "\n" for r in records[36:40]), encoding="utf-8")
    crashed = tmp_path / "crashed"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "course_lib", *_cli_args(data, eval_data, crashed)], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    marker = crashed / train.CHECKPOINT_DIR / "checkpoint-2" / train.COMPLETE_MARKER
    deadline = time.monotonic() + 300
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    log = proc.communicate(timeout=60)[0].decode(errors="replace")
    assert proc.returncode == -signal.SIGKILL, f"training ended before it could be killed:\n{log[-2000:]}"
    assert marker.exists(), log[-2000:]
    assert not (crashed / "adapter").exists()  # it really died mid-run

    assert cli.main(_cli_args(data, eval_data, crashed, resume=True)) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "checkpoint-" in out
    clean = tmp_path / "clean"
    assert cli.main(_cli_args(data, eval_data, clean)) == 0
    resumed, uninterrupted = _adapter_tensors(crashed / "adapter"), _adapter_tensors(clean / "adapter")
    assert resumed.keys() == uninterrupted.keys()
    worst = max(float((resumed[k] - uninterrupted[k]).abs().max()) for k in resumed)
    assert worst <= 1e-6, f"resumed weights differ by {worst}"
    history = json.loads((crashed / "history.json").read_text())
    assert max(e["step"] for e in history) == 4


def test_cli_bad_data_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "hi", "output": "hello"}\n{"instruction": "x"\n', encoding="utf-8")
    out = tmp_path / "out"
    assert cli.main(["train", "--data", str(bad), "--profile", "smoke", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and f"{bad}:2" in err and "\n" not in err
    assert not out.exists()
    assert cli.main(["train", "--data", str(tmp_path / "missing.jsonl"), "--profile", "smoke",
                     "--out", str(out)]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize("max_steps, ratio, expected", [(4, 0.05, 0), (1, 0.05, 0), (100, 0.05, 5), (-1, 0.05, 0.05)])
def test_warmup_never_rounds_a_short_run_up_to_a_zero_rate_step(smoke_runtime, tmp_path, max_steps, ratio, expected):
    """transformers rounds a warm-up fraction up (ceil), so 4 x 0.05 would make step 1 run at learning rate 0;
    with a known step count the course rounds down; with epochs deciding (-1) the fraction is passed on."""
    config = _quick(max_steps=max_steps, warmup_ratio=ratio).resolve(smoke_runtime.profile)
    args = train.training_arguments(config, smoke_runtime, tmp_path)
    assert args.warmup_steps == expected


@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
def test_loss_on_labelled_positions_only_is_the_models_loss_with_the_same_gradients(records, smoke_runtime, tmp_path,
                                                                                   packed):
    """CourseTrainer's training and evaluation losses skip the output head on unlabelled positions; value and
    gradients must match the model's own loss (fp32 on CPU: equal up to summation order)."""
    import torch
    from transformers import Trainer

    from course_lib import formatting

    model, tok = _fresh(smoke_runtime)
    config = _quick(lora_dropout=0.0).resolve(smoke_runtime.profile)  # no dropout: both passes see the same network
    model = train.prepare_model(model, config)
    torch.manual_seed(1)
    for name, param in model.named_parameters():
        if "lora_B" in name:  # B = 0 at the start would leave every A gradient zero: test a trained adapter
            param.data.normal_(0.0, 0.02)
    features = formatting.tokenize_dataset(records[:4], tok, 64, system_prompt=SYSTEM)[0]
    collate = (formatting.PackedCollator(tok.pad_token_id) if packed else formatting.CausalCollator(tok.pad_token_id))
    batch = collate(formatting.pack_examples(features, 128) if packed else features)
    assert (batch["labels"] == -100).float().mean() > 0.3  # prompt and padding: most positions carry no label
    trainer = train._make_trainer_class()(model=model, args=train.training_arguments(config, smoke_runtime, tmp_path,
                                                                                      has_eval=False))

    def loss_and_grads(compute):
        model.zero_grad()
        loss = compute(trainer, model, dict(batch))
        loss.backward()
        return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}

    fast, fast_grads = loss_and_grads(type(trainer).compute_loss)
    default, default_grads = loss_and_grads(Trainer.compute_loss)
    assert train._causal_lm_parts(model, batch, trainer) is not None  # the fast path really ran
    assert float(fast) == pytest.approx(float(default), rel=1e-5)
    worst = max(float((fast_grads[n] - g).abs().max() / (g.abs().max() + 1e-12)) for n, g in default_grads.items())
    assert worst < 1e-4, worst
    assert all(float(g.abs().max()) > 0 for g in default_grads.values())
    # Evaluation takes the same shortcut; its loss is still the model's own.
    model.eval()
    fast_eval = trainer.prediction_step(model, dict(batch), prediction_loss_only=True)
    default_eval = Trainer.prediction_step(trainer, model, dict(batch), prediction_loss_only=True)
    assert fast_eval[1:] == (None, None)
    assert float(fast_eval[0]) == pytest.approx(float(default_eval[0]), rel=1e-5)


def test_block_share_puts_adapters_on_the_top_blocks_only(smoke_runtime):
    import torch

    model, _ = _fresh(smoke_runtime)
    config = train.TrainConfig(method="lora", lora_block_share=0.5).resolve(smoke_runtime.profile)
    peft_model = train.prepare_model(model, config)
    adapted = {int(name.split(".layers.")[1].split(".")[0]) for name, p in peft_model.named_parameters()
               if p.requires_grad}
    assert adapted == set(range(15, 30))  # the top half of SmolLM2's 30 blocks
    # Half the adapters of the every-block count (30 * 8 * (1152 + 768 + 768 + 1152 + 2112 * 3) = 2,442,240).
    assert models.count_parameters(peft_model).trainable == 2_442_240 // 2
    # Autograd stops at the lowest adapted block: nothing below block 15 takes part in the backward pass.
    reached = []
    for index, block in enumerate(peft_model.base_model.model.model.layers):
        block.register_full_backward_hook(lambda module, grad_in, grad_out, i=index: reached.append(i))
    ids = torch.tensor([[1, 2, 3, 4, 5, 6]])
    peft_model(input_ids=ids, labels=ids).loss.backward()
    assert min(reached) == 15 and set(reached) == set(range(15, 30))
    assert train.top_layers(model, 1.0) is None and train.top_layers(model, 0.01) == [29]
    with pytest.raises(ConfigError, match="lora_block_share"):
        train.top_layers(model, 1.5)


def test_complete_checkpoints_lists_marked_ones_oldest_first(tmp_path):
    """Only checkpoints with the completion marker count; steps sort numerically (10 after 9), newest last."""
    for step, complete in ((10, True), (9, True), (11, False)):
        folder = tmp_path / train.CHECKPOINT_DIR / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        if complete:
            (folder / train.COMPLETE_MARKER).write_text("")
    (tmp_path / train.CHECKPOINT_DIR / "checkpoint-x").mkdir()
    found = train.complete_checkpoints(tmp_path)
    assert [train.checkpoint_step(p) for p in found] == [9, 10]
    assert train.latest_checkpoint(tmp_path) == found[-1]
    assert train.complete_checkpoints(tmp_path / "none") == [] and train.latest_checkpoint(tmp_path / "none") is None


def test_method_table_lines_up_prompts_runs_and_a_saved_folder(tmp_path):
    from types import SimpleNamespace

    lora_dir, merged_dir = tmp_path / "lora", tmp_path / "merged"
    for folder, size in ((lora_dir, 2**20), (merged_dir, 3 * 2**19)):  # 1.0 MiB and 1.5 MiB
        folder.mkdir()
        (folder / "weights.bin").write_bytes(b"\0" * size)
    lora = SimpleNamespace(metrics={"eval_loss": 1.23456, "steps": 4}, trainable_params=1000, trainable_fraction=0.0123,
                           seconds=10.04, peak_memory_bytes=3 * 2**20, useful_tokens_per_s=99.6, final_dir=lora_dir)
    full = SimpleNamespace(metrics={"eval_loss": 2.0, "steps": 2}, trainable_params=5000, trainable_fraction=1.0,
                           seconds=3.0, peak_memory_bytes=2**30, useful_tokens_per_s=10.2, final_dir=lora_dir)
    score = lambda kw, rouge: SimpleNamespace(metrics={"keyword_match": kw, "rougeL": rouge})  # noqa: E731
    table = train.method_table({"LoRA": lora, "full": full},
                               {"zero-shot": score(0.05, 0.1), "3-shot": score(0.1, 0.2), "LoRA": score(0.4567, 0.3)},
                               base_eval_loss=3.14159, sizes={"LoRA merged": merged_dir})
    # rows: the scored methods in order, then the cost-only run, then the saved folder
    assert list(table.index) == ["zero-shot", "3-shot", "LoRA", "full", "LoRA merged"]
    assert table.loc["zero-shot", "eval loss"] == 3.142 and pd_isna(table.loc["3-shot", "eval loss"])
    row = table.loc["LoRA"]
    assert row["trainable params"] == 1000 and row["trainable %"] == 1.23 and row["steps"] == 4
    assert row["s/step"] == 2.51 and row["peak memory MB"] == 3 and row["train time s"] == 10.0
    assert row["useful tokens/s"] == 100 and row["eval loss"] == 1.235 and row["keyword match"] == 0.457
    assert row["size on disk MB"] == 1.0 and table.loc["LoRA merged", "size on disk MB"] == 1.5
    assert pd_isna(table.loc["full", "keyword match"]) and table.loc["zero-shot", "trainable params"] == 0
    assert str(table["trainable params"].dtype) == "Int64" and str(table["peak memory MB"].dtype) == "Int64"
    assert train.size_mb(merged_dir) == 1.5


def pd_isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))
