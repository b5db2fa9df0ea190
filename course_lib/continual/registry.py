"""Versioned runs ``v001, v002, ...`` under one folder, which one is in production, and loading a run.

Notebook 07. A run is a chain of LoRA adapters (``lineage.json``); :func:`load_run` merges them into the base.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import ConfigError, DataError
from ..files import write_json_atomic
from ..paths import RunDir
from ..runtime import DEFAULT_DECODER

_VERSION = re.compile(r"^v(\d{3,})$")


@dataclass
class RunRecord:
    """One version in a :class:`RunRegistry`.

    Attributes:
        version: ``"v001"``, ``"v002"``, ...
        parent: the version (or outside folder) it was trained from, ``None`` for the first.
        metrics: evaluation numbers (e.g. ``old_loss``, ``new_loss``), as written to ``metrics.json``.
        data: where its training data came from and how much (new, replayed, feedback).
        status: ``"production"``, ``"rejected"`` (failed the gate) or ``"retired"`` (replaced by a newer one).
        decision: the gate's reasons, one line each.
    """

    version: str
    parent: str | None
    metrics: dict
    data: dict = field(default_factory=dict)
    status: str = "candidate"
    decision: list[str] = field(default_factory=list)


class RunRegistry:
    """Versioned runs under one folder: ``ROOT/v001/``, ``ROOT/v002/``, ... and ``ROOT/registry.json``.

    Each version folder is a run folder (:class:`course_lib.paths.RunDir`): the model (``adapter/``, its
    ancestors' adapters in ``parents/``), ``metrics.json`` and ``stamp.json``
    (:meth:`course_lib.runtime.Runtime.write_stamp`). ``registry.json`` lists every version and
    names the one in production. Writes go through a temporary file and a rename, so a crash never leaves a
    half-written registry.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    @property
    def registry_file(self) -> Path:
        return self.root / "registry.json"

    def _read(self) -> dict:
        if not self.registry_file.exists():
            return {"production": None, "runs": []}
        try:
            return json.loads(self.registry_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise DataError(self.registry_file, f"not valid JSON ({err.msg})", "restore it from the version "
                            "folders' metrics.json or start a new --out folder") from None

    def _write(self, state: dict) -> None:
        write_json_atomic(self.registry_file, state)

    def runs(self) -> list[RunRecord]:
        """Every recorded version, oldest first."""
        return [RunRecord(**r) for r in self._read()["runs"]]

    def get(self, version: str) -> RunRecord:
        for run in self.runs():
            if run.version == version:
                return run
        raise ConfigError(f"run {version!r} is not in {self.registry_file} — known: "
                          f"{', '.join(r.version for r in self.runs()) or 'none'}")

    @property
    def production(self) -> str | None:
        """The version currently in production (``None`` before the first promotion)."""
        return self._read()["production"]

    def folder(self, version: str) -> Path:
        return self.root / version

    def next_version(self) -> str:
        """The next free version name (looks at the registry and at folders, so an aborted run is never reused)."""
        numbers = [int(m.group(1)) for p in (self.root.iterdir() if self.root.exists() else [])
                   if (m := _VERSION.match(p.name.lstrip(".").split(".tmp")[0]))]
        numbers += [int(_VERSION.match(r.version).group(1)) for r in self.runs()]
        return f"v{max(numbers, default=0) + 1:03d}"

    def record(self, run: RunRecord, promote: bool) -> RunRecord:
        """Add ``run``; when ``promote``, make it production and retire the previous one, else mark it rejected."""
        state = self._read()
        if any(r["version"] == run.version for r in state["runs"]):
            raise ConfigError(f"run {run.version} is already recorded in {self.registry_file}")
        if promote:
            for r in state["runs"]:
                if r["status"] == "production":
                    r["status"] = "retired"
            state["production"] = run.version
            run.status = "production"
        else:
            run.status = "rejected"
        state["runs"].append(asdict(run))
        self._write(state)
        return run

    def rollback(self, version: str | None = None, reason: str = "rolled back by hand") -> RunRecord:
        """Put ``version`` (default: the newest retired version) back into production; return its record.

        The version's folder must still exist. The current production model becomes ``retired``; the reason is
        appended to the restored version's ``decision``, so the history shows the rollback.
        """
        state = self._read()
        runs = state["runs"]
        if version is None:
            retired = [r for r in runs if r["status"] == "retired"]
            if not retired:
                raise ConfigError(f"no retired version to roll back to in {self.registry_file} — name one: "
                                  f"{', '.join(r['version'] for r in runs) or 'none recorded'}")
            version = retired[-1]["version"]
        target = next((r for r in runs if r["version"] == version), None)
        if target is None:
            raise ConfigError(f"run {version!r} is not in {self.registry_file} — known: "
                              f"{', '.join(r['version'] for r in runs) or 'none'}")
        if not self.folder(version).is_dir():
            raise ConfigError(f"the folder of {version} ({self.folder(version)}) is gone — restore it from a backup "
                              "before rolling back to it")
        for r in runs:
            if r["status"] == "production" and r["version"] != version:
                r["status"] = "retired"
        target["status"] = "production"
        target["decision"] = [*target.get("decision", []), f"{reason} (was {state['production']})"]
        state["production"] = version
        self._write(state)
        return RunRecord(**target)

    def table(self):
        """A pandas DataFrame: one row per version with its status, parent, data counts and metrics."""
        import pandas as pd

        rows = [{"version": r.version, "status": r.status, "parent": r.parent, **r.data, **r.metrics}
                for r in self.runs()]
        return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------------------------
# Loading a run (a chain of LoRA adapters)
# ----------------------------------------------------------------------------------------------------------------

LINEAGE_FILE = RunDir.LINEAGE_FILE  # "lineage.json" and "run.json": the names live in paths.RunDir
RUN_FILE = RunDir.RUN_FILE


def run_adapters(folder: str | os.PathLike) -> tuple[str, list[Path]]:
    """The base model name and the adapter folders, oldest first, that make up the run in ``folder``.

    A run folder is what :func:`course_lib.train.train` writes (``adapter/`` + ``metrics.json`` + ``stamp.json``)
    and, for a retrained version, ``parents/00``, ``parents/01``, ... : the adapters of its ancestors, each trained
    on top of the previous ones merged into the weights (``lineage.json`` lists them). Copying the ancestors'
    adapters (a few MB each) keeps every version folder self-contained.
    """
    folder = Path(folder)
    run = RunDir(folder)
    if not folder.is_dir():
        raise ConfigError(f"run folder {folder} does not exist — pass the --out folder of `python -m course_lib "
                          "train` or a version folder such as runs/v001")
    if run.lineage.exists():
        info = json.loads(run.lineage.read_text(encoding="utf-8"))
        return info["base_model"], [folder / p for p in info["adapters"]]
    if (run.adapter / RunDir.ADAPTER_CONFIG_FILE).exists():
        base_file = run.base_model_file
        base = base_file.read_text(encoding="utf-8").strip() if base_file.exists() else DEFAULT_DECODER
        return base, [run.adapter]
    raise ConfigError(f"{folder} holds no LoRA adapter (adapter/adapter_config.json) — retraining starts from a LoRA "
                      "run: train one with `python -m course_lib train --method lora --out DIR`")


def load_run(folder, runtime=None):
    """Load a run as a plain model: the base decoder with every adapter of the chain merged in, in order.

    Returns ``(model, tokenizer)`` in eval mode. Merging (``W + (alpha / r) * B @ A``) makes the next adapter train
    on top of the run's behaviour, and inference needs no peft.
    """
    from peft import PeftModel

    from .. import models, train

    base, adapters = run_adapters(folder)
    model, tokenizer = models.load_causal_lm(base, runtime=runtime, verbose=False)
    for adapter in adapters:
        with train.quiet_peft_warning():
            model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    model.eval()
    return model, tokenizer
