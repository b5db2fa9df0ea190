"""Published model families: :class:`PublishedModel` and the rows of ``published_models.json``, loaded once.
Taught in notebook 02."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from ..errors import ConfigError


@dataclass(frozen=True)
class PublishedModel:
    """A model described by its published configuration (no weights needed).

    Attributes:
        name: the usual name; family: GPT-2, T5, BERT, Llama 2, ...
        architecture: ``"decoder"``, ``"encoder"`` or ``"encoder-decoder"``.
        params: the published parameter count.
        layers: transformer blocks (per stack for encoder-decoders: T5-base has 12 + 12).
        hidden, intermediate: residual width and MLP width.
        heads, kv_heads, head_dim: attention heads, key/value heads, width of one head (``None``: hidden/heads).
        vocab: vocabulary size; context: the length trained for (positions), in tokens.
        tied: input embedding shared with the output head; gated: gated MLP (SwiGLU: three matrices, not two).
        typical_use: what it is usually fine-tuned for.
        in_course: shipped with this course (or its optional extra).
    """

    name: str
    family: str
    architecture: str
    params: int
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    vocab: int
    context: int
    tied: bool
    gated: bool
    typical_use: str
    head_dim: int | None = None
    in_course: bool = False

    def linear_shapes(self) -> tuple:
        """``(name, in, out)`` of the linear layers of one block (fit's names, whatever the family calls them)."""
        h, d = self.hidden, self.head_dim or self.hidden // self.heads
        linears = [("q_proj", h, self.heads * d), ("k_proj", h, self.kv_heads * d), ("v_proj", h, self.kv_heads * d),
                   ("o_proj", self.heads * d, h)]
        mlp = [("gate_proj", h, self.intermediate)] if self.gated else []
        return tuple(linears + mlp + [("up_proj", h, self.intermediate), ("down_proj", self.intermediate, h)])

    def params_from_config(self) -> int:
        """Parameters counted from the configuration: matrices of the blocks and embeddings (norms, biases and
        relative-position tables left out). A check of the table: it must come close to :attr:`params`."""
        block = sum(a * b for _, a, b in self.linear_shapes())
        attention = sum(a * b for n, a, b in self.linear_shapes() if n in ("q_proj", "k_proj", "v_proj", "o_proj"))
        embeddings = self.vocab * self.hidden * (1 if self.tied else 2)
        if self.architecture == "encoder-decoder":  # decoder blocks add cross-attention
            return self.layers * (2 * block + attention) + embeddings
        if self.architecture == "encoder":  # learned positions; no output head
            return self.layers * block + self.vocab * self.hidden + self.context * self.hidden
        positions = self.context * self.hidden if self.family == "GPT-2" else 0  # GPT-2 learns positions
        return self.layers * block + embeddings + positions

    def shape(self, num_labels: int = 3):
        """A :class:`course_lib.fit.ModelShape` for fit's estimate.

        Exact in the parts that grow with parameters (weights, gradients, optimizer states: the published count);
        the activations are fit's Llama-block model applied to this width and depth (both stacks of an
        encoder-decoder), an approximation for GPT-2, BERT and T5. An encoder is costed as what it is fine-tuned
        as here, a classifier: its output is ``num_labels`` scores, not a vocabulary-wide language-model head (see
        :func:`classifier_shape`).
        """
        from .. import fit

        linears = self.linear_shapes()
        blocks = (2 if self.architecture == "encoder-decoder" else 1) * self.layers
        head = self.vocab * self.hidden if self.architecture != "encoder" else 0
        matmul = min(self.params, blocks * sum(a * b for _, a, b in linears) + head)
        return fit.ModelShape(layers=blocks, hidden=self.hidden, intermediate=self.intermediate, heads=self.heads,
                              kv_heads=self.kv_heads, head_dim=self.head_dim or self.hidden // self.heads,
                              vocab=int(num_labels) if self.architecture == "encoder" else self.vocab,
                              tied=self.tied, gated_mlp=self.gated, linear_shapes=linears,
                              params=self.params, matmul_params=matmul,
                              largest_tensor=max(self.vocab * self.hidden, self.hidden * self.intermediate),
                              max_positions=self.context)


# The rows, with their sources (published configurations and parameter counts), are package data: one JSON object
# per model in published_models.json, the fields of PublishedModel in its order, defaults left out.
PUBLISHED_FILE = "published_models.json"


@cache
def load_published() -> tuple[PublishedModel, ...]:
    """The rows of ``published_models.json`` as :class:`PublishedModel` objects, in the file's order (read once)."""
    text = resources.files(__package__).joinpath(PUBLISHED_FILE).read_text(encoding="utf-8")
    return tuple(PublishedModel(**row) for row in json.loads(text)["models"])


PUBLISHED: tuple[PublishedModel, ...] = load_published()


def published(name: str) -> PublishedModel:
    """The :data:`PUBLISHED` entry called ``name``; :class:`ConfigError` listing the names otherwise."""
    for entry in PUBLISHED:
        if entry.name == name:
            return entry
    raise ConfigError(f"no published model {name!r} — choose one of: {', '.join(m.name for m in PUBLISHED)}")

