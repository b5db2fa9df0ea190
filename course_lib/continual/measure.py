"""Measuring a run: the mean loss per answer token on a test set, as training computes it (notebook 07)."""

from __future__ import annotations

from ..errors import ConfigError


def response_loss(model, tokenizer, records: list[dict], max_len: int, batch_size: int = 8,
                  system_prompt: str | None = None) -> float:
    """Mean negative log-likelihood per *answer* token (nats) of ``records`` — what training minimises.

    Tokenized exactly as for training (:func:`course_lib.formatting.tokenize_dataset`: prompt tokens masked, the
    answer and its EOS scored), so the number is comparable with the Trainer's ``eval_loss`` but token-weighted
    over the whole set (independent of ``batch_size``). Lower is better; a rise on the old test set after
    retraining is forgetting.
    """
    import torch

    from .. import formatting

    features, _ = formatting.tokenize_dataset(records, tokenizer, max_len, system_prompt)
    collate = formatting.CausalCollator(tokenizer.pad_token_id)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        for start in range(0, len(features), batch_size):
            batch = collate(features[start:start + batch_size])
            batch = {k: v.to(model.device) for k, v in batch.items()}
            with torch.no_grad():
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            for row_logits, row_labels in zip(logits, batch["labels"]):
                losses = formatting.per_token_losses(row_logits, row_labels)
                scored = row_labels[1:] != formatting.IGNORE_INDEX
                total += float(losses[scored].sum())
                count += int(scored.sum())
    finally:
        model.train(was_training)
    if count == 0:
        raise ConfigError("no answer tokens to score — the test records are empty or truncated away")
    return total / count
