"""Measurements of a training run: peak memory (:class:`PeakMemory`) and tokens per second (:class:`Throughput`).

Taught in notebooks 02 (a measured peak next to the estimate) and 03 (useful vs computed tokens/s).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path


class PeakMemory:
    """Context manager measuring peak memory of a block.

    * CUDA: ``torch.cuda.max_memory_allocated`` (tensors only, not the allocator's cache), reset on entry.
    * CPU on Linux: the process's peak resident set (``VmHWM``), reset on entry through ``/proc/self/clear_refs``.
    * Elsewhere: the largest RSS seen by a thread sampling ``psutil`` every 20 ms (may miss short spikes).

    Attributes after the block: ``peak_bytes``, ``start_bytes`` (RSS or allocated at entry), ``kind``.
    """

    def __init__(self, device: str = "cpu"):
        self.device = device
        self.peak_bytes = 0
        self.start_bytes = 0
        self.kind = ""
        self._stop = threading.Event()
        self._thread = None

    @staticmethod
    def _rss() -> int:
        import psutil

        return psutil.Process().memory_info().rss

    @staticmethod
    def _vmhwm() -> int:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise OSError("no VmHWM line in /proc/self/status")

    def __enter__(self):
        if self.device == "cuda":
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.start_bytes = torch.cuda.memory_allocated()
            self.kind = "CUDA allocated (peak)"
            return self
        self.start_bytes = self._rss()
        try:
            Path("/proc/self/clear_refs").write_text("5", encoding="ascii")  # "5" resets the peak RSS (VmHWM)
            self._vmhwm()
            self.kind = "process RSS (peak, VmHWM)"
        except OSError:
            self.kind = "process RSS (peak, sampled)"
            self.peak_bytes = self.start_bytes
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.02):
            self.peak_bytes = max(self.peak_bytes, self._rss())

    def __exit__(self, *exc):
        if self.device == "cuda":
            import torch

            self.peak_bytes = torch.cuda.max_memory_allocated()
        elif self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.peak_bytes = max(self.peak_bytes, self._rss())
        else:
            self.peak_bytes = self._vmhwm()
        return False


@dataclass
class Throughput:
    """Token counters shared by the trainer (counts) and a callback (time).

    useful: non-padding tokens processed in training steps; computed: all positions (batch x padded length);
    busy_s: seconds inside optimiser steps (forward, backward, optimiser update; evaluation and saving excluded).
    """

    pad_token_id: int
    useful: int = 0
    computed: int = 0
    busy_s: float = 0.0
    _window: list = field(default_factory=lambda: [0, 0, 0.0])  # since the last log: useful, computed, seconds

    def add_batch(self, batch: dict) -> None:
        from ..formatting import count_tokens

        useful, computed = count_tokens(batch, self.pad_token_id)
        self.useful += useful
        self.computed += computed
        self._window[0] += useful
        self._window[1] += computed

    def add_time(self, seconds: float) -> None:
        self.busy_s += seconds
        self._window[2] += seconds

    def take_window(self) -> dict:
        """Tokens/s since the previous call (for a log line), then reset the window."""
        useful, computed, seconds = self._window
        self._window = [0, 0, 0.0]
        if seconds <= 0:
            return {}
        return {"useful_tokens_per_s": useful / seconds, "computed_tokens_per_s": computed / seconds}

    @property
    def useful_per_s(self) -> float:
        return self.useful / self.busy_s if self.busy_s else 0.0

    @property
    def computed_per_s(self) -> float:
        return self.computed / self.busy_s if self.busy_s else 0.0
