"""Fact questions (fine-tuning vs RAG; notebook 06): which facts each system gets right (correct / stale /
unsupported / invented per answer), the summary per system, and accuracy per question kind with its interval."""

from __future__ import annotations

from ..errors import ConfigError
from .text import _check_same_length, normalize_text
from .text_metrics import keyword_match


def value_match(prediction: str, keywords) -> float:
    """Fraction of ``keywords`` whose *value* the prediction states (0..1; NaN without keywords).

    A keyword that contains numbers (``"3 seats"``, ``"$5.99 per month"``, ``"5 to 10 business days"``) counts as
    found when the prediction states every one of its numbers (:func:`course_lib.retrieval.stated_values`:
    whole numbers, so "13 seats" does not match "3 seats" — a substring test would). A keyword without a number
    (``"Ctrl+Shift+C"``, ``"Settings > Sync"``) needs the keyword text itself, as in :func:`keyword_match`.
    This forgives a small model that answers "The minimum is 3." without the unit the question already named
    (:func:`keyword_match` scores that 0), and it is stricter about numbers than a substring test.
    """
    from ..retrieval import stated_values

    if isinstance(keywords, str):
        keywords = keywords.split(";")
    keywords = [k for k in keywords if normalize_text(k)]
    if not keywords:
        return float("nan")
    text = normalize_text(prediction)
    stated = set(stated_values(prediction))
    found = 0
    for keyword in keywords:
        numbers = stated_values(keyword)
        found += all(n in stated for n in numbers) if numbers else normalize_text(keyword) in text
    return found / len(keywords)


def fact_question_set(questions: list[dict], release_notes: list[dict], kinds, per_kind: int | None = None,
                      uncapped=()) -> list[dict]:
    """The fact questions to score: the first ``per_kind`` of each kind, in ``kinds`` order, each with the value
    that was correct before the release (``stale_keywords``).

    Args:
        questions: fact questions with ``kind`` and ``fact_id`` (``data/support/fact_questions.jsonl``).
        release_notes: release notes whose ``changes`` give each changed fact's ``old_value``
            (``data/support/release_notes_v2.jsonl``).
        kinds: the kinds to keep, e.g. ``("trained", "kb_only", "changed")``.
        per_kind: how many questions of each kind (``None``: all).
        uncapped: kinds scored in full whatever ``per_kind`` says (notebook 06 asserts the gain on every
            ``trained`` question outside smoke).

    Returns:
        Copies of the chosen questions; a ``changed`` question gets ``stale_keywords=[its old value]``, every other
        one ``[]`` (:func:`fact_answer_table` counts an answer with a stale value as stale). Taught in notebook 06.
    """
    old_value = {c["fact_id"]: c["old_value"] for note in release_notes for c in note["changes"] if c["old_value"]}
    chosen = []
    for kind in kinds:
        of_kind = [q for q in questions if q["kind"] == kind][: None if kind in uncapped else per_kind]
        chosen += [dict(q, stale_keywords=[old_value[q["fact_id"]]] if kind == "changed" else []) for q in of_kind]
    return chosen


