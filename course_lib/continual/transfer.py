"""Transfer between domains: fine-tune on a second domain from two starts, scored every few steps (notebook 07).

The seeds' advice "use a model fine-tuned on one domain as a starting point for a similar one", measured. One LoRA
run on the new domain's pairs starts from the base model, another from the first domain's adapter (merged into the
weights, as :func:`course_lib.continual.retrain` does); both get the same steps, learning rate, batches and seed.
A callback asks the new domain's held-out questions every ``every`` optimiser steps (and before step 1), so each
start gives a curve of task score (keyword match, ``evaluation.evaluate_generation``) against steps; the first
domain's test answers are scored before and after (:func:`~course_lib.continual.response_loss`): what it keeps.

Taught in notebook 07, section 10.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..errors import ConfigError
from ..uncertainty import mean_interval
from .measure import response_loss


@dataclass(frozen=True)
class TransferTask:
    """The new domain's task and how it is asked: held-out ``questions`` (strings), their ``keywords`` (one list
    per question: an answer scores the share it contains), the ``system`` prompt, and the generation budget."""

    questions: tuple
    keywords: tuple
    system: str | None = None
    max_new_tokens: int = 48
    batch_size: int = 32

    def __post_init__(self):
        if not self.questions or len(self.questions) != len(self.keywords):
            raise ConfigError(f"{len(self.questions)} questions and {len(self.keywords)} keyword lists — pass one "
                              "keyword list per held-out question, and at least one question")

    def score(self, model, tokenizer) -> list[float]:
        """Keyword match of each question's greedy answer (0-1, one per question, in order)."""
        from .. import evaluation

        result = evaluation.evaluate_generation(model, tokenizer, list(self.questions), [""] * len(self.questions),
                                                [list(k) for k in self.keywords], max_new_tokens=self.max_new_tokens,
                                                batch_size=self.batch_size, progress=False, system=self.system)
        return [float(s) for s in result.examples["keyword_match"]]


@dataclass
class TransferCurve:
    """One start's run on the new domain (:func:`transfer_curve`).

    Attributes:
        start: its name (``"base model"``, ``"support adapter"``).
        scores: ``{optimiser step: per-question keyword match}``; step 0 is the starting model.
        old_loss_before / old_loss_after: mean NLL per answer token (nats) on the first domain's test answers,
            before and after the run (``None`` without ``keep_records``).
        train_seconds: wall time of training minus the scoring inside it; score_seconds: the scoring.
        model / tokenizer: the model after the last step (a PeftModel in eval mode).
    """

    start: str
    scores: dict = field(default_factory=dict)
    old_loss_before: float | None = None
    old_loss_after: float | None = None
    train_seconds: float = 0.0
    score_seconds: float = 0.0
    model: object = field(default=None, repr=False)
    tokenizer: object = field(default=None, repr=False)

    def points(self) -> list[dict]:
        """``[{"start", "step", "score", "low", "high", "n"}]``: the mean keyword match at each scored step, with
        its 95 % bootstrap interval over the questions (:func:`course_lib.uncertainty.mean_interval`)."""
        rows = []
        for step in sorted(self.scores):
            mean, low, high = mean_interval(self.scores[step])
            rows.append({"start": self.start, "step": step, "score": mean, "low": low, "high": high,
                         "n": len(self.scores[step])})
        return rows

    def steps_to(self, target: float) -> int | None:
        """The first scored step whose mean score reaches ``target`` (0-1); ``None`` when none does."""
        return steps_to_target(self.points(), target)


def steps_to_target(points: list[dict], target: float) -> int | None:
    """The first ``step`` of ``points`` (rows with ``step`` and ``score``) whose score is >= ``target``, else ``None``."""
    for point in sorted(points, key=lambda p: p["step"]):
        if point["score"] >= target - 1e-12:
            return int(point["step"])
    return None


def score_steps(max_steps: int, every: int) -> list[int]:
    """The steps a curve is scored at: 0, ``every``, 2 x ``every``, ... and always ``max_steps`` itself."""
    if max_steps < 1 or every < 1:
        raise ConfigError(f"max_steps={max_steps}, every={every} — both must be at least 1 (see the profile's "
                          "transfer_steps and transfer_score_every)")
    return sorted({0, *range(every, max_steps + 1, every), max_steps})


