# tlearn — see README.md. Every target works on a fresh clone: the ones that
# need libtensorflow depend on `deps`, which installs it (idempotently).
include third_party/libtensorflow/versions.env

ROOT      := $(abspath .)
TF_DIST   ?= $(ROOT)/third_party/libtensorflow/dist
TF_LIB    := $(TF_DIST)/lib
TF_STAMP  := $(TF_DIST)/INSTALLED
PYENV     := $(ROOT)/.cache/pyenv
PYTHON    := $(PYENV)/bin/python
GO        ?= go

# cgo finds the headers and library here; the rpath lets bin/tlearn and test
# binaries find libtensorflow without LD_LIBRARY_PATH ($ORIGIN/../lib first, for
# an installed layout bin/ + lib/ as in the Docker image).
export CGO_ENABLED := 1
export CGO_CFLAGS  := -I$(TF_DIST)/include
export CGO_LDFLAGS := -L$(TF_LIB) -Wl,-rpath,$$ORIGIN/../lib -Wl,-rpath,$(TF_LIB)
export TLEARN_PYTHON := $(PYTHON)
# TensorFlow's C++ logging: warnings and errors only.
export TF_CPP_MIN_LOG_LEVEL ?= 1

# libjpeg-turbo (Debian: libjpeg62-turbo-dev) decodes JPEG about 2x faster than
# Go's image/jpeg and exactly as TensorFlow's decode_jpeg does (so the Go
# pipeline and an exported SavedModel see the same pixels). The build uses it
# when its header is there and falls back to pure Go otherwise (TAGS= forces that).
TAGS ?= $(shell printf '\043include <stdio.h>\n\043include <jpeglib.h>\n' | $(CC) -E -x c - >/dev/null 2>&1 && echo libjpeg)

# tlearn's version in `tlearn --version`, config.json and info: the git commit.
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

TEST_TIMEOUT ?= 20m
GOTESTFLAGS  ?=

.PHONY: docs docker docker-base docker-test help deps pydeps benchdeps build test test-pipeline demo bench bench-smoke stress food101 clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort | column -t -s "$$(printf '\t')"

deps: $(TF_STAMP) ## install libtensorflow $(TF_VERSION) (C library + headers) into third_party/libtensorflow/dist

$(TF_STAMP): third_party/libtensorflow/versions.env third_party/libtensorflow/install.sh
	bash third_party/libtensorflow/install.sh

pydeps: $(PYENV)/.done ## Python reference environment for tests and benchmarks (TensorFlow $(TF_VERSION) from PyPI)

$(PYENV)/.done: third_party/libtensorflow/versions.env scripts/requirements-test.txt
	python3 -m venv $(PYENV)
	$(PYENV)/bin/pip install --quiet $(TF_PY_REQUIREMENT) -r scripts/requirements-test.txt
	$(PYENV)/bin/pip install --quiet --no-deps $(TF_PY_KERAS) $(TF_PY_SLIM)
	touch $@

build: deps ## build bin/tlearn
	$(GO) build -tags '$(TAGS)' -ldflags "-X main.version=$(VERSION)" -o bin/tlearn ./cmd/tlearn
	@echo "built bin/tlearn (JPEG decoder: $(if $(TAGS),libjpeg-turbo,Go image/jpeg — apt-get install libjpeg62-turbo-dev for 2x faster decoding))"

test: deps build pydeps ## the whole test suite (the README's test command)
	$(GO) vet -tags '$(TAGS)' ./...
	$(GO) test -tags '$(TAGS)' -count=1 -timeout $(TEST_TIMEOUT) $(GOTESTFLAGS) ./...

demo: deps build ## the transfer-learning story on real MNIST digits, a few minutes on 2 cores (the README's main job)
	bash demo/run.sh

food101: build ## fetch Food-101 and TF-Slim's vgg_19.ckpt (needs internet) and print the full training command
	bash scripts/food101.sh

benchdeps: $(PYENV)/.bench-done ## Keras/PyTorch side of the benchmark (bench/requirements.txt) in the same venv

$(PYENV)/.bench-done: $(PYENV)/.done bench/requirements.txt
	$(PYENV)/bin/pip install --quiet -r bench/requirements.txt
	touch $@

BENCH_ARGS ?=
bench: deps build pydeps benchdeps ## tlearn vs Keras vs PyTorch (VGG19, vgg_mini, resnet_v1_50, mobilenet_v2, inception_v3; ~2 h on 2 cores) → bench/RESULTS.md, then 1 vs 2 replicas (bench/dataparallel.sh); BENCH_ARGS='--reps 1' etc.
	bash bench/run.sh $(BENCH_ARGS)
	$(PYENV)/bin/python bench/precision.py
	bash bench/dataparallel.sh

