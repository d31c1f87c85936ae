#!/usr/bin/env bash
# bench/own_guest.sh [RUNS]
#
# Our own CPython 3.11 guest (guest/cpython) against the npm CPython 3.12
# guest and native python3.11, all three run side by side: each round runs
# native, `vivarium run --guest python3.12-npm` and `vivarium run --guest
# python3.11` once each, in that order, so all see the same machine load.
# Prints the medians and the medians of the per-round (paired) ratios.
#
# Native is the real python3.11 binary (not pyenv's shim, which adds ~0.24 s
# a start). Benchmarks are not tests: nothing here passes or fails.
set -euo pipefail

runs=${1:-15}
root=$(cd "$(dirname "$0")/.." && pwd)
viv=${VIVARIUM:-$root/build/vivarium}
native=${NATIVE_PYTHON:-$(PYENV_VERSION=system pyenv which python3.11 2>/dev/null ||
  python3.11 -c 'import sys; print(sys.executable)')}

if ! "$viv" run --guest python3.11 -c 'pass' >/dev/null 2>&1; then
  echo "our guest (the default) is not built (tools/bootstrap builds it): nothing to compare" >&2
  exit 0
fi

now_us() { echo $(($(date +%s%N) / 1000)); }
time_once() {
  local t0
  t0=$(now_us)
  "$@" >/dev/null 2>&1 || true
  echo $(($(now_us) - t0))
}
median() { sort -g | awk '{a[NR]=$1} END {printf "%.4f", (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }

bench() {
  local name=$1 code=$2
  local n=() p=() o=() r_on=() r_onat=() r_pnat=()
  local limits=(--fuel 1000000000000 --timeout 0 --memory 1G)
  for ((i = 0; i < runs; i++)); do
    local tn tp to
    tn=$(time_once "$native" -c "$code")
    tp=$(time_once "$viv" run "${limits[@]}" --guest python3.12-npm -c "$code")
    to=$(time_once "$viv" run "${limits[@]}" --guest python3.11 -c "$code")
    n+=("$tn") p+=("$tp") o+=("$to")
    r_on+=("$(echo "$to / $tp" | bc -l)")
    r_onat+=("$(echo "$to / $tn" | bc -l)")
    r_pnat+=("$(echo "$tp / $tn" | bc -l)")
  done
  printf '%-20s native %8.1f ms  npm-3.12 %8.1f ms  own-3.11 %8.1f ms   own/npm %5.2fx  own/native %5.2fx  npm/native %5.2fx\n' \
    "$name" \
    "$(printf '%s\n' "${n[@]}" | median | awk '{print $1/1000}')" \
    "$(printf '%s\n' "${p[@]}" | median | awk '{print $1/1000}')" \
    "$(printf '%s\n' "${o[@]}" | median | awk '{print $1/1000}')" \
    "$(printf '%s\n' "${r_on[@]}" | median)" \
    "$(printf '%s\n' "${r_onat[@]}" | median)" \
    "$(printf '%s\n' "${r_pnat[@]}" | median)"
}

echo "native: $native ($("$native" -c 'import sys; print(sys.version.split()[0])'))"
echo "vivarium: $viv ($runs rounds; medians, ratios are medians of paired ratios)"
source "$root/bench/workloads.sh"
