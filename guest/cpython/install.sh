#!/usr/bin/env bash
# guest/cpython/install.sh [--cached-only] DEST_DIR [VIVARIUM]
#
# Builds our CPython 3.11 guest (build.sh: cached by input hash, so a warm
# cache costs seconds) and lays it out in DEST_DIR as the CLI's --guest
# python3.11 expects: python.wasm and lib/ link into the cache, python.guest
# names the stdlib mount. With VIVARIUM (the CLI), also compiles the module
# ahead of time into DEST_DIR/python.so (cached by content as well).
# --cached-only: exit 3, changing nothing, unless the build is cached.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
flags=(--print-dir)
if [[ ${1:-} == --cached-only ]]; then
  flags+=(--cached-only)
  shift
fi
dest=${1:?usage: install.sh [--cached-only] DEST_DIR [VIVARIUM]}
cli=${2:-}

out=$(bash "$here/build.sh" "${flags[@]}")
mkdir -p "$dest"
ln -sfn "$out/python.wasm" "$dest/python.wasm"
ln -sfn "$out/lib" "$dest/lib"
version=$(sed -n 's/^source python3.11 \([^ ]*\) .*/CPython 3.11 for WASI, Debian source \1, -O2/p' "$out/build-info.txt")
# The stdlib's hash is that of its manifest (every file and its sha256),
# as SHA256SUMS records it; build.sh verified both before printing $out.
stdlib_sha=$(sed -n 's/^\([0-9a-f]\{64\}\)  stdlib\.sha256$/\1/p' "$out/SHA256SUMS")
[[ -n "$stdlib_sha" ]] || { echo "cpython: no stdlib.sha256 in $out/SHA256SUMS" >&2; exit 1; }
sed -e "s|@VERSION@|${version:-CPython 3.11 for WASI}|" -e "s|@STDLIB_SHA256@|$stdlib_sha|" \
  "$here/python.guest.in" >"$dest/python.guest.tmp"
mv "$dest/python.guest.tmp" "$dest/python.guest"
if [[ -n "$cli" ]]; then
  # gcc -O2: the compute loop runs ~9% faster than at -O1 for ~50% more
  # compile time (docs/design.md, "The guests").
  echo "cpython: compiling the guest ahead of time (cached; a cold compile takes ~6 min)" >&2
  "$cli" compile --opt-level 2 "$dest/python.wasm" -o "$dest/python.so" >/dev/null
fi
echo "cpython: guest python3.11 in $dest" >&2
