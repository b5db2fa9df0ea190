"""The behaviour task: triage a support ticket into a fixed JSON schema.

A *format* and *label* task rather than a *facts* task: the answer is ``{"category": ..., "plan": ...}`` with a
category from the help desk's fixed list and the customer's plan read from the ticket (``"unknown"`` when the
ticket does not say). A prompt can describe the schema, but a 135M instruct model follows it unreliably and does
not know which of the 20 categories the help desk means by "billing" or "sync"; a few minutes of LoRA teach both.
The records are built from the same support tickets as the answer task (``data/support/support_clean.jsonl``),
so nothing new is shipped.

Scores per answer (:func:`score_triage`): ``valid_json`` (parses to an object with exactly the two keys),
``category`` and ``plan`` (1 when that field is right, 0 otherwise, including invalid JSON), and ``fields``, the
mean of the two: the task metric. Taught in notebook 03.
"""

from __future__ import annotations

import json
import re

from .errors import ConfigError

FIELDS = ("category", "plan")
PLANS = ("Free", "Plus", "Pro", "Team", "unknown")
# Sequence budget of the triage run, in tokens: the longest shipped ticket with SYSTEM_PROMPT and its answer is 125
# SmolLM2 tokens, so nothing is cut; the answer task's profile lengths (64 in smoke) would cut most answers off.
MAX_SEQ_LEN = 160
_PLAN_WORD = re.compile(r"\b(Free|Plus|Pro|Team)\b")

SYSTEM_PROMPT = ("You triage support tickets for Brightleaf Notes. Reply with JSON only: "
                 '{"category": <one of the categories>, "plan": <Free, Plus, Pro, Team or unknown>}.')


def plan_of(ticket_input: str | None) -> str:
    """The plan named in a ticket's ``input`` (``"Plan: Plus (annual)"``, ``"Customer since 2023, Plus plan"``),
    or ``"unknown"`` when it names none."""
    match = _PLAN_WORD.search(str(ticket_input or ""))
    return match.group(1) if match else "unknown"


def answer_json(category: str, plan: str) -> str:
    """The reference answer: compact JSON, keys in schema order (what the model is trained to write)."""
    return json.dumps({"category": category, "plan": plan})


def categories_of(records) -> list[str]:
    """The sorted category names of ``records`` (each needs a ``category``)."""
    missing = [r.get("id", i) for i, r in enumerate(records) if not r.get("category")]
    if missing:
        raise ConfigError(f"records {missing[:3]} have no 'category' — the triage task needs a category on every "
                          "ticket (data/support/support_clean.jsonl has one)")
    return sorted({r["category"] for r in records})


def system_prompt(categories) -> str:
    """The triage instruction with the category list spelled out: the fair prompt for every baseline."""
    return f"{SYSTEM_PROMPT} Categories: {', '.join(categories)}."


def triage_records(records) -> list[dict]:
    """Instruction records for the triage task: the ticket as the question, its JSON triage as the answer.

    Each output record keeps the ticket's ``id`` and ``category``, so the answer task's stratified split applies.
    """
    categories_of(records)
    return [{"id": r.get("id"), "instruction": r["instruction"], "input": r.get("input") or "",
             "output": answer_json(r["category"], plan_of(r.get("input"))), "category": r["category"]}
            for r in records]


def parse_triage(answer: str) -> dict | None:
    """The JSON object in ``answer`` (the first ``{...}`` span), or ``None`` when there is none that parses."""
    start, end = str(answer).find("{"), str(answer).rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        value = json.loads(answer[start:end + 1])
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def score_triage(predictions, references):
    """Per-answer scores as a DataFrame: ``prediction``, ``valid_json``, ``category``, ``plan``, ``fields``.

    ``references`` are the reference JSON strings (:func:`answer_json`). A field counts only when it is exactly
    right (case-insensitive); an answer that is not valid JSON with the schema's two keys scores 0 everywhere.
    """
    import pandas as pd

    from .evaluation import _check_same_length  # the course's one length check for scored lists

    predictions, references = [str(p) for p in predictions], [str(r) for r in references]
    _check_same_length(predictions, references, "predictions", "references")
    rows = []
    for prediction, reference in zip(predictions, references):
        got, want = parse_triage(prediction), json.loads(reference)
        valid = got is not None and set(got) == set(FIELDS)
        row = {"prediction": prediction, "valid_json": float(valid)}
        for name in FIELDS:
            row[name] = float(valid and str(got.get(name, "")).strip().lower() == want[name].lower())
        row["fields"] = sum(row[name] for name in FIELDS) / len(FIELDS)
        rows.append(row)
    return pd.DataFrame(rows)


def evaluate_triage(model, tokenizer, prompts, references, name: str = "model", system: str | None = None,
                    max_new_tokens: int = 24, batch_size: int = 32, progress: bool = False):
    """Generate triage answers (greedy) and score them: an ``evaluation.EvalResult`` whose ``metrics`` are the
    means of :func:`score_triage`'s columns and whose ``examples`` is its per-answer table.

    ``prompts`` are user strings (the ticket) or message lists (few-shot prompts). 24 new tokens hold the longest
    reference answer (``{"category": "troubleshooting", "plan": "unknown"}`` is 16 SmolLM2 tokens).
    """
    import time

    from . import evaluation

    prompts = list(prompts)
    start = time.perf_counter()
    answers = evaluation.generate_answers(model, tokenizer, prompts, max_new_tokens=max_new_tokens,
                                          batch_size=batch_size, progress=progress, system=system)
    seconds = time.perf_counter() - start
    examples = score_triage(answers, references)
    metrics = {column: float(examples[column].mean()) for column in ("fields", "valid_json", *FIELDS)}
    metrics["n"] = len(examples)
    return evaluation.EvalResult(name=name, metrics=metrics, examples=examples, info={"seconds": round(seconds, 2)})
