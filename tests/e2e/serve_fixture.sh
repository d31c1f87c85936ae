#!/usr/bin/env bash
# tests/e2e/serve_fixture.sh start|stop VIVARIUM DIR
#
# The CTest fixture of the e2e_*_served variants: `start` runs a
# `vivarium serve` on DIR/s.sock in the background; `stop` ends it and
# fails unless it really served executions, so that a suite which silently
# fell back to local runs cannot pass as a served one.
set -euo pipefail
mode=$1 viv=$2 dir=$3
case "$mode" in
  start)
    rm -rf "$dir"
    mkdir -p -m 700 "$dir"
    setsid "$viv" serve --socket "$dir/s.sock" --log "$dir/serve.log" \
      </dev/null >"$dir/serve.out" 2>&1 &
    echo $! >"$dir/pid"
    for _ in $(seq 600); do
      [[ -S $dir/s.sock ]] && exit 0
      kill -0 "$(cat "$dir/pid")" 2>/dev/null || break
      sleep 0.1
    done
    echo "serve_fixture: vivarium serve did not start:" >&2
    cat "$dir/serve.out" >&2
    exit 1
    ;;
  stop)
    pid=$(cat "$dir/pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 600); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    n=$(grep -c '"event":"sandbox.execution.complete"' "$dir/serve.log" || true)
    echo "serve_fixture: the server ran $n executions"
    [[ -S $dir/s.sock ]] && { echo "serve_fixture: socket left behind" >&2; exit 1; }
    [[ $n -gt 0 ]]
    ;;
  *)
    echo "usage: serve_fixture.sh start|stop VIVARIUM DIR" >&2
    exit 2
    ;;
esac
