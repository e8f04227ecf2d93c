# The two commands: `make run` (install and serve the dashboard) and `make test` (install and run every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := app
# Every install is of a locked file, every package pinned with its hash (`make lock` writes them).
PIP_INSTALL := $(BIN)/pip install --quiet --require-hashes
PIP_COMPILE := $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links $(LOCK_ARGS)

.PHONY: run test lint format bench install install-dev install-bench lock db clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(PIP_INSTALL) -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(PIP_INSTALL) -r requirements-dev.txt
	touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: requirements-bench.txt $(VENV)/.installed-dev
	$(PIP_INSTALL) -r requirements-bench.txt
	touch $@

# htmx needs no install step: pages load it from its CDN and fall back to the committed copy in
# static/vendor/ (scripts/update_htmx.sh upgrades it; only that script needs npm).
install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev
install-bench: $(VENV)/.installed-bench

# Re-resolve requirements*.in into the locked, hashed requirements*.txt. Existing pins are kept
# unless the .in file changes them; to move one transitive package:
#   make lock LOCK_ARGS="--upgrade-package urllib3"   (or "--upgrade-package urllib3==2.9.0")
lock: install-dev
	$(PIP_COMPILE) --output-file requirements.txt requirements.in
	$(PIP_COMPILE) --output-file requirements-dev.txt requirements-dev.in
	$(PIP_COMPILE) --output-file requirements-bench.txt requirements-bench.in

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

# lint-imports: the layers in .importlinter (packages import downward only; docs/architecture.md).
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The code's bytecode first (as the image does): tests start hundreds of flask and gunicorn
# processes, and with PYTHONDONTWRITEBYTECODE set each would compile every module again.
test: install-dev lint
	$(BIN)/python -m compileall -q app.py config.py dashboard
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install-bench
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
