"""Issue 16's techniques on the course's two other training paths: full fine-tuning and the MiniLM classifier.

    python benchmarks/full_and_classifier_speed.py [--full-steps 4] [--out PATH]

Full fine-tuning (``course_lib.train.train``, method ``full``: every weight trains, AdamW states for all of them)
is timed for ``--full-steps`` optimiser steps of batch 8 on notebook 03's support split, with eager attention (the
course's CPU kernel) and with SDPA. The MiniLM classifier (``course_lib.train.train_classifier``) trains its
whole cpu-profile budget, one pass over the 840 sentiment reviews, with each kernel (the course keeps SDPA there),
and with batch 32 instead of the profile's 8 (a quarter of the steps: its macro F1 on the 60 test reviews is
reported beside the speed, because fewer steps can learn less). Every row records seconds, useful tokens/s and
peak RSS, each variant in a fresh process; the CPU model and flags are recorded with them. Run it on an idle
machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dose_response import SYSTEM, cpu_facts, support_splits, write_result  # noqa: E402  (same folder)
from isolated import add_variant_options, peak_memory_fields, rows_from_fresh_processes, run_one_variant  # noqa: E402

from course_lib import evaluation, models, paths, runtime, train  # noqa: E402

# name: (path, attention kernel, batch size or None for the profile's)
VARIANTS = {
    "full fine-tuning, eager attention": ("full", "eager", None),
    "full fine-tuning, SDPA attention": ("full", "sdpa", None),
    "MiniLM classifier, eager attention": ("classifier", "eager", None),
    "MiniLM classifier, SDPA attention": ("classifier", "sdpa", None),
    "MiniLM classifier, eager attention, batch 32": ("classifier", "eager", 32),
}


def full_row(rt, steps: int) -> dict:
    """Full fine-tuning for ``steps`` optimiser steps (no evaluation, nothing saved)."""
    splits = support_splits()
    model, tokenizer = models.load_causal_lm(rt.profile.decoder, runtime=rt, verbose=False)
    config = train.TrainConfig(method="full", system_prompt=SYSTEM, max_steps=steps, eval_steps=10**6,
                               save_steps=10**6, save_final=False, live="off", eval_at_start=False, warmup_ratio=0.0)
    result = train.train(splits["train"], splits["validation"][:4], config, runtime=rt, model=model,
                         tokenizer=tokenizer, output_dir=Path("outputs") / "full_speed")
    return {"steps": steps, "seconds": round(result.seconds, 1), "seconds_per_step": round(result.seconds / steps, 2),
            "useful_tokens_per_s": round(result.useful_tokens_per_s, 1),
            "train_loss": round(result.metrics["train_loss"], 3), **peak_memory_fields(result)}


def classifier_row(rt) -> dict:
    """The MiniLM classifier's cpu-profile run and its macro F1 on the first 60 test reviews."""
    import pandas as pd

    reviews = pd.read_csv(paths.data_path("sentiment", "reviews.csv"))
    labels = sorted(reviews["label"].unique())
    train_reviews = reviews[reviews["split"] == "train"]
    test_reviews = reviews[reviews["split"] == "test"].head(rt.profile.eval_examples)
    result = train.train_classifier(train_reviews["text"].tolist(), train_reviews["label"].tolist(), labels,
                                    runtime=rt, live="off", output_dir=Path("outputs") / "classifier_speed",
                                    attention=rt.attention)
    ids, _ = evaluation.predict_classes(result.model, result.tokenizer, test_reviews["text"].tolist())
    predicted = [result.labels[int(i)] for i in ids]
    f1 = evaluation.classification_metrics(test_reviews["label"].tolist(), predicted, labels)["f1_macro"]
    return {"steps": result.steps, "seconds": round(result.seconds, 1),
            "seconds_per_step": round(result.seconds / result.steps, 3),
            "useful_tokens_per_s": round(result.useful_tokens_per_s, 1), "test_macro_f1": round(f1, 3),
            **peak_memory_fields(result)}


def variant_row(name: str, rt, full_steps: int) -> dict:
    path, attention, batch_size = VARIANTS[name]
    profile = dataclasses.replace(rt.profile, batch_size=batch_size or rt.profile.batch_size)
    run_rt = dataclasses.replace(rt, attention=attention, profile=profile)
    row = full_row(run_rt, full_steps) if path == "full" else classifier_row(run_rt)
    row = {"variant": name, "attention": attention, "batch_size": profile.batch_size, **row}
    print(row, flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full-steps", type=int, default=4)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--out", default="benchmarks/results/full_and_classifier_speed.json")
    add_variant_options(parser)
    args = parser.parse_args()
    rt = runtime.setup(args.profile, 0)
    if run_one_variant(args, lambda name: variant_row(name, rt, args.full_steps)):
        return 0
    rows = rows_from_fresh_processes(__file__, list(VARIANTS),
                                     ["--full-steps", str(args.full_steps), "--profile", args.profile])
    write_result(args.out, {"date": time.strftime("%Y-%m-%d"), "cpu": cpu_facts(), "precision": rt.precision,
                            "threads": rt.threads, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
