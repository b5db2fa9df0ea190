"""Seconds per LoRA step on the CPU, one technique at a time: the course's own path (``course_lib.train.train``).

Each variant trains 8 optimiser steps of batch 8 on notebook 03's support split (fp32 or the profile's precision,
no evaluation, nothing saved) in a fresh model, and reports seconds per step, useful (non-pad) tokens/s and peak
RSS:

    python benchmarks/lora_step_ablation.py [--steps 8] [--out benchmarks/results/lora_step_ablation.json]

Variants: the earlier default (adapters on all 30 blocks, LoRA dropout 0.05), dropout 0, dropout 0 with batch 16,
and adapters only on the top 15 / top 10 blocks (``TrainConfig.lora_block_share``: the backward pass stops at the
lowest adapted block); then, on top of the course default, the model-side techniques of issue 16: the fused SDPA
attention instead of the course's plain matmuls (``eager``: for 80-token rows the fused CPU attention's backward
costs more than the attention is worth), and the frozen base weights rounded to bf16 at every step instead of
stored in bf16 for the run (the course's default on bf16 CPUs since 2026-12-04, ``train.Bf16FrozenCopies``;
bf16 CPUs only), and the decoder blocks eager or compiled for the training steps (``train.CompiledBlocks``, the
course's default on CPUs with AMX for runs of ``COMPILE_MIN_STEPS`` steps or more since 2026-12-07; the plain
"course default" rows compile where the runtime and the step count say so). The seconds per step include the
first step, and so the compile: run ``--steps 60`` or more to see what a notebook's run gains.
Each variant runs in a fresh process, so that its peak RSS is its own. Run it on an idle machine; the CPU model
and flags are recorded with the numbers.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dose_response import SYSTEM, cpu_facts, support_splits, write_result  # noqa: E402  (same folder)
from isolated import add_variant_options, peak_memory_fields, rows_from_fresh_processes, run_one_variant  # noqa: E402

from course_lib import models, runtime, train  # noqa: E402

VARIANTS = {
    "all blocks, dropout 0.05 (earlier default)": {"lora_dropout": 0.05, "lora_block_share": 1.0},
    "dropout 0": {"lora_dropout": 0.0, "lora_block_share": 1.0},
    "dropout 0, batch 16": {"lora_dropout": 0.0, "lora_block_share": 1.0, "batch_size": 16},
    "dropout 0, top 15 blocks (course default)": {"lora_dropout": 0.0, "lora_block_share": 0.5},
    "dropout 0, top 10 blocks": {"lora_dropout": 0.0, "lora_block_share": 1 / 3},
    "course default, batch 16": {"lora_dropout": 0.0, "lora_block_share": 0.5, "batch_size": 16},
    "course default, SDPA attention": {"lora_dropout": 0.0, "lora_block_share": 0.5, "model": "sdpa"},
    "course default, frozen weights cast at every step": {"lora_dropout": 0.0, "lora_block_share": 0.5,
                                                          "bf16_frozen_weights": False},
    "course default, eager blocks": {"lora_dropout": 0.0, "lora_block_share": 0.5, "compile_blocks": False},
    "course default, compiled blocks": {"lora_dropout": 0.0, "lora_block_share": 0.5, "compile_blocks": True},
    "course default, compiled blocks, batch 16": {"lora_dropout": 0.0, "lora_block_share": 0.5,
                                                  "compile_blocks": True, "batch_size": 16},
}


def prepared_model(rt, change: str):
    """A fresh decoder (with the course's attention for the device, eager on the CPU), changed as a variant asks:
    ``sdpa`` attention (the fused kernel, the course's default before 2026-12-02)."""
    model, tokenizer = models.load_causal_lm(rt.profile.decoder, runtime=rt, verbose=False)
    if "sdpa" in change:
        model.set_attn_implementation("sdpa")
    return model, tokenizer


def variant_row(name: str, steps: int, rt) -> dict | None:
    """Train variant ``name`` for ``steps`` steps in this process; its result row, or ``None`` where it does not
    apply (weights cast at every step on a CPU that trains in fp32, where nothing is cast)."""
    options = dict(VARIANTS[name])
    if "bf16_frozen_weights" in options and rt.precision != "bf16":
        print(f"{name}: skipped (precision {rt.precision}: nothing is cast)", flush=True)
        return None
    model, tokenizer = prepared_model(rt, options.pop("model", ""))
    config = train.TrainConfig(method="lora", system_prompt=SYSTEM, max_steps=steps, eval_steps=10**6,
                               save_steps=10**6, save_final=False, live="off", eval_at_start=False,
                               warmup_ratio=0.0, **{"batch_size": 8, **options})
    splits = support_splits()
    result = train.train(splits["train"], splits["validation"][:4], config, runtime=rt, model=model,
                         tokenizer=tokenizer, output_dir=Path("outputs") / "lora_step_ablation")
    row = {"variant": name, **options, "seconds_per_step": round(result.seconds / steps, 2),
           "useful_tokens_per_s": round(result.useful_tokens_per_s, 1),
           "trainable_params": result.trainable_params, "train_loss": round(result.metrics["train_loss"], 3),
           **peak_memory_fields(result)}
    print(f"{name}: {row['seconds_per_step']} s/step, {row['useful_tokens_per_s']} useful tok/s, "
          f"peak {row['peak_memory_mb']} MB", flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--only", nargs="+", default=None, metavar="TEXT",
                        help="run only the variants whose name contains one of these strings")
    parser.add_argument("--out", default="benchmarks/results/lora_step_ablation.json")
    add_variant_options(parser)
    args = parser.parse_args()
    rt = runtime.setup(args.profile, 0)
    if run_one_variant(args, lambda name: variant_row(name, args.steps, rt)):
        return 0
    names = [name for name in VARIANTS if not args.only or any(text in name for text in args.only)]
    rows = rows_from_fresh_processes(__file__, names, ["--steps", str(args.steps), "--profile", args.profile])
    payload = {"date": time.strftime("%Y-%m-%d"), "cpu": cpu_facts(), "precision": rt.precision,
               "threads": rt.threads, "steps": args.steps, "rows": rows}
    write_result(args.out, payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
