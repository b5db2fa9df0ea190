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
  configurations (package data, ``published_models.json``), with training FLOPs per token, half-precision weight
  memory and fit's estimate of whether LoRA or full fine-tuning fits a T4 or a laptop;
* :data:`GEMMA` with :func:`optional_available` and :func:`load_gemma`: Gemma-3-270M as an optional extra when its
  weight packages are installed (they are not a dependency of the course).

One concern per module; every name is used as ``course_lib.model_choice.<name>``, re-exported below:

* ``cards``: :class:`ModelCard`, :func:`describe`, :func:`cards_table`
* ``tokenizer_cost``: ``SAMPLE_TEXTS``, :func:`token_counts`, :func:`corpus_tokens`
* ``memory``: ``GIB``, ``MIB``, ``BYTES_PER_PARAM``, :func:`weight_bytes`, :func:`weight_memory_table`,
  :func:`classifier_shape`
* ``probes``: :func:`parse_label`, :func:`classification_prompt`, :func:`completion_prompt`,
  :func:`prompt_classify`, :func:`similarity_classify`
* ``published_models``: :class:`PublishedModel`, :func:`load_published` (the rows of ``published_models.json``),
  ``PUBLISHED``, :func:`published`
* ``families``: :func:`family_table`
* ``gemma_chat``: ``GEMMA_CHAT_TEMPLATE``, ``START_OF_TURN``, ``END_OF_TURN``, ``END_OF_TEXT``,
  :func:`render_gemma_chat`, :func:`use_gemma_chat_format`: the base model's chat format (notebook 11)
* ``optional``: :class:`OptionalModel`, ``GEMMA``, :func:`optional_available`, :func:`gemma_checkpoint`,
  :func:`load_gemma`. A test that replaces ``_located`` patches ``course_lib.model_choice.optional._located``,
  where :func:`optional_available` and ``_assemble`` look it up.

torch, transformers and sentence-transformers are imported inside functions only.
"""

from .cards import ModelCard, cards_table, describe
from .families import family_table
from .memory import BYTES_PER_PARAM, GIB, MIB, classifier_shape, weight_bytes, weight_memory_table
from .gemma_chat import (END_OF_TEXT, END_OF_TURN, GEMMA_CHAT_TEMPLATE, START_OF_TURN, render_gemma_chat,
                         use_gemma_chat_format)
from .optional import GEMMA, OptionalModel, gemma_checkpoint, load_gemma, optional_available
# A private helper that tests reach as model_choice._assemble (tests/test_model_choice.py).
from .optional import _assemble
from .probes import (LABEL_MAX_SEQ_LEN, classification_prompt, completion_prompt, label_records, one_shot_per_label,
                     parse_label, prompt_classify, similarity_classify)
from .published_models import PUBLISHED, PublishedModel, load_published, published
from .tokenizer_cost import SAMPLE_TEXTS, corpus_tokens, token_counts

__all__ = [
    "BYTES_PER_PARAM", "END_OF_TEXT", "END_OF_TURN", "GEMMA", "GEMMA_CHAT_TEMPLATE", "START_OF_TURN", "GIB", "LABEL_MAX_SEQ_LEN", "MIB", "PUBLISHED", "SAMPLE_TEXTS",
    "ModelCard", "OptionalModel", "PublishedModel",
    "cards_table", "classification_prompt", "classifier_shape", "completion_prompt", "corpus_tokens", "describe",
    "family_table", "gemma_checkpoint", "label_records", "load_gemma", "load_published", "one_shot_per_label",
    "optional_available", "parse_label",
    "prompt_classify", "published", "render_gemma_chat", "similarity_classify", "token_counts", "use_gemma_chat_format", "weight_bytes", "weight_memory_table",
]
