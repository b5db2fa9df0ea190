"""The confusion matrix of a classifier's evaluation as a heat map (notebook 04)."""

from __future__ import annotations

from .canvas import _figure


def confusion_matrix(table, title: str = "Confusion matrix", cmap: str = "Blues", xlabel: str = "predicted",
                     ylabel: str = "gold"):
    """Heat map of a :func:`~course_lib.evaluation.confusion_table` (rows gold, columns predicted).

    Counts are written in each cell (or shares, when the table was normalised). ``xlabel`` / ``ylabel`` name the
    axes: two labellers instead of gold and a model in notebook 10.
    """
    import numpy as np

    values = np.asarray(table, dtype=float)
    n = values.shape[0]
    fig = _figure(1.2 + 0.9 * values.shape[1] + 1.5, 1.2 + 0.9 * n)  # a column per predicted label (rows may be fewer)
    ax = fig.add_subplot()
    image = ax.imshow(values, cmap=cmap, vmin=0)
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xticks(range(values.shape[1]), labels=list(table.columns), rotation=30, ha="right")
    ax.set_yticks(range(n), labels=list(table.index))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    integer = np.allclose(values, values.round())
    top = values.max() if values.size else 0
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            text = f"{int(values[i, j])}" if integer else f"{values[i, j]:.2f}"
            ax.text(j, i, text, ha="center", va="center",
                    color="white" if top and values[i, j] > top / 2 else "black")
    ax.set_title(title)
    return fig
