"""Tokenizer costs: tokens (and unknown tokens) each tokenizer needs for the same texts, and for a corpus.
Taught in notebook 02."""

from __future__ import annotations

from ..errors import ConfigError

# The same few texts for every tokenizer: what a support assistant sees (written for the course).
SAMPLE_TEXTS = {
    "English question": "How do I restore a note I deleted last week?",
    "code": "for note in notes:\n    if note.deleted:\n        restore(note)",
    "price / numbers": "The Pro plan costs $9.99 per month (save 17% yearly: $99.50).",
    "German": "Wie kann ich eine Notiz wiederherstellen, die ich letzte Woche gelöscht habe?",
    "Japanese": "先週削除したメモを復元するにはどうすればいいですか？",
    "emoji": "Thanks, that worked! 🎉🙏",
}


def _underlying_tokenizer(tokenizer):
    """A SentenceTransformer's tokenizer, or the tokenizer itself."""
    return getattr(tokenizer, "tokenizer", tokenizer)


def token_counts(tokenizers: dict, texts: dict | None = None):
    """Tokens each tokenizer needs for each text, without special tokens (BOS, [CLS], [SEP]).

    Args:
        tokenizers: ``{name: tokenizer}`` (transformers tokenizers, or SentenceTransformers).
        texts: ``{label: text}``; default :data:`SAMPLE_TEXTS`.

    Returns:
        A long DataFrame, one row per (text, tokenizer): ``text``, ``tokenizer``, ``characters``, ``tokens``,
        ``chars_per_token`` and ``unknown`` (tokens that are the tokenizer's unknown token: information the model
        never sees), plus ``pieces`` (the first tokens, as strings).
    """
    import pandas as pd

    texts = dict(SAMPLE_TEXTS if texts is None else texts)
    if not tokenizers or not texts:
        raise ConfigError("token_counts needs at least one tokenizer and one text — pass {name: tokenizer} and "
                          "{label: text}")
    rows = []
    for label, text in texts.items():
        for name, tok in tokenizers.items():
            tok = _underlying_tokenizer(tok)
            ids = tok(text, add_special_tokens=False)["input_ids"]
            unk = tok.unk_token_id
            rows.append({"text": label, "tokenizer": name, "characters": len(text), "tokens": len(ids),
                         "chars_per_token": round(len(text) / max(1, len(ids)), 2),
                         "unknown": sum(1 for i in ids if unk is not None and i == unk),
                         "pieces": " ".join(tok.convert_ids_to_tokens(ids[:12]))})
    return pd.DataFrame(rows)


def corpus_tokens(tokenizers: dict, texts) -> dict:
    """Total tokens (no special tokens) of a list of texts for each tokenizer: what a training epoch costs."""
    texts = [str(t) for t in texts]
    out = {}
    for name, tok in tokenizers.items():
        tok = _underlying_tokenizer(tok)
        out[name] = sum(len(ids) for ids in tok(texts, add_special_tokens=False)["input_ids"])
    return out
