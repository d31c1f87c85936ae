#!/bin/sh
# run_fuzz.sh HARNESS SRC_DIR BUILD_DIR NAME SECONDS
#
# The CTest driver for one libFuzzer harness: replay every committed
# regression input (SRC_DIR/regressions/NAME/), then fuzz for SECONDS from
# the committed seed corpus (SRC_DIR/corpus/NAME/) plus a working corpus
# kept in the build tree. Both phases always run; any crash, leak,
# sanitizer report or oracle failure in either fails the test. libFuzzer
# leaves a failing input as BUILD_DIR/NAME-crash-* (commit it under
# SRC_DIR/regressions/NAME/ to keep it).
set -u
harness=$1 src=$2 build=$3 name=$4 seconds=$5
regressions=$src/regressions/$name
seeds=$src/corpus/$name
work=$build/corpus-$name
dict=$src/$name.dict
mkdir -p "$work"
# fuzz_paths rebuilds a directory tree for every input: on tmpfs that is an
# order of magnitude faster than on a disk-backed /tmp.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
    TMPDIR=/dev/shm
    export TMPDIR
fi
set -- -rss_limit_mb=4096 -timeout=20 -artifact_prefix="$build/$name-"
if [ -f "$dict" ]; then
    set -- "$@" -dict="$dict"
fi

status=0
if [ -d "$regressions" ] && [ -n "$(ls -A "$regressions" 2>/dev/null)" ]; then
    echo "== replaying $(ls "$regressions" | wc -l) regression input(s) from $regressions"
    for input in "$regressions"/*; do
        if ! "$harness" "$@" "$input" >"$build/$name-replay.log" 2>&1; then
            echo "== REGRESSION FAILS: $input"
            grep -a -m 3 -E "^fuzz_|ERROR|runtime error" "$build/$name-replay.log"
            status=1
        fi
    done
fi

echo "== fuzzing $name for $seconds s (seeds: $seeds, working corpus: $work)"
"$harness" "$@" -max_total_time="$seconds" -print_final_stats=1 "$work" "$seeds" || status=1
exit $status
