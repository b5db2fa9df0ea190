"""Greedy generation on the CPU: a shared prompt prefix read once or with every prompt, fp32 or bf16; seconds and
how many answers change (notebook 03's prompts).

    python benchmarks/generation_speed.py [--repeats 2] [--out benchmarks/results/generation_speed.json]

The course's notebooks generate in fp32 (notebook 04 under the profile's autocast). Notebook 03 answers its 60 test
questions four ways, and on a 2-core CPU the answers take about a third of the notebook's time, most of it reading
the long 3-shot prompts. This script answers the same 60 questions (batch 32, 48 new tokens, the base SmolLM2), once
with the plain question and once with notebook 03's 3-shot prompt, four ways:

* ``fp32, each prompt read whole``: the shared head of the prompts (system prompt, the three solved examples)
  computed again for every prompt, attention computed eagerly, as the course did before 2026-12-04;
* ``fp32, eager attention``: a head shared by every prompt (at least ``SHARED_PREFIX_MIN_TOKENS``) is read once
  and its key/value cache copied into each batch (``generation._generated_rows``), attention computed eagerly (the
  CPU's training kernel; the course generated so from 2026-12-04 to 2026-12-08);
* ``fp32``: what the notebooks do: the shared head read once, and attention through SDPA while generating
  (``generation.GENERATION_ATTENTION``);
* ``bf16, weights cast``: under bf16 autocast, every weight rounded to bf16 at every forward pass (notebook 04);
* ``bf16, weights stored``: under bf16 autocast, the linear weights stored as their bf16 rounding for the block
  (``train.Bf16FrozenCopies``, as LoRA's training steps do on bf16 CPUs).

For each it reports the fastest of ``--repeats`` runs and how many of the 60 greedy answers differ from the first
variant's (reading the head once can round differently; bf16 rounds the logits differently, which now and then flips a greedy choice). CPUs without native bf16 skip the
bf16 rows (bf16 would be emulated there). Run it on an idle machine; CPU model and flags are recorded.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dose_response import SYSTEM, cpu_facts, support_splits, write_result  # noqa: E402  (same folder)

from course_lib import formatting, generation, models, runtime, train  # noqa: E402

FEW_SHOT = 3  # notebook 03's few-shot prompt: the first three training pairs before each question


def prompts() -> dict[str, list]:
    """Notebook 03's 60 test questions, plain (``zero-shot``) and after its three solved examples (``3-shot``)."""
    splits = support_splits()
    test = splits["test"][:60]
    shots = splits["train"][:FEW_SHOT]
    return {"zero-shot": [formatting.user_text(r) for r in test],
            "3-shot": [formatting.few_shot_messages(r, shots, SYSTEM) for r in test]}


WHOLE = "fp32, each prompt read whole"
EAGER = "fp32, eager attention"


@contextlib.contextmanager
def generation_settings(**values):
    """A block with ``course_lib.generation``'s module settings (e.g. ``SHARED_PREFIX_MIN_TOKENS``) set to
    ``values``, put back afterwards."""
    saved = {name: getattr(generation, name) for name in values}
    for name, value in values.items():
        setattr(generation, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(generation, name, value)


def precision_block(model, name: str):
    """The context a variant generates in: nothing for fp32, whole prompts, eager attention, bf16 autocast, or
    autocast with bf16-stored weights."""
    import torch

    if name == "fp32":
        return contextlib.nullcontext()
    if name == WHOLE:  # no prompt head counts as shared, eager attention: the course before prefix caching
        return generation_settings(SHARED_PREFIX_MIN_TOKENS=10**9, GENERATION_ATTENTION="eager")
    if name == EAGER:
        return generation_settings(GENERATION_ATTENTION="eager")
    stack = contextlib.ExitStack()
    stack.enter_context(torch.autocast("cpu", dtype=torch.bfloat16))
    if name == "bf16, weights stored":
        stack.enter_context(train.Bf16FrozenCopies(model).swapped_in())
    return stack


def timed_answers(model, tokenizer, items, variant: str, repeats: int) -> tuple[float, list[str]]:
    """The fastest of ``repeats`` generations of ``items`` in ``variant`` (seconds) and its answers."""
    best, answers = float("inf"), []
    for _ in range(repeats):
        start = time.perf_counter()
        with precision_block(model, variant):
            answers = generation.generate_answers(model, tokenizer, items, max_new_tokens=48, batch_size=32,
                                                  progress=False, system=SYSTEM)
        best = min(best, time.perf_counter() - start)
    return best, answers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/generation_speed.json")
    args = parser.parse_args()
    rt = runtime.setup("cpu", 0)
    model, tokenizer = models.load_causal_lm(rt.profile.decoder, runtime=rt, verbose=False)
    for param in model.parameters():
        param.requires_grad_(False)  # inference: every weight is frozen, so every linear weight may be stored
    bf16_variants = ["bf16, weights cast", "bf16, weights stored"] if rt.precision == "bf16" else []
    variants = [WHOLE, EAGER, "fp32"] + bf16_variants
    rows = []
    for prompt_kind, items in prompts().items():
        reference = None
        for variant in variants:
            seconds, answers = timed_answers(model, tokenizer, items, variant, args.repeats)
            reference = reference if reference is not None else answers
            changed = sum(a != b for a, b in zip(answers, reference))
            rows.append({"prompts": prompt_kind, "variant": variant, "seconds": round(seconds, 2),
                         "answers_changed_vs_first": changed, "answers": len(answers)})
            print(f"{prompt_kind:9s} {variant:29s} {seconds:6.1f} s, {changed}/{len(answers)} answers differ "
                  f"from {variants[0]!r}", flush=True)
    write_result(args.out, {"date": time.strftime("%Y-%m-%d"), "cpu": cpu_facts(), "precision": rt.precision,
                            "threads": rt.threads, "repeats": args.repeats, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
