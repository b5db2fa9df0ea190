"""Notebook 08's feedback side (course_lib.preference): the preference rule, pairs, preference files (bad ones give
one line naming file, row and fix), the held-out judge and its win rate, and DPO raising the reward margin.

The DPO test trains a fresh adapter on the real SmolLM2 for a few smoke-sized steps; everything else is pure.
"""

from __future__ import annotations

import json

import pytest

from course_lib import preference
from course_lib.errors import ConfigError, DataError

SYSTEM = "You are the support assistant for Brightleaf Notes, a note-taking app. Answer briefly."
# Four tiny pairs whose chosen answer states the fact briefly and whose rejected answer is long and wrong.
PAIRS = [dict(zip(preference.PREFERENCE_FIELDS, texts)) for texts in (
    ("How long do deleted notes stay in the trash?", "30 days.",
     "Deleted notes are gone forever and can never be restored."),
    ("How much storage does the Free plan have?", "100 MB.", "The Free plan includes unlimited storage for everyone."),
    ("How many devices can a Free account use?", "2 devices.", "As many devices as you like, there is no limit at all."),
    ("How do I add a table to a note?", "Type /table on an empty line.",
     "Tables are not supported in notes, sorry about that."))]


def test_rule_prefers_facts_then_brevity_else_no_pair():
    rule = preference.PreferenceRule(min_word_gap=3)
    assert rule.decide("It is $5.99 per month, billed monthly to your card.", "It is cheap.", ["$5.99 per month"]) \
        == (0, "facts")
    assert rule.decide("Open Trash and pick Restore within the window.", "Thirty days.", ["30 days"]) \
        == (1, "shorter")
    assert rule.decide("About 30 days.", "30 days, I think.", ["30 days"]) == (None, "tie")  # 1 word apart
    assert rule.decide("Same.", " Same. ", ["x"]) == (None, "tie")
    assert rule.decide("A long answer with many words here.", "Short one.", []) == (1, "shorter")  # no keywords


def test_candidates_become_pairs_and_a_person_overrules_the_rule():
    candidates = preference.candidate_pairs(["q1", "q2", "q3"], ["It is 30 days.", "Yes.", "One two three four."],
                                            ["Soon.", "Sure.", "Short."], [["30 days"], ["x"], []])
    assert [(c.winner, c.reason) for c in candidates] == [(0, "facts"), (None, "tie"), (1, "shorter")]
    candidates[1].winner, candidates[1].reason = 1, "you"  # a click in the A/B chooser
    pairs = preference.preference_pairs(candidates)
    assert [(p["prompt"], p["chosen"], p["rejected"], p["reason"]) for p in pairs] == [
        ("q1", "It is 30 days.", "Soon.", "facts"), ("q2", "Sure.", "Yes.", "you"),
        ("q3", "Short.", "One two three four.", "shorter")]
    with pytest.raises(ConfigError, match="2 prompts but 1 / 2 answers"):
        preference.candidate_pairs(["a", "b"], ["x"], ["y", "z"], [[], []])


def test_chooser_draws_a_box_and_clicks_overrule():
    candidates = preference.candidate_pairs(["q"], ["It is 30 days."], ["Soon."], [["30 days"]])
    box = preference.ab_chooser(candidates, show=1)
    row = box.children[0]
    a_button, b_button, neither, status = row.children[1].children
    assert "rule: A (facts)" in status.value
    b_button.click()
    assert (candidates[0].winner, candidates[0].reason) == (1, "you") and status.value == "you: B"
    neither.click()
    assert candidates[0].winner is None and preference.preference_pairs(candidates) == []


def test_save_and_read_round_trip(tmp_path):
    path = preference.save_preferences(PAIRS, tmp_path / "prefs.jsonl")
    assert preference.read_preferences(path) == PAIRS
    assert len(path.read_text(encoding="utf-8").splitlines()) == len(PAIRS)


def _lines(*rows):
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)


GOOD = {"prompt": "Hi?", "chosen": "Hello.", "rejected": "Go away."}
# (id, file content, text the message must hold, row, column)
BAD_FILES = [
    ("missing_column", _lines(GOOD, {"prompt": "Hi?", "chosen": "Hello."}), "no 'rejected' field", 2, "rejected"),
    ("chosen_equals_rejected", _lines(GOOD, {"prompt": "Trash?", "chosen": "30 days.", "rejected": " 30 days."}),
     "'chosen' and 'rejected' are the same answer", 2, "rejected"),
    ("empty_prompt", _lines({"prompt": "  ", "chosen": "a", "rejected": "b"}), "'prompt' is empty", 1, "prompt"),
    ("not_json", _lines(GOOD, '{"prompt": "x",'), "not valid JSON", 2, None),
    ("not_an_object", _lines(GOOD, GOOD, '["a", "b"]'), "line 3 is a JSON array, not an object", 3, None),
    ("no_rows", "\n\n", "contains only whitespace", None, None),
]


