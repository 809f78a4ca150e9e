# syntax=docker/dockerfile:1.6
# tlearn in a container: `make docker` (GPU, default) or `make docker VARIANT=cpu`.
# Base images and the libtensorflow pin come from third_party/libtensorflow/versions.env;
# `make docker` passes them as build arguments (the defaults below must match it —
# a test checks they do). CI does not build this image (no Docker engine there).
ARG VARIANT=gpu
ARG TF_GPU_IMAGE=tensorflow/tensorflow:2.18.0-gpu
ARG GO_IMAGE=golang:1.26-bookworm

# --- libtensorflow, CPU: the pinned tensorflow-cpu wheel, checksum-verified by install.sh
FROM python:3.11-slim-bookworm AS tf-cpu
RUN apt-get update && apt-get install -y --no-install-recommends binutils && rm -rf /var/lib/apt/lists/*
COPY third_party/libtensorflow/ /src/third_party/libtensorflow/
RUN --mount=type=cache,target=/src/.cache \
    LIBTENSORFLOW_DIST=/opt/libtensorflow bash /src/third_party/libtensorflow/install.sh

# --- libtensorflow, GPU: the CUDA build of libtensorflow_cc that the TensorFlow GPU image's
# Python package carries (same C API), installed by the same script.
FROM ${TF_GPU_IMAGE} AS tf-gpu
RUN apt-get update && apt-get install -y --no-install-recommends binutils && rm -rf /var/lib/apt/lists/*
COPY third_party/libtensorflow/ /src/third_party/libtensorflow/
RUN LIBTENSORFLOW_DIST=/opt/libtensorflow \
    LIBTENSORFLOW_FROM="$(python3 -c 'import os, tensorflow; print(os.path.dirname(tensorflow.__file__))')" \
    bash /src/third_party/libtensorflow/install.sh

FROM tf-${VARIANT} AS tf

# --- build: modules first (cached layer), then the source
FROM ${GO_IMAGE} AS build
RUN apt-get update && apt-get install -y --no-install-recommends libjpeg62-turbo-dev && rm -rf /var/lib/apt/lists/*
COPY --from=tf /opt/libtensorflow /opt/libtensorflow
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TLEARN_VERSION=docker
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=1 CGO_CFLAGS=-I/opt/libtensorflow/include \
    CGO_LDFLAGS='-L/opt/libtensorflow/lib -Wl,-rpath,$ORIGIN/../lib' \
    go build -tags libjpeg -ldflags "-X main.version=${TLEARN_VERSION}" -o /out/bin/tlearn ./cmd/tlearn \
 && cp -a /opt/libtensorflow/lib /out/lib

# --- runtime, CPU: slim Debian with the binary and the library (bin/ + lib/, found by rpath)
FROM debian:bookworm-slim AS runtime-cpu
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libstdc++6 libjpeg62-turbo && rm -rf /var/lib/apt/lists/*

# --- runtime, GPU: the TensorFlow GPU image keeps the CUDA/cuDNN libraries libtensorflow needs
FROM ${TF_GPU_IMAGE} AS runtime-gpu
# libjpeg.so.62 for the libjpeg-turbo decoder the binary links (Ubuntu's package name).
RUN apt-get update && apt-get install -y --no-install-recommends libjpeg62 && rm -rf /var/lib/apt/lists/*

FROM runtime-${VARIANT}
COPY --from=build /out/bin/tlearn /opt/tlearn/bin/tlearn
COPY --from=build /out/lib /opt/tlearn/lib
ENV PATH=/opt/tlearn/bin:$PATH TF_CPP_MIN_LOG_LEVEL=1
WORKDIR /work
ENTRYPOINT ["tlearn"]
CMD ["info"]
