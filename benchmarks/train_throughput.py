"""Training throughput: the tutorial recipe vs a tuned Hugging Face recipe vs the course's path, in one run.

    python benchmarks/train_throughput.py [--quick] [--steps N] [--json benchmarks/results/train_throughput.json]

Same model (SmolLM2-135M-Instruct), same data (data/support/support_clean.jsonl, response-only labels from
course_lib.formatting), LoRA r=8 on q_proj/v_proj, batch 8, sequences <= 128 tokens:

(a) tutorial: Trainer + peft LoRA, fp32, every batch padded to 128 tokens (CausalCollator(pad_to_multiple_of=128)).
(b) tuned:    Trainer, dynamic padding (CausalCollator), train_sampling_strategy="group_by_length", bf16 autocast
              where the CPU supports it (runtime.choose_precision).
(c) course:   what ``course_lib.train`` does for LoRA: (b)'s batches and precision, the runtime's attention kernel
              (eager on the CPU: runtime.attention_implementation), the frozen linear weights' bf16 roundings
              swapped in for each step where the runtime does so (runtime.frozen_weights_in_bf16: bf16 CPUs; under
              autocast the matmuls see the same bf16 values, without the per-step weight casts), trained by the
              course's Trainer subclass, whose loss sends only the labelled (response) positions through the
              49k-vocabulary output head (train.labelled_positions_loss), and on CPUs with AMX its decoder blocks
              compiled for the steps (runtime.compiled_training_pays, train.CompiledBlocks: what course_lib.train
              does for runs of COMPILE_MIN_STEPS or more; the compile falls in the untimed first step, reported as
              first_step_seconds). ``--course-batching packed`` tries
              leak-free packed rows instead (formatting.pack_examples + PackedCollator, rows per step chosen so a
              step holds about as many tokens as a step of (b)), with the same weights.

Reported per path: useful (non-pad) tokens/s over the timed steps (the first step is a warm-up, not timed, its
seconds reported apart), peak
RSS, achieved useful FLOP/s (per useful token: the body's matmuls and attention; per labelled token: the output
head) as a fraction of a square-matmul peak
measured in the same run in that path's precision, and the eval loss on held-out examples after training.
The loss check: (c) must reach (b)'s eval loss within ``--loss-tolerance`` nats after the same examples.
Last line: ``speedup=X.XX speedup_vs_tuned=X.XX useful_tokens_per_s=N peak_fraction=0.NN`` (speedup = c/a).
Timings on a machine shared with other work are noisy; say so when quoting them.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

SYSTEM = "You are the support assistant for Brightleaf Notes."


class CountingCollator:
    """Wraps a collator; counts useful (non-pad) and computed tokens of every batch it builds."""

    def __init__(self, inner, pad_id):
        self.inner, self.pad_id, self.useful, self.computed, self.labelled = inner, pad_id, 0, 0, 0

    def __call__(self, features):
        from course_lib.formatting import count_tokens

        batch = self.inner(features)
        useful, computed = count_tokens(batch, self.pad_id)
        self.useful += useful
        self.computed += computed
        self.labelled += int((batch["labels"][:, 1:] != -100).sum())  # positions whose prediction is trained
        return batch


def _eval_loss(model, features, pad_id, precision):
    import torch

    from course_lib.formatting import CausalCollator

    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(features), 8):
            batch = CausalCollator(pad_id)(features[i:i + 8])
            ctx = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else torch.autocast("cpu", enabled=False)
            with ctx:
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            loss = torch.nn.functional.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]),
                                                     batch["labels"][:, 1:].reshape(-1), ignore_index=-100,
                                                     reduction="sum")
            total += float(loss)
            count += int((batch["labels"][:, 1:] != -100).sum())
    return total / count


def run_path(name, train_feats, eval_feats, steps, precision, collator, rows, batch_size, tok, out_dir, bf16_base,
             group_by_length, trainer_class=None, runtime=None, compiled=False):
    import torch
    from transformers import Trainer, TrainerCallback, TrainingArguments

    from course_lib import models, train

    # runtime=None: transformers' default attention (SDPA), as a tutorial or a tuned HF recipe gets it; the course's
    # path passes its runtime, whose attention kernel is the one the course trains with (eager on the CPU).
    model, _ = models.load_causal_lm(verbose=False, runtime=runtime)
    cfg = train.TrainConfig(method="lora", lora_r=8, lora_alpha=16, lora_dropout=0.0,
                            target_modules=("q_proj", "v_proj"))
    torch.manual_seed(0)
    model = train.prepare_model(model, cfg, seed=0)
    counter = CountingCollator(collator, tok.pad_token_id)
    times = []
    seen = [0, 0]  # useful and labelled tokens at the previous step end: the Trainer fetches a step's batch before on_step_begin

    class Timer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            self.t = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            times.append((time.perf_counter() - self.t, counter.useful - seen[0], counter.labelled - seen[1]))
            seen[:] = [counter.useful, counter.labelled]

    args = TrainingArguments(output_dir=str(out_dir / name), max_steps=steps, per_device_train_batch_size=batch_size,
                             learning_rate=1e-3, lr_scheduler_type="constant", warmup_steps=0, bf16=precision == "bf16",
                             use_cpu=True, save_strategy="no", eval_strategy="no", logging_steps=10 ** 6,
                             report_to="none", disable_tqdm=True, seed=0, data_seed=0, remove_unused_columns=False,
                             dataloader_num_workers=0,
                             train_sampling_strategy="group_by_length" if group_by_length else "random")
    trainer = (trainer_class or Trainer)(model=model, args=args, train_dataset=rows, data_collator=counter, callbacks=[Timer()])
    if bf16_base:  # the course's Trainer only: its steps compute with the frozen weights' bf16 roundings, as
        trainer.frozen_bf16 = train.Bf16FrozenCopies(model)  # course_lib.train does where the runtime says so
    if compiled:  # the course's Trainer only: decoder blocks compiled for the steps (train.compiled), where the
        trainer.compiled_blocks = train.CompiledBlocks(model)  # runtime says the machine gains; compiled in step 1
    with train.PeakMemory("cpu") as peak:
        trainer.train()
    timed = times[1:] or times  # the first step (warm-up; the compile where blocks are compiled) is reported apart
    seconds = sum(t for t, _, _ in timed)
    useful = sum(u for _, u, _ in timed)
    labelled = sum(n for _, _, n in timed)
    return {"path": name, "precision": precision, "steps": steps, "useful_tokens": counter.useful,
            "computed_tokens": counter.computed, "labelled_tokens": counter.labelled, "timed_seconds": seconds,
            "useful_tokens_per_s": useful / seconds if seconds else 0.0, "first_step_seconds": times[0][0],
            "labelled_per_useful": labelled / useful if useful else 0.0,
            "peak_rss_mib": peak.peak_bytes / 2 ** 20, "eval_loss": _eval_loss(model, eval_feats, tok.pad_token_id,
                                                                                  precision)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny run to check the script works (numbers meaningless)")
    parser.add_argument("--steps", type=int, default=12, help="optimiser steps per path (default 12)")
    parser.add_argument("--loss-tolerance", type=float, default=0.05, help="allowed |eval loss c - b| in nats")
    parser.add_argument("--course-batching", choices=["grouped", "packed"], default="grouped",
                        help="(c)'s batches: dynamic padding in length groups like (b), or leak-free packed rows")
    # --out as in the other benchmarks that write a result file; --json kept for the commands quoted in older notes
    parser.add_argument("--out", "--json", dest="json", type=Path, metavar="PATH",
                        default=Path(__file__).parent / "results" / "train_throughput.json")
    args = parser.parse_args(argv)

    import tempfile

    import torch

    from course_lib import fit, formatting, models, runtime, train
    from course_lib.paths import data_path

    rt = runtime.setup("cpu", seed=0, quiet=True)
    precision = runtime.choose_precision("cpu")
    steps = 3 if args.quick else args.steps
    batch, max_len = 8, 128
    records = [json.loads(line) for line in data_path("support", "support_clean.jsonl").read_text().splitlines()]
    _, tok = models.load_causal_lm(verbose=False)
    feats, report = formatting.tokenize_dataset(records, tok, max_len, system_prompt=SYSTEM)
    eval_feats, train_feats = feats[:16 if not args.quick else 8], feats[16:]
    n_train = batch * steps
    train_feats = train_feats[:n_train]
    mean_len = sum(len(f["input_ids"]) for f in train_feats) / len(train_feats)
    packed = formatting.pack_examples(train_feats, max_len)
    packed_batch = max(1, round(len(packed) / steps))
    pad = tok.pad_token_id
    stored_bf16 = runtime.frozen_weights_in_bf16("cpu", precision)  # as course_lib.train decides it, both batchings
    # As course_lib.train decides it for a run of COMPILE_MIN_STEPS or more (this one's 12 steps show the speed after
    # the compile; the first step, with the compile, is reported as first_step_seconds).
    compiled = runtime.compiled_training_pays("cpu", precision)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        paths = [
            run_path("a_tutorial", train_feats, eval_feats, steps, "fp32",
                     formatting.CausalCollator(pad, pad_to_multiple_of=max_len), train_feats, batch, tok, out,
                     False, False),
            run_path("b_tuned", train_feats, eval_feats, steps, precision, formatting.CausalCollator(pad),
                     train_feats, batch, tok, out, False, True),
            run_path("c_course", train_feats, eval_feats, steps, precision, formatting.PackedCollator(pad),
                     packed, packed_batch, tok, out, stored_bf16, False, train._make_trainer_class(), rt, compiled)
            if args.course_batching == "packed" else
            run_path("c_course", train_feats, eval_feats, steps, precision, formatting.CausalCollator(pad),
                     train_feats, batch, tok, out, stored_bf16, True, train._make_trainer_class(), rt, compiled),
        ]
    shape = fit.model_shape("smollm2-135m-instruct")
    lora = shape.layers * 8 * ((576 + 576) + (576 + 192))
    # Useful FLOPs: what training on the non-pad tokens needs. Frozen weights: forward + input gradient (4 per
    # weight and token); attention scores and values, forward and twice backward; LoRA: 6 per adapter weight.
    # The output head (vocab x hidden) is needed only where a prediction is trained (labelled positions): logits
    # on prompt tokens are computed by (a) and (b) but are not useful work, so no path is credited for them.
    head = shape.vocab * shape.hidden
    body_per_token = 4 * (shape.matmul_params - head) + 3 * 4 * mean_len * shape.hidden * shape.layers + 6 * lora
    for p in paths:
        peak = fit.measure_matmul_peak(p["precision"], "cpu")
        p["matmul_peak_flops"] = peak
        flops_per_token = body_per_token + p["labelled_per_useful"] * 4 * head
        p["peak_fraction"] = p["useful_tokens_per_s"] * flops_per_token / peak
    a, b, c = paths
    result = {"paths": paths, "speedup": c["useful_tokens_per_s"] / a["useful_tokens_per_s"],
              "speedup_vs_tuned": c["useful_tokens_per_s"] / b["useful_tokens_per_s"],
              "loss_gap_c_minus_b": c["eval_loss"] - b["eval_loss"], "loss_tolerance": args.loss_tolerance,
              "examples": len(train_feats), "mean_tokens": mean_len, "packed_rows": len(packed),
              "packed_rows_per_step": packed_batch, "compiled_blocks": compiled,
              "course_batching": args.course_batching, "quick": args.quick, "threads": torch.get_num_threads(),
              "cpu": rt.stamp()["cpu"], "stamp": rt.stamp()}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=str))
    print(f"CPU: {result['cpu']['model']}, flags {' '.join(result['cpu']['flags']) or 'none of ' + ' '.join(runtime.MATMUL_FLAGS)}"
          f" -> precision {rt.precision}, course path {'with compiled blocks' if compiled else 'eager'}")
    for p in paths:
        print(f"{p['path']:11s} {p['precision']}: {p['useful_tokens_per_s']:7.1f} useful tok/s, peak RSS "
              f"{p['peak_rss_mib']:.0f} MiB, {p['peak_fraction']:.2f} of matmul peak, eval loss {p['eval_loss']:.4f}, "
              f"first step {p['first_step_seconds']:.1f} s")
    ok = abs(result["loss_gap_c_minus_b"]) <= args.loss_tolerance
    print(f"loss check (c vs b after the same examples): gap {result['loss_gap_c_minus_b']:+.4f} nats "
          f"({'ok' if ok else 'FAILED'})")
    print(f"speedup={result['speedup']:.2f} speedup_vs_tuned={result['speedup_vs_tuned']:.2f} "
          f"useful_tokens_per_s={c['useful_tokens_per_s']:.0f} peak_fraction={c['peak_fraction']:.2f}")
    if not math.isfinite(c["eval_loss"]):
        raise SystemExit("course path produced a non-finite loss")


if __name__ == "__main__":
    main()
