"""The model's shape: the sizes the estimate needs, read from a registry name, a config or a loaded model.
Taught in notebook 02 (will it fit?)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class ModelShape:
    """What the estimate needs from a model config (sizes in elements).

    ``linear_shapes``: ``(name, in_features, out_features)`` of the linear layers of one block;
    ``params``: all parameters (tied embeddings once); ``matmul_params``: linear weights of all blocks + LM head;
    ``largest_tensor``: elements of the biggest parameter tensor (the embedding for small-vocabulary-heavy models).
    """

    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied: bool
    gated_mlp: bool
    linear_shapes: tuple
    params: int
    matmul_params: int
    largest_tensor: int
    max_positions: int = 0

    @property
    def kv_width(self) -> int:
        return self.kv_heads * self.head_dim


def shape_from_config(config) -> ModelShape:
    """A :class:`ModelShape` from a transformers config (Llama-style decoders; BERT-style encoders approximately)."""
    h, heads = config.hidden_size, config.num_attention_heads
    kv = getattr(config, "num_key_value_heads", None) or heads
    d = getattr(config, "head_dim", None) or h // heads
    i, layers, vocab = config.intermediate_size, config.num_hidden_layers, config.vocab_size
    gated = getattr(config, "model_type", "llama") not in ("bert", "roberta", "distilbert", "xlm-roberta")
    linears = [("q_proj", h, heads * d), ("k_proj", h, kv * d), ("v_proj", h, kv * d), ("o_proj", heads * d, h)]
    linears += ([("gate_proj", h, i), ("up_proj", h, i), ("down_proj", i, h)] if gated
                else [("up_proj", h, i), ("down_proj", i, h)])
    block = sum(a * b for _, a, b in linears)
    tied = bool(getattr(config, "tie_word_embeddings", True))
    head = vocab * h
    if gated:  # Llama: RMSNorm weights only, no biases
        params = layers * (block + 2 * h) + h + head * (1 if tied else 2)
        matmul = layers * block + head
    else:  # BERT: biases, two LayerNorms a block, position and type embeddings, pooler; no LM head
        params = (layers * (block + 4 * h + 2 * h + i + 2 * h) + head
                  + getattr(config, "max_position_embeddings", 512) * h + 2 * h + 2 * h + h * h + h)
        matmul = layers * block
    return ModelShape(layers=layers, hidden=h, intermediate=i, heads=heads, kv_heads=kv, head_dim=d, vocab=vocab,
                      tied=tied, gated_mlp=gated, linear_shapes=tuple(linears), params=params, matmul_params=matmul,
                      largest_tensor=max(head, h * i),
                      max_positions=getattr(config, "max_position_embeddings", 0))


def model_shape(model) -> ModelShape:
    """Shape from a registry name (reads only its config), a transformers config, a loaded model or a ModelShape."""
    if isinstance(model, ModelShape):
        return model
    if isinstance(model, str):
        from transformers import AutoConfig

        from .. import models

        spec = models.get_spec(model)
        folder = models.cached_checkpoint(model, progress=False) if spec.gguf_file else models.encoder_folder(model)
        return shape_from_config(AutoConfig.from_pretrained(folder))
    config = getattr(model, "config", None)
    if config is None and hasattr(model, "hidden_size"):
        config = model
    if config is None:
        raise ConfigError(f"cannot read a model shape from a {type(model).__name__} — pass a registry name, a "
                          "transformers config or a loaded model")
    return shape_from_config(config)
