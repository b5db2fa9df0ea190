"""Suite-wide setup: offline, network blocked (here and in notebook kernels), smoke profile, temp outputs.

Shared fixtures:
    shared_tmp: a temporary folder all test workers of the session see.
    smoke_runtime: ``runtime.setup("smoke", seed=0)`` (session-wide).
    smol: ``(model, tokenizer)`` of the SmolLM2 decoder, loaded once per session from the offline cache.
          Tests must not train this instance in place; load a fresh one (0.1 s from cache) to train.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
NETBLOCK_DIR = TESTS_DIR / "netblock"

# Environment for this process and every subprocess (notebook kernels, CLI runs). Set before anything imports
# transformers or tqdm, so they read it.
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["COURSE_PROFILE"] = "smoke"
os.environ["COURSE_BLOCK_NETWORK"] = "1"
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(NETBLOCK_DIR), os.environ.get("PYTHONPATH")]))
os.environ.setdefault("MPLBACKEND", "Agg")
# `make test` runs the suite in parallel workers (pytest-xdist): one torch thread each, for this process and the
# notebook kernels and CLI runs it starts. At the smoke profile's small shapes, two OpenMP threads of one process
# on 2 cores mostly wait for each other (tests/test_distributed.py measured 72 s of CPU for a run that takes 36 s
# on one thread), so two one-thread workers use the cores far better than one two-thread run.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"

# Block the network in this process too (sitecustomize only runs at interpreter start-up).
_spec = importlib.util.spec_from_file_location("_course_netblock", NETBLOCK_DIR / "sitecustomize.py")
_spec.loader.exec_module(importlib.util.module_from_spec(_spec))


@pytest.fixture(scope="session", autouse=True)
def _outputs_in_tmp(tmp_path_factory):
    """Every output folder of the suite lives in a temporary directory, never in the checkout."""
    folder = tmp_path_factory.mktemp("outputs")
    os.environ["COURSE_OUTPUT_DIR"] = str(folder)
    yield folder


@pytest.fixture(scope="session")
def tiny_llama():
    """``make(vocab_size, layers=2)``: a small seeded Llama whose head is tied to its embedding (as SmolLM2's is),
    for tests that train through ``train.train`` in seconds."""

    def make(vocab_size: int, layers: int = 2):
        import torch
        from transformers import LlamaConfig, LlamaForCausalLM

        torch.manual_seed(0)
        return LlamaForCausalLM(LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64,
                                            num_hidden_layers=layers, num_attention_heads=2, num_key_value_heads=1,
                                            tie_word_embeddings=True))

    return make


@pytest.fixture(scope="session")
def short_run_config():
    """``make(**changes)``: the ``train.TrainConfig`` of a few-step test run on support pairs (batch 4, LoRA on every
    block, no dropout, nothing saved, no display), with ``changes`` applied."""
    from course_lib import train

    def make(**changes):
        settings = dict(max_steps=3, logging_steps=1, save_steps=100, eval_steps=100, live="off",
                        system_prompt="You are the support assistant for Brightleaf Notes.", batch_size=4,
                        lora_block_share=1.0, lora_dropout=0.0, learning_rate=1e-2, save_final=False,
                        eval_at_start=False)
        return train.TrainConfig(**{**settings, **changes})

    return make


@pytest.fixture(scope="session")
def shared_tmp(tmp_path_factory):
    """A folder every worker of this test session sees: pytest-xdist gives each worker a base folder of its own, all
    in one folder per session. For what one worker makes and the other reuses (test_distributed's runs, the
    notebooks' outputs)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def smoke_runtime():
    from course_lib import runtime

    return runtime.setup("smoke", seed=0, quiet=True)


@pytest.fixture(scope="session")
def smol(smoke_runtime):
    from course_lib import models

    return models.load_causal_lm("smollm2-135m-instruct", runtime=smoke_runtime, verbose=False)


def pytest_configure(config):
    """Before parallel workers start: build the model cache once (a fresh machine converts SmolLM2's GGUF on first
    use), so that two workers never convert it at the same time."""
    if getattr(config.option, "numprocesses", None) and not os.environ.get("PYTEST_XDIST_WORKER"):
        from course_lib import models

        models.cached_checkpoint(progress=False)


def pytest_report_header(config):
    return f"course tests: offline, network blocked, COURSE_PROFILE=smoke, python {sys.version.split()[0]}"


# The order tests start in. `make test` deals them out one at a time to two workers as they free up (the Makefile's
# --maxschedchunk 1), so a notebook started last would keep one worker busy for minutes while the other has nothing
# left (seen on a 2-core AVX2 host: one kernel alone for the last ~5 min). The notebook executions therefore start
# first, the longest first, by the seconds of the newest kept smoke run (docs/timings); a test that runs a notebook
# on other parameters names it in its marker (`@pytest.mark.notebook("03_training")`) and starts right after it.
# Notebook 03, the longest, starts first, and notebooks 04-08 find its adapter (one outputs folder,
# tests/test_notebooks.py) instead of training their own. A notebook no kept run times counts as the longest. The
# other tests keep their order, except the users of a fixture that one worker builds for both under a file lock:
# the first of them starts right after the notebooks, the others last, once it is built; dealt out side by side,
# one worker waited ~80 s on the lock.
BUILT_FOR_ALL_WORKERS = ("runs",)  # tests/test_distributed.py: one 1-process and three 2-process training runs


def _start_rank(item, seconds: dict[str, float], builders: set) -> tuple[int, float]:
    """Sort key: notebook executions (longest first), each shared fixture's builder, the rest in collection order,
    then the other users of the shared fixtures."""
    marker = item.get_closest_marker("notebook")
    if marker is not None:
        path = getattr(item, "callspec", None) and item.callspec.params.get("path")
        stem = Path(path).stem if path else (marker.args[0] if marker.args else None)
        return (0, -seconds.get(stem, float("inf")))
    if not set(BUILT_FOR_ALL_WORKERS) & set(getattr(item, "fixturenames", ())):
        return (2, 0.0)
    return (1, 0.0) if item.nodeid in builders else (3, 0.0)


def pytest_collection_modifyitems(config, items):
    from course_lib import runner

    seconds = runner.kept_seconds().get("smoke", {})
    users = {name: [item.nodeid for item in items if name in getattr(item, "fixturenames", ())]
             for name in BUILT_FOR_ALL_WORKERS}
    builders = {nodeids[0] for nodeids in users.values() if nodeids}
    items.sort(key=lambda item: _start_rank(item, seconds, builders))  # stable: equal keys keep their order
