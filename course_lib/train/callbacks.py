"""Trainer callbacks: time inside optimiser steps, the checkpoint completion marker, the live loss curve.

The classes subclass transformers' ``TrainerCallback``, so they are built on first use (:func:`_callbacks_module`)
and ``import course_lib.train`` stays cheap. Taught in notebook 03 (the live curve, crash-safe checkpoints); notebook
08's DPO run draws its own figure with the same live curve (loss, reward margin, log-probabilities).
"""

from __future__ import annotations

import time
from pathlib import Path

from .checkpoints import COMPLETE_MARKER

# (log key, label) of the numbers a text progress line shows, in this order; a key not in a log entry is skipped
# (the reward keys are logged by TRL's DPOTrainer only).
_TEXT_FIELDS = (("loss", "loss"), ("eval_loss", "eval_loss"), ("rewards/margins", "margin"),
                ("rewards/accuracies", "reward acc"), ("learning_rate", "lr"),
                ("useful_tokens_per_s", "tok/s"), ("grad_norm", "grad_norm"))


def _in_jupyter_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _progress_line(title: str, state, logs: dict) -> str | None:
    """One text line for a log entry, ``[title] step 3/10  loss 2.31  lr 0.0002``; ``None`` when it has no number."""
    parts = [f"step {state.global_step}/{state.max_steps}"]
    for key, label in _TEXT_FIELDS:
        if key in logs:
            value = logs[key]
            parts.append(f"{label} {value:.3g}" if isinstance(value, float) else f"{label} {value}")
    return f"[{title}] " + "  ".join(parts) if len(parts) > 1 else None


def _step_timer_class(base):
    class StepTimer(base):
        """Time spent inside optimiser steps, into a :class:`~course_lib.train.measure.Throughput`."""

        def __init__(self, throughput):
            self.throughput = throughput
            self._start = None

        def on_step_begin(self, args, state, control, **kwargs):
            self._start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if self._start is not None:
                self.throughput.add_time(time.perf_counter() - self._start)
                self._start = None

    return StepTimer


def _checkpoint_marker_class(base):
    from ..distributed import wait_for_everyone

    class CheckpointMarker(base):
        """Write :data:`COMPLETE_MARKER` into a checkpoint once the Trainer has finished saving it."""

        def on_save(self, args, state, control, **kwargs):
            wait_for_everyone()  # several processes: each rank's rng_state_<rank>.pth is written before the marker
            if state.is_world_process_zero:
                folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                if folder.is_dir():
                    (folder / COMPLETE_MARKER).write_text(f"step {state.global_step}\n", encoding="utf-8")

    return CheckpointMarker


def _live_curve_class(base):
    class LiveCurve(base):
        """Live training feedback: an updating loss figure in Jupyter, one text line per log otherwise.

        ``mode``: ``"auto"`` (figure inside a Jupyter kernel, text elsewhere), ``"plot"``, ``"text"`` or ``"off"``.
        The figure is redrawn at most every ``min_interval`` seconds (drawing costs ~0.1 s) and at the end.
        ``figure``: the function that draws it from the log and a title (default ``plotting.loss_curves``).
        """

        def __init__(self, mode: str = "auto", min_interval: float = 3.0, title: str = "training", figure=None):
            self.mode = mode
            self.min_interval = min_interval
            self.title = title
            self.figure = figure
            self._handle = None
            self._last_draw = 0.0

        def on_train_begin(self, args, state, control, **kwargs):
            if not state.is_world_process_zero:
                self.mode = "off"
            elif self.mode == "auto":
                self.mode = "plot" if _in_jupyter_kernel() else "text"

        def _draw(self, state):
            from IPython.display import Image, display

            from ..plotting import figure_png, loss_curves

            draw = self.figure or loss_curves
            fig = draw(state.log_history, title=f"{self.title}: step {state.global_step}/{state.max_steps}")
            png = figure_png(fig)
            if self._handle is None:
                self._handle = display(Image(data=png), display_id=True)
            else:
                self._handle.update(Image(data=png))
            self._last_draw = time.perf_counter()

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            if not state.is_world_process_zero:  # also before on_train_begin (the starting evaluation)
                return
            if self.mode == "text":
                line = _progress_line(self.title, state, logs)
                if line is not None:
                    print(line, flush=True)
            elif self.mode == "plot" and time.perf_counter() - self._last_draw >= self.min_interval:
                self._draw(state)

        def on_train_end(self, args, state, control, **kwargs):
            if self.mode == "plot":
                self._draw(state)

    return LiveCurve


def _callbacks_module():
    """``(StepTimer, CheckpointMarker, LiveCurve)``: the callback classes, built on ``TrainerCallback`` now."""
    from transformers import TrainerCallback

    return (_step_timer_class(TrainerCallback), _checkpoint_marker_class(TrainerCallback),
            _live_curve_class(TrainerCallback))
