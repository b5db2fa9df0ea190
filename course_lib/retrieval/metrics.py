"""Retrieval quality: recall@k and mean reciprocal rank against the gold ``doc_id`` of labelled questions (06).

:func:`retrieval_metrics` scores an index on a question set (:class:`RetrievalReport`);
:func:`retrieval_metrics_by` does the same per group of questions (e.g. per fact ``kind``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from .index import EmbeddingIndex, embed_texts


@dataclass
class RetrievalReport:
    """Retrieval quality on labelled questions.

    Attributes:
        recall_at: ``{k: share of questions whose gold document is among the top k}`` (0..1).
        mrr: mean reciprocal rank of the gold document (0 when it is not in the top ``max(ks)``).
        n_questions: questions scored (those with a gold ``doc_id`` present in the index).
        skipped: questions without a usable gold ``doc_id``.
        ranks: per scored question, the 1-based rank of the gold document, or ``None`` if not retrieved.
    """

    recall_at: dict[int, float]
    mrr: float
    n_questions: int
    skipped: int
    ranks: list[int | None]

    def as_row(self) -> dict:
        """Flat dict for a table: ``recall@1``, ``recall@3``, ..., ``mrr``, ``n``."""
        return {**{f"recall@{k}": v for k, v in self.recall_at.items()}, "mrr": self.mrr, "n": self.n_questions}


def _gold_ids(question: dict, gold_key: str, known: set) -> set:
    value = question.get(gold_key)
    ids = [value] if isinstance(value, str) else list(value or [])
    return {i for i in ids if i in known}


def _report(index: EmbeddingIndex, questions: list[dict], vectors: np.ndarray, ks: list[int],
            gold_key: str) -> RetrievalReport:
    """Recall@k and MRR for ``questions`` whose query embeddings are the rows of ``vectors``."""
    known = set(index.doc_ids)
    usable = [i for i, q in enumerate(questions) if _gold_ids(q, gold_key, known)]
    if not usable:
        raise ConfigError(f"none of the {len(questions)} questions has a {gold_key!r} found in the index — "
                          "check that the questions and the knowledge base belong together")
    hits = index.search_vectors(vectors[usable], k=max(ks))
    ranks = []
    for i, found in zip(usable, hits):
        gold = _gold_ids(questions[i], gold_key, known)
        ranks.append(next((h.rank for h in found if h.doc_id in gold), None))
    n = len(ranks)
    recall = {k: sum(1 for r in ranks if r is not None and r <= k) / n for k in ks}
    mrr = sum(1.0 / r for r in ranks if r is not None) / n
    return RetrievalReport(recall_at=recall, mrr=mrr, n_questions=n, skipped=len(questions) - n, ranks=ranks)


def _check_ks(ks) -> list[int]:
    ks = sorted(set(int(k) for k in ks))
    if not ks or ks[0] < 1:
        raise ConfigError(f"ks is {ks} — give positive cut-offs such as (1, 3, 5)")
    return ks


def retrieval_metrics(index: EmbeddingIndex, encoder, questions: list[dict], ks=(1, 3, 5),
                      question_key: str = "question", gold_key: str = "doc_id") -> RetrievalReport:
    """Recall@k and MRR of ``index`` on ``questions`` (dicts with a question and its gold document id).

    The gold value may be one id or a list of ids (any of which answers the question, e.g. a release note and
    the revised document stating the same fact); the rank is that of the first gold document retrieved. Questions
    whose gold ids are empty or all absent from the index are skipped and counted in ``skipped``.
    """
    ks = _check_ks(ks)
    vectors = embed_texts(encoder, [q[question_key] for q in questions]) if questions else np.zeros((0, index.dim))
    return _report(index, list(questions), vectors, ks, gold_key)


def retrieval_metrics_by(index: EmbeddingIndex, encoder, questions: list[dict], by: str = "kind", ks=(1, 3, 5),
                         question_key: str = "question", gold_key: str = "doc_id"):
    """:func:`retrieval_metrics` per group of questions (e.g. per fact ``kind``), the questions embedded once.

    Returns a DataFrame indexed by the values of ``questions[i][by]`` (order of first appearance) with columns
    ``recall@k`` for each k, ``mrr`` and ``n`` (questions scored in the group).
    """
    import pandas as pd

    ks = _check_ks(ks)
    questions = list(questions)
    if not questions:
        raise ConfigError("no questions to score — pass at least one question with a gold document id")
    vectors = embed_texts(encoder, [q[question_key] for q in questions])
    rows = {}
    for group in dict.fromkeys(q.get(by) for q in questions):
        members = [i for i, q in enumerate(questions) if q.get(by) == group]
        rows[group] = _report(index, [questions[i] for i in members], vectors[members], ks, gold_key).as_row()
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(by)
