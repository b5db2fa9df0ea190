"""Measuring a run: the mean loss per answer token on a test set, as training computes it (notebook 07)."""

from __future__ import annotations

from ..errors import ConfigError
from ..evaluation import answer_token_losses


def response_loss(model, tokenizer, records: list[dict], max_len: int, batch_size: int = 8,
                  system_prompt: str | None = None) -> float:
    """Mean negative log-likelihood per *answer* token (nats) of ``records`` — what training minimises.

    Tokenized exactly as for training (:func:`course_lib.formatting.tokenize_dataset`: prompt tokens masked, the
    answer and its EOS scored), so the number is comparable with the Trainer's ``eval_loss`` but token-weighted
    over the whole set (independent of ``batch_size``). Lower is better; a rise on the old test set after
    retraining is forgetting. The NLL itself is :func:`course_lib.evaluation.answer_token_losses`.
    """
    losses = answer_token_losses(model, tokenizer, records, max_len, system_prompt, batch_size)
    count = sum(tokens for _, tokens in losses)
    if count == 0:
        raise ConfigError("no answer tokens to score — the test records are empty or truncated away")
    return sum(nll for nll, _ in losses) / count
