"""Figures for the course: loss curves, confusion matrices, comparison bars, hyperparameter-search trials, memory.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot, so it works headless (tests,
papermill, a server without a display), is shown once when it is the last value of a notebook cell, and never
piles up in pyplot's global figure list. Save one with ``fig.savefig(path)`` or :func:`save_figure`.
:func:`history_table` is the one table here: a Trainer's log, the rows the loss and metric curves are drawn from.

One concern per module; every name is used as ``course_lib.plotting.<name>``, re-exported below:

* ``canvas``: the blank figure every plot starts from, :func:`save_figure`
* ``history``: :func:`history_table`
* ``curves``: :func:`loss_curves`, :func:`metric_curves`, :func:`preference_curves`, :func:`compare_curves`,
  :func:`interval_curves`
* ``confusion``: :func:`confusion_matrix`
* ``bars``: :func:`comparison_bars`, :func:`memory_breakdown`
* ``trials``: :func:`trials_plot`
* ``masks``: :func:`mask_figure`

``figure_png`` lives in the core layer (``course_lib.notebook``, for the notebook display hook) and is
re-exported here.
"""

from ..notebook import figure_png  # re-exported: lives in the core layer, for the notebook display hook
from .bars import comparison_bars, memory_breakdown
from .canvas import save_figure
from .confusion import confusion_matrix
from .curves import compare_curves, interval_curves, loss_curves, metric_curves, preference_curves
from .history import history_table
from .masks import mask_figure
from .trials import trials_plot

__all__ = [
    "compare_curves", "comparison_bars", "confusion_matrix", "figure_png", "history_table", "interval_curves",
    "loss_curves", "mask_figure", "memory_breakdown", "metric_curves", "preference_curves", "save_figure",
    "trials_plot",
]
