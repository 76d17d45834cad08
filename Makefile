# Two commands do everything on a fresh Debian machine with Python >= 3.11 and root (or sudo):
#   make run    system packages + virtualenv + package, then the main job on the example briefs (local Ray, ./cue-store)
#   make test   the same set-up plus test tools, then linters and the test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STORE ?= ./cue-store
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE ?= cues:$(VERSION)
DEB_PACKAGES := fluidsynth libfluidsynth3 fluid-soundfont-gm timgm6mb-soundfont
# The tests check our files with independent tools: ffmpeg's loudness meter, sox (and its MP3 reader), and open
# the batch report in headless Chromium.
TEST_DEB_PACKAGES := ffmpeg sox libsox-fmt-mp3 chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint schemas model critic image image-cuda system-deps test-system-deps apt venv clean help
.DEFAULT_GOAL := help

help:
	@echo "make run     install everything, then run the main job on schemas/examples/ into $(STORE)"
	@echo "make test    install everything plus test tools, then lint and run the test suite"
	@echo "make schemas regenerate schemas/*.schema.json from the pydantic models"
	@echo "make model   preprocess the corpus, train the three default models into $(STORE) and install them in"
	@echo "             pipelines/models/default (about 1.5 hours on 2 cores), then the critic"
	@echo "make critic  train the phrase critic against the default bundle's composer and install it there (about 5"
	@echo "             minutes once the corpus is preprocessed); its card says how well it tells real from generated"
	@echo "make image   build the container image $(IMAGE) (CPU; needs a Docker engine), infra/docker/Dockerfile"
	@echo "make image-cuda  the same with PyTorch for CUDA: $(IMAGE)-cuda (IMAGE=registry/cues:tag to name it)"

run: system-deps $(BIN)/.installed
	RAY_USAGE_STATS_ENABLED=0 $(BIN)/cues run --store $(STORE)

test: system-deps test-system-deps $(BIN)/.installed-test
	$(BIN)/ruff check schemas services pipelines tests bench
	$(BIN)/python -m cues.schemas.export --check
	RAY_USAGE_STATS_ENABLED=0 $(BIN)/python -m pytest

lint: $(BIN)/.installed-test
	$(BIN)/ruff check schemas services pipelines tests bench

schemas: $(BIN)/.installed
	$(BIN)/python -m cues.schemas.export

# The default model bundle (pipelines/models/default), re-created from scratch: the settings its cards record.
TRAIN := RAY_USAGE_STATS_ENABLED=0 $(BIN)/cues train --dataset $(STORE)/datasets/folk-chorales --out $(STORE) \
	--bundle pipelines/models/default
model: system-deps $(BIN)/.installed
	RAY_USAGE_STATS_ENABLED=0 $(BIN)/cues preprocess --store $(STORE)
	$(TRAIN) --model melody --workers 2 --epochs 5
	$(TRAIN) --model vae --workers 2 --epochs 12 --batch-size 256 --max-train-sequences 8000
	$(TRAIN) --model vae-prior
	$(TRAIN) --model chords --workers 1 --epochs 120 --batch-size 8
	$(TRAIN) --model critic

# The phrase critic alone, after the generator changed (a re-run with the same generator and data returns at once).
critic: $(BIN)/.installed
	RAY_USAGE_STATS_ENABLED=0 $(BIN)/cues preprocess --store $(STORE)
	$(TRAIN) --model critic

# Container images for a cluster (infra/README.md): no virtualenv needed, only a Docker engine.
image:
	docker build -f infra/docker/Dockerfile -t $(IMAGE) .

image-cuda:
	docker build -f infra/docker/Dockerfile.cuda -t $(IMAGE)-cuda .

system-deps:
	@$(MAKE) --no-print-directory apt PACKAGES="$(DEB_PACKAGES)"

test-system-deps:
	@$(MAKE) --no-print-directory apt PACKAGES="$(TEST_DEB_PACKAGES)"

apt:
	@if ! dpkg -s $(PACKAGES) >/dev/null 2>&1; then \
		echo "Installing Debian packages: $(PACKAGES)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(PACKAGES); \
	fi

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python >= 3.11 is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# uv installs the same pinned packages as pip in a fifth of the time (35-40 s against 2 min 50 s on 2 cores, bytecode
# compiled by both: uv does it in parallel and resolves at once). uv does not read pip's configuration, so
# a machine's pip wheel folder (PIP_FIND_LINKS, e.g. a local CPU wheel of torch) is handed over. Without uv on the
# package index, pip does the install. Bytecode is compiled at install, as pip does: where PYTHONDONTWRITEBYTECODE is
# set (CI here), every Ray worker would otherwise compile torch and Ray from source again (the suite took 1.6x).
UV_LINKS := $(foreach d,$(PIP_FIND_LINKS),--find-links $(d))
INSTALL = { $(BIN)/pip install -q uv && $(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python $(UV_LINKS) $(1); } || \
	$(BIN)/pip install -q $(1)

# Reinstall when the project's dependencies change.
$(BIN)/.installed: pyproject.toml | $(BIN)/python
	$(call INSTALL,-e .)
	@touch $@

$(BIN)/.installed-test: pyproject.toml | $(BIN)/python
	$(call INSTALL,-e '.[test]')
	@touch $@ $(BIN)/.installed

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache .hypothesis
