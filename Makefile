# okrsync — `make demo` and `make test` work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_TODAY ?= 2026-11-16

.PHONY: install demo test test-deps templates bench bench-google screenshot clean

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

# LibreOffice lets the tests check that written workbooks open (tests/test_writer.py);
# installed from Debian's packages when missing and this runs as root.
test-deps:
	@command -v soffice >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing libreoffice-calc for the writer tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libreoffice-calc >/dev/null; \
	  else echo "LibreOffice is missing: install libreoffice-calc, or the LibreOffice check fails" >&2; fi; }

test: $(STAMP) test-deps
	$(BIN)/python -m pytest -q

templates: $(STAMP)
	$(BIN)/python sheet_templates/generate.py

bench: $(STAMP)
	$(BIN)/python bench/run_bench.py

bench-google: $(STAMP)
	$(BIN)/python bench/google_bench.py

# docs/digest.png, the README's picture of the demo digest (needs Debian's chromium).
screenshot: demo
	chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	  --disable-background-networking --disable-component-update --disable-sync \
	  --user-data-dir=$$(mktemp -d) --hide-scrollbars --window-size=640,745 \
	  --screenshot=docs/digest.png "file://$$(ls $(CURDIR)/demo/outbox/*.html | head -1)"

clean:
	rm -rf demo build dist *.egg-info .pytest_cache
