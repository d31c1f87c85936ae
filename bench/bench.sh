#!/usr/bin/env bash
# bench/bench.sh [RUNS]
#
# Times Vivarium against native CPython, run side by side: each round runs
# the native interpreter and `vivarium run` once each, alternating, so both
# see the same machine load. Prints medians and the ratio vivarium/native.
#
# Native means the real python3.12 binary (pyenv's 3.12, not the pyenv shim,
# which adds ~0.24 s per start), falling back to python3's own executable.
# Benchmarks are not tests: nothing here passes or fails.
set -euo pipefail

runs=${1:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
viv=${VIVARIUM:-$root/build/vivarium}

native=${NATIVE_PYTHON:-}
if [[ -z $native ]]; then
  native=$(PYENV_VERSION=3.12.1 pyenv which python3.12 2>/dev/null || true)
fi
if [[ -z $native ]]; then
  native=$(python3 -c 'import sys; print(sys.executable)')
fi

now_ns() { date +%s%N; }

# time_once CMD... -> elapsed ms on stdout (command output discarded)
time_once() {
  local t0 t1
  t0=$(now_ns)
  "$@" >/dev/null 2>&1 || true
  t1=$(now_ns)
  echo $(((t1 - t0) / 1000))
}

median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f", m/1000}'; }

bench() {
  local name=$1 code=$2
  local nat=() viv_t=()
  for ((i = 0; i < runs; i++)); do
    nat+=("$(time_once "$native" -c "$code")")
    viv_t+=("$(time_once "$viv" run --fuel 1000000000000 --timeout 0 -c "$code")")
  done
  local mn mv
  mn=$(printf '%s\n' "${nat[@]}" | median)
  mv=$(printf '%s\n' "${viv_t[@]}" | median)
  printf '%-22s native %9s ms   vivarium %9s ms   ratio %6.2fx\n' "$name" "$mn" "$mv" \
    "$(echo "$mv / $mn" | bc -l)"
}

echo "native: $native ($("$native" -c 'import sys; print(sys.version.split()[0])'))"
echo "vivarium: $viv ($runs paired runs, medians)"
source "$root/bench/workloads.sh"

# Metering overhead: the same loop through a metered and an unmetered build
# of the guest (the unmetered one is compiled and cached on first use).
meter="$root/build/bench/meter_overhead"
if [[ -x $meter && ${SKIP_METER:-0} != 1 ]]; then
  "$meter" "$root/build/guest/python.wasm" "$runs"
else
  echo "metering overhead: build/bench/meter_overhead not built (or SKIP_METER=1)"
fi
