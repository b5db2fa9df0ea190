"""Notebook comforts: the course's own errors shown as one short message instead of a wall of traceback."""

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
