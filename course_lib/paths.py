"""Where things are: the shipped data, and where runs write their outputs.

Outputs (adapters, checkpoints, plots, metrics) go under ``$COURSE_OUTPUT_DIR`` when set (the tests point it at a
temporary folder), else ``<repo>/outputs``. Nothing is created at import time.
"""

from __future__ import annotations

import os
from pathlib import Path

OUTPUT_ENV = "COURSE_OUTPUT_DIR"

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
NOTEBOOK_DIR = REPO_ROOT / "notebooks"


def data_path(*parts: str) -> Path:
    """Path of a shipped data file, e.g. ``data_path("support", "support_clean.jsonl")``."""
    return DATA_DIR.joinpath(*parts)


def output_dir(*parts: str, create: bool = True) -> Path:
    """Folder for a run's outputs, e.g. ``output_dir("03_training", "lora")``; created unless ``create=False``."""
    base = Path(os.environ[OUTPUT_ENV]).expanduser() if os.environ.get(OUTPUT_ENV) else REPO_ROOT / "outputs"
    folder = base.joinpath(*parts)
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    return folder
