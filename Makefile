# The two commands a newcomer needs:  make demo  (whole pipeline)   make test  (whole test suite)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY_DIRS := src stages tests scripts benchmarks service.py
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
export GX_ANALYTICS_ENABLED := false
export DVC_NO_ANALYTICS := 1
export HF_HUB_OFFLINE := 1
export BENTOML_DO_NOT_TRACK := True
# The same CPU kernels on every x86-64 machine with AVX2, so a fresh clone's `make demo` reproduces the committed
# results on other hardware too: PyTorch's own kernels, oneDNN's, MKL's (its conditional numerical reproducibility:
# COMPATIBLE, since its AVX2 branch is taken on Intel CPUs only), numpy's and OpenBLAS's (numpy, scipy,
# scikit-learn). With compute.threads fixed, the CPU model no longer changes a trained weight; checked against an
# emulated Intel Haswell with benchmarks/determinism_probe.py (docs/pipeline.md#across-machines).
ifeq ($(shell uname -m),x86_64)
export ATEN_CPU_CAPABILITY := avx2
export ONEDNN_MAX_CPU_ISA := AVX2
export MKL_CBWR := COMPATIBLE
export NPY_DISABLE_CPU_FEATURES := X86_V4 AVX512_ICL AVX512_SPR
export OPENBLAS_CORETYPE := Haswell
endif

.PHONY: demo test venv lint clean

## venv: create .venv and install every pinned dependency (once; again when a lock file changes)
venv: $(VENV)/.installed

$(VENV)/.installed: requirements.lock requirements-nodeps.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

## demo: fetch the demo corpus from the in-repo DVC remote and run every stage down to the Bento
demo: venv
	dvc pull --quiet data.dvc
	dvc repro
	python scripts/demo_summary.py

## test: the whole test suite (unit, stages, pipeline, CLI, service, browser, real data where present)
test: venv
	python -m pytest

## lint: ruff's rules and its format, over every Python folder (tests/test_style.py runs the same)
lint: venv
	ruff check $(PY_DIRS)
	ruff format --check $(PY_DIRS)

clean:
	rm -rf artifacts .dvc/tmp
