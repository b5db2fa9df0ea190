"""Language modelling (notebook 04): the token-weighted perplexity of a model on held-out text (pads masked).

torch is imported inside the function; batched generation is :mod:`course_lib.generation`'s."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ConfigError
from ..models import evaluating
from ..generation import _bar  # the one tqdm switch of the course's batched loops


@dataclass
class Perplexity:
    """Result of :func:`perplexity`.

    Attributes:
        perplexity: exp(mean negative log-likelihood per predicted token); 1 is perfect, the vocabulary size is
            what a uniform guess scores.
        nll: mean negative log-likelihood per predicted token, in nats.
        tokens: number of predicted tokens (each text's first token is not predicted; pads are excluded).
    """

    perplexity: float
    nll: float
    tokens: int


def perplexity(model, tokenizer, texts, batch_size: int = 8, max_length: int = 256,
               progress: bool = False) -> Perplexity:
    """Token-weighted perplexity of ``model`` on ``texts`` (held-out text, not the training data).

    Each text is tokenized on its own (truncated to ``max_length`` tokens), batches are right-padded and the pad
    positions are masked out of the loss, so the result does not depend on ``batch_size``. The sum of token
    losses over all texts is divided by the total token count (a long text weighs more than a short one).
    """
    import torch
    from tqdm.auto import tqdm

    texts = [str(t) for t in texts]
    if not texts:
        raise ConfigError("no texts to score — pass at least one held-out text")
    if tokenizer.pad_token_id is None:
        raise ConfigError("the tokenizer has no pad token — load it with models.load_causal_lm (which sets one)")
    total_nll, total_tokens = 0.0, 0
    with evaluating(model, tokenizer, padding_side="right"):
        for start in tqdm(range(0, len(texts), batch_size), desc="perplexity", **_bar(progress)):
            batch = tokenizer(texts[start:start + batch_size], return_tensors="pt", padding=True,
                              truncation=True, max_length=max_length).to(model.device)
            with torch.no_grad():
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            # Position t predicts token t+1; a target counts only where the attention mask marks a real token.
            shift_logits = logits[:, :-1].float()  # log-softmax in fp32: bf16 rounding would bias the loss
            targets = batch["input_ids"][:, 1:]
            mask = batch["attention_mask"][:, 1:].bool()
            losses = torch.nn.functional.cross_entropy(shift_logits.transpose(1, 2), targets, reduction="none")
            total_nll += float(losses[mask].sum())
            total_tokens += int(mask.sum())
    if total_tokens == 0:
        raise ConfigError("every text is a single token, so nothing is predicted — pass longer held-out texts")
    nll = total_nll / total_tokens
    return Perplexity(perplexity=math.exp(nll), nll=nll, tokens=total_tokens)
