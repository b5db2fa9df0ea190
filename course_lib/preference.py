"""Learning from human feedback (notebook 08): preference pairs, the stated rule that decides them headless, the
A/B chooser, preference files, scores of a tuned model against its reference, and the judge of held-out answers.

The steps, each one function here::

    two sampled answers per question --candidate_pairs(rule)--> Candidate (winner by the rule)
        --ab_chooser--> a person may overrule it --preference_pairs--> {"prompt", "chosen", "rejected"}
        --save_preferences / read_preferences (validated)--> train.train_dpo (the training layer)
    held-out questions: answers of two models --judge_answers--> per-question score --win_rate--> rate + interval

Two different rules on purpose. :class:`PreferenceRule` decides the training pairs from the *training* questions'
keywords; :func:`judge` scores held-out questions the training never saw (other phrasings, and facts that were
never in the training data, where the right answer is not to invent a value).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError, DataError
from .evaluation import answer_logits, answer_token_losses, value_match
from .files import write_text_atomic
from .notebook import ipywidgets_or_none
from .retrieval import check_grounding, stated_values

PREFERENCE_FIELDS = ("prompt", "chosen", "rejected")
# Longest prompt + answer scored by the functions below, in tokens: no support pair comes near it (the longest
# prompt with the system message is ~120 tokens, an answer at most max_new_tokens), so no answer is ever cut.
SCORE_MAX_LEN = 1024
# Question kinds of data/support/fact_questions.jsonl whose fact the support model was never trained on: the
# better answer declines or at least states no value the question did not give.
UNKNOWN_KINDS = ("kb_only",)


def word_count(text: str) -> int:
    return len(str(text).split())


# ----------------------------------------------------------------------------------------------------------------
# Deciding a pair: the rule, and a person through the A/B chooser
# ----------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PreferenceRule:
    """The stated, inspectable rule that picks the better of two answers when no person does.

    1. **Facts**: the answer that states more of the question's keywords wins (:func:`evaluation.value_match`,
       0..1: a number must be stated as a number, other keywords as written).
    2. **Brevity**: at equal facts, the answer shorter by at least ``min_word_gap`` words wins (the system prompt
       asks for brief answers, and a longer answer with the same facts only adds room for mistakes).
    3. Otherwise there is no preference, and the pair is not used: DPO needs a winner.

    Attributes:
        min_word_gap: the length difference, in words, that counts as "shorter".
    """

    min_word_gap: int = 3

    def decide(self, answer_a: str, answer_b: str, keywords) -> tuple[int | None, str]:
        """``(winner, reason)``: winner 0 (A), 1 (B) or ``None``; reason ``"facts"``, ``"shorter"`` or ``"tie"``."""
        if str(answer_a).strip() == str(answer_b).strip():
            return None, "tie"
        facts_a, facts_b = (_fact_score(answer, keywords) for answer in (answer_a, answer_b))
        if facts_a != facts_b:
            return (0 if facts_a > facts_b else 1), "facts"
        gap = word_count(answer_b) - word_count(answer_a)
        if abs(gap) >= self.min_word_gap:
            return (0 if gap > 0 else 1), "shorter"
        return None, "tie"


def _fact_score(answer: str, keywords) -> float:
    """:func:`value_match` with no keywords counted as 0 (nothing to compare), instead of NaN."""
    score = value_match(answer, keywords or [])
    return 0.0 if score != score else score  # NaN != NaN


@dataclass
class Candidate:
    """Two answers to one question, and which is better.

    Attributes:
        prompt: the user's text (the question, with its context).
        answers: answer A and answer B, sampled from the same model.
        keywords: the facts a right answer states (from the training record).
        winner: 0 (A), 1 (B) or ``None`` (no preference: the pair is left out).
        reason: why: ``"facts"``, ``"shorter"``, ``"tie"`` (the rule), or ``"you"`` (a person chose).
    """

    prompt: str
    answers: tuple[str, str]
    keywords: list = field(default_factory=list)
    winner: int | None = None
    reason: str = "tie"


def candidate_pairs(prompts, answers_a, answers_b, keywords, rule: PreferenceRule | None = None) -> list[Candidate]:
    """One :class:`Candidate` per prompt, decided by ``rule`` (default :class:`PreferenceRule`)."""
    rule = rule or PreferenceRule()
    prompts, answers_a, answers_b, keywords = (list(x) for x in (prompts, answers_a, answers_b, keywords))
    if not len(prompts) == len(answers_a) == len(answers_b) == len(keywords):
        raise ConfigError(f"{len(prompts)} prompts but {len(answers_a)} / {len(answers_b)} answers and "
                          f"{len(keywords)} keyword lists — give one of each per prompt, in the same order")
    candidates = []
    for prompt, a, b, keys in zip(prompts, answers_a, answers_b, keywords):
        winner, reason = rule.decide(a, b, keys)
        candidates.append(Candidate(prompt, (a, b), list(keys or []), winner, reason))
    return candidates


def ab_chooser(candidates: list[Candidate], show: int = 8):
    """An ipywidgets A/B chooser for the first ``show`` candidates: a click on "A", "B" or "neither" overrules the
    rule's choice in place (``reason`` becomes ``"you"``). Run the next cell after choosing.

    Returns the widget box, or ``None`` without ipywidgets. Headless (papermill, the tests) the box is drawn but
    nobody clicks, so the rule's choices stand: the default is always the rule.
    """
    widgets = ipywidgets_or_none("the preference rule decides every pair")
    if widgets is None:
        return None
    rows = [_chooser_row(widgets, number, candidate) for number, candidate in enumerate(candidates[:show], 1)]
    return widgets.VBox(rows)


def _chooser_row(widgets, number: int, candidate: Candidate):
    """One question, its two answers and the three buttons; the label shows the current choice."""
    names = {0: "A", 1: "B", None: "neither"}
    status = widgets.Label(f"rule: {names[candidate.winner]} ({candidate.reason})")

    def choose(winner):
        def on_click(_button):
            candidate.winner, candidate.reason = winner, "you"
            status.value = f"you: {names[winner]}"
        return on_click

    buttons = []
    for winner in (0, 1, None):
        button = widgets.Button(description=f"{names[winner]} is better" if winner is not None else "neither")
        button.on_click(choose(winner))
        buttons.append(button)
    text = widgets.HTML(f"<b>{number}. {_escape(candidate.prompt)}</b><br>A: {_escape(candidate.answers[0])}"
                        f"<br>B: {_escape(candidate.answers[1])}")
    return widgets.VBox([text, widgets.HBox([*buttons, status])])


def _escape(text: str) -> str:
    import html

    return html.escape(str(text))


def preference_pairs(candidates: list[Candidate]) -> list[dict]:
    """The decided candidates as preference rows ``{"prompt", "chosen", "rejected", "reason"}``."""
    return [{"prompt": c.prompt, "chosen": c.answers[c.winner], "rejected": c.answers[1 - c.winner],
             "reason": c.reason} for c in candidates if c.winner is not None]


# ----------------------------------------------------------------------------------------------------------------
# Preference files: JSON lines with prompt, chosen, rejected
# ----------------------------------------------------------------------------------------------------------------

def validate_preferences(rows, source="preferences") -> list[dict]:
    """Check preference rows; return them. Raises :class:`DataError` naming ``source``, the 1-based row and the fix
    for a row that is not an object, lacks ``prompt`` / ``chosen`` / ``rejected``, has one of them empty, or has
    ``chosen`` equal to ``rejected`` (nothing to prefer)."""
    rows = list(rows)
    if not rows:
        raise DataError(source, "holds no preference pairs", "add rows with 'prompt', 'chosen' and 'rejected'")
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise DataError(source, f"row is a {type(row).__name__}, not an object", 'write one {"prompt": ..., '
                            '"chosen": ..., "rejected": ...} object per line', row=number)
        for name in PREFERENCE_FIELDS:
            if name not in row:
                raise DataError(source, f"no '{name}' field", f"give every row '{name}' "
                                "(the fields are prompt, chosen, rejected)", row=number, column=name)
            if not isinstance(row[name], str) or not row[name].strip():
                raise DataError(source, f"'{name}' is empty", f"write the {name} text, or drop the row",
                                row=number, column=name)
        if row["chosen"].strip() == row["rejected"].strip():
            raise DataError(source, "'chosen' and 'rejected' are the same answer", "drop the row: a pair needs "
                            "two different answers", row=number, column="rejected")
    return rows


def save_preferences(pairs, path) -> Path:
    """Validate ``pairs`` and write them as JSON lines (one pair per line, UTF-8) atomically; returns the path."""
    rows = validate_preferences(pairs, str(path))
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    return write_text_atomic(path, text)


def read_preferences(path) -> list[dict]:
    """Read a preference file written by :func:`save_preferences` (or by hand): JSON lines through
    ``data.load_jsonl`` (a missing file, a broken line or a line that is not an object names its line), then
    :func:`validate_preferences` row by row."""
    from .data import load_jsonl

    return validate_preferences(load_jsonl(path), str(path))


# ----------------------------------------------------------------------------------------------------------------
# A tuned model against its reference: implicit rewards and KL, the reference being the adapter switched off
# ----------------------------------------------------------------------------------------------------------------

def answer_logprobs(model, tokenizer, records, max_len: int = SCORE_MAX_LEN, system: str | None = None,
                    batch_size: int = 8, reference: bool = False) -> list[float]:
    """Log-probability (nats, summed over the answer's tokens and its EOS) of each record's ``output``.

    ``reference``: with the adapter switched off. Every record must fit ``max_len`` (else one sentence says so).
    """
    losses = answer_token_losses(model, tokenizer, list(records), max_len, system, batch_size,
                                 adapter_off=reference, every_record=True)
    return [-nll for nll, _ in losses]


def reward_margins(model, tokenizer, pairs, beta: float, max_len: int = SCORE_MAX_LEN,
                   system: str | None = None, batch_size: int = 8) -> list[float]:
    """DPO's implicit reward margin of each pair, in nats x ``beta``:
    ``beta * [(log pi(chosen) - log ref(chosen)) - (log pi(rejected) - log ref(rejected))]``.

    0 before training (a fresh adapter changes nothing); DPO's loss, ``-log sigmoid(margin)``, pushes it up.
    """
    scores = {}
    for side in ("chosen", "rejected"):
        records = [{"instruction": p["prompt"], "output": p[side]} for p in pairs]
        policy = answer_logprobs(model, tokenizer, records, max_len, system, batch_size)
        ref = answer_logprobs(model, tokenizer, records, max_len, system, batch_size, reference=True)
        scores[side] = [p - r for p, r in zip(policy, ref)]
    return [beta * (c - r) for c, r in zip(scores["chosen"], scores["rejected"])]


def kl_from_reference(model, tokenizer, records, max_len: int = SCORE_MAX_LEN, system: str | None = None,
                      batch_size: int = 8) -> float:
    """Mean over answer tokens of ``KL(pi(. | context) || ref(. | context))`` in nats per token: how far the tuned
    model's next-token distributions moved from its reference, on the answers in ``records``."""
    import torch

    records = list(records)
    total, count = 0.0, 0
    policy_batches = answer_logits(model, tokenizer, records, max_len, system, batch_size, every_record=True)
    ref_batches = answer_logits(model, tokenizer, records, max_len, system, batch_size, adapter_off=True,
                                every_record=True)
    for policy, ref in zip(policy_batches, ref_batches):  # the same records, so the same answer positions
        logp, logq = torch.log_softmax(policy.logits, -1), torch.log_softmax(ref.logits, -1)
        kl = (logp.exp() * (logp - logq)).sum(-1)  # (answer positions,)
        total += float(kl.sum())
        count += kl.numel()
    if count == 0:
        raise ConfigError("no answer tokens to compare — pass records with non-empty 'output'")
    return total / count


# ----------------------------------------------------------------------------------------------------------------
# The judge: held-out questions, two models' answers, a win rate with its interval
# ----------------------------------------------------------------------------------------------------------------

def claim_score(question: dict, answer: str) -> float:
    """How right ``answer`` is on ``question`` (0..1). A known fact: :func:`value_match` with its keywords. A fact
    the model never saw (``kind`` in :data:`UNKNOWN_KINDS`): 1 when the answer declines or states no number the
    question did not give, else 0 (it invented a value)."""
    if question.get("kind") in UNKNOWN_KINDS:
        grounding = check_grounding(answer, (), question["question"])
        invented = set(stated_values(answer)) - set(stated_values(question["question"]))
        return float(grounding.abstained or not invented)
    return _fact_score(answer, question.get("keywords"))


def judge(question: dict, answer_a: str, answer_b: str, min_word_gap: int = 3) -> tuple[float, str]:
    """``(score of A, reason)``: 1.0 when A is better, 0.0 when B is, 0.5 for a tie.

    The better answer is the one with the higher :func:`claim_score`; at equal claims the one shorter by at least
    ``min_word_gap`` words. Reasons: ``"facts"``, ``"no invented value"``, ``"shorter"``, ``"tie"``.
    """
    claim_a, claim_b = claim_score(question, answer_a), claim_score(question, answer_b)
    if claim_a != claim_b:
        reason = "no invented value" if question.get("kind") in UNKNOWN_KINDS else "facts"
        return (1.0 if claim_a > claim_b else 0.0), reason
    gap = word_count(answer_b) - word_count(answer_a)
    if abs(gap) >= min_word_gap:
        return (1.0 if gap > 0 else 0.0), "shorter"
    return 0.5, "tie"


def judge_answers(questions, answers_a, answers_b, min_word_gap: int = 3):
    """A DataFrame, one row per question: ``qid``, ``kind``, ``question``, ``a``, ``b``, ``score`` (of A, 1 / 0.5 /
    0) and ``reason`` (see :func:`judge`)."""
    import pandas as pd

    questions, answers_a, answers_b = list(questions), list(answers_a), list(answers_b)
    if not len(questions) == len(answers_a) == len(answers_b):
        raise ConfigError(f"{len(questions)} questions but {len(answers_a)} and {len(answers_b)} answers — both "
                          "models must answer every question, in the same order")
    rows = []
    for q, a, b in zip(questions, answers_a, answers_b):
        score, reason = judge(q, a, b, min_word_gap)
        rows.append({"qid": q.get("qid"), "kind": q.get("kind", "all"), "question": q["question"], "a": a, "b": b,
                     "score": score, "reason": reason})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class WinRate:
    """How often model A beat model B on the same questions (a tie counts half).

    Attributes:
        name_a / name_b: the two models. rate: mean score of A (0..1; 0.5 = no better, no worse).
        low / high: its 95 % bootstrap interval over the questions (``uncertainty.mean_interval``).
        wins / ties / losses: counts of A's scores 1, 0.5 and 0. n: questions.
    """

    name_a: str
    name_b: str
    rate: float
    low: float
    high: float
    wins: int
    ties: int
    losses: int
    n: int

    @property
    def excludes_half(self) -> bool:
        """True when the whole interval lies on one side of 0.5: the data back a winner."""
        return self.low > 0.5 or self.high < 0.5

    def row(self) -> dict:
        return {"model": self.name_a, "versus": self.name_b, "win rate": round(self.rate, 3),
                "95% low": round(self.low, 3), "95% high": round(self.high, 3), "wins": self.wins,
                "ties": self.ties, "losses": self.losses, "n": self.n, "interval excludes 0.5": self.excludes_half}

    def __str__(self) -> str:
        return (f"{self.name_a} vs {self.name_b}: win rate {self.rate:.2f} (95% interval {self.low:.2f} to "
                f"{self.high:.2f}; {self.wins} wins, {self.ties} ties, {self.losses} losses of {self.n})")


def win_rate(table, name_a: str = "a", name_b: str = "b", seed: int = 0) -> WinRate:
    """:class:`WinRate` of a :func:`judge_answers` table."""
    from .uncertainty import mean_interval

    scores = table["score"].astype(float)
    rate, low, high = mean_interval(scores, seed=seed)
    return WinRate(name_a, name_b, rate, low, high, int((scores == 1).sum()), int((scores == 0.5).sum()),
                   int((scores == 0).sum()), len(scores))
