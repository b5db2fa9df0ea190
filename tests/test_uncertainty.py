"""Tests of course_lib.uncertainty: paired bootstrap intervals (scipy) for differences between models."""

from __future__ import annotations

import pytest

from course_lib import uncertainty
from course_lib.errors import ConfigError


def test_paired_difference_point_and_interval():
    # 60 items: A right on 40, B right on 10 of those 40 and on nothing else -> means 40/60 and 10/60, diff 0.5.
    a = [1.0] * 40 + [0.0] * 20
    b = [1.0] * 10 + [0.0] * 50
    d = uncertainty.paired_difference(a, b, "A", "B")
    assert (d.score_a, d.score_b, d.diff) == pytest.approx((40 / 60, 10 / 60, 0.5))
    assert d.low < d.diff < d.high and d.excludes_zero
    # Paired: the per-item difference is 1 on 30 items and 0 on 30, so its SD is 0.5 and the 95% interval about
    # 0.5 +- 1.96 * 0.5 / sqrt(60) = 0.5 +- 0.127 (bootstrap percentile ends within 0.03 of that).
    assert d.low == pytest.approx(0.373, abs=0.03) and d.high == pytest.approx(0.627, abs=0.03)
    assert "A 0.667 vs B 0.167: +0.500" in str(d)


def test_pairing_narrows_the_interval():
    # The same two score lists, but B's hits moved to other items: the means are equal, the pairing differs.
    a = [1.0] * 30 + [0.0] * 30
    b_same_items = [1.0] * 24 + [0.0] * 36          # B right only where A is right
    b_other_items = [0.0] * 36 + [1.0] * 24         # B right mostly where A is wrong
    aligned = uncertainty.paired_difference(a, b_same_items)
    crossed = uncertainty.paired_difference(a, b_other_items)
    assert aligned.diff == pytest.approx(crossed.diff) == pytest.approx(0.1)
    assert (aligned.high - aligned.low) < 0.6 * (crossed.high - crossed.low)
    assert aligned.excludes_zero and not crossed.excludes_zero


def test_no_difference_does_not_exclude_zero_and_is_reproducible():
    a = [1.0, 0.0] * 30
    b = [0.0, 1.0] * 30
    d1 = uncertainty.paired_difference(a, b, seed=3)
    d2 = uncertainty.paired_difference(a, b, seed=3)
    assert d1 == d2 and d1.diff == 0 and not d1.excludes_zero


def test_identical_scores_give_a_point_interval():
    d = uncertainty.paired_difference([1.0] * 10, [1.0] * 10)
    assert (d.diff, d.low, d.high) == (0.0, 0.0, 0.0) and not d.excludes_zero


def test_label_difference_macro_f1():
    gold = ["neg", "neu", "pos"] * 20
    perfect = list(gold)
    always_pos = ["pos"] * 60
    d = uncertainty.paired_label_difference(gold, perfect, always_pos, ["neg", "neu", "pos"], name_a="clf",
                                            name_b="majority")
    # perfect: F1 1 on each class; always "pos": pos F1 = 2*20/(2*20+40) = 0.5, others 0 -> macro 1/6.
    assert d.score_a == pytest.approx(1.0) and d.score_b == pytest.approx(1 / 6)
    assert d.excludes_zero and d.low > 0.6
    acc = uncertainty.paired_label_difference(gold, perfect, always_pos, ["neg", "neu", "pos"], "accuracy")
    assert acc.diff == pytest.approx(2 / 3)


def test_macro_f1_codes_matches_scikit_learn():
    import numpy as np
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    for _ in range(20):
        gold = rng.integers(0, 3, size=30)
        pred = rng.integers(0, 4, size=30)  # code 3 = outside the labels (an unparsed answer)
        expected = f1_score(gold, pred, labels=[0, 1, 2], average="macro", zero_division=0)
        assert float(uncertainty.macro_f1_codes(gold, pred, 3)) == pytest.approx(expected)
    # Many resampled rows at once (shape resamples x items) give each row's own score.
    golds, preds = rng.integers(0, 3, size=(5, 30)), rng.integers(0, 3, size=(5, 30))
    expected = [f1_score(g, p, labels=[0, 1, 2], average="macro", zero_division=0) for g, p in zip(golds, preds)]
    assert uncertainty.macro_f1_codes(golds, preds, 3).tolist() == pytest.approx(expected)


def test_mean_interval_brackets_the_mean():
    mean, low, high = uncertainty.mean_interval([1.0] * 6 + [0.0] * 54)
    assert mean == pytest.approx(0.1) and 0.0 <= low < 0.1 < high <= 0.25


def test_difference_over_seeds_is_students_t_on_the_paired_runs():
    # Three seeds; the differences are 0.5, 1.0, 1.5: mean 1.0, sd 0.5, t(0.975, 2) = 4.303 -> 1.0 +- 1.242.
    fix, base = [2.5, 3.0, 3.5], [2.0, 2.0, 2.0]
    d = uncertainty.difference_over_seeds(fix, base, "fix", "base")
    assert (d.score_a, d.score_b, d.diff, d.n) == (3.0, 2.0, 1.0, 3)
    assert d.low == pytest.approx(1.0 - 1.2421, abs=1e-3) and d.high == pytest.approx(1.0 + 1.2421, abs=1e-3)
    assert not d.excludes_zero  # three noisy seeds do not establish a difference of this size
    steady = uncertainty.difference_over_seeds([1.0, 1.1, 1.2], [2.0, 2.1, 2.25])
    assert steady.high < 0 and steady.excludes_zero  # the same change on every seed: a clear fall
    same = uncertainty.difference_over_seeds([1.5, 2.5], [1.0, 2.0])
    assert (same.low, same.high) == (0.5, 0.5)  # no spread between seeds: the interval is the point


def test_one_seed_measures_no_spread():
    d = uncertainty.difference_over_seeds([1.0], [2.0], "fix", "base")
    assert d.diff == -1.0 and d.low != d.low and not d.excludes_zero  # NaN: nothing to tell from one run
    with pytest.raises(ConfigError, match="same seeds"):
        uncertainty.difference_over_seeds([1.0, 2.0], [1.0], "fix", "base")


def test_bad_inputs_name_the_problem():
    with pytest.raises(ConfigError, match="same test items"):
        uncertainty.paired_difference([1, 0], [1], "A", "B")
    with pytest.raises(ConfigError, match="NaN"):
        uncertainty.paired_difference([1, float("nan")], [1, 0])
    with pytest.raises(ConfigError, match="non-empty"):
        uncertainty.paired_difference([], [])
    with pytest.raises(ConfigError, match="same length"):
        uncertainty.paired_label_difference(["a"], ["a", "b"], ["a"], ["a", "b"])
    with pytest.raises(ConfigError, match="unknown metric"):
        uncertainty.paired_label_difference(["a"], ["a"], ["a"], ["a"], metric="f2")


def test_difference_table_rows():
    table = uncertainty.difference_table([uncertainty.paired_difference([1.0] * 5 + [0.0] * 5, [0.0] * 10, "A",
                                                                        "zero-shot")])
    assert list(table.index) == ["A"] and table.loc["A", "versus"] == "zero-shot"
    assert table.loc["A", "difference"] == pytest.approx(0.5) and bool(table.loc["A", "interval excludes 0"])
