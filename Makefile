# okrsync — `make demo` and `make test` work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_TODAY ?= 2026-11-16

.PHONY: install demo test templates bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The demo folder is regenerated every time: a fresh copy of the demo workbook, synced once.
demo: $(STAMP)
	rm -rf demo
	$(BIN)/okrsync init demo --demo
	OKRSYNC_TODAY=$(DEMO_TODAY) $(BIN)/okrsync run -c demo/okrsync.toml
	@echo
	@echo "Open demo/demo.xlsx to see scores, statuses and checks; the digest is in demo/outbox/."

test: $(STAMP)
	$(BIN)/python -m pytest -q

templates: $(STAMP)
	$(BIN)/python sheet_templates/generate.py

bench: $(STAMP)
	$(BIN)/python bench/run_bench.py

clean:
	rm -rf demo build dist *.egg-info .pytest_cache
