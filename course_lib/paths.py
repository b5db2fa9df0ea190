"""Where things are: the shipped data, and where runs write their outputs.

Outputs (adapters, checkpoints, plots, metrics) go under ``$COURSE_OUTPUT_DIR`` when set (the tests point it at a
temporary folder), else ``<repo>/outputs``. Nothing is created at import time. :class:`RunDir` names the files
inside one training run's folder.
Taught in notebook 00; :class:`RunDir` is the layout notebooks 03 and 07 write.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

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


@dataclass(frozen=True)
class RunDir:
    """The layout of one training run's folder: the one place its file and folder names are written down.

    ``RunDir(folder)`` names the paths; it creates and reads nothing. Which code writes each entry::

        <run>/                         train() (notebook 03, `python -m course_lib train`), train_dpo() (08),
        |                              retrain() (07: one version folder vNNN/ of a RunRegistry)
        |-- checkpoints/               CHECKPOINTS: the Trainer's checkpoint-<step>/ folders (train, train_dpo)
        |-- adapter/                   ADAPTER: the final LoRA adapter (train with method="lora", train_dpo,
        |   |                          retrain: the new adapter of the version)
        |   |-- adapter_config.json    ADAPTER_CONFIG_FILE: written by peft; marks a folder as a LoRA adapter
        |   `-- course_base_model.txt  BASE_MODEL_FILE: registry name of the base model (train, LoRA)
        |-- model/                     MODEL: the final full weights (train with method="full"; its
        |                              MODEL_CONFIG_FILE, config.json, is written by transformers)
        |-- parents/00, parents/01 ... PARENTS: the ancestors' adapters, oldest first (retrain, notebook 07)
        |-- train_config.json          TRAIN_CONFIG_FILE: resolved config, seed, profile (train)
        |-- history.json               HISTORY_FILE: the Trainer's log (train, train_dpo)
        |-- metrics.json               METRICS_FILE: the run's numbers (train, train_dpo, retrain)
        |-- stamp.json                 STAMP_FILE: the reproducibility stamp (Runtime.write_stamp: train, retrain)
        |-- lineage.json               LINEAGE_FILE: base model + adapter folders in merge order (retrain)
        `-- run.json                   RUN_FILE: every training data file so far, oldest first (retrain)

    A run without ``lineage.json`` is a plain train() run: its chain is ``adapter/`` alone
    (``continual.run_adapters``).
    """

    folder: Path

    CHECKPOINTS: ClassVar[str] = "checkpoints"
    ADAPTER: ClassVar[str] = "adapter"
    MODEL: ClassVar[str] = "model"
    PARENTS: ClassVar[str] = "parents"
    ADAPTER_CONFIG_FILE: ClassVar[str] = "adapter_config.json"
    MODEL_CONFIG_FILE: ClassVar[str] = "config.json"
    BASE_MODEL_FILE: ClassVar[str] = "course_base_model.txt"
    TRAIN_CONFIG_FILE: ClassVar[str] = "train_config.json"
    HISTORY_FILE: ClassVar[str] = "history.json"
    METRICS_FILE: ClassVar[str] = "metrics.json"
    STAMP_FILE: ClassVar[str] = "stamp.json"
    LINEAGE_FILE: ClassVar[str] = "lineage.json"
    RUN_FILE: ClassVar[str] = "run.json"

    def __post_init__(self):
        object.__setattr__(self, "folder", Path(self.folder))

    @classmethod
    def final_name(cls, method: str) -> str:
        """Name of the final folder of a run trained with ``method``: ``adapter`` (LoRA) or ``model`` (full)."""
        return cls.ADAPTER if method == "lora" else cls.MODEL

    @classmethod
    def parent_name(cls, n: int) -> str:
        """The ``n``-th ancestor's adapter folder, relative to the run, as ``lineage.json`` lists it: ``parents/00``."""
        return f"{cls.PARENTS}/{n:02d}"

    @property
    def checkpoints(self) -> Path:
        return self.folder / self.CHECKPOINTS

    @property
    def adapter(self) -> Path:
        return self.folder / self.ADAPTER

    @property
    def model(self) -> Path:
        return self.folder / self.MODEL

    def final(self, method: str) -> Path:
        """The final ``adapter/`` (``method="lora"``) or ``model/`` (``"full"``) folder."""
        return self.folder / self.final_name(method)

    def parent(self, n: int) -> Path:
        """The ``n``-th ancestor's adapter folder: ``<run>/parents/NN``."""
        return self.folder / self.parent_name(n)

    @property
    def base_model_file(self) -> Path:
        return self.adapter / self.BASE_MODEL_FILE

    @property
    def train_config(self) -> Path:
        return self.folder / self.TRAIN_CONFIG_FILE

    @property
    def history(self) -> Path:
        return self.folder / self.HISTORY_FILE

    @property
    def metrics(self) -> Path:
        return self.folder / self.METRICS_FILE

    @property
    def stamp(self) -> Path:
        return self.folder / self.STAMP_FILE

    @property
    def lineage(self) -> Path:
        return self.folder / self.LINEAGE_FILE

    @property
    def run_info(self) -> Path:
        """``run.json``: the training data history of a retrained version."""
        return self.folder / self.RUN_FILE
