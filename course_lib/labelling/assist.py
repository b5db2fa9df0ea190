"""Model-assisted labelling: how many suggestions the labeller accepted, and the time that saves, with what was
measured kept apart from what was assumed (notebook 10)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from ..errors import ConfigError
from .session import BY_ACCEPTING, BY_PERSON, LabelSession

# Decisions a person must have timed in the widget, of each kind, before their median replaces a stated time.
MIN_TIMED = 3


@dataclass(frozen=True)
class TimeSaved:
    """Labelling N items with suggestions against labelling them from scratch.

    Counted (measured): ``accepted`` items whose final label is the suggestion, ``corrected`` the others
    (``accepted + corrected = n``). Timed (measured when ``measured``, else the stated assumptions):
    ``seconds_to_label``, a label chosen from scratch among ``n_labels`` categories, and ``seconds_to_check``,
    reading a suggestion and confirming it. A correction costs both: the suggestion is read, then overruled.

    So, in seconds: without suggestions ``n * seconds_to_label``; with them ``accepted * seconds_to_check +
    corrected * (seconds_to_check + seconds_to_label)``. ``choices_saved``: the ``n_labels``-way choices that
    became a yes (one per accepted suggestion).
    """

    n: int
    n_labels: int
    accepted: int
    corrected: int
    seconds_to_label: float
    seconds_to_check: float
    measured: bool

    @property
    def seconds_without(self) -> float:
        return self.n * self.seconds_to_label

    @property
    def seconds_with(self) -> float:
        return self.accepted * self.seconds_to_check + self.corrected * (self.seconds_to_check + self.seconds_to_label)

    @property
    def seconds_saved(self) -> float:
        """Positive when suggestions save time; negative when checking wrong ones costs more than they save."""
        return self.seconds_without - self.seconds_with

    @property
    def choices_saved(self) -> int:
        return self.accepted

    @property
    def acceptance(self) -> float:
        return self.accepted / self.n

    def __str__(self) -> str:
        source = "measured in the widget" if self.measured else "assumed"
        return (f"{self.accepted} of {self.n} suggestions accepted ({100 * self.acceptance:.0f} %), "
                f"{self.corrected} corrected: {self.seconds_without / 60:.1f} min from scratch, "
                f"{self.seconds_with / 60:.1f} min with suggestions, {self.seconds_saved / 60:+.1f} min saved "
                f"(times per label {source}: {self.seconds_to_label:.1f} s to choose 1 of {self.n_labels}, "
                f"{self.seconds_to_check:.1f} s to check a suggestion)")


def time_saved(suggestions, final_labels, n_labels: int, seconds_to_label: float, seconds_to_check: float,
               session: LabelSession | None = None) -> TimeSaved:
    """Count accepted and corrected suggestions (``suggestions[i] == final_labels[i]``) and price them.

    ``seconds_to_label`` / ``seconds_to_check`` are the stated times. When ``session`` holds at least
    :data:`MIN_TIMED` timed decisions of each kind (accepted suggestions, and labels a person clicked), their
    medians replace them and the result says ``measured``.
    """
    suggestions, final_labels = list(suggestions), list(final_labels)
    if len(suggestions) != len(final_labels) or not suggestions:
        raise ConfigError(f"{len(suggestions)} suggestions but {len(final_labels)} final labels — give one of "
                          "each per item, and at least one item")
    if seconds_to_label <= 0 or seconds_to_check < 0:
        raise ConfigError(f"times must be positive (label {seconds_to_label} s, check {seconds_to_check} s) — "
                          "state how long one label takes")
    accepted = sum(s == f for s, f in zip(suggestions, final_labels))
    timed = _timed_medians(session) if session is not None else None
    if timed is not None:
        seconds_to_label, seconds_to_check = timed
    return TimeSaved(len(suggestions), n_labels, accepted, len(suggestions) - accepted, float(seconds_to_label),
                     float(seconds_to_check), timed is not None)


def _timed_medians(session: LabelSession) -> tuple[float, float] | None:
    """``(median seconds of a clicked label, median seconds of an accepted suggestion)``, or ``None`` when
    fewer than :data:`MIN_TIMED` of either were timed. A clicked label was chosen with the suggestion in view,
    so it stands for a label from scratch (slightly over: it includes a glance at the suggestion)."""
    def times(kind):
        return [t for t, s in zip(session.seconds, session.sources) if s == kind and t is not None]

    clicked, accepted = times(BY_PERSON), times(BY_ACCEPTING)
    if len(clicked) < MIN_TIMED or len(accepted) < MIN_TIMED:
        return None
    return statistics.median(clicked), statistics.median(accepted)
