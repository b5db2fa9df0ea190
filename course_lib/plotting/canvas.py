"""The blank figure every course plot starts from (no pyplot: headless, never kept in a global list), and saving one.
Used by every figure of notebooks 01-11."""

from __future__ import annotations

from pathlib import Path


def _figure(width: float = 6.0, height: float = 4.0):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def save_figure(fig, path, dpi: int = 120) -> Path:
    """Save ``fig`` to ``path`` (folders created; format from the suffix, e.g. ``.png``); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path
