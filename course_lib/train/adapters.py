"""Models to train and trained models: LoRA or full, the adapted blocks, save / merge / reload.

Taught in notebook 03 (LoRA adapters, saving only the adapter, merging it, loading it back); notebooks 04 and 06
load what it saved.
"""

from __future__ import annotations

import contextlib
import shutil
import warnings
from pathlib import Path

from ..errors import ConfigError
from ..files import replace_folder, staging_path
from ..paths import RunDir
from ..runtime import DEFAULT_DECODER
from .config import TrainConfig


@contextlib.contextmanager
def quiet_peft_warning():
    """Hide one FutureWarning while peft wraps a model: peft 0.21 reads transformers' deprecated
    ``is_gradient_checkpointing`` alias. The warning is about peft's code, not the learner's, and would otherwise
    show under every training and loading cell."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def top_layers(model, share: float | None) -> list[int] | None:
    """Indices of the top ``share`` of ``model``'s transformer blocks, at least one (``None`` or 1.0: every block,
    which is peft's default). 0.5 of SmolLM2's 30 blocks is blocks 15-29."""
    if share is None or share == 1:
        return None
    if not 0 < share <= 1:
        raise ConfigError(f"lora_block_share={share} — use a share of the blocks between 0 (exclusive) and 1")
    blocks = model.config.num_hidden_layers
    count = max(1, round(share * blocks))
    return list(range(blocks - count, blocks))


def lora_config(model, config: TrainConfig):
    """The peft ``LoraConfig`` of a resolved ``config`` for ``model``: rank, scale, dropout, target layers and the
    adapted blocks. Raises :class:`ConfigError` when a target module is not a linear layer of ``model``.

    :func:`prepare_model` wraps the model with it; DPO (``train.train_dpo``, notebook 08) hands it to TRL instead.
    """
    import torch
    from peft import LoraConfig

    names = {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}
    missing = [m for m in config.target_modules if m not in names]
    if missing:
        raise ConfigError(f"LoRA target modules {missing} are not linear layers of this model — choose from: "
                          f"{', '.join(sorted(names))}")
    return LoraConfig(**lora_config_kwargs(model, config))


def prepare_model(model, config: TrainConfig, seed: int = 0):
    """Make ``model`` trainable by ``config.method``; returns the model to train (a ``PeftModel`` for LoRA).

    LoRA freezes every base weight and adds ``A (r x in)`` and ``B (out x r)`` next to each target layer, with
    ``B = 0`` at the start so training begins exactly at the base model. The adapters are created right after
    seeding with ``seed``, so the same seed gives the same initial ``A`` matrices.
    """
    import torch

    if config.method == "full":
        for param in model.parameters():
            param.requires_grad_(True)
        return model
    from peft import get_peft_model

    lora = lora_config(model, config)
    torch.manual_seed(seed)
    with quiet_peft_warning():
        return get_peft_model(model, lora)


def lora_config_kwargs(model, config: TrainConfig) -> dict:
    """The keyword arguments of peft's ``LoraConfig`` for ``model`` and a resolved ``config``.

    What :func:`lora_config` builds, for :func:`prepare_model`, TRL's ``SFTTrainer(peft_config=...)`` in
    ``train.trl_sft`` and ``DPOTrainer`` in ``train.dpo`` (the same adapters on every path);
    tests/test_api_drift.py checks every name against the installed peft. ``model`` is
    read for its block count only (``model.config.num_hidden_layers``).
    """
    return dict(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                target_modules=list(config.target_modules), bias="none", task_type="CAUSAL_LM",
                layers_to_transform=top_layers(model, config.lora_block_share))


def folder_size_bytes(folder) -> int:
    """Total size of the files under ``folder`` in bytes (0 if it does not exist)."""
    folder = Path(folder)
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def save_trained(model, tokenizer, folder, state_dict: dict | None = None, base_model: str | None = None) -> Path:
    """Save a trained model atomically: the LoRA adapter only (a few MB) for a ``PeftModel``, else the whole model.

    Writes to a temporary sibling and renames, so an interrupted save never leaves a half-written folder, and a
    notebook reusing the folder while another lesson writes it (notebook 04 on notebook 03's) finds all or nothing.
    ``state_dict``: the weights to write instead of the model's own, e.g. the gathered copy of a model sharded by
    FSDP2 (:func:`course_lib.distributed.full_state_dict`), whose own tensors are only this process's shards.
    ``base_model``: registry name of the model an adapter was trained on, saved with it for :func:`load_trained`.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_path(folder)
    if staging.exists():
        shutil.rmtree(staging)
    from ..models import quiet_transformers_progress

    with quiet_transformers_progress():
        model.save_pretrained(staging, **({"state_dict": state_dict} if state_dict is not None else {}))
        tokenizer.save_pretrained(staging)
    if base_model is not None and (staging / RunDir.ADAPTER_CONFIG_FILE).exists():
        (staging / RunDir.BASE_MODEL_FILE).write_text(base_model + "\n", encoding="utf-8")
    return replace_folder(staging, folder)


def merge_adapter(model):
    """Fold LoRA adapters into the base weights (``W + (alpha / r) * B @ A``) and return the plain model.

    The merged model needs no peft at inference and runs as fast as the base model; ``model`` (the PeftModel) must
    not be used afterwards. A model without adapters is returned unchanged.
    """
    if hasattr(model, "merge_and_unload"):
        return model.merge_and_unload()
    return model


def load_trained(folder, runtime=None, base: str | None = None):
    """Load what :func:`save_trained` wrote: an adapter folder onto a fresh base model, or a whole model folder.

    Args:
        folder: the saved folder.
        runtime: moves the model to its device.
        base: registry name of the base model for an adapter (default: the one recorded by :func:`train`, else
            ``runtime.DEFAULT_DECODER``).

    Returns:
        ``(model, tokenizer)`` in eval mode.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .. import models

    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder — pass the 'adapter' or 'model' folder that train() wrote")
    if (folder / RunDir.ADAPTER_CONFIG_FILE).exists():
        from peft import PeftModel

        if base is None:
            info = folder / RunDir.BASE_MODEL_FILE
            base = info.read_text(encoding="utf-8").strip() if info.exists() else DEFAULT_DECODER
        model, tokenizer = models.load_causal_lm(base, runtime=runtime, verbose=False)
        with quiet_peft_warning():
            model = PeftModel.from_pretrained(model, folder)
    elif (folder / RunDir.MODEL_CONFIG_FILE).exists():
        import torch

        with models.quiet_transformers_progress():
            tokenizer = models.prepare_tokenizer(AutoTokenizer.from_pretrained(folder))
            model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **models.attention_kwargs(runtime))
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        model.generation_config.eos_token_id = tokenizer.eos_token_id
        if runtime is not None:
            model.to(runtime.device)
    else:
        raise ConfigError(f"{folder} holds neither an adapter (adapter_config.json) nor a model (config.json) — "
                          "pass the folder train() or save_trained() wrote")
    model.eval()
    return model, tokenizer
