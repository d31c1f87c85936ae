#!/usr/bin/env bash
# bench/batteries_import.sh [BUILD_DIR] [RUNS]
#
# What importing each battery costs, cold (a fresh interpreter per run):
#   fuel      fuel_consumed of `import M` minus that of an empty program
#             (deterministic: one run is enough)
#   guest ms  the import alone, timed inside the guest (median of RUNS)
#   native ms the same import in native python3, same sources (median)
#   ratio     guest ms / native ms
# The warm path (a pre-initialised interpreter) is reported when the build
# has one; this build has none yet, so that column says n/a.
#
# Native python3 reads the same tree: a python3.12 uses the guest-compiled
# .pyc files as they are (same magic number); another version compiles the
# sources in memory (-B), which makes it look slower than it is.
set -euo pipefail
build=${1:-build}
runs=${2:-3}
viv="$build/vivarium"
tree="$build/guest/batteries"
[[ -x $viv ]] || { echo "no $viv (build first)" >&2; exit 1; }
[[ -f $tree/MANIFEST ]] || { echo "no batteries tree at $tree (guest/batteries/build.sh)" >&2; exit 1; }
site=$(cd "$tree/site" && pwd -P)

native=
for cand in "$(PYENV_VERSION=3.12.1 pyenv which python3.12 2>/dev/null || true)" \
            "$(command -v python3.12 || true)" "$(command -v python3 || true)"; do
  if [[ -n $cand && -x $cand ]]; then native=$cand; break; fi
done
# pyenv's python3 is a shell shim: time the real binary (engine-notes.md).
if [[ -n $native ]]; then
  native=$("$native" -c 'import sys; print(sys.executable)')
fi

median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else print a[int((NR+1)/2)]}'; }
fuel_of() {
  "$viv" run --json --fuel 1000000000000 --timeout 600 -c "$1" |
    grep -o '"fuel_consumed":[0-9]*' | cut -d: -f2
}
timer='import time as _t
_s = _t.perf_counter()
import %s
print("ms=%%.1f" %% ((_t.perf_counter() - _s) * 1000))'

base=$(fuel_of "pass")
echo "batteries import cost, cold; $runs runs each; empty program: $base fuel"
echo "native: ${native:-none found} $([[ -n $native ]] && "$native" -c 'import sys; print(sys.version.split()[0])')"
printf '%-15s %14s %10s %10s %7s %8s\n' module fuel "guest ms" "native ms" ratio warm
mods=$(awk '$1 == "module" {print $2}' "$tree/MANIFEST")
for m in $mods; do
  # shellcheck disable=SC2059
  code=$(printf "$timer" "$m")
  f=$(fuel_of "import $m")
  g=$(for _ in $(seq "$runs"); do
        "$viv" run --fuel 1000000000000 --timeout 600 -c "$code" | sed -n 's/^ms=//p'
      done | median)
  n=nan
  if [[ -n $native ]]; then
    n=$(for _ in $(seq "$runs"); do
          "$native" -S -B -c "import sys; sys.path.append('$site')
$code" 2>/dev/null | sed -n 's/^ms=//p'
        done | median)
  fi
  ratio=$(awk -v g="$g" -v n="$n" 'BEGIN { if (n + 0 > 0) printf "%.1fx", g / n; else print "n/a" }')
  printf '%-15s %14d %10s %10s %7s %8s\n' "$m" "$((f - base))" "$g" "$n" "$ratio" n/a
done
all="openpyxl, jinja2, yaml, sympy, networkx, bs4, tabulate, dateutil, pypdf, markdown"
printf '\nimport %s: %d fuel in all (budget by default 5000000000)\n' "$all" "$(fuel_of "import $all")"