def _scoring_callback(task: TransferTask, steps: list[int], curve: TransferCurve, tokenizer):
    """A ``TrainerCallback`` that scores ``task`` after each optimiser step in ``steps`` (the time kept apart)."""
    from transformers import TrainerCallback

    class ScoreAtSteps(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            if state.global_step in steps and state.global_step not in curve.scores:
                begin = time.perf_counter()
                curve.scores[state.global_step] = task.score(model, tokenizer)
                model.train()
                curve.score_seconds += time.perf_counter() - begin

    return ScoreAtSteps()


def transfer_curve(start: str, model, tokenizer, records: list[dict], task: TransferTask, config, every: int,
                   runtime, output_dir, keep_records: list[dict] | None = None, keep_system: str | None = None,
                   max_len: int | None = None) -> TransferCurve:
    """Train a LoRA adapter on ``records`` from ``model`` and score ``task`` at :func:`score_steps`.

    ``config``: a ``train.TrainConfig`` with ``max_steps`` set; the same for every start, so the curves differ
    only in where they begin. ``keep_records``: the first domain's test pairs, scored with
    :func:`response_loss` before and after, prompted with ``keep_system`` (the first domain's system prompt, as it
    was trained; ``max_len``: the sequence budget, ``None``: the profile's). ``model`` is changed in place (the
    adapter is injected into it); the result holds it after the last step.
    """
    from .. import train as train_mod

    if not config.max_steps or config.max_steps < 1:
        raise ConfigError("transfer_curve needs TrainConfig(max_steps=N): both starts train the same steps")
    steps = score_steps(config.max_steps, every)
    curve = TransferCurve(start=start, tokenizer=tokenizer)
    max_len = max_len or runtime.profile.max_seq_len
    if keep_records:
        curve.old_loss_before = response_loss(model, tokenizer, keep_records, max_len, system_prompt=keep_system)
    begin = time.perf_counter()
    curve.scores[0] = task.score(model, tokenizer)
    curve.score_seconds = time.perf_counter() - begin
    scored_before = curve.score_seconds
    started = time.perf_counter()
    result = train_mod.train(records, [], config=config, runtime=runtime, output_dir=output_dir, model=model,
                             tokenizer=tokenizer, callbacks=(_scoring_callback(task, steps, curve, tokenizer),),
                             title=f"{start} -> new domain")
    curve.train_seconds = time.perf_counter() - started - (curve.score_seconds - scored_before)
    curve.model = result.model.eval()
    last = int(result.metrics.get("steps") or steps[-1])
    if last not in curve.scores:  # the run ended between scored steps: score where it ended
        curve.scores[last] = task.score(curve.model, tokenizer)
    if keep_records:
        curve.old_loss_after = response_loss(curve.model, tokenizer, keep_records, max_len, system_prompt=keep_system)
    return curve


def curve_table(curves):
    """Every curve's :meth:`TransferCurve.points` as one long DataFrame (``plotting.interval_curves`` draws it)."""
    import pandas as pd

    return pd.DataFrame([point for curve in curves for point in curve.points()])


def transfer_summary(curves, target: float):
    """One row per start: score at step 0 and at the last step, steps to reach ``target``, and the first domain's
    test loss before and after (nats per answer token). ``steps to target`` is ``None`` when it was not reached."""
    import pandas as pd

    rows = {}
    for curve in curves:
        first, last = min(curve.scores), max(curve.scores)
        rows[curve.start] = {"score at step 0": sum(curve.scores[first]) / len(curve.scores[first]),
                             f"score at step {last}": sum(curve.scores[last]) / len(curve.scores[last]),
                             f"steps to {target:.2f}": curve.steps_to(target),
                             "old-test loss before": curve.old_loss_before, "old-test loss after": curve.old_loss_after,
                             "train s": round(curve.train_seconds, 1)}
    return pd.DataFrame.from_dict(rows, orient="index")


def kept_share(base_loss: float, adapted_loss: float, after_loss: float) -> float:
    """The share of the first adapter's gain on its test set that survives the second fine-tuning.

    ``base_loss``: the base model's loss on the first domain's test answers; ``adapted_loss``: the adapter's
    (lower: what it learnt); ``after_loss``: after training on the new domain. 1.0: all kept, 0.0: back to the base
    model, below 0: worse than the base. Losses are nats per answer token (:func:`response_loss`).
    """
    gain = base_loss - adapted_loss
    if gain <= 0:
        raise ConfigError(f"the adapter's loss ({adapted_loss:.3f}) is not below the base model's ({base_loss:.3f}) "
                          "— it learnt nothing on this test set, so there is no gain to keep")
    return (base_loss - after_loss) / gain


def score_by(curves, questions: list[dict], key: str, steps=None):
    """Mean keyword match per value of ``questions[i][key]`` (e.g. ``"shared"``), per start and scored step.

    ``questions``: the task's question records, in the order they were asked. ``steps``: which scored steps
    (``None``: the first and the last). Returns a DataFrame indexed by (start, step), one column per value.
    """
    import pandas as pd

    rows = []
    for curve in curves:
        chosen = steps if steps is not None else sorted({min(curve.scores), max(curve.scores)})
        for step in chosen:
            scores = curve.scores[step]
            if len(scores) != len(questions):
                raise ConfigError(f"{len(questions)} questions for {len(scores)} scores — pass the questions asked")
            frame = pd.DataFrame({key: [q[key] for q in questions], "score": scores})
            means = frame.groupby(key)["score"].mean()
            rows.append({"start": curve.start, "step": step, **{f"{key}={value}": m for value, m in means.items()}})
    return pd.DataFrame(rows).set_index(["start", "step"])
