"""Frozen weights in bf16 for LoRA's steps under bf16 autocast (``train.Bf16FrozenCopies``): the same matmuls as
rounding them at every step, fp32 weights between the steps and afterwards, tied head included."""

from __future__ import annotations

import dataclasses
import json

import pytest

from course_lib import runtime, train
from course_lib.paths import data_path
from course_lib.train.run import _bf16_frozen_weights

@pytest.fixture()
def tiny_tied_lora(tiny_llama):
    """The conftest's tiny Llama (64 tokens) with LoRA on every linear layer."""
    config = train.TrainConfig(lora_r=4, lora_alpha=8, lora_dropout=0.0, lora_block_share=1.0)
    return train.prepare_model(tiny_llama(64), config, seed=0)


def _state(model) -> dict:
    return {name: param.detach().clone() for name, param in model.named_parameters()}


def test_frozen_linears_are_bf16_inside_and_the_fp32_model_is_back_after(tiny_tied_lora):
    import torch

    model = tiny_tied_lora
    base = model.get_base_model()
    before = _state(model)
    copies = train.Bf16FrozenCopies(model)
    assert len(copies) == 2 * 7 + 1  # seven adapted layers a block, and the head
    assert base.lm_head.weight is base.model.embed_tokens.weight  # nothing swapped in yet
    with copies.swapped_in():
        assert base.model.layers[0].self_attn.q_proj.base_layer.weight.dtype == torch.bfloat16
        assert base.model.layers[0].self_attn.q_proj.lora_A["default"].weight.dtype == torch.float32  # trains
        assert base.model.embed_tokens.weight.dtype == torch.float32  # the residual stream stays fp32
        assert base.lm_head.weight.dtype == torch.bfloat16 and base.lm_head.weight is not base.model.embed_tokens.weight
    assert base.lm_head.weight is base.model.embed_tokens.weight  # tied again
    after = _state(model)
    assert after.keys() == before.keys()
    assert all(after[n].dtype == before[n].dtype and torch.equal(after[n], before[n]) for n in before)


def test_an_error_inside_still_gives_the_fp32_weights_back(tiny_tied_lora):
    import torch

    model = tiny_tied_lora
    copies = train.Bf16FrozenCopies(model)
    with pytest.raises(RuntimeError, match="stop"), copies.swapped_in():
        raise RuntimeError("stop")
    assert all(p.dtype == torch.float32 for p in model.parameters())
    with copies.swapped_in():  # and it can be entered again, step after step
        assert any(p.dtype == torch.bfloat16 for p in model.parameters())
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_same_loss_and_adapter_gradients_as_rounding_at_every_step(tiny_tied_lora):
    """Under bf16 autocast a matmul rounds its fp32 weight to bf16 anyway: storing the rounding changes nothing."""
    import torch

    model = tiny_tied_lora
    for name, param in model.named_parameters():
        if "lora_B" in name:  # B = 0 at the start would leave every A gradient zero
            param.data.normal_(0.0, 0.05)
    ids = torch.randint(0, 64, (3, 12), generator=torch.Generator().manual_seed(1))

    def loss_and_grads():
        model.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        return float(loss.detach()), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}

    cast_loss, cast_grads = loss_and_grads()
    with train.Bf16FrozenCopies(model).swapped_in():
        stored_loss, stored_grads = loss_and_grads()
    assert stored_loss == pytest.approx(cast_loss, rel=1e-6)
    assert all(torch.allclose(stored_grads[n], g, rtol=1e-3, atol=1e-6) for n, g in cast_grads.items())
    assert any(float(g.abs().max()) > 0 for g in cast_grads.values())


def test_train_stores_them_in_bf16_only_under_bf16_autocast_in_one_process(smoke_runtime):
    class Args:
        world_size = 1

    class Trainer:
        args = Args()

    bf16_cpu = dataclasses.replace(smoke_runtime, device="cpu", precision="bf16")
    fp32_cpu = dataclasses.replace(smoke_runtime, device="cpu", precision="fp32")
    assert _bf16_frozen_weights(train.TrainConfig(), bf16_cpu, Trainer()) is runtime.frozen_weights_in_bf16("cpu", "bf16")
    assert runtime.frozen_weights_in_bf16("cpu", "bf16") and not runtime.frozen_weights_in_bf16("cuda", "bf16")
    assert not _bf16_frozen_weights(train.TrainConfig(bf16_frozen_weights=False), bf16_cpu, Trainer())
    assert not _bf16_frozen_weights(train.TrainConfig(bf16_frozen_weights=True), fp32_cpu, Trainer())
    Args.world_size = 2
    assert not _bf16_frozen_weights(train.TrainConfig(bf16_frozen_weights=True), bf16_cpu, Trainer())


def test_a_bf16_run_trains_the_same_and_returns_the_fp32_tied_model(smol, smoke_runtime, tmp_path, tiny_llama,
                                                                     short_run_config):
    """Two short runs of ``train.train`` under bf16 autocast, the frozen weights stored in bf16 or rounded at every
    step: the same losses, a callback between the steps computes in fp32, and the returned model holds fp32 weights
    with its head tied again."""
    import torch

    _, tokenizer = smol
    lines = data_path("support", "support_clean.jsonl").read_text(encoding="utf-8").splitlines()[:12]
    records = [json.loads(line) for line in lines]
    from transformers import TrainerCallback

    class ForwardInFp32(TrainerCallback):
        """Runs the model outside autocast between steps, as notebook 07's scoring callback does."""

        weights: set = set()  # the dtype of a frozen weight in the callback's forward passes
        running = False

        def on_step_end(self, args, state, control, model=None, **kwargs):
            ForwardInFp32.running = True
            with torch.no_grad(), torch.autocast("cpu", enabled=False):
                model(input_ids=torch.tensor([[1, 2, 3]]))
            ForwardInFp32.running = False

    bf16 = dataclasses.replace(smoke_runtime, precision="bf16")
    runs = {}
    for stored in (False, True):

        model = tiny_llama(len(tokenizer))
        config = short_run_config(bf16_frozen_weights=stored)
        seen = set()  # the dtype of a frozen weight in the Trainer's own forward passes

        def record(module, args):
            (ForwardInFp32.weights if ForwardInFp32.running else seen).add(module.weight.dtype)

        model.model.layers[0].mlp.down_proj.register_forward_pre_hook(record)
        result = train.train(records, records[:4], config=config, runtime=bf16, output_dir=tmp_path / str(stored),
                             model=model, tokenizer=tokenizer, callbacks=[ForwardInFp32()])
        assert seen == ({torch.bfloat16} if stored else {torch.float32})
        runs[stored] = [e["loss"] for e in result.log_history if "loss" in e]
        base = result.model.get_base_model()
        assert all(p.dtype == torch.float32 for p in result.model.parameters())
        assert base.lm_head.weight is base.model.embed_tokens.weight
        runs[stored] += [result.metrics["eval_loss"]]  # evaluation steps compute with the copies too
    assert len(runs[True]) == 4
    assert runs[True] == pytest.approx(runs[False], rel=1e-3)
    assert ForwardInFp32.weights == {torch.float32}  # a callback between steps met fp32 weights, and no error