@pytest.mark.parametrize("case", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_bad_preference_file_gives_one_clear_error(tmp_path, case):
    _, content, expected, row, column = case
    path = tmp_path / "prefs.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as info:
        preference.read_preferences(path)
    err, msg = info.value, str(info.value)
    assert expected in msg, msg
    assert (err.row, err.column) == (row, column), msg
    assert msg.startswith(str(path) + (f":{row}: " if row else ": ")), msg
    assert " — " in msg and err.fix and "\n" not in msg, msg


def test_missing_preference_file(tmp_path):
    with pytest.raises(DataError) as info:
        preference.read_preferences(tmp_path / "nope.jsonl")
    assert str(info.value).startswith(str(tmp_path / "nope.jsonl")) and " — " in str(info.value)
    with pytest.raises(DataError, match="holds no preference pairs"):
        preference.validate_preferences([], "rows")
    with pytest.raises(DataError, match="row is a list, not an object"):
        preference.validate_preferences([GOOD, ["a"]], "rows")


def test_judge_facts_invented_values_length_and_ties():
    known = {"question": "How much storage does Plus have?", "keywords": ["10 GB"], "kind": "trained"}
    unknown = {"question": "What is the minimum number of seats for Team?", "keywords": ["3 seats"],
               "kind": "kb_only"}
    assert preference.judge(known, "Plus has 10 GB.", "Plus has 5 GB.") == (1.0, "facts")
    assert preference.judge(known, "Plus has 5 GB.", "Plus has 10 GB of storage.") == (0.0, "facts")
    # The model never saw the kb_only fact: declining, or stating no value, beats inventing one.
    assert preference.judge(unknown, "The minimum is 12 seats.", "I don't know.") == (0.0, "no invented value")
    assert preference.judge(unknown, "Ask your admin.", "It is 5.") == (1.0, "no invented value")
    assert preference.judge(known, "I do not have that information, please check the plans page.",
                            "Check the plans page.") == (0.0, "shorter")
    assert preference.judge(known, "Check the page.", "Check the plans.") == (0.5, "tie")


def test_win_rate_counts_and_interval():
    questions = [{"question": f"q{i}", "keywords": ["30 days"], "kind": "trained"} for i in range(6)]
    table = preference.judge_answers(questions, ["30 days."] * 4 + ["no", "same"], ["no"] * 4 + ["30 days", "same"])
    rate = preference.win_rate(table, "A", "B")
    assert (rate.wins, rate.ties, rate.losses, rate.n) == (4, 1, 1, 6)
    assert rate.rate == pytest.approx(4.5 / 6) and rate.low <= rate.rate <= rate.high <= 1
    assert rate.row()["interval excludes 0.5"] == rate.excludes_half
    with pytest.raises(ConfigError, match="both models must answer every question"):
        preference.judge_answers(questions, ["a"], ["b"])


def test_a_few_dpo_steps_raise_the_chosen_minus_rejected_margin(smol, smoke_runtime, tmp_path):
    """A fresh adapter starts at the reference (margin 0 on every pair); four DPO steps on four pairs must raise
    the mean implicit reward margin above 0 and make the chosen answers more likely relative to the rejected."""
    from course_lib import models, train

    model, tokenizer = models.load_causal_lm("smollm2-135m-instruct", runtime=smoke_runtime, verbose=False)
    config = train.DPOTrainConfig(system_prompt=SYSTEM, max_steps=4, batch_size=2, learning_rate=1e-3, beta=0.1,
                                  live="off")
    result = train.train_dpo(PAIRS, model, tokenizer, config, runtime=smoke_runtime, output_dir=tmp_path)
    margins = preference.reward_margins(result.model, tokenizer, PAIRS, beta=0.1, system=SYSTEM)
    with result.model.disable_adapter():  # the reference: the same weights, adapter off
        reference = preference.reward_margins(result.model, tokenizer, PAIRS, beta=0.1, system=SYSTEM)
    assert result.steps == 4 and (tmp_path / "adapter" / "adapter_config.json").exists()
    assert all(abs(m) < 1e-4 for m in reference), reference  # policy == reference: no margin
    assert sum(margins) / len(margins) > 0.1, margins
    assert preference.kl_from_reference(result.model, tokenizer, [
        {"instruction": p["prompt"], "output": p["chosen"]} for p in PAIRS], system=SYSTEM) > 0
    logged = [e["rewards/margins"] for e in result.log_history if "rewards/margins" in e]
    assert logged[0] == pytest.approx(0.0, abs=1e-4) and logged[-1] > logged[0], logged


def test_kl_and_log_probabilities_equal_the_full_logits_computation(smoke_runtime):
    """The scores take the head on the answer positions only; with a moved adapter they must equal the same
    quantities computed from the model's full logits (every position, then the answer's selected)."""
    import torch

    from course_lib import formatting, models, train

    model, tokenizer = models.load_causal_lm("smollm2-135m-instruct", runtime=smoke_runtime, verbose=False)
    model = train.prepare_model(model, train.TrainConfig(method="lora").resolve(smoke_runtime.profile))
    torch.manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.02)  # B = 0 would leave the adapter without effect
    records = [{"instruction": p["prompt"], "output": p["chosen"]} for p in PAIRS]
    features, _ = formatting.tokenize_dataset(records, tokenizer, preference.SCORE_MAX_LEN, SYSTEM)
    expected_kl, tokens, expected_logp = 0.0, 0, []
    for feature in features:
        ids, labels = torch.tensor([feature["input_ids"]]), torch.tensor(feature["labels"])
        scored = labels[1:] != -100
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
            with model.disable_adapter():
                logq = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
        expected_kl += float((logp.exp() * (logp - logq)).sum(-1)[scored].sum())
        tokens += int(scored.sum())
        expected_logp.append(float(logp[scored].gather(1, labels[1:][scored, None]).sum()))
    assert expected_kl > 0
    assert preference.kl_from_reference(model, tokenizer, records, system=SYSTEM, batch_size=3) == pytest.approx(
        expected_kl / tokens, rel=1e-4)
    assert preference.answer_logprobs(model, tokenizer, records, system=SYSTEM, batch_size=3) == pytest.approx(
        expected_logp, abs=1e-3)


