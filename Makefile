# 谁管 — two commands on a fresh machine with only python3:
#   make run    install, build the knowledge database if needed, start the bot (console chat without a token)
#   make test   install, build, then lint, type-check and test
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DB := data/knowledge.db
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
KNOWLEDGE_INPUTS := $(wildcard knowledge/manifest.toml knowledge/sources/* knowledge/lexicon/* knowledge/*.py)

.PHONY: run test lint typecheck unit build eval bench clean

run: $(DB)
	$(PY) -m bot run

test: lint typecheck unit

lint: $(STAMP)
	$(VENV)/bin/ruff check bot handlers knowledge tests bench
	$(VENV)/bin/ruff format --check bot handlers knowledge tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(DB)
	$(PY) -m pytest

build: $(DB)

$(DB): $(STAMP) $(KNOWLEDGE_INPUTS)
	$(PY) -m bot build --db $(DB)

eval: $(DB)
	$(PY) -m bot eval tests/eval/questions.jsonl

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
