# The two commands of the README. Both make .venv (Python 3.11+) on first use.
#   make run                          set up and start web + worker + scheduler
#   make test                         lint, format check, type check and the whole test suite
#   make test PYTEST_ARGS="-m e2e"    pass arguments on to pytest

PYTEST_ARGS ?=

.PHONY: run test

run:
	@bash scripts/run

test:
	@bash scripts/test $(PYTEST_ARGS)
