"""TRL's SFTTrainer side by side with the course's trainer (course_lib.train.trl_sft, notebook 09)."""

from __future__ import annotations

import dataclasses

import pytest

from course_lib import formatting
from course_lib.errors import ConfigError
from course_lib.train import trl_sft

SYSTEM = "You answer briefly."
RECORDS = [
    {"id": "r1", "instruction": "How do I export a note?", "input": "", "output": "Open the note and choose Export."},
    {"id": "r2", "instruction": "Can I undo a deletion?", "input": "Plan: Free",
     "output": "Yes: deleted notes stay in the trash for 30 days."},
]


def _smoke():
    from course_lib import runtime

    return runtime.get_profile("smoke")


def _support_records(n: int) -> list[dict]:
    """The first ``n`` support records with the columns the course trains on."""
    from course_lib import paths, train

    records = train.read_records(paths.data_path("support", "support_clean.jsonl"))[:n]
    return [{k: r[k] for k in ("id", "instruction", "input", "output")} for r in records]


def _pairs(records=RECORDS, system=SYSTEM, tokenizer=None):
    from datasets import Dataset

    return Dataset.from_list(records).map(formatting.prompt_completion_columns, batched=True,
                                          fn_kwargs={"system_prompt": system, "tokenizer": tokenizer})


def test_prompt_completion_splits_the_course_messages_before_the_answer():
    pair = formatting.prompt_completion(RECORDS[1], SYSTEM)
    messages = formatting.to_messages(RECORDS[1], SYSTEM)
    assert pair == {"prompt": messages[:2], "completion": messages[2:]}
    assert [m["role"] for m in pair["prompt"]] == ["system", "user"] and pair["completion"][0]["role"] == "assistant"
    assert pair["prompt"][1]["content"] == "Can I undo a deletion?\n\nPlan: Free"


def test_batched_map_adds_one_pair_per_row_and_keeps_the_records():
    pairs = _pairs()
    assert pairs.column_names == ["id", "instruction", "input", "output", "prompt", "completion"]
    assert [pairs[i]["prompt"] for i in range(2)] == [formatting.prompt_completion(r, SYSTEM)["prompt"]
                                                      for r in RECORDS]


def test_the_text_form_gives_the_course_tokens_and_the_conversational_form_one_more(smol):
    """What TRL tokenizes (prompt, then prompt + completion; ``_tokenize`` in trl/data_utils.py) against
    formatting.tokenize_example: the same ids and the same masked prompt in the text form; in the conversational
    form the template's newline after <|im_end|> follows as one more completion token."""
    tokenizer = smol[1]
    for record in RECORDS:
        course = formatting.tokenize_example(record, tokenizer, 256, SYSTEM)
        prompt_length = course["labels"].count(formatting.IGNORE_INDEX)
        text = formatting.prompt_completion(record, SYSTEM, tokenizer)
        assert tokenizer(text=text["prompt"])["input_ids"] == course["input_ids"][:prompt_length]
        assert tokenizer(text=text["prompt"] + text["completion"])["input_ids"] == course["input_ids"]
        chat = formatting.prompt_completion(record, SYSTEM)
        rendered = tokenizer.apply_chat_template(chat["prompt"] + chat["completion"], tokenize=False)
        ids = tokenizer(rendered, add_special_tokens=False)["input_ids"]
        assert ids[:-1] == course["input_ids"] and tokenizer.decode(ids[-1:]) == "\n"


def test_course_records_refuse_a_dataset_without_the_columns_or_with_another_system_prompt():
    from datasets import Dataset

    config = trl_sft.comparison_config(_smoke(), SYSTEM)
    with pytest.raises(ConfigError, match=r"no \['prompt', 'completion'\] column.*prompt_completion_columns"):
        trl_sft._course_records(Dataset.from_list(RECORDS), config, None)
    with pytest.raises(ConfigError, match="not built from its records with this system prompt"):
        trl_sft._course_records(_pairs(system="Another system prompt."), config, None)
    assert trl_sft._course_records(_pairs(), config, None) == RECORDS


def test_sft_config_is_the_course_run_in_trl_names(smoke_runtime, tmp_path):
    cfg = trl_sft.comparison_config(smoke_runtime.profile, SYSTEM).resolve(smoke_runtime.profile)
    args = trl_sft.sft_config(cfg, smoke_runtime, tmp_path)
    assert (args.max_length, args.completion_only_loss, args.assistant_only_loss) == (cfg.max_seq_len, True, False)
    # SFTConfig's own defaults would checkpoint activations and train in bf16; the course does neither in fp32.
    assert args.gradient_checkpointing is False and args.bf16 is False
    assert (args.learning_rate, args.max_steps, args.per_device_train_batch_size, args.seed) == (
        cfg.learning_rate, smoke_runtime.profile.trl_steps, cfg.batch_size, smoke_runtime.seed)
    assert args.train_sampling_strategy == "random"  # the same batches on both paths (see comparison_config)


@pytest.mark.slow
def test_both_paths_give_the_same_losses_on_a_tiny_run(smoke_runtime, tmp_path):
    """Two steps on 8 support records in the text form, with room for whole answers (max_seq_len 128, as the cpu
    profile has): every eval and training loss agrees within the stated fp32 tolerance."""
    from course_lib import models

    profile = dataclasses.replace(smoke_runtime.profile, train_examples=8, eval_examples=4, trl_steps=2,
                                  max_seq_len=128)
    rt = dataclasses.replace(smoke_runtime, profile=profile)
    tokenizer = models.load_causal_lm(profile.decoder, runtime=rt, verbose=False)[1]
    splits = _pairs(_support_records(16), tokenizer=tokenizer).train_test_split(test_size=0.25, seed=0)
    result = trl_sft.side_by_side(splits["train"], splits["test"], trl_sft.comparison_config(profile, SYSTEM), rt,
                                  tmp_path)
    curves = result.curves()
    assert list(curves.index) == [0, 1, 2] and curves["|Δ eval|"].notna().sum() == 3, curves
    assert result.tolerance == trl_sft.EVAL_LOSS_TOLERANCE["fp32"] == 1e-3
    assert result.max_eval_gap <= result.tolerance, curves
    assert curves["|Δ train|"].dropna().max() <= result.tolerance, curves
    assert result.course.trainable_params == result.trl.trainable_params > 0
    costs = result.costs()
    assert list(costs.index) == ["course", "TRL SFTTrainer"] and (costs["seconds"] > 0).all()