def fact_answer_table(questions: list[dict], answers, known=None, max_words: int | None = None):
    """Score one system's answers to fact questions, one row per question.

    Args:
        questions: dicts with ``question``, ``keywords`` (the correct value(s)), ``kind`` (e.g. ``trained`` /
            ``kb_only`` / ``changed``), optional ``qid`` and ``stale_keywords`` (the value(s) that were correct
            before an update, e.g. a release note's ``old_value``).
        answers: a :class:`course_lib.retrieval.SystemAnswers` (its ``hits`` are the passages shown), or a plain
            list of answer strings (closed-book).
        known: the whole knowledge base (documents or texts), for ``invented`` (see below).
        max_words: the passage trim used in the prompts, so grounding counts only words the model saw.

    Returns:
        A DataFrame with ``qid``, ``kind``, ``question``, ``answer`` and per answer:

        * ``correct`` — :func:`value_match` with ``keywords`` (0..1; for an updated fact, the NEW value);
        * ``keyword`` — the strict :func:`keyword_match` (the exact keyword text, unit included);
        * ``stale`` — 1.0 when the answer states a ``stale_keywords`` value (:func:`value_match`) and not every
          new one (it gave the old value), 0.0 otherwise, NaN for questions without ``stale_keywords``;
        * ``unsupported`` — :attr:`course_lib.retrieval.Grounding.unsupported`: states a number not in the
          passages shown, or cites none of them (always true closed-book unless it abstains);
        * ``invented`` — states a number found nowhere in ``known`` nor the question (NaN without ``known``);
        * ``abstained``, ``values`` (numbers stated) and ``cited`` (doc ids).
    """
    import pandas as pd

    from ..retrieval import check_grounding

    questions = list(questions)
    texts = list(getattr(answers, "answers", answers))
    hits = getattr(answers, "hits", None) or [()] * len(texts)
    _check_same_length(questions, texts, "questions", "answers")
    rows = []
    for i, (q, answer, shown) in enumerate(zip(questions, texts, hits)):
        if "question" not in q or "keywords" not in q:
            raise ConfigError(f"question {i + 1} has no 'question' or 'keywords' field — give every fact question "
                              "both (see data/support/fact_questions.jsonl)")
        correct = value_match(answer, q["keywords"])
        stale_keys = q.get("stale_keywords") or []
        stale = float("nan")
        if stale_keys:
            stale = float(value_match(answer, stale_keys) > 0 and not correct >= 1)
        g = check_grounding(answer, shown, q["question"], known=known, max_words=max_words)
        rows.append({"qid": q.get("qid", i + 1), "kind": q.get("kind", "all"), "question": q["question"],
                     "answer": answer, "correct": correct, "keyword": keyword_match(answer, q["keywords"]),
                     "stale": stale, "unsupported": float(g.unsupported),
                     "invented": float(bool(g.invented_values)) if known is not None else float("nan"),
                     "abstained": float(g.abstained), "values": list(g.values), "cited": list(g.cited)})
    return pd.DataFrame(rows)


def fact_summary(tables: dict, kinds=None):
    """One row per system from :func:`fact_answer_table` results (``{system name: table}``).

    Columns: ``acc <kind>`` (mean ``correct`` per question kind, in ``kinds`` order; default: order of first
    appearance), ``stale`` (mean over questions that have stale keywords: answered the OLD value),
    ``strict keywords`` (mean strict ``keyword`` match over all questions), then the shares of ``unsupported``,
    ``invented`` and ``abstained`` answers over all questions, and ``n`` questions. All shares are 0..1.
    """
    import pandas as pd

    if not tables:
        raise ConfigError("no answer tables to summarise — pass {system name: fact_answer_table(...)}")
    rows = {}
    for name, table in tables.items():
        order = list(kinds) if kinds is not None else list(dict.fromkeys(table["kind"]))
        row = {f"acc {kind}": float(table.loc[table["kind"] == kind, "correct"].mean()) for kind in order}
        row["stale"] = float(table["stale"].mean())  # NaN rows (no stale keywords) are skipped
        row["strict keywords"] = float(table["keyword"].mean())
        for column in ("unsupported", "invented", "abstained"):
            row[column] = float(table[column].mean())
        row["n"] = len(table)
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("system")


def accuracy_by_kind(tables: dict, kinds, x: str = "epoch"):
    """Accuracy per question kind with its 95 % bootstrap interval, for a series of :func:`fact_answer_table`
    results keyed by a number: ``{epochs trained: table}`` (notebook 06, what fine-tuning learns and how fast).

    Returns a long DataFrame, one row per (``x``, kind): ``x``, ``kind``, ``accuracy``, ``low``, ``high``
    (:func:`course_lib.uncertainty.mean_interval` over that kind's questions) and ``n``.
    """
    import pandas as pd

    from ..uncertainty import mean_interval

    if not tables:
        raise ConfigError("no answer tables to summarise — pass {epochs: fact_answer_table(...)}")
    rows = []
    for value, table in sorted(tables.items()):
        for kind in kinds:
            correct = table.loc[table["kind"] == kind, "correct"].astype(float)
            mean, low, high = mean_interval(correct)
            rows.append({x: value, "kind": kind, "accuracy": mean, "low": low, "high": high, "n": len(correct)})
    return pd.DataFrame(rows)
