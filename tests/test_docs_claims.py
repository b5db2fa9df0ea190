"""What the README promises a learner will see must be what a kept run measured.

The check cell of each training notebook writes its headline comparisons (model vs baseline, difference and its
95 % paired-bootstrap interval) to ``<outputs>/<notebook>/claims.json``. The copy from the cpu run that the
README quotes is kept in ``docs/claims/`` (``<run id>_<notebook>.json``, with the run's summary in
``docs/timings/``); this test rebuilds the README's "what you will see" text from it, so a quoted number that
drifts from the kept run fails.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLAIMS = ROOT / "docs" / "claims"


def kept(notebook: str) -> tuple[str, list[dict]]:
    """``(run id, rows)`` of the newest kept claims file of ``notebook`` (e.g. ``"03_training"``)."""
    files = sorted(CLAIMS.glob(f"*_{notebook}.json"))
    assert files, f"no kept claims of {notebook} in docs/claims/"
    return files[-1].name.split("_")[0], json.loads(files[-1].read_text(encoding="utf-8"))["table"]


def row(rows: list[dict], task: str, versus: str, model: str | None = None) -> dict:
    found = [r for r in rows if r["task"] == task and r["versus"] == versus and model in (None, r["model"])]
    assert len(found) == 1, f"claims hold {len(found)} rows for {model or 'a model'} on {task} vs {versus}"
    return found[0]


def quoted(rows: list[dict], task: str, metric: str, baselines: tuple[str, ...], model: str | None = None) -> str:
    """The README's wording of one claim: the baselines' scores, the fine-tuned score, and the smallest gain."""
    picked = [row(rows, task, b, model) for b in baselines]
    weakest = min(picked, key=lambda r: r["difference"])
    before = " / ".join(f"{r['versus score']:.2f} ({r['versus']})" for r in picked)
    return (f"{metric} {before} → {picked[0]['score']:.2f} ({picked[0]['model']}), {weakest['difference']:+.2f} over "
            f"{weakest['versus']} (95 % CI {weakest['95% low']:+.2f} to {weakest['95% high']:+.2f})")


def readme_row(number: str) -> str:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    found = [line for line in lines if line.startswith(f"| [{number} ·")]
    assert len(found) == 1, f"README course table has {len(found)} rows for notebook {number}"
    return found[0]


def test_readme_quotes_notebook_03s_kept_cpu_run():
    run, rows = kept("03_training")
    assert {r["profile"] for r in rows} == {"cpu"}, "the README quotes the cpu profile"
    assert (ROOT / "docs" / "timings" / f"{run}.json").exists(), f"run {run} has no summary in docs/timings/"
    text = readme_row("03")
    for task, metric, baselines, model in (
            ("support keyword match", "keyword match", ("zero-shot", "3-shot"), None),
            ("triage fields", "JSON fields", ("zero-shot", "3-shot"), None),
            ("sentiment macro F1", "macro-F1", ("zero-shot", "3-shot"), "SmolLM2 LoRA"),
            ("sentiment macro F1", "macro-F1", ("zero-shot", "3-shot"), "MiniLM fine-tuned")):
        expected = quoted(rows, task, metric, baselines, model)
        assert expected in text, f"README row 03 should say: {expected}"


# Notebook -> the claims its README row quotes: (task, wording of the metric, baselines, model compared).
OTHER_LESSONS = {
    "04_evaluation": [("support keyword match", "keyword match, reloaded from disk", ("zero-shot",), "lora")],
    "06_finetuning_vs_rag": [
        ("facts in the training data", "accuracy on facts in the training data", ("base",), "fine-tuned"),
        ("facts only in the knowledge base", "accuracy on facts only in the knowledge base", ("base",), "RAG")],
    "07_continuous_learning": [("release-2 facts stated", "release-2 values stated", ("v1",), "replay 1")],
    "11_instruction_tuning_a_base_model": [("follows the chat format", "answers that follow the chat format and stop",
                                            ("base model",), "after SFT")],
}


@pytest.mark.parametrize("notebook", sorted(OTHER_LESSONS))
def test_readme_quotes_the_other_lessons_kept_cpu_runs(notebook):
    run, rows = kept(notebook)
    assert {r["profile"] for r in rows} == {"cpu"}, "the README quotes the cpu profile"
    assert (ROOT / "docs" / "timings" / f"{run}.json").exists(), f"run {run} has no summary in docs/timings/"
    text = readme_row(notebook[:2])
    for task, metric, baselines, model in OTHER_LESSONS[notebook]:
        expected = quoted(rows, task, metric, baselines, model)
        assert expected in text, f"README row {notebook[:2]} should say: {expected}"
    for task, _, baselines, model in OTHER_LESSONS[notebook]:  # the bar each check cell asserts in the cpu profile
        for baseline in baselines:
            claim = row(rows, task, baseline, model)
            assert claim["difference"] >= 0.20 and claim["95% low"] > 0, claim


def test_readme_quotes_notebook_05s_fixes_over_seeds():
    """Notebook 05's row: each training fix's change of validation loss against the overfit base run, the mean
    over seeds with its t interval, and how many fixes the intervals show to help."""
    run, rows = kept("05_overfitting_and_tuning")
    assert {r["profile"] for r in rows} == {"cpu"}, "the README quotes the cpu profile"
    assert (ROOT / "docs" / "timings" / f"{run}.json").exists(), f"run {run} has no summary in docs/timings/"
    text = readme_row("05")
    stopping = row(rows, "validation loss", "base (overfit)", "early stopping")
    expected = (f"validation loss {stopping['versus score']:.2f} (overfit base run) → {stopping['score']:.2f} (early "
                f"stopping), {stopping['difference']:+.2f} (95 % CI {stopping['95% low']:+.2f} to "
                f"{stopping['95% high']:+.2f}, {stopping['n']} seeds)")
    assert expected in text, f"README row 05 should say: {expected}"
    decay = row(rows, "validation loss", "base (overfit)", "weight decay 0.1")
    assert (f"weight decay 0.1: {decay['difference']:+.2f}, 95 % CI {decay['95% low']:+.2f} to "
            f"{decay['95% high']:+.2f}") in text, text
    helped = sum(r["95% high"] < 0 for r in rows)
    assert f"{helped} of {len(rows)} training fixes with the whole interval below 0" in text, text
    assert stopping["n"] >= 3 and stopping["95% high"] < 0, stopping  # what 05's check cell asserts in cpu


def test_kept_claims_hold_the_lessons_bar():
    """The kept cpu run itself meets what notebook 03's check cell asserts from the cpu profile up."""
    _, rows = kept("03_training")
    for r in rows:  # support, triage and both fine-tuned sentiment models, each against both prompting baselines
        assert r["difference"] >= 0.20, r
        assert r["interval excludes 0"] and r["95% low"] > 0, r


