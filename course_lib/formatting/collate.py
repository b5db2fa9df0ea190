"""Batching with dynamic padding (right-padded, labels -100 on pads), and counting useful vs computed tokens.

torch is imported inside the collator only. Taught in notebook 01 (padding) and 03 (the batches training sees)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from .labels import IGNORE_INDEX


@dataclass
class CausalCollator:
    """Pad a list of features to the longest one in the batch (dynamic padding), on the right.

    Args:
        pad_token_id: id written into padded ``input_ids`` (SmolLM2: 0, ``<|endoftext|>``; never the EOS id).
        pad_to_multiple_of: round the padded length up (e.g. 8 for GPU tensor cores); ``None`` = exact.

    Call with ``[{"input_ids", "attention_mask", "labels"}, ...]``; returns ``{"input_ids", "attention_mask",
    "labels"}`` as ``torch.long`` tensors of shape ``(batch, L_max)`` — labels padded with -100, attention mask 0
    on pads. Padding to the batch's longest (not to ``max_len``) is where most of the CPU time is saved when
    lengths vary; sorting by length (``train_sampling_strategy="group_by_length"``) saves more.
    """

    pad_token_id: int
    pad_to_multiple_of: int | None = None

    def __call__(self, features: list[dict]) -> dict:
        import torch

        if not features:
            raise ConfigError("cannot collate an empty batch")
        width = max(len(f["input_ids"]) for f in features)
        if self.pad_to_multiple_of:
            width = -(-width // self.pad_to_multiple_of) * self.pad_to_multiple_of
        ids, mask, labels = [], [], []
        for f in features:
            gap = width - len(f["input_ids"])
            ids.append(list(f["input_ids"]) + [self.pad_token_id] * gap)
            mask.append(list(f.get("attention_mask") or [1] * len(f["input_ids"])) + [0] * gap)
            labels.append(list(f["labels"]) + [IGNORE_INDEX] * gap)
        return {"input_ids": torch.tensor(ids, dtype=torch.long),
                "attention_mask": torch.tensor(mask, dtype=torch.long),
                "labels": torch.tensor(labels, dtype=torch.long)}


def count_tokens(batch: dict, pad_token_id: int) -> tuple[int, int]:
    """``(useful, computed)`` tokens of a collated batch: non-padding tokens and all positions (``B * L``).

    With an ``attention_mask`` the useful tokens are its ones; for packed batches (no mask) they are the tokens
    that are not ``pad_token_id``.
    """
    computed = int(batch["input_ids"].numel())
    if "attention_mask" in batch:
        return int(batch["attention_mask"].sum()), computed
    return int((batch["input_ids"] != pad_token_id).sum()), computed
