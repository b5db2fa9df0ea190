"""Bar charts: models compared metric by metric (notebooks 03-07), predicted peak memory by part (notebook 02)."""

from __future__ import annotations

import math

from ..errors import ConfigError
from .canvas import _figure


def comparison_bars(table, metrics=None, title: str = "Model comparison", share_scale: bool = False,
                    labels: dict | None = None):
    """Grouped bars: one group per metric, one bar per model (rows of a comparison table).

    Metrics on different scales (BLEU 0..100 and ROUGE 0..1) get one small panel each, so none is flattened.
    ``share_scale``: every panel on the same 0..1 axis, for shares and accuracies, so that panels compare at a
    glance. ``labels``: panel titles in words, ``{column: "facts only in the knowledge base"}``.
    """
    import numpy as np

    metrics = list(metrics) if metrics is not None else [c for c in table.columns
                                                         if np.issubdtype(table[c].dtype, np.number)]
    if not metrics:
        raise ConfigError("no numeric metric columns to plot — pass metrics=[...] naming columns of the table")
    missing = [m for m in metrics if m not in table]
    if missing:
        raise ConfigError(f"metric(s) {', '.join(missing)} not in the table — it has: {', '.join(table.columns)}")
    cols = min(3, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    fig = _figure(3.2 * cols, 2.8 * rows)
    names = [str(i) for i in table.index]
    colours = [f"C{i % 10}" for i in range(len(names))]
    for k, metric in enumerate(metrics):
        ax = fig.add_subplot(rows, cols, k + 1)
        values = table[metric].astype(float).to_numpy()
        bars = ax.bar(range(len(names)), values, color=colours)
        ax.bar_label(bars, labels=[f"{v:.3g}" if np.isfinite(v) else "n/a" for v in values], fontsize=7)
        ax.set_xticks(range(len(names)), labels=names, rotation=25, ha="right", fontsize=8)
        ax.set_title((labels or {}).get(metric, metric), fontsize=10)
        if share_scale:
            ax.set_ylim(0, 1.1)  # room above 1.0 for the bar label
        else:
            ax.margins(y=0.15)
    fig.suptitle(title)
    return fig


_PART_LABELS = {"weights": "weights", "autocast_copies": "autocast copies", "gradients": "gradients",
                "optimizer": "optimizer states", "activations": "activations", "logits": "logits",
                "workspace": "overhead"}


def memory_breakdown(estimates: dict, measured: dict | None = None, title: str = "Peak memory, by part"):
    """Stacked bars of predicted peak memory: one bar per :class:`~course_lib.fit.FitEstimate`, split into the parts
    alive at its peak (``FitEstimate.peak_parts()``: they add up to the predicted peak), in GiB or MiB.

    Args:
        estimates: ``{bar label: FitEstimate}``.
        measured: optional ``{bar label: measured peak in bytes}``, drawn as a dashed black line across that bar.
    """
    if not estimates:
        raise ConfigError("no estimates to plot — pass {label: fit.estimate(...)}")
    measured = measured or {}
    unknown = [k for k in measured if k not in estimates]
    if unknown:
        raise ConfigError(f"measured peaks for {unknown} have no estimate — use the same labels as the estimates")
    labels = list(estimates)
    biggest = max(max(e.total for e in estimates.values()), max(measured.values(), default=0))
    unit, scale = ("GiB", 2 ** 30) if biggest >= 2 ** 30 else ("MiB", 2 ** 20)
    fig = _figure(3.0 + 1.3 * len(labels), 4.2)
    ax = fig.add_subplot()
    bottoms = [0.0] * len(labels)
    for k, (part, name) in enumerate(_PART_LABELS.items()):
        values = [estimates[label].peak_parts()[part] / scale for label in labels]
        if not any(values):
            continue
        ax.bar(range(len(labels)), values, bottom=bottoms, label=name, color=f"C{k}")
        bottoms = [b + v for b, v in zip(bottoms, values)]
    for i, label in enumerate(labels):
        top = bottoms[i]
        if label in measured:
            y = measured[label] / scale
            ax.plot([i - 0.45, i + 0.45], [y, y], "k--", linewidth=2,
                    label="measured peak" if "measured peak" not in ax.get_legend_handles_labels()[1] else None)
            top = max(top, y)
        ax.annotate(f"{estimates[label].total / scale:.3g}", (i, top), xytext=(0, 3), textcoords="offset points",
                    ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(labels)), labels=labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(f"peak memory ({unit})")
    ax.set_title(title)
    ax.margins(y=0.12)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="y", alpha=0.3)
    return fig
