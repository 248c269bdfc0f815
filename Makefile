# Two commands: `make serve` and `make test`. Both create (once) and reuse the virtual environment in .venv/.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 0.0.0.0
PORT ?= 8080
export HOST PORT

.PHONY: serve test test-fast train-mnist clean-venv container-check

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Stamps record which requirement set is installed; they are rebuilt when a requirements file changes.
$(VENV)/.serve-installed: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-train.txt requirements-dev.txt pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@ $(VENV)/.serve-installed

serve: $(VENV)/.serve-installed
	exec $(VENV)/bin/gunicorn --config gunicorn.conf.py

# Wheels for the tests that install into a fresh venv (the package itself; the Triton and KServe clients), made
# here with the network so that those tests install with --no-index and need none.
WHEELHOUSE := $(VENV)/wheelhouse
CLIENT_PINS = $(shell grep -E '^(tritonclient|kserve|greenlet)' requirements-dev.txt | cut -d' ' -f1)
$(VENV)/.wheelhouse: requirements.txt requirements-dev.txt pyproject.toml | $(PY)
	$(PY) -m pip wheel --quiet --wheel-dir $(WHEELHOUSE) -r requirements.txt $(CLIENT_PINS) "setuptools>=64"
	touch $@

test: $(VENV)/.dev-installed $(VENV)/.wheelhouse
	$(PY) -m pytest

test-fast: $(VENV)/.dev-installed
	$(PY) -m pytest -m "not slow"

# Training (one at a time on a small machine): each writes models/<name>/1/ with its manifest and history.
.PHONY: train-flowers train-flowers-reference train-mugs train-tfrecords
train-mnist: $(VENV)/.dev-installed
	$(PY) -m training --config configs/mnist.json

train-flowers: $(VENV)/.dev-installed
	$(PY) -m training --config configs/flowers.json

train-flowers-reference: $(VENV)/.dev-installed
	$(PY) -m training --config configs/flowers_cnn.json

train-mugs: $(VENV)/.dev-installed
	$(PY) -m training --config configs/mugs_final.json

train-tfrecords: $(VENV)/.dev-installed
	$(PY) -m training tfrecords --out data/mnist-tfrecords

clean-venv:
	rm -rf $(VENV)

# Build the Docker image with buildah and check its CLI and server modes with podman (no Docker engine needed).
container-check:
	bash scripts/container-check.sh

# Side-by-side benchmark (bench/README.md): installs wrk and the peers' environments once, then about 15 minutes.
# BENCH_ARGS=--quick gives a smoke run of about 3 minutes.
# BENCH_ARGS="--baseline REV" also serves the service as of git revision REV, for before/after in one run.
.PHONY: bench
bench: $(VENV)/.dev-installed
	bash bench/setup.sh
	PYTHON=$(PYTHON) bench/.venvs/harness/bin/python -m bench.run $(BENCH_ARGS)

# The browser the page's tests drive (tests/browser): Debian's chromium, since Playwright may not download one.
.PHONY: chromium
chromium:
	command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)
# Training jobs on Celery workers. The web side sends jobs there when it has the same CLASSIFIER_BROKER_URL:
#   CLASSIFIER_BROKER_URL=redis://127.0.0.1:6379/0 make serve    and, in another shell or machine,
#   CLASSIFIER_BROKER_URL=redis://127.0.0.1:6379/0 make worker
# Workers share CLASSIFIER_STATE_DIR (job records) and CLASSIFIER_MODELS_DIR with the web servers.
.PHONY: worker redis-server
CLASSIFIER_BROKER_URL ?= redis://127.0.0.1:6379/0
CLASSIFIER_TRAIN_CONCURRENCY ?= 1
worker: $(VENV)/.dev-installed
	CLASSIFIER_BROKER_URL=$(CLASSIFIER_BROKER_URL) exec $(VENV)/bin/celery -A service.jobs.celery_app worker \
		--concurrency $(CLASSIFIER_TRAIN_CONCURRENCY) --loglevel INFO

# Redis from Debian (the tests start their own on a free loopback port; `redis-server --port 6379` for make worker).
redis-server:
	command -v redis-server >/dev/null || (apt-get update -q && apt-get install -y -q redis-server)

# deploy/compose.yaml brought up by Debian's podman-compose (two replicas, nginx, Redis, the trainer), checked through
# nginx (classification on both replicas, hot reload from the shared models volume, a training job, a replica
# stopped under load) and removed (scripts/compose-check.sh). Reuses the image container-check builds.
# COMPOSE_CHECK_TRAINER=0 leaves the trainer (and its TensorFlow image) out.
.PHONY: compose-check
compose-check:
	bash scripts/compose-check.sh
