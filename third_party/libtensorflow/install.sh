#!/usr/bin/env bash
# install.sh — install the TensorFlow C library (libtensorflow) and its C headers
# into third_party/libtensorflow/dist/{lib,include}, where the Makefile points
# cgo (CGO_CFLAGS/CGO_LDFLAGS) and the rpath of bin/tlearn.
#
# Sources, first match wins:
#   LIBTENSORFLOW_TARBALL=PATH|URL  an official libtensorflow tarball (CPU or GPU
#                                   build); LIBTENSORFLOW_SHA256 must give its sha256.
#   LIBTENSORFLOW_FROM=DIR          the tensorflow/ folder of an installed Python
#                                   TensorFlow 2.18 (e.g. the GPU Docker base image).
#   (default)                       the pinned tensorflow-cpu wheel from PyPI
#                                   (versions.env), checksum-verified.
#
# The wheel's libtensorflow_cc.so.2 exports the whole C API (TF_NewSession,
# TF_AddGradientsWithPrefix, ...); we link it as libtensorflow.so so that graft's
# `-ltensorflow` finds it. Idempotent: a second run with the same source does nothing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
dist="${LIBTENSORFLOW_DIST:-$here/dist}"
cache="${TLEARN_CACHE:-$root/.cache}"
stamp="$dist/INSTALLED"

