"""Notebook comforts: the course's own errors shown as one short message instead of a wall of traceback, the
course's figures shown as pictures, and the one optional import of ``ipywidgets`` that the course's widgets share."""

from __future__ import annotations

from .errors import CourseError

HINT = "(a course check stopped this cell: fix what the message says and run it again; %tb shows the traceback)"


def _show_course_error(shell, etype, value, tb, tb_offset=None):
    """IPython custom exception handler: the one-sentence message and a hint, no traceback.

    The cell still counts as failed (papermill, nbval and "Run all" stop there).
    """
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset, exception_only=True)
    print(HINT)


def install_friendly_errors() -> bool:
    """Register the short display for :class:`CourseError` in the running IPython kernel; False outside one."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.set_custom_exc((CourseError,), _show_course_error)
    return True


def figure_png(fig, dpi: int = 90) -> bytes:
    """``fig`` rendered as PNG bytes (for ``IPython.display.Image`` or a ``_repr_png_``).

    It lives here, below :mod:`course_lib.plotting`, so the display hook of :func:`show_figures_inline` (installed
    by ``runtime.setup`` in every notebook) needs nothing above the core layer; ``plotting.figure_png`` is the same
    function.
    """
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def show_figures_inline() -> bool:
    """Display a matplotlib ``Figure`` that ends a cell as a PNG in the running IPython kernel; False outside one.

    :mod:`course_lib.plotting` builds figures without pyplot (headless-safe, no global figure list). IPython only
    learns to draw a ``Figure`` when pyplot's inline backend starts, so without this a plot would show as the text
    ``<Figure size 600x400 with 1 Axes>`` — in JupyterLab and in the executed copies ``make course`` writes.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return False
    from matplotlib.figure import Figure

    # bbox_inches is left as drawn: the course's figures use a constrained layout that already fits their labels.
    shell.display_formatter.formatters["image/png"].for_type(Figure, lambda fig: figure_png(fig, dpi=100))
    return True


def ipywidgets_or_none(fallback: str):
    """The ``ipywidgets`` module, or ``None`` (printing that ``fallback`` decides instead) when it is missing.

    The course's widgets (notebook 08's A/B chooser, notebook 10's labelling widget) need no test for a front end:
    each fills in its default choices *before* it is drawn (the stated rule, the shipped labels), and a click
    overrules one. Headless (papermill, the tests) the widget is built but nobody clicks, so the defaults stand.
    Only a missing ``ipywidgets`` needs handling, here, once for both.
    """
    try:
        import ipywidgets
    except ImportError:
        print(f"ipywidgets is not installed: {fallback}")
        return None
    return ipywidgets
