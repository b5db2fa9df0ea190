"""Model cards: the numbers that decide between models, read from the loaded models, side by side.
Taught in notebook 02."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class ModelCard:
    """The numbers that decide between models, read from a loaded model.

    Attributes:
        name: the course's name for the model.
        architecture: ``"decoder"``, ``"encoder"`` or ``"encoder-decoder"``.
        model_class: the transformers class (``LlamaForCausalLM``, ``BertModel``, ...).
        params: parameters, tied tensors counted once.
        layers, hidden, heads, kv_heads: transformer blocks, width of the residual stream, query heads and
            key/value heads (fewer kv heads than query heads = grouped-query attention, a smaller KV cache).
        vocab: tokenizer vocabulary size (rows of the embedding matrix).
        context: position limit of the architecture (``max_position_embeddings``), in tokens.
        licence: licence of the weights.
    """

    name: str
    architecture: str
    model_class: str
    params: int
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    vocab: int
    context: int
    licence: str = ""


def _transformer_of(model):
    """The transformers model inside a SentenceTransformer (its first module), or the model itself."""
    first = model[0] if hasattr(model, "encode") and hasattr(model, "__getitem__") else None
    return getattr(first, "auto_model", model) if first is not None else model


def describe(model, name: str, licence: str = "") -> ModelCard:
    """A :class:`ModelCard` for a loaded transformers model or SentenceTransformer.

    The architecture is read from the config: ``is_encoder_decoder`` -> encoder-decoder; a causal-LM class or a
    ``*ForCausalLM`` architecture -> decoder; anything else (BERT-style) -> encoder.
    """
    from ..models import count_parameters

    inner = _transformer_of(model)
    config = getattr(inner, "config", None)
    if config is None:
        raise ConfigError(f"cannot describe {name!r}: a {type(model).__name__} has no transformers config — pass "
                          "a loaded transformers model or a SentenceTransformer")
    config = config.get_text_config() if hasattr(config, "get_text_config") else config
    classes = [type(inner).__name__, *(getattr(config, "architectures", None) or [])]
    if getattr(config, "is_encoder_decoder", False):
        architecture = "encoder-decoder"
    elif any(c.endswith("ForCausalLM") for c in classes):
        architecture = "decoder"
    else:
        architecture = "encoder"
    heads = config.num_attention_heads
    return ModelCard(
        name=name, architecture=architecture, model_class=type(inner).__name__,
        params=count_parameters(inner).total, layers=config.num_hidden_layers, hidden=config.hidden_size,
        heads=heads, kv_heads=getattr(config, "num_key_value_heads", None) or heads, vocab=config.vocab_size,
        context=getattr(config, "max_position_embeddings", 0) or 0, licence=licence)


def cards_table(cards):
    """The cards side by side: one column per model (a pandas DataFrame; parameters in millions).

    ``embeddings (% of parameters)`` is vocabulary x hidden size over all parameters: the share of the model that
    is a lookup table of token vectors rather than transformer blocks (a large vocabulary costs parameters).
    """
    import pandas as pd

    rows = {}
    for card in cards:
        rows[card.name] = {
            "architecture": card.architecture, "class": card.model_class,
            "parameters (M)": round(card.params / 1e6, 1), "layers": card.layers, "hidden size": card.hidden,
            "attention heads (query / key-value)": f"{card.heads} / {card.kv_heads}", "vocabulary": card.vocab,
            "embeddings (% of parameters)": round(100 * card.vocab * card.hidden / card.params, 1),
            "context (positions)": card.context, "licence": card.licence}
    if not rows:
        raise ConfigError("no model cards to show — pass at least one ModelCard from describe()")
    return pd.DataFrame(rows)
