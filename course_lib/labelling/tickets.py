"""Unlabelled tickets: the support tickets with their categories hidden, the labels kept aside (notebook 10)."""

from __future__ import annotations

from ..errors import ConfigError


def unlabelled_tickets(records, field: str = "category") -> tuple[list[dict], list[str]]:
    """``(tickets, hidden)``: the records as a labeller sees them, and the labels they were shipped with.

    Each ticket is ``{"id", "text", "context"}``: the customer's message (``instruction``) and the account context
    (``input``, often empty). Nothing that names or implies the label travels with it (not ``field``, nor the
    answer, its facts or keywords). ``hidden[i]`` is record ``i``'s ``field``, the shipped label, kept for
    comparison. Taught in notebook 10.
    """
    records = list(records)
    missing = [r.get("id", i) for i, r in enumerate(records) if not r.get(field)]
    if missing:
        raise ConfigError(f"records {missing[:3]} have no '{field}' — every record needs the label that is to be "
                          "hidden (data/support/support_clean.jsonl has a 'category' on each)")
    tickets = [{"id": r.get("id", i), "text": str(r.get("instruction") or ""), "context": str(r.get("input") or "")}
               for i, r in enumerate(records)]
    return tickets, [str(r[field]) for r in records]