log() { printf 'libtensorflow: %s\n' "$*" >&2; }
die() { printf 'libtensorflow: error: %s\n' "$*" >&2; exit 1; }

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# verify_c_api checks that the library we will link exports the C API symbols
# graft and tlearn call; a build of TensorFlow without them would only fail at link time.
verify_c_api() {
  local lib=$1 missing=()
  local syms
  syms=$(nm -D --defined-only "$lib" 2>/dev/null | awk '{print $3}' | sed 's/@.*//')
  for s in TF_Version TF_NewGraph TF_NewSession TF_SessionRun TF_AddGradientsWithPrefix \
           TF_SessionListDevices TF_GraphToGraphDef TF_LoadSessionFromSavedModel; do
    grep -qx "$s" <<<"$syms" || missing+=("$s")
  done
  [ ${#missing[@]} -eq 0 ] || die "$lib does not export the C API symbols: ${missing[*]} (use a libtensorflow build that includes the C API)"
}

# finish_install wires libtensorflow.so to the library that exports the C API and
# writes the stamp.
finish_install() {
  local source_desc=$1 source_id=$2 capi=$3
  ( cd "$dist/lib"
    ln -sf "$capi" libtensorflow.so
    [ "$capi" = libtensorflow.so.2 ] || ln -sf "$capi" libtensorflow.so.2 )
  verify_c_api "$dist/lib/$capi"
  [ -f "$dist/include/tensorflow/c/c_api.h" ] || die "no C headers installed in $dist/include"
  printf 'version=%s\nsource=%s\nid=%s\nc_api=%s\n' "$TF_VERSION" "$source_desc" "$source_id" "$capi" >"$stamp.tmp"
  mv "$stamp.tmp" "$stamp"
  log "installed TensorFlow $TF_VERSION C library into $dist"
  log "  from: $source_desc"
  log "  C API exported by: $capi (linked as libtensorflow.so)"
}

already() {
  [ -f "$stamp" ] && grep -qx "id=$1" "$stamp" && [ -e "$dist/lib/libtensorflow.so" ] \
    && [ -f "$dist/include/tensorflow/c/c_api.h" ]
}

fresh_dist() { rm -rf "$dist"; mkdir -p "$dist/lib" "$dist/include"; }

install_from_tarball() {
  local src=$LIBTENSORFLOW_TARBALL want=${LIBTENSORFLOW_SHA256:-}
  [ -n "$want" ] || die "LIBTENSORFLOW_TARBALL is set but LIBTENSORFLOW_SHA256 is not: give the tarball's sha256 (published next to it)"
  if already "$want"; then log "already installed from $src"; return; fi
  local file=$src
  if [[ $src == http://* || $src == https://* ]]; then
    mkdir -p "$cache/libtensorflow"
    file="$cache/libtensorflow/$(basename "$src")"
    [ -f "$file" ] || { log "downloading $src"; curl -fL --retry 3 -o "$file.part" "$src"; mv "$file.part" "$file"; }
  fi
  [ -f "$file" ] || die "no such tarball: $file"
  local got; got=$(sha256_of "$file")
  [ "$got" = "$want" ] || die "checksum mismatch for $file: got $got, want $want"
  fresh_dist
  tar -xzf "$file" -C "$dist"
  local capi=libtensorflow.so.2
  [ -e "$dist/lib/$capi" ] || die "$file has no lib/libtensorflow.so.2: not an official libtensorflow tarball?"
  finish_install "tarball $src (sha256 $got)" "$want" "$capi"
}

# copy_from_python_tree installs from a tree laid out like the wheel's tensorflow/ folder.
copy_from_python_tree() {
  local tree=$1
  for f in libtensorflow_cc.so.2 libtensorflow_framework.so.2; do
    [ -f "$tree/$f" ] || die "$tree has no $f: not a TensorFlow 2.x package folder"
    cp -f "$tree/$f" "$dist/lib/$f"
  done
  # The C API headers and what they include: the tstring headers and TSL's status.
  mkdir -p "$dist/include/tensorflow"
  cp -R "$tree/include/tensorflow/c" "$dist/include/tensorflow/"
  mkdir -p "$dist/include/tensorflow/core/platform" "$dist/include/tsl/platform"
  cp -f "$tree/include/tensorflow/core/platform/"ctstring*.h "$dist/include/tensorflow/core/platform/"
  cp -f "$tree/include/tsl/platform/"ctstring*.h "$dist/include/tsl/platform/"
  mkdir -p "$dist/include/xla/tsl"
  cp -R "$tree/include/xla/tsl/c" "$dist/include/xla/tsl/"
}

install_from_python_dir() {
  local tree=$LIBTENSORFLOW_FROM
  [ -d "$tree" ] || die "LIBTENSORFLOW_FROM=$tree is not a folder"
  local id; id="dir:$(cd "$tree" && pwd):$(sha256_of "$tree/libtensorflow_cc.so.2")"
  if already "$id"; then log "already installed from $tree"; return; fi
  fresh_dist
  copy_from_python_tree "$tree"
  finish_install "installed Python TensorFlow at $tree" "$id" libtensorflow_cc.so.2
}

install_from_wheel() {
  if already "$TF_WHEEL_SHA256"; then log "already installed: TensorFlow $TF_VERSION from $TF_WHEEL_FILE"; return; fi
  mkdir -p "$cache/wheels"
  local whl="$cache/wheels/$TF_WHEEL_FILE"
  if [ ! -f "$whl" ] || [ "$(sha256_of "$whl")" != "$TF_WHEEL_SHA256" ]; then
    log "downloading $TF_WHEEL_PACKAGE==$TF_VERSION from PyPI"
    python3 -m pip download --quiet --no-deps --only-binary=:all: \
      --python-version "$TF_WHEEL_PYTHON" --platform "$TF_WHEEL_PLATFORM" \
      "$TF_WHEEL_PACKAGE==$TF_VERSION" -d "$cache/wheels"
  fi
  [ -f "$whl" ] || die "pip did not produce $whl"
  local got; got=$(sha256_of "$whl")
  [ "$got" = "$TF_WHEEL_SHA256" ] || die "checksum mismatch for $whl: got $got, want $TF_WHEEL_SHA256"
  fresh_dist
  local tmp; tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
  log "unpacking the C library and headers from $TF_WHEEL_FILE"
  python3 - "$whl" "$tmp" <<'PY'
import sys, zipfile
whl, out = sys.argv[1], sys.argv[2]
want = ("tensorflow/libtensorflow_cc.so.2", "tensorflow/libtensorflow_framework.so.2")
with zipfile.ZipFile(whl) as z:
    for n in z.namelist():
        if (n in want or n.startswith("tensorflow/include/tensorflow/c/")
                or n.startswith("tensorflow/include/xla/tsl/c/")
                or (n.startswith("tensorflow/include/") and "platform/ctstring" in n)):
            z.extract(n, out)
PY
  copy_from_python_tree "$tmp/tensorflow"
  finish_install "PyPI wheel $TF_WHEEL_FILE (sha256 $got)" "$TF_WHEEL_SHA256" libtensorflow_cc.so.2
}

command -v nm >/dev/null || die "nm (binutils) is needed to verify the library: apt-get install binutils"
if [ -n "${LIBTENSORFLOW_TARBALL:-}" ]; then
  install_from_tarball
elif [ -n "${LIBTENSORFLOW_FROM:-}" ]; then
  install_from_python_dir
else
  install_from_wheel
fi
