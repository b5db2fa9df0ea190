"""Every argument the course passes to ``TrainingArguments``, peft's ``LoraConfig`` and TRL's ``SFTConfig`` exists
in the installed version.

Renamed or moved arguments are how other courses' notebooks break (``evaluation_strategy`` became
``eval_strategy``; SFTTrainer's ``max_seq_length`` became ``SFTConfig(max_length=...)``). The arguments are
collected from the code path itself: the same keyword builders the course calls
(``train.training_argument_kwargs``, ``train.classifier_argument_kwargs``, ``train.lora_config_kwargs``,
``trl_sft.sft_argument_kwargs``), for the settings the lessons use, and checked by name against the dataclass
fields (``dataclasses.fields``). A failure names the argument, the builder and the installed version. Fast: no
model, nothing constructed but the kwargs.
"""

from __future__ import annotations

import dataclasses
from importlib import metadata
from types import SimpleNamespace

import pytest

from course_lib import runtime, train
from course_lib.train import trl_sft

SMOKE = runtime.get_profile("smoke")
# The runtimes the builders branch on: the CPU in fp32 (tests, laptops) and a bf16 GPU (Colab, A100).
RUNTIMES = {
    "cpu": runtime.Runtime(profile=SMOKE, device="cpu", precision="fp32", seed=0, threads=1, hardware="test"),
    "cuda": runtime.Runtime(profile=runtime.get_profile("a100"), device="cuda", precision="bf16", seed=0, threads=1,
                            hardware="test", capability=(8, 0)),
}
# The configs the lessons train with: LoRA (03-07), full fine-tuning (03), packing (03), early stopping (05).
CONFIGS = {
    "lora": train.TrainConfig(method="lora"),
    "full": train.TrainConfig(method="full"),
    "packing": train.TrainConfig(method="lora", packing=True),
    "early stopping": train.TrainConfig(method="lora", early_stopping_patience=2, save_steps=2, eval_steps=2),
    "notebook 09": trl_sft.comparison_config(SMOKE, "You answer briefly."),
}
# A 30-block decoder, as SmolLM2-135M: lora_config_kwargs reads the block count only.
DECODER = SimpleNamespace(config=SimpleNamespace(num_hidden_layers=30))


def unknown_arguments(cls, kwargs: dict) -> list[str]:
    """The names in ``kwargs`` that are not init fields of the dataclass ``cls``."""
    fields = {field.name for field in dataclasses.fields(cls) if field.init}
    return sorted(set(kwargs) - fields)


def assert_known(cls, distribution: str, kwargs: dict, builder: str) -> None:
    unknown = unknown_arguments(cls, kwargs)
    assert not unknown, (
        f"{builder} passes {', '.join(unknown)} to {cls.__module__}.{cls.__qualname__}, which {distribution} "
        f"{metadata.version(distribution)} does not accept — find the argument's new name in {distribution}'s "
        "release notes and rename it in the builder")


def _resolved(name: str, rt) -> train.TrainConfig:
    return CONFIGS[name].resolve(rt.profile)


@pytest.mark.parametrize("device", RUNTIMES)
@pytest.mark.parametrize("config", CONFIGS)
def test_training_arguments_exist(config, device, tmp_path):
    from transformers import TrainingArguments

    rt = RUNTIMES[device]
    kwargs = train.training_argument_kwargs(_resolved(config, rt), rt, tmp_path, has_eval=True)
    assert_known(TrainingArguments, "transformers", kwargs, "train.training_argument_kwargs")


@pytest.mark.parametrize("device", RUNTIMES)
def test_classifier_training_arguments_exist(device, tmp_path):
    from transformers import TrainingArguments

    rt = RUNTIMES[device]
    kwargs = train.classifier_argument_kwargs(tmp_path, rt.profile, rt)
    assert_known(TrainingArguments, "transformers", kwargs, "train.classifier_argument_kwargs")


@pytest.mark.parametrize("config", ["lora", "notebook 09"])
def test_lora_config_arguments_exist(config):
    from peft import LoraConfig

    cfg = _resolved(config, RUNTIMES["cpu"])
    for share in (cfg.lora_block_share, 1.0):  # the top blocks only (layers_to_transform), and every block
        kwargs = train.lora_config_kwargs(DECODER, dataclasses.replace(cfg, lora_block_share=share))
        assert_known(LoraConfig, "peft", kwargs, "train.lora_config_kwargs")


@pytest.mark.parametrize("device", RUNTIMES)
def test_sft_config_arguments_exist(device, tmp_path):
    from trl import SFTConfig

    rt = RUNTIMES[device]
    cfg = _resolved("notebook 09", rt)
    # What trl_sft.sft_config passes: the course's TrainingArguments (SFTConfig subclasses it) and TRL's own.
    kwargs = {**train.training_argument_kwargs(cfg, rt, tmp_path), **trl_sft.sft_argument_kwargs(cfg)}
    assert_known(SFTConfig, "trl", kwargs, "trl_sft.sft_config")


@pytest.mark.parametrize("device", RUNTIMES)
def test_dpo_config_arguments_exist(device, tmp_path):
    from trl import DPOConfig

    from course_lib.train import dpo

    rt = RUNTIMES[device]
    kwargs = dpo.dpo_argument_kwargs(train.DPOTrainConfig().resolve(rt.profile), rt, tmp_path)
    assert_known(DPOConfig, "trl", kwargs, "train.dpo.dpo_argument_kwargs")


def test_a_renamed_argument_is_named_with_the_version():
    from transformers import TrainingArguments
    from trl import SFTConfig

    # Two real renames: evaluation_strategy (transformers 4.46 -> eval_strategy), max_seq_length (TRL 0.20 ->
    # max_length).
    assert unknown_arguments(TrainingArguments, {"evaluation_strategy": "steps", "eval_strategy": "steps"}) == [
        "evaluation_strategy"]
    with pytest.raises(AssertionError, match=rf"max_seq_length .*trl {metadata.version('trl')} does not accept"):
        assert_known(SFTConfig, "trl", {"max_seq_length": 64}, "a builder")
