# Entry points: make demo, make test, make lint, make bench.
# Every target installs what it needs first, so each works on a fresh Debian 12 machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := $(VENV)/.stamps
DEMO_DIR ?= .demo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages: gnupg encrypts; mat2 strips metadata on the air-gapped machine, inside
# a bubblewrap sandbox.
# Tests: chromium drives the no-JavaScript browser tests; tor runs the private test
# network (Debian's own tor service is masked first, so installing the package never
# starts a tor on the public network); postgresql is the second database the suites run
# on (the tests start their own server in a temporary folder); shellcheck,
# systemd-analyze (systemd) and vagrant check the deployment files. Benchmarks: wrk
# loads the landing page.
RUNTIME_PACKAGES := bubblewrap gnupg mat2 python3-venv
TEST_PACKAGES := $(RUNTIME_PACKAGES) chromium chromium-driver postgresql shellcheck systemd tor
BENCH_PACKAGES := wrk
# Only for `vagrant validate`, which needs a provider plugin but no hypervisor; their
# recommendations (qemu, an NFS server, libguestfs) would add a gigabyte for nothing.
VAGRANT_PACKAGES := vagrant vagrant-libvirt

.PHONY: demo test test-sqlite test-postgresql reliability lint bench translations system-deps venv clean

# $(call apt,PACKAGES[,APT OPTIONS]): install whichever of PACKAGES are missing.
define apt
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $(2) $$missing; \
	fi
	@mkdir -p $(STAMPS) && touch $@
endef

$(STAMPS)/system: Makefile
	$(call apt,$(RUNTIME_PACKAGES))

$(STAMPS)/system-test: Makefile $(STAMPS)/system
	@if [ -d /run/systemd/system ] && ! dpkg-query -W -f='$${Status}' tor 2>/dev/null | grep -q 'install ok installed'; then \
	  $(SUDO) systemctl mask tor.service tor@default.service; \
	fi
	@if [ -d /run/systemd/system ] && ! dpkg-query -W -f='$${Status}' postgresql 2>/dev/null | grep -q 'install ok installed'; then \
	  $(SUDO) systemctl mask postgresql.service postgresql@15-main.service; \
	fi
	$(call apt,$(TEST_PACKAGES))
	$(call apt,$(VAGRANT_PACKAGES),--no-install-recommends)

$(STAMPS)/venv: requirements/runtime.txt requirements/dev.txt setup.cfg pyproject.toml $(STAMPS)/system
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements/dev.txt
	$(BIN)/pip install -q --no-deps -e .
	@touch $@

system-deps: $(STAMPS)/system
venv: $(STAMPS)/venv

demo: venv
	$(BIN)/sdlite demo --data-dir $(DEMO_DIR)

# The whole suite on SQLite, then the suites that touch the database again on PostgreSQL
# (the onion and browser tests exercise Tor and Chromium, not the database, and run once).
# The reliability tests run in both, at bounded sizes; `make reliability` runs them full size.
test: test-sqlite test-postgresql

test-sqlite: venv $(STAMPS)/system-test
	$(BIN)/pytest

test-postgresql: venv $(STAMPS)/system-test
	SDLITE_TEST_DATABASE=postgresql $(BIN)/pytest tests/unit tests/functional tests/reliability

reliability: venv $(STAMPS)/system-test
	SDLITE_RELIABILITY=full $(BIN)/pytest tests/reliability
	SDLITE_RELIABILITY=full SDLITE_TEST_DATABASE=postgresql $(BIN)/pytest tests/reliability

# ruff (with the S rules) everywhere; bandit and mypy on the core.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/bandit -c pyproject.toml -q -r securedrop_lite source_interface journalist_interface
	$(BIN)/mypy securedrop_lite source_interface journalist_interface

# Extract the source interface's messages (see babel.cfg), merge them into each language's
# catalog, and compile the catalogs. New or changed messages come out untranslated or
# fuzzy: translate them in the .po files, run this again, and commit the .po and .mo.
TRANSLATIONS := source_interface/translations
translations: venv
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k lazy_ngettext:1,2 \
	  --add-location=file --sort-by-file --project=securedrop-lite \
	  --copyright-holder="securedrop-lite contributors" -o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --ignore-obsolete
	$(BIN)/pybabel compile -d $(TRANSLATIONS) --statistics

$(STAMPS)/system-bench: Makefile $(STAMPS)/system-test
	$(call apt,$(BENCH_PACKAGES))

# Each benchmark writes bench/out/<name>.json; the last step gathers them in bench/RESULTS.md.
# The Tor benchmark starts the private test network (tests/e2e/tornet.py), on 127.0.0.1 only.
bench: venv $(STAMPS)/system-bench
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.ombuds
	$(BIN)/python -m bench.web
	$(BIN)/python -m bench.tor
	$(BIN)/python -m bench.airgap
	$(BIN)/python -m bench.results_md

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
