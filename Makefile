# cflab: Cloud Foundry's routing and app-identity tier in Docker Compose.
# `make up` starts the demo foundation; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CFLAB := $(BIN)/cflab

.PHONY: help up down clean test unit integration e2e fuzz soak bench lint images venv host-tools test-tools bench-tools install-tools scenarios swarm-lab

help:
	@echo "make up          start the demo foundation (builds images on first run)"
	@echo "make down        remove the foundation's containers, networks, volumes"
	@echo "make clean       make down, and remove cflab's images"
	@echo "make test        unit, loopback-integration and Docker end-to-end tests"
	@echo "make fuzz        the fuzz targets for longer (FUZZ_EXAMPLES, default 20000 each)"
	@echo "make soak        load + faults in strict mode for SOAK_MINUTES (30); out/soak/"
	@echo "make bench       benchmarks, with peers measured in the same run"
	@echo "make scenarios   replay every incident scenario in every mode (writes out/scenarios/;"
	@echo "                 PROXY=envoy: with the real Envoy, writes out/scenarios-envoy/)"
	@echo "make swarm-lab   NODES=3: a swarm of Docker-in-Docker nodes, one cell each, a scenario"
	@echo "                 across them, its figures; removed at the end (not part of make test)"
	@echo "make lint        ruff"

venv: $(STAMP)
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "cflab needs python3 (3.11+) on the host"; exit 1; }
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV) || { echo "python3 -m venv failed: install python3-venv"; exit 1; }
	@echo " • virtual environment $(VENV) ..."
	@$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# Host tools the build and tests need; installed with apt when missing and we are root.
TOOLS := debootstrap:debootstrap nats-server:nats-server jq:jq openssl:openssl
BENCH_TOOLS := nginx:nginx-light haproxy:haproxy wrk:wrk
# The dashboard's browser tests: Debian's headless Chromium (Playwright's own download cannot work here).
TEST_TOOLS := chromium-headless-shell:chromium-headless-shell

host-tools:
	@$(MAKE) -s install-tools PAIRS="$(TOOLS)"

test-tools:
	@$(MAKE) -s install-tools PAIRS="$(TOOLS) $(TEST_TOOLS)"

bench-tools:
	@$(MAKE) -s install-tools PAIRS="$(TOOLS) $(BENCH_TOOLS)"

# Another apt run (unattended-upgrades, a second checkout's make) holds dpkg's lock for a
# while: wait for it rather than fail (CI failed so once, 40 s in).
APT_WAIT := -o DPkg::Lock::Timeout=600

install-tools:
	@for pair in $(PAIRS); do \
	  cmd=$${pair%%:*}; pkg=$${pair##*:}; \
	  if ! command -v $$cmd >/dev/null && [ ! -x /usr/sbin/$$cmd ]; then \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	      echo " • installing $$pkg on the host"; \
	      apt-get $(APT_WAIT) install -y -q $$pkg >/dev/null || { apt-get $(APT_WAIT) update -q >/dev/null && apt-get $(APT_WAIT) install -y -q $$pkg >/dev/null; } \
	        || { echo "could not install $$pkg with apt-get"; exit 1; }; \
	    else echo "$$cmd is missing: install the Debian package $$pkg (needs root/apt)"; exit 1; fi; \
	  fi; \
	done

up: venv host-tools
	@$(CFLAB) up $(ARGS)

down: venv
	@$(CFLAB) down

clean: venv
	@$(CFLAB) down
	@$(CFLAB) images --remove

images: venv host-tools
	@$(CFLAB) images

# The images build in the background while the unit and integration tests run (each
# takes about one of this machine's two cores); the e2e tests wait for that build
# through the lock (tests/e2e/conftest.py), so none of them pays for it.
test: venv test-tools
	@mkdir -p .cflab
	@(flock .cflab/images.lock $(CFLAB) images --proxy envoy > .cflab/images.log 2>&1 &)
	@$(BIN)/pytest -q --durations=40 tests/unit tests/integration tests/fuzz tests/e2e

unit: venv
	@$(BIN)/pytest -q tests/unit

integration: venv test-tools
	@$(BIN)/pytest -q tests/integration

SOAK_MINUTES ?= 30
soak: venv host-tools
	@$(CFLAB) soak --minutes $(SOAK_MINUTES) --out out/soak

fuzz: venv test-tools
	@FUZZ_PROFILE=long $(BIN)/pytest -q tests/fuzz

e2e: venv test-tools
	@$(BIN)/pytest -q tests/e2e

bench: venv bench-tools
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# PROXY=envoy: the real Envoy in every app container (results in out/scenarios-envoy).
SCENARIO_OUT := out/scenarios$(if $(PROXY),-$(PROXY))
scenarios: venv host-tools
	@for s in $$(ls scenarios | sed 's/\.yml$$//'); do \
	  echo "== scenario $$s"; $(CFLAB) scenario run $$s --out $(SCENARIO_OUT) $(if $(PROXY),--proxy $(PROXY)) || rc=1; done; \
	$(CFLAB) scenario table --out $(SCENARIO_OUT) | tee $(SCENARIO_OUT)/table.md; exit $${rc:-0}

lint: venv
	@$(BIN)/ruff check .

# The foundation as a Docker stack on a single-node swarm (README, Swarm): the test inits a
# swarm only if the engine is in none, and leaves only a swarm it made.
.PHONY: swarm-test
swarm-test: venv test-tools
	@CFLAB_SWARM_E2E=1 $(BIN)/pytest -q tests/e2e/test_swarm.py

NODES ?= 3
swarm-lab: venv host-tools
	@$(CFLAB) swarm-lab --nodes $(NODES) $(ARGS)
