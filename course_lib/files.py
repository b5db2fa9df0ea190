"""Writing outputs so that an interrupted run never leaves a half-written file or folder.

Everything the course saves (cleaned data in notebook 01, adapters, ``metrics.json`` and ``history.json`` in
notebook 03, evaluation results in notebook 04, the RAG index in notebook 06, the run registry in notebook 07, the
converted model caches) is first written under a temporary sibling name, ``.<name>.tmp-<pid>``, and then renamed
into place. A rename within one folder is atomic, so a reader sees either the old version or the new one, never a
mix; a crash leaves only a ``.tmp-`` sibling behind, which the next attempt overwrites. The process id in the name
keeps two processes (parallel test workers, several ranks) from writing into each other's temporary copy.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path


def staging_path(target: str | os.PathLike) -> Path:
    """The temporary sibling ``.<name>.tmp-<pid>`` that ``target`` (a file or a folder) is written under first."""
    target = Path(target)
    return target.with_name(f".{target.name}.tmp-{os.getpid()}")


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8, exactly as given: no newline translation) to ``path`` through a temporary sibling.

    The parent folder is created if needed. If writing fails, the temporary file is removed and the old ``path``,
    if any, is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = staging_path(path)
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:  # KeyboardInterrupt too: the point is to leave nothing half-written behind
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | os.PathLike, payload, **options) -> Path:
    """Write ``payload`` as indented JSON with :func:`write_text_atomic`.

    ``options`` go to :func:`json.dumps`; by default ``indent=2`` and ``default=str``, so dates, paths and other
    plain values in a run's config or metrics are written as text instead of failing the save at the end of a run.
    """
    return write_text_atomic(path, json.dumps(payload, **{"indent": 2, "default": str, **options}))


def replace_folder(staging: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Put the complete folder ``staging`` (usually :func:`staging_path` of ``target``) in the place of ``target``.

    An existing ``target`` is removed first: a folder cannot be renamed over a non-empty one. Between the two steps
    ``target`` is briefly absent, never half-written.
    """
    target = Path(target)
    if target.exists():
        shutil.rmtree(target)
    os.replace(staging, target)
    return target
