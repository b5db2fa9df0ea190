"""Results of a model (or adapter) on one test set: :class:`EvalResult`, the comparison table of several, and
saving them as JSON + CSV (never half-written).
Taught in notebook 04; notebooks 03-08 build their comparison tables with it."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..files import write_text_atomic


@dataclass
class EvalResult:
    """One model (or adapter) scored on one test set.

    Attributes:
        name: label for tables (e.g. ``"zero-shot"``, ``"LoRA r=8"``).
        metrics: corpus-level numbers (see :func:`generation_metrics` / :func:`classification_metrics`).
        examples: per-example table (a pandas DataFrame) or ``None``.
        info: anything else worth saving (seconds, trainable parameters, adapter path).
    """

    name: str
    metrics: dict
    examples: object = None
    info: dict = field(default_factory=dict)

    def row(self) -> dict:
        """Flat dict for a comparison table: ``model``, the scalar metrics, then ``info``."""
        scalars = {k: v for k, v in self.metrics.items() if isinstance(v, (int, float, str, bool)) or v is None}
        return {"model": self.name, **scalars, **self.info}


def comparison_table(results, sort_by: str | None = None, ascending: bool = False):
    """One row per model: a DataFrame from :class:`EvalResult` objects or a ``{name: metrics-dict}`` mapping.

    Args:
        sort_by: optional column to sort by (e.g. ``"rougeL"``); ``ascending=False`` puts the best first.
    """
    import pandas as pd

    if isinstance(results, dict):
        results = [EvalResult(name=k, metrics=v) for k, v in results.items()]
    rows = [r.row() for r in results]
    if not rows:
        raise ConfigError("no results to compare — pass at least one EvalResult or {name: metrics}")
    table = pd.DataFrame(rows).set_index("model")
    if sort_by is not None:
        if sort_by not in table:
            raise ConfigError(f"cannot sort by {sort_by!r} — the table has: {', '.join(table.columns)}")
        table = table.sort_values(sort_by, ascending=ascending)
    return table


def _jsonable(value):
    """NaN -> None and numpy scalars -> Python numbers, so the JSON is strict and readable elsewhere."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, TypeError):
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def save_results(results, folder, stem: str = "results") -> dict[str, Path]:
    """Save evaluation results as ``<stem>.json`` and ``<stem>.csv`` in ``folder``; return both paths.

    ``results`` is one :class:`EvalResult`, a list of them, or a DataFrame (e.g. a :func:`comparison_table`).
    JSON holds every metric (and per-example rows); the CSV holds the comparison table, or the per-example table
    for a single result. Files are written to a temporary name and renamed, so an interrupted save never leaves
    a half-written file.
    """
    import pandas as pd

    folder = Path(folder)
    if isinstance(results, EvalResult):
        results = [results]
    if isinstance(results, pd.DataFrame):
        payload = {"table": _jsonable(results.reset_index().to_dict(orient="records"))}
        csv_text = results.to_csv()
    else:
        results = list(results)
        if not results or not all(isinstance(r, EvalResult) for r in results):
            raise ConfigError("save_results takes an EvalResult, a list of them or a DataFrame")
        payload = {"results": [
            {"name": r.name, "metrics": _jsonable(r.metrics), "info": _jsonable(r.info),
             "examples": (_jsonable(r.examples.to_dict(orient="records")) if r.examples is not None else None)}
            for r in results]}
        if len(results) == 1 and results[0].examples is not None:
            csv_text = results[0].examples.to_csv(index=False)
        else:
            csv_text = comparison_table(results).to_csv()
    json_path, csv_path = folder / f"{stem}.json", folder / f"{stem}.csv"
    write_text_atomic(json_path, json.dumps(payload, indent=2, ensure_ascii=False))
    write_text_atomic(csv_path, csv_text)
    return {"json": json_path, "csv": csv_path}
