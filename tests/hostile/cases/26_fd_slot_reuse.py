# Descriptor slots are reused lowest-first. Close the /app preopen (slot 3)
# and open a /data directory: it lands in slot 3, which wasi-libc still
# believes is /app. Paths under /app now resolve beneath /data/sub; the
# read-only flag must travel with the descriptor, so "/app/..." writes are
# refused and the data directory stays unchanged.
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED" stdout_contains="slot 3 is /data/sub"
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


os.close(3)
fd = os.open("/data/sub", os.O_RDONLY | os.O_DIRECTORY)
print("new descriptor", fd)
try:
    if open("/app/nested.txt").read() == "DATA-NESTED\n":
        print("slot 3 is /data/sub now")
except OSError as e:
    print("slot 3 not reused:", e)
attempt("create via aliased /app", lambda: open("/app/new.txt", "w").write("x"))
attempt("truncate via aliased /app", lambda: open("/app/nested.txt", "w"))
attempt("append via aliased /app", lambda: open("/app/nested.txt", "a").write("x"))
attempt("mkdir via aliased /app", lambda: os.mkdir("/app/d"))
attempt("unlink via aliased /app", lambda: os.unlink("/app/nested.txt"))
attempt("escape via aliased /app", lambda: open("/app/../../canary/secret.txt").read())
# And the other way round: a writable /app directory in the /data slot.
os.close(fd)
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
