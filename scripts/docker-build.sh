#!/usr/bin/env bash
# docker-build.sh ARGS... — `docker build ARGS...` with BuildKit, which the Dockerfile
# needs (stages picked by VARIANT, cache mounts). Docker 23+ clients build with BuildKit
# only through the buildx plugin; older clients (Debian 12's docker.io, 20.10) use the
# engine's built-in BuildKit when DOCKER_BUILDKIT=1. This picks whichever works here.
set -euo pipefail
DOCKER=${DOCKER:-docker}

# The host's CA bundle, as the build secret the Dockerfile's download steps trust
# (CA_BUNDLE= turns it off; it is not copied into the image).
CA_BUNDLE=${CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}
secret=()
[ -n "$CA_BUNDLE" ] && [ -s "$CA_BUNDLE" ] && secret=(--secret "id=ca-bundle,src=$CA_BUNDLE")

die() { printf 'docker-build: error: %s\n' "$*" >&2; exit 1; }
major() { "$1" version --format '{{.Client.Version}}' 2>/dev/null | sed 's/[^0-9].*//' ; }

if "$DOCKER" buildx version >/dev/null 2>&1; then
  exec "$DOCKER" buildx build --load "${secret[@]}" "$@"
fi
for client in "$DOCKER" /usr/bin/docker; do
  command -v "$client" >/dev/null 2>&1 || continue
  m=$(major "$client" || true)
  if [ -n "$m" ] && [ "$m" -lt 23 ]; then
    DOCKER_BUILDKIT=1 exec "$client" build "${secret[@]}" "$@"
  fi
done
die "no Docker client here can build with BuildKit: install the buildx plugin (docker-buildx), or Debian's docker.io (whose client has BuildKit built in)"
