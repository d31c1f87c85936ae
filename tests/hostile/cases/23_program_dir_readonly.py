# The program itself is at /.vivarium/<name>, read-only: the guest can
# neither rewrite, remove nor shadow it, nor leave files next to it.
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED"
# flags: --timeout 10
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


me = __file__
print("running as", me)
attempt("rewrite self", lambda: open(me, "w").write("print('pwned')"))
attempt("append self", lambda: open(me, "a").write("#"))
attempt("unlink self", lambda: os.unlink(me))
attempt("rename self", lambda: os.rename(me, "/app/stolen.py"))
attempt("create sibling", lambda: open("/.vivarium/sitecustomize.py", "w").write("x"))
attempt("mkdir in /.vivarium", lambda: os.mkdir("/.vivarium/__pycache__"))
attempt("escape from /.vivarium", lambda: os.listdir("/.vivarium/.."))
attempt("utime self", lambda: os.utime(me, (0, 0)))
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
