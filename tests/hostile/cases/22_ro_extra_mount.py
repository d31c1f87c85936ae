# An extra read-only mount (--mount HOST:/ro) gets the same protection as
# /data, and reading it works.
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED" stdout_contains="RO-MOUNT"
# flags: --timeout 10 --mount {RO}:/ro
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


print(open("/ro/ro.txt").read().strip())
attempt("write", lambda: open("/ro/ro.txt", "w"))
attempt("append", lambda: open("/ro/ro.txt", "a"))
attempt("create", lambda: open("/ro/new", "x"))
attempt("mkdir", lambda: os.mkdir("/ro/d"))
attempt("unlink", lambda: os.unlink("/ro/ro.txt"))
attempt("rename out", lambda: os.rename("/ro/ro.txt", "/app/x"))
attempt("symlink", lambda: os.symlink("ro.txt", "/ro/l"))
attempt("utime", lambda: os.utime("/ro/ro.txt", (0, 0)))
attempt("escape ..", lambda: open("/ro/../canary/secret.txt").read())
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
