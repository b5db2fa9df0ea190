"""How many phrasings of a fact must the training data hold, and can the model write the missing ones?

Same LoRA budget for every arm (``--steps`` optimiser steps of the profile's batch, so every fact is seen about
as often), different training data: 1, 3 or all 14 of each fact's support questions (``augment.phrasings_per_fact``),
and 1 question plus the rewrites the base model writes of it (``augment.paraphrase_records``, generated once).
Each arm trains once per seed and answers notebook 06's closed-book questions on facts in the training data (36,
never trained on verbatim); the score is their accuracy. Differences against "1 phrasing" are reported two ways:
over seeds (Student's t on the per-seed differences, ``uncertainty.difference_over_seeds``) and over questions
(paired bootstrap of the per-question accuracy averaged over the seeds). Notebook 06 (section 5c) quotes the
result file.

    python benchmarks/phrasings.py [--steps 60] [--seeds 0,1,2,3,4] [--profile cpu]
        [--out benchmarks/results/phrasings.json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dose_response import SYSTEM, write_result  # noqa: E402  (the sibling benchmark's helpers)

from course_lib import augment, data, evaluation, models, paths, retrieval, runtime, train, uncertainty  # noqa: E402

REFERENCE_ARM = "1 phrasing"


def trained_fact_questions() -> list[dict]:
    """Notebook 06's questions about facts that are in the training data (kind ``trained``), all of them."""
    questions = data.load_jsonl(paths.data_path("support", "fact_questions.jsonl"))
    notes = data.load_jsonl(paths.data_path("support", "release_notes_v2.jsonl"))
    return evaluation.fact_question_set(questions, notes, ("trained",), None)


def training_sets(records, model, tokenizer, batch_size: int) -> tuple[dict, str]:
    """``({arm name: training records}, the rewrite report)``: the arms every seed trains on."""
    one = augment.phrasings_per_fact(records, 1, seed=0)
    synthetic, report = augment.paraphrase_records(model, tokenizer, one, per_record=4,
                                                   encoder=models.load_sentence_encoder(), seed=0,
                                                   batch_size=batch_size)
    return {REFERENCE_ARM: one, "1 + model rewrites": one + synthetic,
            "3 phrasings": augment.phrasings_per_fact(records, 3, seed=0), "14 phrasings": list(records)}, str(report)


def score_arm(records, questions, steps: int, rt) -> tuple[list[float], float]:
    """Train LoRA on ``records`` for ``steps`` steps with ``rt``'s seed; ``(per-question correct, seconds)``."""
    start = time.perf_counter()
    config = train.TrainConfig(method="lora", system_prompt=SYSTEM, max_steps=steps, save_steps=10**6, live="off")
    with tempfile.TemporaryDirectory() as out:
        run = train.train(records, [], config, runtime=rt, output_dir=out, title="phrasings")
        answers = retrieval.answer_questions(run.model, run.tokenizer, [q["question"] for q in questions],
                                             system=SYSTEM, max_new_tokens=rt.profile.max_new_tokens,
                                             batch_size=rt.profile.inference_batch_size)
    return evaluation.fact_answer_table(questions, answers)["correct"].tolist(), time.perf_counter() - start


def differences(correct: dict, seeds: list[int]) -> list[dict]:
    """Each arm against :data:`REFERENCE_ARM`: over seeds and over questions (see the module docstring)."""
    import numpy as np

    rows = []
    reference = np.array([correct[REFERENCE_ARM][seed] for seed in seeds])
    for arm in correct:
        if arm == REFERENCE_ARM:
            continue
        scores = np.array([correct[arm][seed] for seed in seeds])
        seed_diff = uncertainty.difference_over_seeds(scores.mean(axis=1), reference.mean(axis=1), arm, REFERENCE_ARM)
        question_diff = uncertainty.paired_difference(scores.mean(axis=0), reference.mean(axis=0), arm, REFERENCE_ARM)
        rows.append({"arm": arm, "diff": seed_diff.diff, "seeds_low": seed_diff.low, "seeds_high": seed_diff.high,
                     "questions_low": question_diff.low, "questions_high": question_diff.high})
        print(f"{arm} vs {REFERENCE_ARM}: {seed_diff.diff:+.3f} (over seeds {seed_diff.low:+.3f} to "
              f"{seed_diff.high:+.3f}; over questions {question_diff.low:+.3f} to {question_diff.high:+.3f})")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="optimiser steps per run (every arm the same)")
    parser.add_argument("--seeds", default="0,1,2,3,4", help="training seeds, comma-separated")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--out", default="benchmarks/results/phrasings.json")
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]

    rt = runtime.setup(args.profile, seeds[0])
    records = train.read_records(paths.data_path("support", "support_clean.jsonl"))
    questions = trained_fact_questions()
    base, tokenizer = models.load_causal_lm(rt.profile.decoder, runtime=rt, verbose=False, dtype=rt.torch_dtype)
    arms, rewrite_report = training_sets(records, base, tokenizer, rt.profile.inference_batch_size)
    print("rewrites:", rewrite_report)
    del base
    correct, seconds = {arm: {} for arm in arms}, {arm: [] for arm in arms}
    for seed in seeds:
        rt_seed = runtime.setup(args.profile, seed)
        for arm, arm_records in arms.items():
            correct[arm][seed], took = score_arm(arm_records, questions, args.steps, rt_seed)
            seconds[arm].append(round(took, 1))
            print(f"seed {seed} {arm} ({len(arm_records)} pairs): accuracy {sum(correct[arm][seed]) / len(questions):.3f}"
                  f" in {took:.0f} s", flush=True)
    write_result(args.out, {
        "settings": {"steps": args.steps, "seeds": seeds, "profile": args.profile, "questions": len(questions),
                     "batch_size": rt.profile.batch_size, "learning_rate": rt.profile.learning_rate},
        "machine": runtime.cpu_features(), "precision": rt.precision, "rewrites": rewrite_report,
        "pairs": {arm: len(arm_records) for arm, arm_records in arms.items()},
        "accuracy": {arm: {str(seed): sum(values) / len(questions) for seed, values in by_seed.items()}
                     for arm, by_seed in correct.items()},
        "seconds": seconds, "differences": differences(correct, seeds)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
