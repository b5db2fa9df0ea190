"""The reproducibility stamp's facts: installed library versions and the course checkout's git commit.
Taught in notebook 00 (the reproducibility stamp)."""

from __future__ import annotations

import subprocess
from pathlib import Path

_STAMP_PACKAGES = ("torch", "transformers", "peft", "datasets", "accelerate", "sentence-transformers", "numpy")


def package_versions(names=_STAMP_PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution name (``None`` when absent), read without importing it."""
    from importlib import metadata

    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(repo: Path | None = None) -> str | None:
    """The course checkout's commit hash (with ``+dirty`` when files changed), or ``None`` outside git."""
    repo = repo or Path(__file__).resolve().parent.parent.parent  # course_lib/runtime/stamp.py -> the checkout
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=5)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                               capture_output=True, text=True, timeout=5)
        return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None
