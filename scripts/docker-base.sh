#!/usr/bin/env bash
# docker-base.sh — make local stand-ins for the Dockerfile's registry base images,
# for machines where Docker Hub cannot be reached (such as CI's):
#
#   tlearn-base/debian:bookworm-slim   Debian 12 from debootstrap (minbase, no docs/locales,
#                                      bookworm + updates + security sources), for DEBIAN_IMAGE
#   tlearn-base/golang:<GO_TOOLCHAIN>  that image plus gcc and the Go toolchain GO_TOOLCHAIN
#                                      (versions.env) from the Go module proxy, for GO_IMAGE
#
# Then: make docker-test DOCKER_BASE=local (or pass the build arguments
# DEBIAN_IMAGE=... GO_IMAGE=... by hand). Each image is made once: an existing
# one is kept (FORCE=1 remakes them). Needs root (debootstrap), docker, go.
# The Debian mirror is the one apt is configured with here (DEBIAN_MIRROR overrides).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=../third_party/libtensorflow/versions.env
source "$root/third_party/libtensorflow/versions.env"
DOCKER=${DOCKER:-docker}
debian_tag=${LOCAL_DEBIAN_IMAGE:-tlearn-base/debian:bookworm-slim}
go_tag=${LOCAL_GO_IMAGE:-tlearn-base/golang:${GO_TOOLCHAIN#go}-bookworm}

log() { printf 'docker-base: %s\n' "$*" >&2; }
die() { printf 'docker-base: error: %s\n' "$*" >&2; exit 1; }
have_image() { [ "${FORCE:-0}" != 1 ] && "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

# mirror: the Debian archive apt uses on this machine (deb822 or one-line sources).
mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local m
  m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -oE '(https?://[^ ]+/debian)/?( |$)' | grep -v security | head -n1 | tr -d ' ' || true)
  echo "${m:-http://deb.debian.org/debian}"
}

make_debian() {
  if have_image "$debian_tag"; then log "$debian_tag exists"; return; fi
  command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install debootstrap"
  local m tmp; m=$(mirror); tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  log "debootstrap bookworm (minbase) from $m"
  debootstrap --variant=minbase bookworm "$tmp/rootfs" "$m" >"$tmp/debootstrap.log" 2>&1 ||
    { tail -n 20 "$tmp/debootstrap.log" >&2; die "debootstrap failed"; }
  local r=$tmp/rootfs
  cat >"$r/etc/apt/sources.list" <<EOF
deb $m bookworm main
deb $m bookworm-updates main
deb ${m%/debian}/debian-security bookworm-security main
EOF
  # What debian:bookworm-slim leaves out: docs, man pages, locales, apt's caches.
  cat >"$r/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
  echo 'APT::Install-Recommends "false";' >"$r/etc/apt/apt.conf.d/90no-recommends"
  # As in the official image: apt keeps no package caches (80 MB in every layer that runs apt).
  cat >"$r/etc/apt/apt.conf.d/docker-clean" <<'CLEAN'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CLEAN
  find "$r/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
  rm -rf "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/locale/* \
         "$r"/var/cache/apt/* "$r"/var/lib/apt/lists/* "$r"/var/log/*.log
  tar -C "$r" -c . | "$DOCKER" import --change 'CMD ["bash"]' - "$debian_tag" >/dev/null
  log "made $debian_tag ($("$DOCKER" image inspect -f '{{.Size}}' "$debian_tag" | awk '{printf "%.0f MB", $1/1e6}'))"
}

make_go() {
  if have_image "$go_tag"; then log "$go_tag exists"; return; fi
  command -v go >/dev/null || die "go is needed to fetch (and checksum-verify) the Go toolchain module"
  local mod="golang.org/toolchain@v0.0.1-${GO_TOOLCHAIN}.linux-amd64" tmp dir
  tmp=$(mktemp -d); trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' RETURN
  log "fetching $mod from the Go module proxy (verified against the checksum database)"
  # Outside any module, with the local toolchain: plain module download.
  dir=$(cd "$tmp" && GOTOOLCHAIN=local GO111MODULE=on GOFLAGS= go mod download -json "$mod" |
        sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -f "$dir/bin/go" ] || die "go mod download $mod gave no toolchain (dir '$dir')"
  mkdir "$tmp/ctx"; cp -R "$dir" "$tmp/ctx/go"; chmod -R u+w "$tmp/ctx/go"
  # The module cache keeps files read-only and not executable (the go command sets
  # the bits when it switches toolchains itself).
  find "$tmp/ctx/go/bin" "$tmp/ctx/go/pkg/tool" -type f -exec chmod 0755 {} +
  cat >"$tmp/ctx/Dockerfile" <<EOF
FROM $debian_tag
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates gcc libc6-dev git \
 && rm -rf /var/lib/apt/lists/*
COPY go /usr/local/go
ENV GOLANG_VERSION=${GO_TOOLCHAIN#go} GOPATH=/go PATH=/go/bin:/usr/local/go/bin:\$PATH GOTOOLCHAIN=local
WORKDIR /go
EOF
  # The classic builder is enough here (no BuildKit features), and any client has it.
  DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$go_tag" "$tmp/ctx" >/dev/null 2>"$tmp/build.log" ||
    { cat "$tmp/build.log" >&2; die "building $go_tag failed"; }
  "$DOCKER" run --rm "$go_tag" go version >&2
  log "made $go_tag"
}

"$DOCKER" info >/dev/null 2>&1 || die "no Docker engine reachable (start dockerd)"
make_debian
make_go
echo "DEBIAN_IMAGE=$debian_tag GO_IMAGE=$go_tag"
