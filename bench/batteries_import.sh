#!/usr/bin/env bash
# bench/batteries_import.sh [BUILD_DIR] [RUNS]
#
# What importing each battery costs, per guest (every guest built in
# BUILD_DIR/guest: ours, python3.11, and the npm python3.12; $GUESTS picks),
# cold and warm:
#   cold fuel  fuel_consumed of `import M` minus that of an empty program, in
#              a fresh interpreter (deterministic: one run is enough)
#   cold ms    the import alone, timed inside the guest (median of RUNS)
#   warm fuel  the same through a `vivarium serve` (a forked, started
#              interpreter that has already imported json, re, csv and
#              sqlite3), minus a warm empty program
#   warm ms    the import alone, timed inside the guest, warm (median)
#   native ms  the same import in native CPython of the guest's minor
#              version, reading the same tree (median)
#   ratio      cold ms / native ms
# and then the issue's import line, cold and warm, against the default
# budget. Benchmarks are not tests: nothing here passes or fails.
#
# Native CPython reads the guest-compiled .pyc files when its minor version
# is the guest's (same magic number); with no such interpreter the column
# says n/a. pyenv's python3 is a shell shim, so the real binary is timed
# (engine-notes.md).
set -euo pipefail
build=${1:-build}
runs=${2:-3}
viv="$build/vivarium"
[[ -x $viv ]] || { echo "no $viv (build first)" >&2; exit 1; }

# guest name -> its directory in the build tree
guest_dir() { [[ $1 == python3.12-npm ]] && echo "$build/guest" || echo "$build/guest/$1"; }
guests=${GUESTS:-}
if [[ -z $guests ]]; then
  for g in python3.11 python3.12-npm; do
    [[ -e $(guest_dir "$g")/python.wasm ]] && guests+=" $g"
  done
fi

native_for() { # MAJOR.MINOR -> a real interpreter of that version, or nothing
  local v=$1 cand
  for cand in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python"$v" \
              /usr/bin/python"$v" /usr/local/bin/python"$v"; do
    if [[ -x $cand ]]; then
      "$cand" -c 'import os, sys; print(os.path.realpath(sys.executable))'
      return
    fi
  done
}

# One server for the warm columns; it serves every guest (the request names
# it). Its socket lives in a private directory, removed on exit.
sockdir=$(mktemp -d)
chmod 700 "$sockdir"
sock="$sockdir/s.sock"
"$viv" serve --socket "$sock" 2>"$sockdir/serve.err" &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$sockdir"; }
trap cleanup EXIT
for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.1; done
[[ -S $sock ]] || { cat "$sockdir/serve.err" >&2; echo "vivarium serve did not start" >&2; exit 1; }

median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else print a[int((NR+1)/2)]}'; }
jfield() { grep -o "\"$1\":[^,}]*" | head -1 | cut -d: -f2; }
# run GUEST WARM(0|1) CODE... -> the --json result
run() {
  local g=$1 warm=$2
  shift 2
  if ((warm)); then
    VIVARIUM_SOCKET=$sock "$viv" run --guest "$g" --json --fuel 1000000000000 --timeout 600 "$@"
  else
    env -u VIVARIUM_SOCKET "$viv" run --guest "$g" --json --fuel 1000000000000 --timeout 600 "$@"
  fi
}
fuel_of() { run "$1" "$2" -c "$3" | jfield fuel_consumed; }
ms_of() { # GUEST WARM MODULE -> median ms of the import, timed in the guest
  local code="import time as _t
_s = _t.perf_counter()
import $3
print('ms=%.1f' % ((_t.perf_counter() - _s) * 1000))"
  for _ in $(seq "$runs"); do
    run "$1" "$2" -c "$code" | grep -o 'ms=[0-9.]*' | cut -d= -f2
  done | median
}

line="openpyxl, jinja2, yaml, sympy, networkx, bs4, tabulate, dateutil, pypdf, markdown"
for g in $guests; do
  dir=$(guest_dir "$g")
  tree="$dir/batteries"
  if [[ ! -f $tree/MANIFEST ]]; then
    echo "$g: no batteries tree at $tree (guest/batteries/build.sh)" >&2
    continue
  fi
  site=$(cd "$tree/site" && pwd -P)
  ver=$(run "$g" 0 -c 'import sys; print("%d.%d" % sys.version_info[:2])' | jfield stdout |
          tr -d '"' | sed 's/\\n$//')
  native=$(native_for "$ver")
  # The first warm request starts this guest's interpreter; later ones fork it.
  w=$(run "$g" 1 -c pass)
  [[ $(jfield warm <<< "$w") == true ]] || echo "$g: the server ran cold; warm columns are not warm" >&2
  base=$(fuel_of "$g" 0 pass)
  wbase=$(fuel_of "$g" 1 pass)
  echo
  echo "== $g (CPython $ver): $runs runs each; empty program: $base fuel cold, $wbase warm"
  echo "native: ${native:-none of version $ver found}"
  printf '%-15s %13s %8s %13s %8s %9s %6s\n' module "cold fuel" "cold ms" "warm fuel" "warm ms" \
    "native ms" ratio
  mapfile -t mods < <(awk '$1 == "module" {print $2}' "$tree/MANIFEST")
  for m in "${mods[@]}"; do
    cf=$(fuel_of "$g" 0 "import $m")
    wf=$(fuel_of "$g" 1 "import $m")
    cm=$(ms_of "$g" 0 "$m")
    wm=$(ms_of "$g" 1 "$m")
    n=nan
    if [[ -n $native ]]; then
      n=$(for _ in $(seq "$runs"); do
            "$native" -S -B -c "import sys; sys.path.append('$site')
import time as _t
_s = _t.perf_counter()
import $m
print('ms=%.1f' % ((_t.perf_counter() - _s) * 1000))" 2>/dev/null | sed -n 's/^ms=//p'
          done | median)
    fi
    ratio=$(awk -v g="$cm" -v n="$n" 'BEGIN { if (n + 0 > 0) printf "%.1fx", g / n; else print "n/a" }')
    printf '%-15s %13d %8s %13d %8s %9s %6s\n' "$m" "$((cf - base))" "$cm" "$((wf - wbase))" "$wm" \
      "$n" "$ratio"
  done
  printf 'import %s:\n  cold %d fuel in all, warm %d (the default budget is 5000000000)\n' "$line" \
    "$(fuel_of "$g" 0 "import $line")" "$(fuel_of "$g" 1 "import $line")"
done
