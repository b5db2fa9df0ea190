"""The course's own error types.

Every error a learner can cause (a bad data file, an unknown profile, a missing model package) is raised as a
subclass of :class:`CourseError`. Its message is one sentence naming *what* is wrong, *where*, and *how to fix
it*; the command line prints it as ``error: ...`` and notebooks show it without a traceback (see
:func:`course_lib.notebook.install_friendly_errors`).
"""

from __future__ import annotations


class CourseError(Exception):
    """Base class: a problem the user can fix, described in one sentence (``str(err)``)."""


class ConfigError(CourseError):
    """A setting is invalid: unknown profile or model name, impossible batch split, bad option value."""


class ModelNotAvailable(CourseError):
    """A model's weights cannot be found offline; the message carries the exact install command."""


class DataError(CourseError):
    """A data file cannot be used.

    Attributes:
        path: the file (or folder) at fault, as given by the user.
        row: 1-based row or line number in that file, or ``None`` when the problem is file-wide.
        column: the column/field at fault, or ``None``.
        problem: what is wrong, without location.
        fix: how to fix it.

    ``str(err)`` is ``"FILE[:ROW]: problem — fix"`` so the command line can print ``error: {err}``.
    """

    def __init__(self, path, problem: str, fix: str, row: int | None = None, column: str | None = None):
        self.path = str(path)
        self.row = row
        self.column = column
        self.problem = problem
        self.fix = fix
        where = self.path if row is None else f"{self.path}:{row}"
        super().__init__(f"{where}: {problem} — {fix}")
