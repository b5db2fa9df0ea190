"""From a record to training tensors: chat template, response-only labels, padding collator, packing.

The pipeline for one instruction example::

    record {"instruction", "input"?, "output"}
      -> to_messages()        [system?, user, assistant] chat messages
         (prompt_completion(): the same split before the answer, TRL's prompt-completion format, notebook 09)
      -> tokenize_example()   input_ids / attention_mask / labels (labels = -100 except the answer and its EOS)
      -> CausalCollator       a right-padded batch (labels padded with -100, attention_mask 0 on pads)
   or -> pack_examples() + PackedCollator   several examples per row, no attention across examples

Shapes: a feature is a dict of equal-length Python int lists (``L`` tokens); a collated batch is a dict of
``torch.long`` tensors of shape ``(batch, L_max)``.

Why the labels look like this:

* ``-100`` is PyTorch's ``ignore_index`` for cross-entropy, so prompt tokens (system, user, the
  ``<|im_start|>assistant`` header) and padding add nothing to the loss: the model is trained to *answer*, not to
  reproduce questions.
* The end-of-turn token (``<|im_end|>`` for SmolLM2, the tokenizer's EOS) after the answer *is* trained: without
  it the model never learns to stop. This is also why the pad token must differ from EOS (see
  ``models.prepare_tokenizer``): masking pads would otherwise mask the EOS too.

torch is imported inside the collators only; importing this module is cheap.

One concern per module; every name is used as ``course_lib.formatting.<name>``, re-exported below:

* ``messages``: :func:`user_text`, :func:`to_messages`, :func:`few_shot_messages`
* ``trl_rows``: :func:`prompt_completion`, :func:`prompt_completion_columns` (notebook 09)
* ``labels``: ``IGNORE_INDEX``, :func:`tokenize_example`, :class:`ExampleTooLong`, :func:`tokenize_dataset`,
  :func:`tokenize_columns` / :func:`tokenize_to_dataset` (the ``datasets`` idiom), :class:`TokenizeReport`,
  :func:`check_feature`
* ``collate``: :class:`CausalCollator`, :func:`count_tokens`
* ``packing``: :func:`pack_examples`, :func:`packing_efficiency`, :class:`PackedCollator`,
  :func:`per_token_losses`, :func:`packed_vs_separate`, :func:`verify_packing`
* ``mask_view``: :class:`MaskView`, :func:`show_mask`
"""

from .collate import CausalCollator, count_tokens
from .labels import (IGNORE_INDEX, ExampleTooLong, TokenizeReport, check_feature, tokenize_columns, tokenize_dataset,
                     tokenize_example, tokenize_to_dataset)
from .mask_view import MaskView, show_mask
from .messages import chat_messages, few_shot_messages, to_messages, user_text
from .packing import (PackedCollator, pack_examples, packed_vs_separate, packing_efficiency, per_token_losses,
                      verify_packing)
from .trl_rows import prompt_completion, prompt_completion_columns

__all__ = [
    "IGNORE_INDEX",
    "CausalCollator", "ExampleTooLong", "MaskView", "PackedCollator", "TokenizeReport",
    "chat_messages", "check_feature", "count_tokens", "few_shot_messages", "pack_examples", "packed_vs_separate",
    "packing_efficiency", "per_token_losses", "prompt_completion", "prompt_completion_columns", "show_mask",
    "to_messages", "tokenize_columns", "tokenize_dataset", "tokenize_example", "tokenize_to_dataset", "user_text",
    "verify_packing",
]
