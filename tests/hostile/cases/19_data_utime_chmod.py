# Read-only /data: metadata changes. WASI has no chmod, so os.chmod cannot
# reach the host at all; utime goes through path_filestat_set_times and
# fd_filestat_set_times, which must refuse. The runner checks mode and
# mtime on the host.
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED"
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


before = os.stat("/data/readme.txt")
attempt("utime (0, 0)", lambda: os.utime("/data/readme.txt", (0, 0)))
attempt("utime now", lambda: os.utime("/data/readme.txt"))
attempt("utime ns", lambda: os.utime("/data/readme.txt", ns=(1, 1)))
attempt("utime dir", lambda: os.utime("/data/sub", (0, 0)))
attempt("utime /data", lambda: os.utime("/data", (0, 0)))
attempt("utime nofollow link", lambda: os.utime("/data/link_inside", (0, 0), follow_symlinks=False))
fd = os.open("/data/readme.txt", os.O_RDONLY)
attempt("futimes on read fd", lambda: os.utime(fd, (0, 0)))
for mode in (0o777, 0o000, 0o4755):
    try:
        os.chmod("/data/readme.txt", mode)
    except OSError as e:
        print(f"BLOCKED chmod {mode:o}: {e}")
after = os.stat("/data/readme.txt")
if (after.st_mode, after.st_mtime_ns) != (before.st_mode, before.st_mtime_ns):
    escaped.append("stat changed")
    print("ESCAPED stat changed", before, after)
else:
    print("BLOCKED mode and mtime unchanged as seen by the guest")
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
