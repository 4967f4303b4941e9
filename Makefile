# stepq — every target creates/reuses .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint conformance bench clean sam-build localstack console-tests screenshots

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

# Every test: lint, unit, functional, conformance (against ../shared/conformance when present),
# and the console's browser tests (Debian's Chromium, scripts/install_browser.sh).
# The tools the deploy checks run (checkov, the SAM CLI, LocalStack) live in venvs of
# their own under .cache/ (linked to a per-user cache, so a second clone reuses them).
test: install
	VENV_BIN=$(BIN) bash scripts/install_test_services.sh
	bash scripts/install_checkov.sh
	bash scripts/install_sam_cli.sh
	bash scripts/install_localstack.sh
	bash scripts/install_browser.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n 2 -q

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

conformance: install
	$(BIN)/stepq conformance ../shared/conformance/cases --results conformance-results.jsonl

bench: install
	$(BIN)/python scripts/bench_core.py

# `sam build` of template.yaml, without Docker (needs a python3.12: pyenv, uv or the
# system's): installs the SAM CLI and the layer's wheels under .cache/, then the test
# builds offline into a temp folder and checks what was built.
sam-build: install
	bash scripts/install_sam_cli.sh
	$(BIN)/pytest -q -p no:cacheprovider tests/deploy_tools/test_sam_build.py

# The examples through stepq on LocalStack's SQS and S3 (LocalStack in its own venv
# under .cache/, run without Docker on a loopback port) and DynamoDB Local.
localstack: install
	VENV_BIN=$(BIN) bash scripts/install_test_services.sh
	bash scripts/install_localstack.sh
	$(BIN)/pytest -q -p no:cacheprovider -m localstack tests/integration/test_localstack.py

# The web console in headless Chromium (Debian's /usr/bin/chromium, driven by playwright).
console-tests: install
	bash scripts/install_browser.sh
	$(BIN)/pytest -q -p no:cacheprovider -k "browser or console" tests/browser tests/api/test_console_server.py tests/api/test_console_graph_api.py tests/unit/test_console_vendor.py

# The browser tests, writing their pictures over docs/screenshots/ (linked from README.md).
screenshots: install
	bash scripts/install_browser.sh
	STEPQ_UPDATE_SCREENSHOTS=1 $(BIN)/pytest -q -p no:cacheprovider tests/browser

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache conformance-results.jsonl
