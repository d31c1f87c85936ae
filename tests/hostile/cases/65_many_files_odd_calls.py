# Volume and odd calls: 12,000 files in the workspace (past the after-run
# snapshot's 10,000-file cap, so the result flags its file lists as
# partial), names and paths past the length limits, select() over too many
# descriptors, unknown clock ids, a 50 MB urandom read. Every one ends in a
# result or a clean error.
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED" stdout_contains="12000 files" json_true=files_truncated
# flags: --timeout 30
import os
import select
import time

escaped = []


def attempt(name, fn):
    try:
        r = fn()
    except Exception as e:
        print(f"BLOCKED {name}: {type(e).__name__}: {str(e)[:80]}")
        return
    print(f"ESCAPED {name}: {r!r:.100}")
    escaped.append(name)


for i in range(12000):
    open(f"/app/f{i:05}", "w").close()
print(len(os.listdir("/app")), "files")
attempt("path of 5000 bytes", lambda: open("/app/" + "a" * 5000))
attempt("name of 300 bytes", lambda: open("/app/" + "a" * 300, "w"))
attempt("3000 ./ components", lambda: open("/app/" + "./" * 3000 + "x", "w"))
attempt("select on 4000 fds", lambda: select.select([0] * 2000, [1] * 2000, [], 0.1))
attempt("select on a bad fd", lambda: select.select([999], [], [], 0.1))
print("clock 99 answers:", type(time.clock_gettime(99)).__name__)
print("urandom:", len(os.urandom(50 * 10**6)))
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