bench-smoke: deps build pydeps ## a few images, one step, every installed tool (CI: keeps the bench working; no timing)
	bash bench/run.sh --smoke $(BENCH_ARGS)

# make stress: the heavy reliability tests (issue 8). Crash/resume of the real
# binary under kill -9, resident memory over 1,000 predict batches, the pipeline
# under -race (with the random-cancel leak test), then a bounded fuzzing run per
# target. About 4–5 minutes on 2 cores; CI runs it after make test.
#
# Each target fuzzes for a count of executions (-fuzztime Nx), sized to ~20 s
# here, not for a duration: with a duration, Go's fuzz coordinator (go1.26)
# can report its own end-of-budget deadline as a failure, "context deadline
# exceeded" with no crasher (golang/go#75804, seen in CI on FuzzParseEvent).
# A count has no deadline to race. FUZZSCALE multiplies every count
# (FUZZSCALE=10 for a longer hunt).
FUZZSCALE ?= 1
# Go minimizes each new interesting input for up to 60 s by default, which
# stalls a short run; a short minimization keeps the budget fuzzing.
FUZZMINIMIZETIME ?= 2s
FUZZ_TARGETS := ./pipeline:FuzzDecode:400000 ./pipeline:FuzzEXIF:1000000 ./pipeline:FuzzParseList:1000000 \
                ./pipeline:FuzzParseFood101Meta:1000000 ./cmd/tlearn:FuzzConfigFile:40000 ./tfevents:FuzzParseEvent:40000

stress: deps build pydeps ## heavy reliability tests: kill -9 crash/resume, predict RSS, -race pipeline, bounded fuzzing
	$(GO) test -count=1 -tags 'stress $(TAGS)' -timeout 20m -v -run 'TestCrashResume|TestPredictMemoryFlat' ./cmd/tlearn ./infer
	$(GO) test -count=1 -tags 'stress $(TAGS)' -race -timeout 10m ./pipeline/...
	@for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; rest=$${t#*:}; fn=$${rest%%:*}; n=$$(($${rest#*:} * $(FUZZSCALE))); echo "fuzz $$fn in $$pkg for $$n executions"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $${n}x -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg || exit 1; \
	done

test-pipeline: ## pipeline tests only (no libtensorflow needed)
	CGO_ENABLED=0 $(GO) test -count=1 ./pipeline/...

# Docker (issue 16). DOCKER_BASE=registry uses the Dockerfile's base images from Docker
# Hub; DOCKER_BASE=local makes stand-ins for DEBIAN_IMAGE and GO_IMAGE with debootstrap
# and the Go toolchain module (scripts/docker-base.sh), for machines without Docker Hub.
VARIANT     ?= gpu
DOCKER_BASE ?= registry
DOCKER_TAG  ?= tlearn:$(VARIANT)
ifeq ($(DOCKER_BASE),local)
DEBIAN_IMAGE := tlearn-base/debian:bookworm-slim
GO_IMAGE     := tlearn-base/golang:$(GO_TOOLCHAIN:go%=%)-bookworm
DOCKER_BASE_DEP := docker-base
else ifneq ($(DOCKER_BASE),registry)
$(error DOCKER_BASE=$(DOCKER_BASE): registry or local)
endif

docker: $(DOCKER_BASE_DEP) ## build the Docker image tlearn:$(VARIANT) (VARIANT=gpu|cpu; DOCKER_BASE=local without Docker Hub)
	bash scripts/docker-build.sh --build-arg VARIANT=$(VARIANT) --build-arg TF_GPU_IMAGE=$(TF_GPU_IMAGE) \
	  --build-arg GO_IMAGE=$(GO_IMAGE) --build-arg DEBIAN_IMAGE=$(DEBIAN_IMAGE) --build-arg TLEARN_VERSION=$(VERSION) \
	  -t $(DOCKER_TAG) .

docker-base: ## local Debian and Go base images (debootstrap + the Go toolchain module), for DOCKER_BASE=local
	bash scripts/docker-base.sh

docker-test: ## build the CPU image and run it as a user would: info, train → predict → export on real images in mounted folders
	$(MAKE) docker VARIANT=cpu
	bash scripts/docker-test.sh tlearn:cpu

docs: build ## regenerate the --help blocks of docs/cli.md from bin/tlearn (TestDocsListEveryFlag checks them)
	python3 scripts/gen_cli_docs.py bin/tlearn

clean: ## remove build outputs (keeps the installed library and caches)
	rm -rf bin
