"""Dataset statistics: token counts (a real tokenizer or an approximation), length summaries, padding waste,
class balance.

Taught in notebook 01 (:func:`token_lengths`, :func:`padding_waste`, :func:`label_balance`); the quality report
of :func:`~course_lib.data.prepare` is built from them. The ``tokenizers`` library is imported only by
:func:`default_tokenizer`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from ..errors import ConfigError
from ..runtime import DEFAULT_DECODER


def length_function(tokenizer=None):
    """A ``text -> int`` length function from a tokenizer, a callable, or ``None``.

    * ``None``: an approximation, words + punctuation marks (about 0.75x a BPE token count for English).
    * a callable returning an int (e.g. ``len``): used as is.
    * a Hugging Face tokenizer (``transformers`` or ``tokenizers``): number of token ids, no special tokens.
    """
    if tokenizer is None:
        pattern = re.compile(r"\w+|[^\w\s]")
        return lambda t: len(pattern.findall(t))
    if hasattr(tokenizer, "encode_batch") and not hasattr(tokenizer, "apply_chat_template"):  # tokenizers.Tokenizer
        return lambda t: len(tokenizer.encode(t, add_special_tokens=False).ids)
    if hasattr(tokenizer, "encode"):
        return lambda t: len(tokenizer.encode(t, add_special_tokens=False))
    if callable(tokenizer):
        return tokenizer
    raise ConfigError(f"cannot count tokens with {type(tokenizer).__name__} — pass a tokenizer, a function or None")


def token_lengths(texts: list[str], tokenizer=None) -> list[int]:
    """Token count of each text (see :func:`length_function`); batched for fast tokenizers."""
    if tokenizer is not None and hasattr(tokenizer, "encode_batch") and not hasattr(tokenizer, "apply_chat_template"):
        return [len(e.ids) for e in tokenizer.encode_batch(list(texts), add_special_tokens=False)]
    if tokenizer is not None and hasattr(tokenizer, "apply_chat_template"):
        return [len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]
    fn = length_function(tokenizer)
    return [int(fn(t)) for t in texts]


def length_stats(lengths: list[int]) -> dict:
    """min / mean / median / p95 / max of a list of lengths (empty dict for an empty list)."""
    if not lengths:
        return {}
    s = sorted(lengths)

    def pct(q):
        return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]

    return {"min": s[0], "mean": round(sum(s) / len(s), 1), "median": pct(0.5), "p95": pct(0.95), "max": s[-1]}


def padding_waste(lengths: list[int], batch_size: int, max_len: int | None = None, sort: bool = False) -> float:
    """Fraction of token slots that are padding when batches are padded to their longest member.

    ``max_len`` truncates first; ``sort=True`` groups similar lengths (what length-grouped sampling does).
    """
    ls = [min(n, max_len) if max_len else n for n in lengths]
    if sort:
        ls = sorted(ls)
    total = real = 0
    for k in range(0, len(ls), batch_size):
        batch = ls[k:k + batch_size]
        total += max(batch) * len(batch)
        real += sum(batch)
    return 0.0 if total == 0 else 1 - real / total


@dataclass
class Balance:
    """Class balance of a label list: counts, shares, majority/minority ratio, majority-class accuracy."""

    counts: dict
    shares: dict
    imbalance_ratio: float
    majority_baseline: float

    def __str__(self) -> str:
        parts = [f"{k}: {v} ({self.shares[k]:.0%})" for k, v in self.counts.items()]
        return (", ".join(parts) + f" | majority/minority {self.imbalance_ratio:.1f}x, "
                f"always-majority accuracy {self.majority_baseline:.0%}")


def label_balance(labels) -> Balance:
    """:class:`Balance` of a list of labels (most common first); an empty list gives zero counts, no error."""
    counts = dict(Counter(labels).most_common())
    n = sum(counts.values()) or 1
    shares = {k: v / n for k, v in counts.items()}
    values = list(counts.values()) or [0]
    return Balance(counts, shares, max(values) / max(1, min(values)), max(values) / n)


def default_tokenizer():
    """The course decoder's tokenizer via the fast ``tokenizers`` library, or ``None`` if not cached yet.

    Reads ``tokenizer.json`` from the model cache (written by ``python -m course_lib prepare-models``), which
    takes ~0.1 s; importing transformers would take seconds.
    """
    try:
        from tokenizers import Tokenizer

        from ..models import cache_root
    except ImportError:
        return None
    candidate = cache_root() / "models" / DEFAULT_DECODER / "tokenizer.json"
    if not candidate.exists():
        return None
    tok = Tokenizer.from_file(str(candidate))
    tok._course_name = "SmolLM2 tokenizer"
    return tok
