#!/usr/bin/env bash
# Data-parallel training in one process (issue 17): images/s and ms/step of
# vgg_mini (64 px) on one device vs two virtual CPU replicas (--devices
# cpu:0,cpu:1), at a global batch of 16 (throughput) and 2 (the per-step
# overhead of splitting, averaging and cross-device copies dominates).
# Usage: bench/dataparallel.sh [-benchtime=20x] [-count=3]; results in bench/NOTES.md.
set -euo pipefail
cd "$(dirname "$0")/.."
# The cgo flags for the project's libtensorflow, as the Makefile sets them.
D=${TF_DIST:-$PWD/third_party/libtensorflow/dist}
export CGO_ENABLED=1 CGO_CFLAGS="-I$D/include" CGO_LDFLAGS="-L$D/lib -Wl,-rpath,$D/lib"
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(-benchtime=20x -count=3)
go test -run '^$' -bench 'BenchmarkDataParallel|BenchmarkClusterTwoProcesses' "${args[@]}" ./tfgraph/ 2>&1 | grep -E '^(Benchmark|goos|goarch|cpu|ok|FAIL)'