@pytest.mark.parametrize("mutation", [0.01, -0.01])
def test_a_drifted_number_is_caught(mutation):
    _, rows = kept("03_training")
    changed = [dict(r, score=r["score"] + mutation) if r["task"] == "triage fields" else r for r in rows]
    assert quoted(changed, "triage fields", "JSON fields", ("zero-shot", "3-shot")) not in readme_row("03")


def test_continuous_learning_doc_quotes_the_kept_losses():
    """docs/continuous_learning.md's cpu table (old/new-test loss, forgetting per version) is notebook 07's kept
    ``losses.json`` (its check cell saves the table it prints), to four decimals."""
    files = sorted(CLAIMS.glob("*_07_continuous_learning_losses.json"))
    assert files, "no kept losses of notebook 07 in docs/claims/"
    run = files[-1].name.split("_")[0]
    kept_rows = json.loads(files[-1].read_text(encoding="utf-8"))["table"]
    text = (ROOT / "docs" / "continuous_learning.md").read_text(encoding="utf-8")
    assert f"`{run}`" in text, f"docs/continuous_learning.md does not name the run {run} its losses come from"
    table = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in text.splitlines()
             if line.startswith("| cpu |")]
    assert len(table) == len(kept_rows) == 3, (table, kept_rows)
    for cells, kept_row in zip(table, kept_rows):  # v1, new data only, replay: the notebook's order
        assert cells[3] == f"{kept_row['old_loss']:.4f}" and cells[4] == f"{kept_row['new_loss']:.4f}", (cells, kept_row)
        if kept_row["forgetting"]:
            assert cells[5].replace("−", "-") == f"{kept_row['forgetting']:+.4f}", (cells, kept_row)


