# Two commands on a fresh machine: `make demo` and `make test`.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
# torch first, pinned: the CPU wheel is on these machines' disk; an unpinned torch pulls a multi-GB CUDA build.
TORCH   ?= torch==2.13.0
PIP     := $(BIN)/python -m pip install --disable-pip-version-check -q
DEMO    ?= demo-build

.PHONY: install demo test test-fast test-llama test-floor bench results clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(PIP) "$(TORCH)"
	$(PIP) -e ".[all]" "$(TORCH)"
	touch $@

demo: install
	$(BIN)/memo demo --out $(DEMO)

# ruff first (seconds): a lint or format finding fails before minutes of tests (`ruff format .` fixes the latter).
# The layer contracts run as tests/test_layers.py.
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q -p no:cacheprovider --durations=10

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

# llama.cpp's end-to-end checks (a 135M executive served by llama-cpp-python's server speaking every protocol stage;
# GGUF exports answering like the ONNX pack). Not part of `make test`: llama-cpp-python compiles from source, 6 min
# on two idle cores and 16 min on a busy one, which would take `make test` on a clean clone past 15 min. pip keeps
# the wheel it built in its cache, so a second install takes seconds. `make test` skips these tests, naming why.
# The build is native except on CPUs with AMX, where llama.cpp's native build crashes in these VMs (stack-facts.md).
LLAMA_CMAKE ?= $(if $(shell grep -m1 -o amx_tile /proc/cpuinfo 2>/dev/null),-DGGML_NATIVE=OFF -DGGML_AVX2=ON \
	-DGGML_AVX512=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF,)

$(VENV)/.llama: $(VENV)/.installed pyproject.toml
	CMAKE_ARGS="$(LLAMA_CMAKE)" $(PIP) -e ".[all,llama]" "$(TORCH)"
	touch $@

test-llama: $(VENV)/.llama
	MEMO_LLAMA_E2E=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_llama_server.py tests/test_export_gguf.py

# The lowest versions of the training and export stacks that pyproject.toml's [train] and [export] extras admit, in
# their own venv, running the training and export tests: the declared floors are versions a test ran on. torch 2.13.0 is the lowest torch installable
# here without a multi-GB CUDA download; transformers/peft/accelerate are the GPU image's (stack-facts.md).
FLOOR_VENV ?= .venv-floor
FLOOR   := torch==2.13.0 transformers==5.17.0 peft==0.21.0 accelerate==1.15.0 onnx==1.23.2 onnx-ir==1.1.0 \
	onnxruntime-genai==0.18.0 gguf==0.19.0
FPIP    := $(FLOOR_VENV)/bin/python -m pip install --disable-pip-version-check -q

$(FLOOR_VENV)/.installed: pyproject.toml Makefile
	$(PY) -m venv $(FLOOR_VENV)
	$(FPIP) torch==2.13.0
	$(FPIP) -e ".[train,export,dev]" $(FLOOR)
	touch $@

test-floor: $(FLOOR_VENV)/.installed
	$(FLOOR_VENV)/bin/python -c "import importlib.metadata as m; pins = '$(FLOOR)'.split(); \
	got = [f'{p.split(\"==\")[0]}=={m.version(p.split(\"==\")[0])}' for p in pins]; \
	assert [g.split('+')[0] for g in got] == pins, got; print('floor:', *got)"
	$(FLOOR_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/test_training.py tests/test_training_lora.py \
		tests/test_training_resume.py tests/test_export.py

# RESULTS.md's generated tables, rebuilt from benchmarks/results/*.json (never typed)
results: install
	$(BIN)/python -m benchmarks.results_md

clean:
	rm -rf $(DEMO) .pytest_cache
