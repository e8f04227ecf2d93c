# The two commands: `make run` (install and serve the dashboard) and `make test` (install and run every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HTMX_VERSION := 2.0.11
HTMX_FILE := static/vendor/htmx-$(HTMX_VERSION).min.js
export FLASK_APP := app

.PHONY: run test lint format bench install install-dev htmx db clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed htmx
install-dev: $(VENV)/.installed-dev htmx

# htmx is pinned to one exact version, fetched from the npm registry at set-up (not committed).
htmx: $(HTMX_FILE)
$(HTMX_FILE):
	bash scripts/install_htmx.sh $(HTMX_VERSION) $(HTMX_FILE)

db: install
	$(BIN)/flask db upgrade
	$(BIN)/flask demo seed --if-empty

run: db
	@echo ""
	@echo "Export Automation on http://127.0.0.1:5000"
	@echo "Demo logins (password: demo-password):"
	@echo "  owner@corner-cafe.example.com      (owner, Corner Café, Europe/London)"
	@echo "  manager@corner-cafe.example.com    (manager, Corner Café)"
	@echo "  owner@harbor-hardware.example.com  (owner, Harbor Hardware, America/New_York)"
	@echo "  manager@harbor-hardware.example.com (manager, Harbor Hardware)"
	@echo ""
	$(BIN)/flask run --host 127.0.0.1 --port 5000

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install-dev lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install-dev
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) static/vendor .pytest_cache
