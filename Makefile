# Two commands on a fresh machine: `make demo` and `make test`.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
# torch first, pinned: the CPU wheel is on these machines' disk; an unpinned torch pulls a multi-GB CUDA build.
TORCH   ?= torch==2.13.0
PIP     := $(BIN)/python -m pip install --disable-pip-version-check -q
DEMO    ?= demo-build

.PHONY: install demo test test-fast bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(PIP) "$(TORCH)"
	$(PIP) -e ".[all]" "$(TORCH)"
	touch $@

demo: install
	$(BIN)/memo demo --out $(DEMO)

test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider --durations=10

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(DEMO) .pytest_cache
