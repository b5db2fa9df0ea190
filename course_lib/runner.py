"""Execute the course's notebooks headless (papermill) and summarise the run.

``make course`` calls ``python -m course_lib run-course``: every ``notebooks/NN_*.ipynb`` is executed in order into
``runs/<timestamp>/`` (executed copies with their outputs), followed by ``summary.md`` / ``summary.json``: notebook,
status, seconds, profile; the outputs of cells tagged ``figure:<name>`` are saved in ``runs/<timestamp>/figures/``.
The test suite uses :func:`execute_notebook` for its smoke runs, so both go through the same code.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from . import paths


@dataclass
class NotebookRun:
    """Outcome of one notebook execution.

    Attributes:
        notebook: file name, e.g. ``00_setup_and_first_generation.ipynb``.
        status: ``"ok"`` or ``"failed"``.
        seconds: wall-clock time of the execution, kernel start included.
        profile: the profile the notebook was asked to use (``PROFILE`` parameter).
        output: path of the executed copy.
        error: one-line description of the failure (exception type and message), else ``""``.
    """

    notebook: str
    status: str
    seconds: float
    profile: str
    output: str
    error: str = ""


def course_notebooks(folder: Path | None = None) -> list[Path]:
    """The lesson notebooks, in course order (``NN_name.ipynb``; solutions and scratch files excluded)."""
    folder = folder or paths.NOTEBOOK_DIR
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def execute_notebook(notebook: Path, output: Path, profile: str = "auto", parameters: dict | None = None,
                     cell_timeout: int = 1800, progress: bool = False) -> NotebookRun:
    """Run ``notebook`` with papermill, its working directory being the notebook's folder.

    Args:
        notebook: the source notebook.
        output: where the executed copy is written (parent folders are created).
        profile: value injected as the ``PROFILE`` parameter.
        parameters: further papermill parameters.
        cell_timeout: seconds one cell may run before the run fails.
        progress: show papermill's per-cell progress bar.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    output.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    error = ""
    try:
        papermill.execute_notebook(
            str(notebook), str(output), parameters={"PROFILE": profile, **(parameters or {})},
            cwd=str(notebook.parent), kernel_name="python3", progress_bar=progress, execution_timeout=cell_timeout,
        )
    except PapermillExecutionError as err:
        error = f"cell {err.exec_count}: {err.ename}: {str(err.evalue).splitlines()[0] if err.evalue else ''}"
    except Exception as err:  # noqa: BLE001 - any other failure (kernel death, timeout) is recorded, not raised
        error = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    seconds = time.perf_counter() - start
    return NotebookRun(notebook.name, "failed" if error else "ok", round(seconds, 1), profile, str(output), error)


FIGURE_TAG = "figure:"


def export_figures(executed: Path, folder: Path) -> list[Path]:
    """Save the outputs of an executed notebook's cells tagged ``figure:<name>`` as files in ``folder``.

    A cell's PNG output becomes ``<name>.png`` (several: ``<name>-2.png``, ...); a cell without an image but with a
    text result (a table's plain-text form) becomes ``<name>.txt``. This is how the README's pictures are made from
    a ``make course`` run. Returns the files written (none for a notebook without such tags).
    """
    import base64

    cells = json.loads(Path(executed).read_text(encoding="utf-8")).get("cells", [])
    written = []
    for cell in cells:
        names = [t[len(FIGURE_TAG):] for t in cell.get("metadata", {}).get("tags", []) if t.startswith(FIGURE_TAG)]
        if not names:
            continue
        bundles = [o.get("data", {}) for o in cell.get("outputs", []) if o.get("data")]
        images = [b["image/png"] for b in bundles if "image/png" in b]
        folder.mkdir(parents=True, exist_ok=True)
        if images:
            for k, image in enumerate(images, 1):
                path = folder / (f"{names[0]}.png" if k == 1 else f"{names[0]}-{k}.png")
                path.write_bytes(base64.b64decode("".join(image) if isinstance(image, list) else image))
                written.append(path)
        elif bundles and "text/plain" in bundles[-1]:
            text = bundles[-1]["text/plain"]
            path = folder / f"{names[0]}.txt"
            path.write_text("".join(text) if isinstance(text, list) else text, encoding="utf-8")
            written.append(path)
    return written


CLAIMS_FILE = "claims.json"  # what a training notebook's check cell writes to its output folder
# Further measurements a check cell may keep beside its claims (notebook 07's losses per version), quoted in docs/.
EXTRA_CLAIMS_FILES = ("losses.json",)


def collect_claims(notebooks: list[Path], outputs: Path, folder: Path) -> list[Path]:
    """Copy each notebook's ``<outputs>/<notebook stem>/claims.json`` to ``folder/<stem>.json`` (and a
    ``losses.json`` beside it to ``folder/<stem>_losses.json``); return the copies.

    The check cell of a training notebook writes its headline measurements there (model vs baseline, difference
    and 95 % interval); notebooks without one are skipped.
    """
    import shutil

    copied = []
    for notebook in notebooks:
        targets = {CLAIMS_FILE: f"{notebook.stem}.json",
                   **{name: f"{notebook.stem}_{name}" for name in EXTRA_CLAIMS_FILES}}
        for name, target in targets.items():
            source = outputs / notebook.stem / name
            if source.exists():
                folder.mkdir(parents=True, exist_ok=True)
                copied.append(Path(shutil.copyfile(source, folder / target)))
    return copied


