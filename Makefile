# Two commands do all set-up: `make demo` (install + run the main job on the samples) and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed-stamp
STORE ?= demo.duckdb

.PHONY: install demo test lint clean

install: $(STAMP)

# torch: the CPU wheel on machines without CUDA (constraints/cpu.txt); the default build where a GPU is present.
$(STAMP): pyproject.toml constraints/cpu.txt
	$(PYTHON) -m venv $(VENV)
	if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then \
		$(BIN)/pip install -q -e ".[dev]"; \
	else \
		$(BIN)/pip install -q -c constraints/cpu.txt -e ".[dev]"; \
	fi
	touch $(STAMP)

demo: $(STAMP)
	rm -f $(STORE)
	$(BIN)/redline run corpora/samples/documents --store $(STORE)
	$(BIN)/redline statements --store $(STORE) --limit 25

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check pipeline tests benchmarks

clean:
	rm -rf $(VENV) $(STORE)
