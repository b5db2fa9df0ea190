"""course_lib.labelling (notebook 10): hidden labels, the keyword rule, the session and its widget, time saved,
agreement, seeded label noise and its effect table. Fast and offline: no model is loaded."""

from __future__ import annotations

import json
import math
import sys

import pytest

from course_lib import labelling, notebook, paths, preference, uncertainty
from course_lib.errors import ConfigError

RECORDS = [
    {"id": "t1", "instruction": "How much is the Plus plan?", "input": "Plan: Free", "output": "$4.",
     "category": "billing", "keywords": ["$4"]},
    {"id": "t2", "instruction": "Is there a dark mode?", "input": "", "output": "Yes.", "category": "settings"},
]


def _support_records():
    path = paths.data_path("support", "support_clean.jsonl")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_unlabelled_tickets_hide_the_label_and_keep_it_aside():
    tickets, hidden = labelling.unlabelled_tickets(RECORDS)
    assert hidden == ["billing", "settings"]
    assert tickets[0] == {"id": "t1", "text": "How much is the Plus plan?", "context": "Plan: Free"}
    assert all(set(t) == {"id", "text", "context"} for t in tickets)  # no category, answer or keywords
    with pytest.raises(ConfigError, match="no 'category'"):
        labelling.unlabelled_tickets([{"id": "x", "instruction": "Hi"}])


def test_keyword_rule_first_match_wins_and_says_why():
    rule = labelling.KeywordRule()
    assert rule.explain("Can I export notes as PDF? I'm on the Windows app.") == ("export", "export")
    assert rule.label("Does it run on Windows 8?") == "devices"  # the broad category is tried last
    assert rule.explain("Do you take PayPal?") == (labelling.UNMATCHED, None)
    assert rule.with_phrase("billing", "paypal").label("Do you take PayPal?") == "billing"
    assert rule.with_phrase("new", "kettle").categories[-1] == "new"
    assert rule.with_phrase("devices", "windows", first=True).label("Can I export on Windows?") == "devices"
    with pytest.raises(ConfigError, match="as a tuple"):
        labelling.KeywordRule((("billing", "price"),))


def test_keyword_rule_and_descriptions_cover_the_support_categories():
    records = _support_records()
    categories = {r["category"] for r in records}
    assert set(labelling.KeywordRule().categories) == categories == set(labelling.SUPPORT_DESCRIPTIONS)


def test_keyword_rule_agreement_with_the_shipped_categories():
    # Golden value: the rule on all 658 shipped tickets, pure Python and deterministic (computed 2026-12-02):
    # 524 of 658 agree, kappa 0.783 ("substantial"; notebook 10's cpu check asserts > 0.7).
    tickets, shipped = labelling.unlabelled_tickets(_support_records())
    result = labelling.agreement(shipped, labelling.KeywordRule().labels(t["text"] for t in tickets),
                                 "shipped", "rule")
    assert result.n == 658 and round(result.observed * 658) == 524
    assert result.kappa == pytest.approx(0.783, abs=5e-4)


def test_agreement_matches_the_formula_and_handles_a_constant_labeller():
    a = ["x", "x", "y", "y"]
    b = ["x", "y", "y", "y"]
    result = labelling.agreement(a, b, "A", "B")
    expected = (2 * 1 + 2 * 3) / 16  # A: x 2, y 2; B: x 1, y 3
    assert (result.observed, result.expected) == (0.75, expected)
    assert result.kappa == pytest.approx((0.75 - expected) / (1 - expected))
    assert "kappa 0.50" in str(result) and result.row()["n"] == 4
    assert math.isnan(labelling.agreement(["x", "x"], ["x", "x"]).kappa)
    assert labelling.agreement(["x", "y"], ["y", "x"]).kappa == pytest.approx(-1.0)
    with pytest.raises(ConfigError, match="same items"):
        labelling.agreement(["x"], ["x", "y"])


def test_disagreements_most_frequent_first():
    table = labelling.disagreements(["a", "a", "a", "b", "c"], ["b", "b", "a", "c", "c"], "A", "B", top=5)
    assert table.values.tolist() == [["a", "b", 2], ["b", "c", 1]]


def test_flip_labels_exact_seeded_and_always_to_another_label():
    labels = ["pos"] * 60 + ["neg"] * 30 + ["neu"] * 10
    noisy, flipped = labelling.flip_labels(labels, 0.3, ["neg", "neu", "pos"], seed=1)
    assert len(flipped) == 30 and flipped == sorted(set(flipped))
    assert all(noisy[i] != labels[i] for i in flipped)
    assert all(noisy[i] == labels[i] for i in set(range(100)) - set(flipped))
    assert labelling.flip_labels(labels, 0.3, ["neg", "neu", "pos"], seed=1) == (noisy, flipped)
    assert labelling.flip_labels(labels, 0.3, ["neg", "neu", "pos"], seed=2)[1] != flipped
    assert labelling.flip_labels(labels, 0.0, ["neg", "neu", "pos"]) == (labels, [])
    assert len(labelling.flip_labels(labels, 1.0, ["neg", "neu", "pos"])[1]) == 100
    for bad, message in (((labels, 1.5, ["neg", "pos"]), "not a share"), ((labels, 0.1, ["pos"]), "two labels"),
                         ((["odd"], 0.1, ["neg", "pos"]), "not in label_names")):
        with pytest.raises(ConfigError, match=message):
            labelling.flip_labels(*bad)


