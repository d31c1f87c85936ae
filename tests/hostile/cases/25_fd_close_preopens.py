# Closing the preopens, stdio and the stdlib's descriptors, then reopening
# paths: the guest must get clean errors (or the same confinement), never a
# crash of the host or a path outside its mounts. There is no dup2 in WASI
# Python (fd_renumber has no Python binding); os.dup is "not supported".
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED" stdout_contains="after closing"
# flags: --timeout 10 --data {DATA}
import os

escaped = []


def attempt(name, fn):
    try:
        r = fn()
    except Exception as e:
        print(f"BLOCKED {name}: {type(e).__name__}: {e}")
        return
    print(f"ESCAPED {name}: {r!r:.300}")
    escaped.append(name)


attempt("os.dup(3)", lambda: os.dup(3))
attempt("os.dup2", lambda: os.dup2(4, 3))
os.close(3)  # /app
os.close(4)  # /data
attempt("reopen /app/x after close", lambda: open("/app/x", "w").write("x"))
attempt("reopen /data after close", lambda: open("/data/readme.txt").read())
attempt("close again", lambda: os.close(3))
attempt("close far fd", lambda: os.close(1000))
attempt("close negative", lambda: os.close(-1))
attempt("escape after close", lambda: open("/app/../canary/secret.txt").read())
import sys
sys.stdout.flush()
print("after closing the preopens, the guest still runs")
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
