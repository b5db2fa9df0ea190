"""Packing: several examples in one row with no attention across them, its collator, and the check that the
packed losses equal the separate ones (notebook 03).

torch is imported inside functions only."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from ..models import attention_in_use, evaluating
from .labels import IGNORE_INDEX


def pack_examples(features: list[dict], max_len: int) -> list[dict]:
    """Pack features into rows of at most ``max_len`` tokens (first-fit on lengths sorted longest first).

    Each packed row is ``{"input_ids", "labels", "position_ids", "seq_lens"}`` (int lists; ``seq_lens`` lists the
    lengths of the examples in the row, in order). Positions restart at 0 for every example, and the first label
    of every example is -100 so no example is trained to predict the start of the next one.

    Isolation: in transformers 5.x, when a batch comes with ``position_ids`` and *no* ``attention_mask``, the
    model derives a block-diagonal causal mask from the places where the positions restart
    (``masking_utils.find_packed_sequence_indices``) for the eager and SDPA attention paths, and the
    flash-attention path uses the same positions for its variable-length kernel. So a token only ever attends to
    its own example: the per-example losses of a packed row equal the unpacked ones
    (``tests/test_formatting.py`` checks this to 1e-4).

    Two traps, both measured with transformers 5.23 (a packed SmolLM2 row then scores losses off by up to 11
    nats, i.e. attention leaks across examples): the detection is skipped when an ``attention_mask`` is passed,
    and when a KV cache exists — and the model creates one by default (``use_cache=True``), *in training mode
    too*. :class:`PackedCollator` therefore adds no attention mask and passes ``use_cache=False`` with every
    batch; :func:`verify_packing` checks the isolation on the actual model before training relies on it.
    """
    if any(len(f["input_ids"]) > max_len for f in features):
        raise ConfigError(f"a feature is longer than max_len={max_len} — tokenize with the same max_len you pack to")
    order = sorted(range(len(features)), key=lambda i: (-len(features[i]["input_ids"]), i))
    rows: list[list[int]] = []
    room: list[int] = []
    for i in order:
        n = len(features[i]["input_ids"])
        for r, free in enumerate(room):
            if n <= free:
                rows[r].append(i)
                room[r] -= n
                break
        else:
            rows.append([i])
            room.append(max_len - n)
    packed = []
    for members in rows:
        ids, labels, positions, lens = [], [], [], []
        for i in members:
            f = features[i]
            n = len(f["input_ids"])
            ids.extend(f["input_ids"])
            labels.extend([IGNORE_INDEX] + list(f["labels"][1:]))
            positions.extend(range(n))
            lens.append(n)
        packed.append({"input_ids": ids, "labels": labels, "position_ids": positions, "seq_lens": lens})
    return packed


def packing_efficiency(features: list[dict], packed: list[dict], max_len: int) -> dict:
    """Tokens of real data per token of compute: padded to each batch's longest vs packed rows of ``max_len``.

    Returns ``{"examples", "rows", "real_tokens", "packed_fill"}`` where ``packed_fill`` is real tokens divided by
    ``rows * max_len`` (1.0 = no padding at all).
    """
    real = sum(len(f["input_ids"]) for f in features)
    return {"examples": len(features), "rows": len(packed), "real_tokens": real,
            "packed_fill": real / (len(packed) * max_len) if packed else 0.0}


@dataclass
class PackedCollator:
    """Batch packed rows from :func:`pack_examples`: right-pad, positions, and deliberately no attention mask.

    Returns ``{"input_ids", "labels", "position_ids"}`` as ``torch.long`` tensors of shape ``(batch, L_max)``,
    plus ``"use_cache": False`` (without it the model builds a KV cache and ignores the packing; see
    :func:`pack_examples`). The padding tail of a row gets positions ``0, 1, ...`` of its own, so it is a separate
    segment that no real token attends to; its labels are -100.
    """

    pad_token_id: int

    def __call__(self, rows: list[dict]) -> dict:
        import torch

        if not rows:
            raise ConfigError("cannot collate an empty batch")
        width = max(len(r["input_ids"]) for r in rows)
        ids, labels, positions = [], [], []
        for r in rows:
            gap = width - len(r["input_ids"])
            ids.append(list(r["input_ids"]) + [self.pad_token_id] * gap)
            labels.append(list(r["labels"]) + [IGNORE_INDEX] * gap)
            positions.append(list(r["position_ids"]) + list(range(gap)))
        return {"input_ids": torch.tensor(ids, dtype=torch.long),
                "labels": torch.tensor(labels, dtype=torch.long),
                "position_ids": torch.tensor(positions, dtype=torch.long),
                "use_cache": False}


def per_token_losses(logits, labels):
    """Cross-entropy of each position's prediction of the next token, in nats; shape ``(L - 1,)``.

    ``logits``: ``(L, vocab)`` for one sequence; ``labels``: ``(L,)`` (list or tensor), -100 = not scored (loss 0).
    Computed in fp32 so bf16 rounding does not bias a comparison.
    """
    import torch

    labels = torch.as_tensor(labels, device=logits.device)
    return torch.nn.functional.cross_entropy(logits[:-1].float(), labels[1:], reduction="none",
                                             ignore_index=IGNORE_INDEX)


def packed_vs_separate(model, features: list[dict], pad_token_id: int) -> float:
    """Largest absolute difference (nats) between per-token losses of ``features`` packed in one row and run
    one at a time. ~1e-6 when packing isolates the examples; whole nats when attention leaks across them."""
    import torch

    rows = pack_examples(features, sum(len(f["input_ids"]) for f in features))
    batch = PackedCollator(pad_token_id)(rows[:1])
    labels = batch.pop("labels")[0]
    device = next(model.parameters()).device
    batch = {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}
    with evaluating(model), torch.no_grad():
        packed_logits = model(**batch).logits[0]
        worst, start = 0.0, 0
        # pack_examples sorts longest first; map every segment back to its feature by content.
        for n in rows[0]["seq_lens"]:
            segment = batch["input_ids"][0, start:start + n].tolist()
            feature = next(f for f in features if list(f["input_ids"]) == segment)
            alone = model(input_ids=torch.tensor([segment], device=device), use_cache=False).logits[0]
            diff = (per_token_losses(packed_logits[start:start + n], labels[start:start + n])
                    - per_token_losses(alone, [IGNORE_INDEX] + list(feature["labels"][1:]))).abs().max()
            worst = max(worst, float(diff))
            start += n
    return worst


def verify_packing(model, features: list[dict], pad_token_id: int, tolerance: float = 1e-3) -> float:
    """Raise :class:`ConfigError` unless packing ``features`` (2-4 short ones are enough) leaves every example's
    losses unchanged within ``tolerance`` nats on this model and attention implementation; return the difference.

    A guard for the training loop: a new library version or attention backend that ignores the restarting
    positions would otherwise train silently on leaked context.
    """
    if len(features) < 2:
        raise ConfigError("verify_packing needs at least two features to pack together")
    worst = packed_vs_separate(model, features, pad_token_id)
    if worst > tolerance:
        impl = attention_in_use(model) or "?"
        raise ConfigError(f"packing leaks attention across examples with attn_implementation={impl!r} (per-token "
                          f"losses differ by {worst:.3g} nats packed vs separate) — train with packing=False")
    return worst
