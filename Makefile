# mmsec: `make run` serves the site with a worker; `make test` runs the whole suite.
# Both set everything up on a fresh machine (virtualenv, Python packages, model weights,
# the few Debian packages needed), using an embedded PostgreSQL+pgvector and Redis under var/.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
REQS := $(sort $(wildcard requirements/*.txt))
PLUGIN_REQS := $(sort $(wildcard requirements/plugin-*.txt))
EXAMPLES := $(sort $(wildcard examples/*/pyproject.toml))
STAMP := $(VENV)/.installed
APT_RUN := $(sort $(wildcard plugins/*/apt.txt))
MODEL_INSTALLERS := $(sort $(wildcard plugins/*/install_models.py))
# Same rule as settings.MMSEC_MODEL_DIR: MMSEC_MODEL_DIR, else $MMSEC_VAR_DIR/models, else var/models.
MODEL_DIR := $(or $(MMSEC_MODEL_DIR),$(if $(MMSEC_VAR_DIR),$(MMSEC_VAR_DIR)/models,var/models))
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test deps apt apt-test models lint screenshots bench clean-var help

help:
	@echo "make run    - set up and serve http://127.0.0.1:$${MMSEC_PORT:-8000} with a worker and beat"
	@echo "make test   - set up and run the whole test suite"
	@echo "make lint   - ruff"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) requirements/base.txt requirements/dev.txt $(PLUGIN_REQS) pyproject.toml $(EXAMPLES)
	$(PIP) install -q -r requirements/base.txt -r requirements/dev.txt $(foreach r,$(PLUGIN_REQS),-r $(r))
	$(PIP) install -q --no-deps --no-build-isolation -e .
	$(foreach e,$(EXAMPLES),$(PIP) install -q --no-deps --no-build-isolation -e $(dir $(e)) &&) true
	touch $(STAMP)

deps: $(STAMP)

# Debian packages: installed only when missing (root or sudo needed the first time).
define apt_install
	missing=""; for p in $(1); do dpkg -s "$$p" >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $$missing; \
	fi
endef

apt:
	@$(call apt_install,$(shell cat $(APT_RUN) /dev/null | grep -v '^#' | sort -u))

apt-test: apt
	@$(call apt_install,chromium)

# Test-only npm packages: a PostgreSQL with pgvector >= 0.8 (PGlite) for tests/integration/test_external_pgvector.py.
PGV_NEXT := tests/pgvector_next
PGV_STAMP := $(PGV_NEXT)/node_modules/.package-lock.json

$(PGV_STAMP): $(PGV_NEXT)/package.json $(PGV_NEXT)/package-lock.json
	@command -v npm >/dev/null || { $(call apt_install,nodejs npm); }
	npm ci --prefix $(PGV_NEXT) --no-audit --no-fund --loglevel=error

models: $(STAMP)
	@$(foreach m,$(MODEL_INSTALLERS),$(PY) -m $(subst /,.,$(basename $(m))) $(MODEL_DIR)/$(word 2,$(subst /, ,$(m))) &&) true

run: deps apt models
	$(PY) -m mmsec_site.run

test: deps apt-test models $(PGV_STAMP)
	$(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS)

lint: deps
	$(VENV)/bin/ruff check .

screenshots: deps apt-test
	MMSEC_SCREENSHOTS=docs/screenshots $(PY) -m pytest -p no:cacheprovider -m browser tests/browser

clean-var:
	$(PY) -m mmsec_site.embedded down || true
	rm -rf var
