"""The family table: size, compute and fit's estimate for the published models, one row each. Taught in notebook 02."""

from __future__ import annotations

from .memory import GIB, weight_bytes
from .published_models import PUBLISHED


def family_table(models=PUBLISHED, gpu_profile: str = "t4", laptop_profile: str = "cpu",
                 gpu_memory_gib: float = 15.0, laptop_memory_gib: float = 12.0, lora_r: int = 8):
    """Size, compute and fit of published models, one row each (a pandas DataFrame).

    Columns: family, architecture, parameters (M), context, typical use; ``train GFLOP/token`` = 6 x parameters
    (forward 2N + backward 4N, the usual rule of thumb); ``fp16 weights (GiB)`` = 2 B x parameters; then fit's peak
    estimate (GiB) for LoRA (rank ``lora_r`` on every linear layer of a block, as ``course_lib.train`` trains) and
    full fine-tuning (encoders as 3-label classifiers) with the batch, sequence length and
    precision of ``gpu_profile`` (a T4: fp16 autocast over fp32 master weights) and of ``laptop_profile`` (this
    CPU's precision), whether each fits ``gpu_memory_gib`` / ``laptop_memory_gib``, and fit's predicted hours of
    LoRA training per million tokens on the laptop (its FLOP/s measured here).
    """
    import pandas as pd

    from .. import fit, runtime

    gpu, laptop = runtime.get_profile(gpu_profile), runtime.get_profile(laptop_profile)
    rows = []
    for m in models:
        shape = m.shape()
        row = {"model": m.name, "family": m.family, "architecture": m.architecture,
               "parameters (M)": round(m.params / 1e6, 1), "context": m.context, "typical use": m.typical_use,
               "train GFLOP/token": round(6 * m.params / 1e9, 2),
               "fp16 weights (GiB)": round(weight_bytes(m.params, "fp16") / GIB, 2), "in course": m.in_course}
        for where, prof, budget in (("T4", gpu, gpu_memory_gib), ("laptop", laptop, laptop_memory_gib)):
            for method in ("lora", "full"):
                est = fit.estimate(shape, method, prof.batch_size, prof.max_seq_len, profile=prof.name,
                                   lora_r=lora_r)
                label = "LoRA" if method == "lora" else "full"
                row[f"{where} {label} (GiB)"] = round(est.total / GIB, 2)
                row[f"{where} {label} fits"] = est.total <= budget * GIB
                if where == "laptop" and method == "lora":
                    tokens = prof.batch_size * prof.max_seq_len
                    row["laptop LoRA h / 1M tokens"] = round(est.seconds_per_step / tokens * 1e6 / 3600, 2)
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")
