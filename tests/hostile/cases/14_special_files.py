# Files that are not files: a FIFO (opening it must not block forever), a
# unix socket, and a character device node planted by the host (skipped to
# a plain file when the runner is not root). None may be opened as a
# stream; none may hang the run.
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED" max_seconds=8
# flags: --timeout 5
# setup: fifo app/fifo
# setup: socket app/sock
# setup: chardev app/zero 1 5
import os
import stat

escaped = []


def attempt(name, fn):
    try:
        r = fn()
    except Exception as e:
        print(f"BLOCKED {name}: {type(e).__name__}: {e}")
        return
    print(f"ESCAPED {name}: {r!r:.300}")
    escaped.append(name)


attempt("read fifo", lambda: open("/app/fifo", "rb").read(10))
attempt("write fifo", lambda: open("/app/fifo", "wb").write(b"x"))
attempt("open fifo nonblock", lambda: os.open("/app/fifo", os.O_RDONLY | os.O_NONBLOCK))
attempt("read socket", lambda: open("/app/sock", "rb").read(10))
attempt("write socket", lambda: open("/app/sock", "wb").write(b"x"))
mode = os.lstat("/app/zero").st_mode
if stat.S_ISCHR(mode):
    attempt("read chardev", lambda: open("/app/zero", "rb").read(10))
    attempt("write chardev", lambda: open("/app/zero", "wb").write(b"x"))
else:
    print("BLOCKED chardev not planted (runner not root)")
print("listing still works:", sorted(os.listdir("/app")))
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
