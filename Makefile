# egd-grokking: the two commands of the README.
#   make test   set up .venv from nothing, lint (ruff), run the test suite (notebooks included)
#   make book   set up .venv from nothing, build the executed book to book/_build/html
# EGD_PROFILE=quick (default, CPU minutes) or full (paper scale) selects the notebooks' profile.

PYTHON ?= python3
VENV ?= .venv
EGD_PROFILE ?= quick
BIN := $(VENV)/bin
STAMP := $(VENV)/.egd-grokking-installed
# the full profile gets its own output (and cache) so it never mixes with quick results
BOOK_OUT_quick := book
BOOK_OUT_full := book/_build_full
BOOK_OUT := $(BOOK_OUT_$(EGD_PROFILE))
JB_FLAGS ?= --warningiserror --nitpick --keep-going

.PHONY: setup lint test book bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml tools/setup_venv.sh
	PYTHON=$(PYTHON) VENV=$(VENV) bash tools/setup_venv.sh
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check egd toymodel tests tools

test: $(STAMP) lint
	$(BIN)/python -m pytest

book: $(STAMP)
	@test -n "$(BOOK_OUT)" || { echo "EGD_PROFILE must be quick or full, got '$(EGD_PROFILE)'"; exit 2; }
	$(BIN)/python tools/notebook_cache.py $(BOOK_OUT)/_build/.jupyter_cache
	EGD_PROFILE=$(EGD_PROFILE) $(BIN)/jupyter-book build book --path-output $(BOOK_OUT) $(JB_FLAGS)
	@echo "book: $(BOOK_OUT)/_build/html/index.html"

bench: $(STAMP)
	$(BIN)/python -m egd.bench

clean:
	rm -rf book/_build book/_build_full .pytest_cache
