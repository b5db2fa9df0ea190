"""The one answer-token negative log-likelihood of the course: how likely a model finds each record's answer.

Records are tokenized exactly as for training (:func:`course_lib.formatting.tokenize_dataset`: prompt masked, the
answer and its EOS scored), so the numbers are comparable with the Trainer's ``eval_loss``. Notebook 07 averages
them over a test set (forgetting, :func:`course_lib.continual.response_loss`); notebook 08 sums them per answer
(DPO's log-probabilities, :func:`course_lib.preference.answer_logprobs`). torch is imported inside the functions.
"""

from __future__ import annotations

import contextlib
from typing import NamedTuple

from ..errors import ConfigError
from ..models import body_and_head, evaluating


class AnswerBatch(NamedTuple):
    """The scored positions of one batch of records (:func:`answer_logits`).

    Attributes:
        logits: ``(n, vocab)`` fp32, at the ``n`` positions whose next token is an answer token (its EOS included);
            a softmax in bf16 would bias small differences.
        targets: ``(n,)`` the answer tokens those positions predict.
        rows: ``(n,)`` which record of the batch each position belongs to, ``0 .. size - 1``.
        size: records in the batch.
    """

    logits: object
    targets: object
    rows: object
    size: int


def _answer_position_logits(model, parts, batch, keep):
    """``(n, vocab)`` logits at the positions ``keep`` marks (``(batch, L - 1)``: position t predicts token t + 1).

    With ``parts`` = (decoder body, output head) only those positions go through the head: the prompt's positions
    need no logits, and most positions are prompt (system message and question before a short answer).
    """
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    if parts is None:  # an architecture whose logits are more than head(hidden): take them all, then select
        return model(**inputs).logits[:, :-1][keep]
    body, head = parts
    return head(body(**inputs).last_hidden_state[:, :-1][keep])


def answer_logits(model, tokenizer, records: list[dict], max_len: int, system: str | None = None,
                  batch_size: int = 8, adapter_off: bool = False, every_record: bool = False):
    """Yield an :class:`AnswerBatch` per batch of ``records`` (instruction/output), in eval mode without gradients:
    the logits of the positions that predict the answer's tokens, and those tokens.

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
    parts = body_and_head(model)
    with evaluating(model):
        for start in range(0, len(features), batch_size):
            batch = {k: v.to(model.device) for k, v in collate(features[start:start + batch_size]).items()}
            targets = batch["labels"][:, 1:]
            keep = targets != formatting.IGNORE_INDEX
            with torch.no_grad(), (model.disable_adapter() if adapter_off else contextlib.nullcontext()):
                logits = _answer_position_logits(model, parts, batch, keep)
            yield AnswerBatch(logits.float(), targets[keep], keep.nonzero()[:, 0], len(batch["input_ids"]))


def answer_token_losses(model, tokenizer, records: list[dict], max_len: int, system: str | None = None,
                        batch_size: int = 8, adapter_off: bool = False,
                        every_record: bool = False) -> list[tuple[float, int]]:
    """``(summed NLL in nats, answer tokens)`` of each record that fits ``max_len``, in order.

    Position t predicts token t+1; only answer tokens (label != -100) count. Arguments as :func:`answer_logits`.
    """
    import torch

    losses = []
    for batch in answer_logits(model, tokenizer, records, max_len, system, batch_size, adapter_off, every_record):
        nll = torch.nn.functional.cross_entropy(batch.logits, batch.targets, reduction="none")
        sums = torch.zeros(batch.size, dtype=torch.float64, device=nll.device).index_add_(0, batch.rows, nll.double())
        counts = torch.bincount(batch.rows, minlength=batch.size)
        losses += [(float(total), int(count)) for total, count in zip(sums.tolist(), counts.tolist())]
    return losses
