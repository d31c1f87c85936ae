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
sed "s|@VERSION@|${version:-CPython 3.11 for WASI}|" "$here/python.guest.in" >"$dest/python.guest.tmp"
mv "$dest/python.guest.tmp" "$dest/python.guest"
if [[ -n "$cli" ]]; then
  echo "cpython: compiling the guest ahead of time (cached; a cold compile takes ~5 min)" >&2
  "$cli" compile "$dest/python.wasm" -o "$dest/python.so" >/dev/null
fi
echo "cpython: guest python3.11 in $dest" >&2
