#!/usr/bin/env bash
# tests/install_check.sh: after `cmake --install`, build examples/hello.c the
# way an embedder would (pkg-config) and check what it prints.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export PKG_CONFIG_PATH=/usr/local/lib/pkgconfig:/usr/local/lib/x86_64-linux-gnu/pkgconfig:${PKG_CONFIG_PATH:-}
# shellcheck disable=SC2046
cc "$root/examples/hello.c" $(pkg-config --cflags --libs vivarium) -o "$tmp/hello"
out=$("$tmp/hello")
echo "$out"
fail=0
grep -q 'VIV_EPOLICY, field "fuel_budget"' <<<"$out" || { echo "FAIL: no VIV_EPOLICY naming fuel_budget"; fail=1; }
grep -q '^print(6\*7) -> 42$' <<<"$out" || { echo "FAIL: print(6*7) did not give 42"; fail=1; }
grep -q 'missing guest: VIV_ENOENT, path "/nonexistent/guest.wasm"' <<<"$out" || { echo "FAIL: no VIV_ENOENT with the path"; fail=1; }
# The installed CLI and library run our guest by default.
ver=$(/usr/local/bin/vivarium run -c 'import sys; print(sys.version_info[:2])')
[[ $ver == "(3, 11)" ]] || { echo "FAIL: the installed default guest is not 3.11: $ver"; fail=1; }
# The installed CLI finds the batteries beside the installed npm guest.
bat=$(/usr/local/bin/vivarium run --guest python3.12-npm --json -c 'import yaml; print(yaml.safe_load("a: [1, 2]"))')
grep -q '"stdout":"{'"'"'a'"'"': \[1, 2\]}\\n"' <<<"$bat" || { echo "FAIL: installed CLI could not use yaml: $bat"; fail=1; }
grep -q '"batteries":{"available":true' <<<"$bat" || { echo "FAIL: installed batteries not available: $bat"; fail=1; }
if ((fail)); then echo "0 passed, 1 failed"; exit 1; fi
echo "1 passed, 0 failed"
