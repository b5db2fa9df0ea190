"""The one answer-token negative log-likelihood of the course: how likely a model finds each record's answer.

Records are tokenized exactly as for training (:func:`course_lib.formatting.tokenize_dataset`: prompt masked, the
answer and its EOS scored), so the numbers are comparable with the Trainer's ``eval_loss``. Notebook 07 averages
them over a test set (forgetting, :func:`course_lib.continual.response_loss`); notebook 08 sums them per answer
(DPO's log-probabilities, :func:`course_lib.preference.answer_logprobs`). torch is imported inside the functions.
"""

from __future__ import annotations

import contextlib

from ..errors import ConfigError
from ..models import evaluating


def answer_logits(model, tokenizer, records: list[dict], max_len: int, system: str | None = None,
                  batch_size: int = 8, adapter_off: bool = False, every_record: bool = False):
    """Yield ``(logits, labels)`` per batch of ``records`` (instruction/output), in eval mode without gradients.

    Shapes: logits ``(batch, L, vocab)`` in fp32 (a softmax in bf16 would bias small differences), labels
    ``(batch, L)`` with -100 off the answer.

    Args:
        adapter_off: score with the peft adapter disabled: the model the adapter started from, with no second copy
            in memory (DPO's reference, notebook 08).
        every_record: refuse, in one sentence, records that do not fit ``max_len`` (a per-record score must not
            pair one record with another's); otherwise they are left out, as training leaves them out.
    """
    import torch

    from .. import formatting

    if adapter_off and not hasattr(model, "disable_adapter"):
        raise ConfigError("the model has no adapter to switch off — pass the PeftModel that train.train_dpo returns")
    features, report = formatting.tokenize_dataset(records, tokenizer, max_len, system)
    if every_record and len(features) != len(records):
        raise ConfigError(f"only {len(features)} of {len(records)} records could be scored ({report}) — give "
                          "every record a non-empty answer, and a max_len that holds its prompt")
    collate = formatting.CausalCollator(tokenizer.pad_token_id)
    with evaluating(model):
        for start in range(0, len(features), batch_size):
            batch = {k: v.to(model.device) for k, v in collate(features[start:start + batch_size]).items()}
            with torch.no_grad(), (model.disable_adapter() if adapter_off else contextlib.nullcontext()):
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            yield logits.float(), batch["labels"]


def answer_token_losses(model, tokenizer, records: list[dict], max_len: int, system: str | None = None,
                        batch_size: int = 8, adapter_off: bool = False,
                        every_record: bool = False) -> list[tuple[float, int]]:
    """``(summed NLL in nats, answer tokens)`` of each record that fits ``max_len``, in order.

    Position t predicts token t+1; only answer tokens (label != -100) count. Arguments as :func:`answer_logits`.
    """
    from .. import formatting

    losses = []
    for logits, labels in answer_logits(model, tokenizer, records, max_len, system, batch_size, adapter_off,
                                        every_record):
        for row_logits, row_labels in zip(logits, labels):
            per_token = formatting.per_token_losses(row_logits, row_labels)
            scored = row_labels[1:] != formatting.IGNORE_INDEX
            losses.append((float(per_token[scored].sum()), int(scored.sum())))
    return losses
