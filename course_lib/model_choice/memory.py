"""Memory arithmetic: weight bytes per precision for inference, and the shape of an encoder trained as a classifier.
Taught in notebook 02."""

from __future__ import annotations

from ..errors import ConfigError
from .cards import _transformer_of

GIB = 2 ** 30
MIB = 2 ** 20
BYTES_PER_PARAM = {"fp32": 4, "bf16": 2, "fp16": 2}


def weight_bytes(params: int, precision: str) -> int:
    """Bytes of ``params`` weights stored in ``precision`` (fp32: 4 B each, bf16/fp16: 2 B each)."""
    if precision not in BYTES_PER_PARAM:
        raise ConfigError(f"unknown precision {precision!r} — use one of {', '.join(BYTES_PER_PARAM)}")
    return int(params) * BYTES_PER_PARAM[precision]


def weight_memory_table(params: dict, precisions=("fp32", "bf16", "fp16")):
    """Weight memory for inference (MiB) of ``{model name: parameters}`` in each precision: a DataFrame."""
    import pandas as pd

    return pd.DataFrame({name: {f"{p} weights (MiB)": round(weight_bytes(n, p) / MIB, 1) for p in precisions}
                         for name, n in params.items()}).T


def classifier_shape(model, num_labels: int):
    """:class:`course_lib.fit.ModelShape` of an encoder fine-tuned with a classification head.

    fit's shape of a BERT-style config has the vocabulary as its output width, as if every token were scored
    against the vocabulary (a language-model head). A classifier scores each *sequence* against a few labels, so
    the output width is ``num_labels``; the embedding matrix stays the largest tensor.
    """
    import dataclasses

    from .. import fit

    if int(num_labels) < 1:
        raise ConfigError(f"num_labels={num_labels} — a classifier needs at least one label")
    inner = _transformer_of(model)
    shape = fit.model_shape(inner)
    if hasattr(inner, "parameters"):  # a loaded model: count its parameters instead of the config's formula
        from ..models import count_parameters

        shape = dataclasses.replace(shape, params=count_parameters(inner).total)
    return dataclasses.replace(shape, vocab=int(num_labels), tied=False)
