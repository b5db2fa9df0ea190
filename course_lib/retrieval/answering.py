"""Answering a question set, closed-book or with retrieval, timed: the systems notebook 06 compares.

:func:`answer_questions` returns one system's answers (:class:`SystemAnswers`) with the passages it was shown and
the seconds it took; generation is :func:`course_lib.generation.generate_answers`, imported when called.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..errors import ConfigError
from .index import EmbeddingIndex, Hit
from .prompts import RAG_SYSTEM_PROMPT, build_rag_messages, plain_messages


@dataclass
class SystemAnswers:
    """One system's answers to a question set, with what it retrieved and how long it took.

    Attributes:
        name: label for tables (``"base"``, ``"RAG"`` ...).
        answers: one generated answer per question, in order.
        hits: per question, the passages shown to the model (``None`` for a closed-book system).
        seconds: wall time of retrieval plus generation for the whole set.
        retrieval_seconds: the part of ``seconds`` spent embedding the questions and searching the index.
        batch_size: questions generated together; the latency per answer below is measured at this batch size.
    """

    name: str
    answers: list[str]
    hits: list[list[Hit]] | None
    seconds: float
    retrieval_seconds: float = 0.0
    batch_size: int = 1

    @property
    def seconds_per_answer(self) -> float:
        """Mean wall seconds per answer (batched generation: a batch's time divided by its answers)."""
        return self.seconds / len(self.answers) if self.answers else float("nan")


def answer_questions(model, tokenizer, questions: list[str], index: EmbeddingIndex | None = None, encoder=None,
                     k: int = 3, system: str | None = None, max_new_tokens: int = 48, batch_size: int = 8,
                     max_words: int | None = None, name: str = "model") -> SystemAnswers:
    """Answer ``questions`` greedily, closed-book (``index=None``) or with the top-``k`` passages of ``index``.

    Closed-book prompts are ``[system?, user question]`` (:func:`plain_messages`); retrieval prompts are
    :func:`build_rag_messages` with ``system`` (default :data:`RAG_SYSTEM_PROMPT`) and passages trimmed to
    ``max_words`` words. Generation is :func:`course_lib.generation.generate_answers` (batched, greedy).
    """
    from ..generation import generate_answers

    questions = [str(q) for q in questions]
    if not questions:
        raise ConfigError("no questions to answer — pass at least one question")
    start = time.perf_counter()
    hits = None
    if index is None:
        prompts = [plain_messages(q, system) for q in questions]
    else:
        if encoder is None:
            raise ConfigError("answering with retrieval needs the index's encoder — pass encoder= (the "
                              f"{index.encoder_name} sentence encoder that built the index)")
        hits = index.search(encoder, questions, k=k)
        prompts = [build_rag_messages(q, h, system=system or RAG_SYSTEM_PROMPT, max_words=max_words)
                   for q, h in zip(questions, hits)]
    retrieval_seconds = time.perf_counter() - start if hits is not None else 0.0
    answers = generate_answers(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size,
                               progress=False)
    return SystemAnswers(name=name, answers=answers, hits=hits, seconds=time.perf_counter() - start,
                         retrieval_seconds=retrieval_seconds, batch_size=batch_size)