def keep_in_docs(run_dir: Path, docs: Path | None = None, claims: bool = True) -> list[Path]:
    """Keep a run's summary and (with ``claims``) its claims as the course's reference: ``docs/timings/<run>.{md,
    json}`` and ``docs/claims/<run>_<notebook>.json`` (what the README quotes; tests/test_docs_*.py check it
    against them)."""
    import shutil

    docs = docs or paths.REPO_ROOT / "docs"
    (docs / "timings").mkdir(parents=True, exist_ok=True)
    kept = [Path(shutil.copyfile(run_dir / f"summary.{suffix}", docs / "timings" / f"{run_dir.name}.{suffix}"))
            for suffix in ("md", "json")]
    files = sorted((run_dir / "claims").glob("*.json")) if claims else []
    if files:
        (docs / "claims").mkdir(parents=True, exist_ok=True)
    kept += [Path(shutil.copyfile(c, docs / "claims" / f"{run_dir.name}_{c.name}")) for c in files]
    return kept


# The column of cpu runs on CPUs without native bf16 (their stamp's precision is fp32): the same budgets train 2-3
# times slower there, so their times are quoted apart, as "fp32-only".
FP32_CPU_COLUMN = "cpu-fp32"


def timing_column(profile: str, precision: str | None) -> str:
    """The column a kept run's times belong to: its profile, except cpu runs in fp32 (:data:`FP32_CPU_COLUMN`)."""
    return FP32_CPU_COLUMN if profile == "cpu" and precision == "fp32" else profile


def kept_seconds(docs: Path | None = None) -> dict[str, dict[str, float]]:
    """``{column: {notebook stem: seconds}}`` from the kept runs (``docs/timings/*.json``, :func:`keep_in_docs`).

    A column is the run's profile (``"smoke"``, ``"cpu"``, ...), or :data:`FP32_CPU_COLUMN` for a cpu run in fp32.
    For each column and notebook, the newest kept run that executed it without failing gives its seconds. The
    README's time tables are checked against these (tests/test_docs_timings.py); the test suite starts the longest
    smoke notebooks first (tests/conftest.py).
    """
    folder = (docs or paths.REPO_ROOT / "docs") / "timings"
    seconds: dict[str, dict[str, float]] = {}
    for summary in sorted(folder.glob("*.json")):  # run ids are timestamps: sorted = oldest first, the newest wins
        kept = json.loads(summary.read_text(encoding="utf-8"))
        precision = kept.get("stamp", {}).get("precision")
        for run in kept.get("runs", []):
            if run.get("status") == "ok":
                column = seconds.setdefault(timing_column(run["profile"], precision), {})
                column[Path(run["notebook"]).stem] = float(run["seconds"])
    return seconds


def summary_markdown(runs: list[NotebookRun], header: str) -> str:
    lines = [header, "", "| notebook | status | seconds | profile |", "|---|---|---:|---|"]
    lines += [f"| {r.notebook} | {r.status} | {r.seconds:.1f} | {r.profile} |" for r in runs]
    failed = [r for r in runs if r.status != "ok"]
    lines += ["", f"{len(runs) - len(failed)} passed, {len(failed)} failed"]
    lines += [f"- {r.notebook}: {r.error}" for r in failed]
    return "\n".join(lines) + "\n"


def run_course(profile: str = "auto", out_root: Path | None = None, only: list[str] | None = None,
               keep: bool = False) -> int:
    """Execute every lesson notebook into ``runs/<timestamp>/``; print and save the summary; 0 when all passed.

    The training notebooks' claims are copied to ``runs/<timestamp>/claims/``; ``keep=True`` (``make test-claims``)
    also keeps the summary and the claims in ``docs/`` when every notebook passed (:func:`keep_in_docs`).
    """
    from . import runtime

    resolved = runtime.resolve_profile(profile, runtime.cuda_capability()).name
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = (out_root or paths.REPO_ROOT / "runs") / stamp
    out_dir.mkdir(parents=True, exist_ok=True)
    # Each run keeps its own outputs (adapters, plots) beside the executed notebooks, unless told otherwise.
    os.environ.setdefault(paths.OUTPUT_ENV, str(out_dir / "outputs"))
    notebooks = [nb for nb in course_notebooks() if not only or any(key in nb.name for key in only)]
    print(f"Running {len(notebooks)} notebooks in profile {resolved!r} into {out_dir}")
    runs = []
    for index, notebook in enumerate(notebooks, 1):
        print(f"[{index}/{len(notebooks)}] {notebook.name} ...", flush=True)
        run = execute_notebook(notebook, out_dir / notebook.name, profile=resolved, progress=True)
        print(f"    {run.status} in {run.seconds:.1f} s" + (f" — {run.error}" if run.error else ""), flush=True)
        runs.append(run)
        if Path(run.output).exists():
            export_figures(Path(run.output), out_dir / "figures")
    header = f"# Course run {stamp} (profile {resolved})"
    text = summary_markdown(runs, header)
    (out_dir / "summary.md").write_text(text, encoding="utf-8")
    rt = runtime.setup(resolved, quiet=True)
    (out_dir / "summary.json").write_text(json.dumps({"runs": [asdict(r) for r in runs], "stamp": rt.stamp()},
                                                     indent=2), encoding="utf-8")
    collect_claims(notebooks, Path(os.environ[paths.OUTPUT_ENV]), out_dir / "claims")
    print()
    print(text)
    print(f"Executed notebooks and summary: {out_dir}")
    passed = all(r.status == "ok" for r in runs)
    if keep and passed:
        # The README quotes the cpu profile's claims: a smoke run's (a handful of steps) must not replace them.
        kept = keep_in_docs(out_dir, claims=resolved == "cpu")
        print("Kept in docs/:", ", ".join(str(p.relative_to(paths.REPO_ROOT)) for p in kept))
    elif keep:
        print("Not kept in docs/: a notebook failed (its check cell names the claim that did not hold).")
    return 0 if passed else 1
