"""Evaluating one model on a generation test set: generate the answers, score them, time it (notebook 04)."""

from __future__ import annotations

from ..generation import generate_answers
from .results import EvalResult
from .text import _check_same_length
from .text_metrics import generation_metrics, sentence_scores


def evaluate_generation(model, tokenizer, prompts, references, keywords=None, name: str = "model",
                        max_new_tokens: int = 48, batch_size: int = 8, progress: bool = True,
                        system: str | None = None) -> EvalResult:
    """Generate answers for ``prompts`` and score them against ``references`` (and ``keywords``).

    Returns an :class:`EvalResult` whose ``examples`` holds the prompt, prediction, reference and per-example
    scores, and whose ``info`` records the generation time in seconds.
    """
    import time

    prompts, references = list(prompts), list(references)
    _check_same_length(prompts, references, "prompts", "references")
    start = time.perf_counter()
    predictions = generate_answers(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size,
                                   progress=progress, system=system)
    seconds = time.perf_counter() - start
    metrics = generation_metrics(predictions, references, keywords)
    examples = sentence_scores(predictions, references, keywords)
    examples.insert(0, "prompt", [p if isinstance(p, str) else p[-1]["content"] for p in prompts])
    return EvalResult(name=name, metrics=metrics, examples=examples, info={"seconds": round(seconds, 2)})
