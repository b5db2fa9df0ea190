"""``python -m course_lib fit``: the estimate printed, and a measured peak beside it on request.
Taught in notebook 02 (will it fit?)."""

from __future__ import annotations

from .measure import measure_peak
from .predict import estimate


def run_fit(args) -> int:
    """``python -m course_lib fit``: print the estimate (and, with ``--measure``, a measured peak beside it)."""
    targets = tuple(t.strip() for t in args.targets.split(",") if t.strip()) if args.targets else None
    est = estimate(args.model, args.method, args.batch, args.seq, profile=args.profile, precision=args.precision,
                   lora_r=args.lora_r, targets=targets)
    print(est.explain())
    if args.measure:
        got = measure_peak(args.method, args.batch, args.seq, est.precision, model=args.model, lora_r=args.lora_r,
                           targets=targets)
        print(got)
        print(f"estimate / measured = {est.total / got.peak_bytes:.2f}")
    return 0