def test_noise_effects_table_and_drops():
    gold = ["a", "b", "c"] * 10
    predictions = {0.0: list(gold), 0.3: ["a"] * 30}
    table, drops = labelling.noise_effects(gold, predictions, ["a", "b", "c"])
    assert table["noise rate"].tolist() == [0.0, 0.3]
    assert table.loc[0, "macro F1"] == 1.0 and (table["low"] <= table["macro F1"]).all()
    assert (table["macro F1"] <= table["high"]).all()
    assert drops[0.3].diff == pytest.approx(1 - (0.5 / 3)) and drops[0.3].low > 0  # F1 of "a": 2*10/(20+20)
    assert math.isnan(table.loc[0, "drop"]) and table.loc[1, "drop"] == pytest.approx(drops[0.3].diff)
    with pytest.raises(ConfigError, match="no predictions"):
        labelling.noise_effects(gold, {}, ["a"])


def test_label_interval_brackets_the_score():
    gold = ["a", "b"] * 20
    score, low, high = uncertainty.label_interval(gold, ["a"] * 40, ["a", "b"])
    assert score == pytest.approx(uncertainty.macro_f1_codes([0, 1] * 20, [0] * 40, 2))
    assert low <= score <= high
    assert uncertainty.label_interval(gold, gold, ["a", "b"], metric="accuracy") == (1.0, 1.0, 1.0)
    with pytest.raises(ConfigError, match="same length"):
        uncertainty.label_interval(gold, ["a"], ["a", "b"])


def _session(suggestions=("billing", "billing")):
    return labelling.LabelSession.start(["How much is Plus?", "Dark mode?"], ["billing", "settings"],
                                        ["billing", "settings"], "shipped", suggestions=suggestions, ids=["t1", "t2"])


def test_session_defaults_decisions_and_progress():
    session = _session()
    assert session.decided == 0 and session.progress() == "0 of 2 decided by you (0 %), the rest: shipped"
    session.accept(0, seconds=1.5)
    session.set(1, "billing")
    assert session.labels == ["billing", "billing"]
    assert session.sources == [labelling.BY_ACCEPTING, labelling.BY_PERSON] and session.seconds == [1.5, None]
    assert session.table()["decided by"].tolist() == session.sources
    with pytest.raises(ConfigError, match="not one of"):
        session.set(0, "sync")
    with pytest.raises(ConfigError, match="one default label"):
        labelling.LabelSession.start(["a", "b"], ["x"], ["x"])
    with pytest.raises(ConfigError, match="reserved"):
        labelling.LabelSession.start(["a"], ["x"], ["x"], labelling.BY_PERSON)
    with pytest.raises(ConfigError, match="no suggestions"):
        _session(suggestions=None).accept(0)


def test_widget_draws_the_ticket_and_clicks_label_it():
    session = _session()
    box = labelling.labelling_widget(session)
    text, controls, choices, footer = box.children
    accept, back, skip = controls.children
    assert "ticket 1 of 2 (t1)" in text.value and "suggested: <b>billing</b>" in text.value
    accept.click()  # accepts the suggestion of ticket 1, shows ticket 2
    assert session.sources[0] == labelling.BY_ACCEPTING and session.seconds[0] >= 0 and session.position == 1
    [b for b in choices.children if b.description == "billing"][0].click()
    assert session.labels[1] == "billing" and session.sources[1] == labelling.BY_PERSON
    assert footer.children[0].value == 2 and "2 of 2 decided" in footer.children[1].value
    back.click()
    assert session.position == 0 and "ticket 1 of 2" in text.value
    skip.click()
    skip.click()
    assert session.position == 1  # stays on the last ticket


def test_without_ipywidgets_the_defaults_decide(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets now raises ImportError
    assert notebook.ipywidgets_or_none("the rule decides") is None
    assert labelling.labelling_widget(_session()) is None
    assert preference.ab_chooser([], show=1) is None
    out = capsys.readouterr().out
    assert "ipywidgets is not installed: the rule decides" in out
    assert "ipywidgets is not installed: the defaults (shipped) label every item" in out
    assert "ipywidgets is not installed: the preference rule decides every pair" in out


def test_time_saved_counts_and_prices_suggestions():
    saved = labelling.time_saved(["a", "a", "b", "c"], ["a", "a", "b", "a"], 20, seconds_to_label=8,
                                 seconds_to_check=2)
    assert (saved.accepted, saved.corrected, saved.measured) == (3, 1, False)
    assert saved.seconds_without == 32 and saved.seconds_with == 3 * 2 + 1 * (2 + 8)
    assert saved.seconds_saved == 16 and saved.choices_saved == 3 and saved.acceptance == 0.75
    assert "assumed" in str(saved) and "+0.3 min saved" in str(saved)
    with pytest.raises(ConfigError, match="positive"):
        labelling.time_saved(["a"], ["a"], 2, seconds_to_label=0, seconds_to_check=1)


def test_time_saved_uses_the_widget_timings_when_there_are_enough():
    n = 2 * labelling.MIN_TIMED
    session = labelling.LabelSession.start(["t"] * n, ["a", "b"], ["a"] * n, "shipped", suggestions=["a"] * n)
    for i in range(labelling.MIN_TIMED):
        session.accept(i, seconds=1.0 + i)
        session.set(labelling.MIN_TIMED + i, "b", seconds=6.0)
    saved = labelling.time_saved(session.suggestions, session.labels, 2, 8, 2, session=session)
    assert saved.measured and (saved.seconds_to_label, saved.seconds_to_check) == (6.0, 2.0)
    session.seconds[0] = None  # one timing fewer: back to the stated times
    assert not labelling.time_saved(session.suggestions, session.labels, 2, 8, 2, session=session).measured
