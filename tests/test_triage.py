"""Tests of course_lib.triage: records from tickets, parsing and scoring of JSON answers."""

from __future__ import annotations

import json

import pytest

from course_lib import paths, train, triage
from course_lib.errors import ConfigError


def test_plan_of_reads_the_ticket_input():
    assert triage.plan_of("Plan: Plus (annual)\nDevice: MacBook") == "Plus"
    assert triage.plan_of("Customer since 2023, Pro plan") == "Pro"
    assert triage.plan_of("Plan: Team, 8 seats\nRole: admin") == "Team"
    assert triage.plan_of("Device: iPhone") == "unknown"
    assert triage.plan_of("") == triage.plan_of(None) == "unknown"


def test_records_from_the_shipped_tickets():
    tickets = train.read_records(paths.data_path("support", "support_clean.jsonl"))
    rows = triage.triage_records(tickets)
    assert len(rows) == len(tickets)
    first = json.loads(rows[0]["output"])
    assert set(first) == set(triage.FIELDS) and first["category"] == tickets[0]["category"]
    plans = {json.loads(r["output"])["plan"] for r in rows}
    assert plans <= set(triage.PLANS) and "unknown" in plans and "Free" in plans
    cats = triage.categories_of(tickets)
    assert len(cats) == 20 and all(c in triage.system_prompt(cats) for c in cats)


def test_record_without_category_is_refused():
    with pytest.raises(ConfigError, match="no 'category'"):
        triage.triage_records([{"id": "t1", "instruction": "hi", "output": "x"}])


def test_score_triage_golden():
    ref = triage.answer_json("billing", "Plus")
    answers = [
        '{"category": "billing", "plan": "Plus"}',          # both right
        'Sure! {"category": "Billing", "plan": "Free"}',    # category right (case-insensitive), plan wrong
        '{"category": "billing"}',                          # a key missing: not the schema -> 0 everywhere
        "The category is billing.",                         # no JSON
        '{"category": "billing", "plan": "Plus"',           # unterminated
    ]
    scores = triage.score_triage(answers, [ref] * 5)
    assert scores["valid_json"].tolist() == [1, 1, 0, 0, 0]
    assert scores["category"].tolist() == [1, 1, 0, 0, 0]
    assert scores["plan"].tolist() == [1, 0, 0, 0, 0]
    assert scores["fields"].tolist() == [1, 0.5, 0, 0, 0]
    with pytest.raises(ConfigError, match="one reference per prediction"):
        triage.score_triage(answers, [ref])
