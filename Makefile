# The two commands of the README:  `make demo`  and  `make test`.
# Both create .venv when missing, install the project with every extra and detectron2, and are
# quick when .venv is already up to date (the stamp file is keyed on the install inputs' hash).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HASH := $(shell cat pyproject.toml scripts/install_detectron2.py | sha256sum | cut -c1-16)
STAMP := $(VENV)/.installed-$(HASH)

.PHONY: demo test test-onboard venv lint clean-venv

venv: $(STAMP)

$(STAMP):
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if v == (3, 11) else f"Python 3.11 is required; {sys.executable} is {v[0]}.{v[1]}. Run: make PYTHON=/path/to/python3.11 ...")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --editable '.[models,onboard,dev]'
	$(BIN)/python scripts/install_detectron2.py
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: $(STAMP)
	$(BIN)/survey demo

test: $(STAMP)
	@scripts/system_deps.sh
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest

# The onboard install (core + onboard extra, no torch) on the Jetson's Python 3.10 and on 3.12,
# each in its own .venv-onboard-X.Y, running the onboard tests; a missing Python is skipped.
test-onboard:
	scripts/test_onboard_python.sh python3.10
	scripts/test_onboard_python.sh python3.12

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy geo thermal survey models missions

clean-venv:
	rm -rf $(VENV)