def test_readme_quotes_notebook_08s_held_out_win_rates():
    """Notebook 08's row: DPO's win rate against SFT and against SFT on the chosen answers, with the judge's
    interval; the check cell asserts the first above 0.5 in the cpu profile."""
    run, rows = kept("08_learning_from_feedback")
    assert {r["profile"] for r in rows} == {"cpu"} and (ROOT / "docs" / "timings" / f"{run}.json").exists()
    text = readme_row("08")
    for versus, wording in (("SFT", "against SFT"), ("SFT on chosen", "against SFT on the chosen answers")):
        r = next(r for r in rows if r["model"] == "DPO" and r["versus"] == versus)
        assert (f"{wording} {r['win rate']:.2f} (95 % CI {r['95% low']:.2f} to {r['95% high']:.2f}, {r['n']} "
                "held-out questions)") in text, f"README row 08 should quote DPO vs {versus}: {r}"
    assert next(r for r in rows if r["model"] == "DPO" and r["versus"] == "SFT")["95% low"] > 0.5


def test_readme_quotes_notebook_10s_label_noise():
    """Notebook 10's row: macro-F1 on clean labels after training on 30 % (and 10 %) wrong labels."""
    run, rows = kept("10_labelling")
    assert {r["profile"] for r in rows} == {"cpu"} and (ROOT / "docs" / "timings" / f"{run}.json").exists()
    text = readme_row("10")
    worst = next(r for r in rows if r["versus"] == "30% wrong labels")
    assert (f"{worst['score']:.2f} (0 % wrong labels) → {worst['versus score']:.2f} (30 % wrong), "
            f"{-worst['difference']:+.2f} (95 % CI {-worst['95% high']:+.2f} to {-worst['95% low']:+.2f}, "
            f"{worst['n']} reviews)") in text, f"README row 10 should quote: {worst}"
    assert worst["95% low"] > 0, worst  # what the check cell asserts in the cpu profile


def phrasings_quote(result: dict) -> tuple[str, str]:
    """Notebook 06 section 5c's two quoted lines, rebuilt from benchmarks/phrasings.py's result file."""
    means = {arm: sum(by_seed.values()) / len(by_seed) for arm, by_seed in result["accuracy"].items()}
    accuracy = ", ".join(f"{arm} {mean:.2f}" for arm, mean in means.items())
    differences = ", ".join(f"{d['arm']} {d['diff']:+.2f} (over seeds {d['seeds_low']:+.2f} to {d['seeds_high']:+.2f})"
                            for d in result["differences"])
    return accuracy, differences


def test_notebook_06_quotes_the_kept_phrasings_benchmark():
    result = json.loads((ROOT / "benchmarks" / "results" / "phrasings.json").read_text(encoding="utf-8"))
    notebook = json.loads((ROOT / "notebooks" / "06_finetuning_vs_rag.ipynb").read_text(encoding="utf-8"))
    prose = " ".join("".join(c["source"]).replace("\n", " ") for c in notebook["cells"] if c["cell_type"] == "markdown")
    for line in phrasings_quote(result):
        assert line in prose, f"notebook 06 section 5c should quote: {line}"
    # The words around the numbers: "no difference is shown" must still be what the intervals say, and the
    # rewrites "higher on every seed" what the seeds say.
    assert all(d["seeds_low"] <= 0 <= d["seeds_high"] for d in result["differences"]) == (
        "No difference is shown" in prose)
    rewrites, one = result["accuracy"]["1 + model rewrites"], result["accuracy"]["1 phrasing"]
    assert all(rewrites[seed] > one[seed] for seed in one) == ("higher on every seed" in prose)
