# okrsync — `make demo` and `make test` work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_TODAY ?= 2026-11-16

.PHONY: install demo test test-deps templates summary-picture bench bench-google bench-workers bench-store bench-memory screenshot clean

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
	@echo "Open demo/demo.xlsx to see scores, statuses and checks, and its Summary and Check-ins tabs; the digest is in demo/outbox/."

# Debian packages the tests use: LibreOffice checks that written workbooks open
# (tests/test_writer.py) and draws the summary's charts (pdftotext finds their titles in its PDF,
# tests/test_summary.py), systemd-analyze checks the units in deploy/ (tests/test_ops.py), and
# a PostgreSQL server holds the shared store (tests/postgres.py starts its own, as an
# unprivileged user, in a temporary folder). Installed when missing and this runs as root.
TEST_PACKAGES = soffice:libreoffice-calc pdftotext:poppler-utils systemd-analyze:systemd \
                /usr/lib/postgresql/*/bin/initdb:postgresql
test-deps:
	@missing=""; for pair in $(TEST_PACKAGES); do \
	  { command -v $${pair%%:*} || ls $${pair%%:*}; } >/dev/null 2>&1 || missing="$$missing $${pair##*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing for the tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "missing for the tests:$$missing (install them with apt)" >&2; fi; fi

test: $(STAMP) test-deps
	$(BIN)/python -m pytest -q

templates: $(STAMP)
	$(BIN)/python sheet_templates/generate.py

# The benchmarks measure okrsync as users install it, with its runtime dependencies only: the
# test tools in .venv change what a run imports (Pandera loads hypothesis when it is there).
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet -e .
	touch $@

bench: $(STAMP) $(BENCH_VENV)/.installed
	$(BIN)/python bench/run_bench.py --python $(BENCH_VENV)/bin/python

bench-google: $(STAMP)
	$(BIN)/python bench/google_bench.py

# docs/summary.png: the demo workbook's summary tab as LibreOffice renders it (two weekly runs,
# so that the weekly chart has a path). Needs libreoffice-calc and poppler-utils.
summary-picture: $(STAMP)
	rm -rf build/summary && $(BIN)/okrsync init build/summary --demo >/dev/null
	OKRSYNC_TODAY=2026-11-09 $(BIN)/okrsync -q run -c build/summary/okrsync.toml || true
	OKRSYNC_TODAY=$(DEMO_TODAY) $(BIN)/okrsync -q run -c build/summary/okrsync.toml || true
	soffice --headless --convert-to pdf --outdir build/summary build/summary/demo.xlsx >/dev/null
	page=$$(for p in $$(seq 1 80); do pdftotext -f $$p -l $$p build/summary/demo.pdf - 2>/dev/null | head -1 \
	  | grep -q '^Summary' && echo $$p && break; done); \
	pdftoppm -f $$page -l $$page -r 110 -x 40 -y 60 -W 1150 -H 450 -png -singlefile build/summary/demo.pdf docs/summary

bench-workers: $(STAMP)
	$(BIN)/python bench/workers_bench.py

bench-store: $(STAMP) $(BENCH_VENV)/.installed
	$(BIN)/python bench/store_bench.py --python $(BENCH_VENV)/bin/python

bench-memory: $(STAMP) $(BENCH_VENV)/.installed
	$(BIN)/python bench/memory_bench.py --python $(BENCH_VENV)/bin/python

# docs/digest.png, the README's picture of the demo digest (needs Debian's chromium).
screenshot: demo
	chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	  --disable-background-networking --disable-component-update --disable-sync \
	  --user-data-dir=$$(mktemp -d) --hide-scrollbars --window-size=640,745 \
	  --screenshot=docs/digest.png "file://$$(ls $(CURDIR)/demo/outbox/*.html | head -1)"

clean:
	rm -rf demo build dist *.egg-info .pytest_cache .venv-bench
