# tlearn in a container: `make docker` (GPU, default) or `make docker VARIANT=cpu`;
# `make docker-test` builds the CPU image and runs train → predict → export in it.
# Needs BuildKit (scripts/docker-build.sh picks a client that has it).
#
# Base images and the libtensorflow pin come from third_party/libtensorflow/versions.env;
# `make docker` passes them as build arguments (the defaults below must match it —
# internal/buildcheck checks they do). Where Docker Hub cannot be reached,
# scripts/docker-base.sh makes local DEBIAN_IMAGE and GO_IMAGE stand-ins
# (`make docker DOCKER_BASE=local`); the recipe is the same.
ARG VARIANT=gpu
ARG TF_GPU_IMAGE=tensorflow/tensorflow:2.18.0-gpu
ARG GO_IMAGE=golang:1.26-bookworm
ARG DEBIAN_IMAGE=debian:bookworm-slim

# --- the Go toolchain (GOROOT /usr/local/go in the official image and the local one)
FROM ${GO_IMAGE} AS go

# --- libtensorflow, CPU: the pinned tensorflow-cpu wheel from PyPI, checksum-verified by
# install.sh (as `make deps` does). The wheel is kept in a BuildKit cache between builds.
# Steps that download over TLS trust the optional build secret `ca-bundle` too (a PEM
# bundle: scripts/docker-build.sh passes the host's, for networks whose TLS goes through
# a proxy with its own CA); a secret never ends up in the image.
FROM ${DEBIAN_IMAGE} AS tf-cpu
RUN apt-get update && apt-get install -y --no-install-recommends binutils ca-certificates python3 python3-pip \
 && rm -rf /var/lib/apt/lists/*
COPY third_party/libtensorflow/install.sh third_party/libtensorflow/versions.env /src/third_party/libtensorflow/
RUN --mount=type=cache,id=tlearn-wheels,target=/src/.cache --mount=type=secret,id=ca-bundle \
    if [ -s /run/secrets/ca-bundle ]; then export PIP_CERT=/run/secrets/ca-bundle; fi; \
    LIBTENSORFLOW_DIST=/opt/libtensorflow bash /src/third_party/libtensorflow/install.sh

# --- libtensorflow, GPU: the CUDA build of libtensorflow_cc that the TensorFlow GPU image's
# Python package carries (same C API), installed by the same script (headers for the build).
FROM ${TF_GPU_IMAGE} AS tf-gpu
RUN apt-get update && apt-get install -y --no-install-recommends binutils && rm -rf /var/lib/apt/lists/*
COPY third_party/libtensorflow/install.sh third_party/libtensorflow/versions.env /src/third_party/libtensorflow/
RUN LIBTENSORFLOW_DIST=/opt/libtensorflow \
    LIBTENSORFLOW_FROM="$(python3 -c 'import os, tensorflow; print(os.path.dirname(tensorflow.__file__))')" \
    bash /src/third_party/libtensorflow/install.sh

FROM tf-${VARIANT} AS tf

# --- build environment, CPU: the Go image (Debian 12, like the CPU runtime)
FROM ${GO_IMAGE} AS build-cpu
RUN apt-get update && apt-get install -y --no-install-recommends libjpeg62-turbo-dev && rm -rf /var/lib/apt/lists/*

# --- build environment, GPU: the TensorFlow GPU image itself (Ubuntu), so that the binary
# is built against the C library and libjpeg-turbo of the system it runs on.
FROM ${TF_GPU_IMAGE} AS build-gpu
# libjpeg-dev: libjpeg-turbo's headers under Ubuntu's name and Debian's alike.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev libjpeg-dev \
 && rm -rf /var/lib/apt/lists/*
COPY --from=go /usr/local/go /usr/local/go
ENV PATH=/usr/local/go/bin:$PATH GOPATH=/go GOTOOLCHAIN=local

# --- build: modules first (cached layer), then the source
FROM build-${VARIANT} AS build
COPY --from=tf /opt/libtensorflow /opt/libtensorflow
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,id=tlearn-gomod,target=/go/pkg/mod --mount=type=secret,id=ca-bundle \
    if [ -s /run/secrets/ca-bundle ]; then export SSL_CERT_FILE=/run/secrets/ca-bundle; fi; \
    go mod download
COPY . .
ARG TLEARN_VERSION=docker
ARG VARIANT
RUN --mount=type=cache,id=tlearn-gomod,target=/go/pkg/mod \
    --mount=type=cache,id=tlearn-gobuild-${VARIANT},target=/root/.cache/go-build \
    CGO_ENABLED=1 CGO_CFLAGS=-I/opt/libtensorflow/include \
    CGO_LDFLAGS='-L/opt/libtensorflow/lib -Wl,-rpath,$ORIGIN/../lib' \
    go build -trimpath -tags libjpeg -ldflags "-s -w -X main.version=${TLEARN_VERSION}" -o /out/tlearn ./cmd/tlearn

# --- runtime, CPU: slim Debian, the binary, libtensorflow (bin/ + lib/, found by rpath) and
# the one library they link that slim Debian lacks (libjpeg-turbo; libstdc++ is there).
FROM ${DEBIAN_IMAGE} AS runtime-cpu
RUN apt-get update && apt-get install -y --no-install-recommends libjpeg62-turbo libstdc++6 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=tf /opt/libtensorflow/lib/ /opt/tlearn/lib/

# --- runtime, GPU: the TensorFlow GPU image keeps the CUDA/cuDNN libraries libtensorflow
# needs; lib/ points at the libtensorflow its Python package already has (no second copy).
FROM ${TF_GPU_IMAGE} AS runtime-gpu
# libjpeg-turbo's runtime library: libjpeg-turbo8 on Ubuntu (the TensorFlow image), libjpeg62-turbo on Debian.
RUN apt-get update \
 && { apt-get install -y --no-install-recommends libjpeg-turbo8 || apt-get install -y --no-install-recommends libjpeg62-turbo; } \
 && rm -rf /var/lib/apt/lists/* \
 && d="$(python3 -c 'import os, tensorflow; print(os.path.dirname(tensorflow.__file__))')" \
 && mkdir -p /opt/tlearn/lib \
 && ln -s "$d/libtensorflow_cc.so.2" "$d/libtensorflow_framework.so.2" /opt/tlearn/lib/

FROM runtime-${VARIANT}
ARG VARIANT
LABEL org.opencontainers.image.title=tlearn io.tlearn.variant=${VARIANT}
COPY --from=build /out/tlearn /opt/tlearn/bin/tlearn
# A non-root user by default; `docker run --user "$(id -u):$(id -g)"` runs as the caller
# instead, so that files written to a mounted folder belong to them.
RUN useradd --uid 1000 --user-group --create-home --shell /usr/sbin/nologin tlearn \
 && mkdir -p /work && chown tlearn:tlearn /work \
 && /opt/tlearn/bin/tlearn --version
ENV PATH=/opt/tlearn/bin:$PATH TF_CPP_MIN_LOG_LEVEL=1
USER tlearn
WORKDIR /work
ENTRYPOINT ["tlearn"]
CMD ["info"]