def test_dpo_config_resolves_from_the_profile_and_refuses_bad_values(smoke_runtime, tmp_path):
    from course_lib import train

    cfg = train.DPOTrainConfig().resolve(smoke_runtime.profile)
    prof = smoke_runtime.profile
    assert (cfg.beta, cfg.max_steps, cfg.batch_size, cfg.learning_rate) == (
        prof.dpo_beta, prof.dpo_steps, prof.dpo_batch_size, prof.dpo_learning_rate)
    args = train.dpo_arguments(cfg, smoke_runtime, tmp_path)
    assert args.report_to in ([], "none", ["none"]) and not args.gradient_checkpointing and not args.bf16
    assert args.beta == prof.dpo_beta and args.max_length is None
    with pytest.raises(ConfigError, match="beta=0 must be positive"):
        train.DPOTrainConfig(beta=0).resolve(prof)
    with pytest.raises(ConfigError, match="max_steps=0 must be at least 1"):
        train.DPOTrainConfig(max_steps=0).resolve(prof)


def test_sampled_answers_repeat_with_the_seed_and_greedy_stays_default(smol):
    from course_lib.generation import generate_answers

    model, tokenizer = smol
    prompts = ["How do I restore a deleted note?", "Is there a dark mode?"]
    sample = dict(max_new_tokens=8, batch_size=2, progress=False, temperature=1.0)
    first, again = (generate_answers(model, tokenizer, prompts, seed=3, **sample) for _ in range(2))
    other = generate_answers(model, tokenizer, prompts, seed=4, **sample)
    assert first == again and first != other
    greedy = dict(max_new_tokens=8, batch_size=2, progress=False)
    assert generate_answers(model, tokenizer, prompts, **greedy) == generate_answers(model, tokenizer, prompts,
                                                                                     seed=9, **greedy)


def test_preference_curves_draw_the_logged_dpo_numbers():
    from course_lib import plotting

    log = [{"step": s, "loss": 0.69 - 0.1 * s, "rewards/margins": 0.2 * s, "rewards/accuracies": min(1, 0.4 * s),
            "logps/chosen": -20.0 - s, "logps/rejected": -21.0 - 2 * s} for s in range(1, 4)]
    log.append({"step": 3, "train_runtime": 1.0})  # the Trainer's summary entry has no rewards: skipped
    fig = plotting.preference_curves(log, title="t")
    loss_ax, margin_ax, logp_ax = fig.axes[:3]
    assert list(margin_ax.lines[0].get_ydata()) == pytest.approx([0.2, 0.4, 0.6])
    assert [line.get_label() for line in logp_ax.lines] == ["chosen", "rejected"]
    assert list(loss_ax.lines[0].get_xdata()) == [1, 2, 3]
