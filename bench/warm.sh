#!/usr/bin/env bash
# bench/warm.sh [RUNS]
#
# The fast-start benchmarks of issue #8 (bench/warm_bench.c): print(1)
# through the CLI with a `vivarium serve` and through the library, an import
# workload, and throughput with 2 workers, each side by side with native
# CPython as p50/p99 ratios of RUNS runs (default 200), with the issue's
# targets printed next to the figures.
#
# Native means the real python3.12 binary (not the pyenv shim, which adds a
# shell and ~0.2 s per start); without a 3.12, the system python3.11. The
# script says which it used. Benchmarks are not tests: nothing here passes
# or fails.
set -euo pipefail

runs=${1:-200}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
viv=${VIVARIUM:-$build/vivarium}
guest=${GUEST:-$build/guest/python.wasm}
bench=$build/bench/warm_bench

native=${NATIVE_PYTHON:-}
if [[ -z $native ]]; then
  for cand in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12 /usr/bin/python3.12 \
              /usr/local/bin/python3.12 /usr/bin/python3.11; do
    if [[ -x $cand ]]; then
      native=$cand
      break
    fi
  done
fi
if [[ -z $native ]]; then
  native=$(python3 -c 'import os, sys; print(os.path.realpath(sys.executable))')
fi
if [[ ! -x $bench ]]; then
  echo "warm.sh: $bench is not built (cmake --build build --target warm_bench)" >&2
  exit 1
fi

echo "native: $native ($("$native" -c 'import sys; print(sys.version.split()[0])'))"
echo "vivarium: $viv, guest $guest"
exec "$bench" "$viv" "$native" "$guest" "$runs"
