# stepq — every target creates/reuses .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint conformance bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "stepq needs Python 3.11+"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The main job: the order saga example, end to end.
run: install
	$(BIN)/stepq run state_machine/order_saga.asl.json --functions state_machine/order_saga.py --skip-time \
		--input '{"order_id": "o-1001", "amount": 42.5, "items": ["book", "lamp"]}'

# Every test: lint, unit, functional, conformance (against ../shared/conformance when present).
test: install
	VENV_BIN=$(BIN) bash scripts/install_test_services.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n 2 -q

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

conformance: install
	$(BIN)/stepq conformance ../shared/conformance/cases --results conformance-results.jsonl

bench: install
	$(BIN)/python scripts/bench_core.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache conformance-results.jsonl
