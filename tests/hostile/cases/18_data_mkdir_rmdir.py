# Read-only /data: creating and removing directories, and shutil helpers
# that combine several calls.
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED"
# flags: --timeout 10 --data {DATA}
import os
import shutil

escaped = []


def attempt(name, fn):
    try:
        r = fn()
    except Exception as e:
        print(f"BLOCKED {name}: {type(e).__name__}: {e}")
        return
    print(f"ESCAPED {name}: {r!r:.300}")
    escaped.append(name)


attempt("mkdir /data/new", lambda: os.mkdir("/data/new"))
attempt("makedirs /data/sub/a/b", lambda: os.makedirs("/data/sub/a/b"))
attempt("mkdir in emptydir", lambda: os.mkdir("/data/emptydir/x"))
attempt("rmdir emptydir", lambda: os.rmdir("/data/emptydir"))
attempt("rmdir sub", lambda: os.rmdir("/data/sub"))
attempt("removedirs", lambda: os.removedirs("/data/emptydir"))
attempt("rmtree sub", lambda: shutil.rmtree("/data/sub"))
attempt("copytree into /data", lambda: shutil.copytree("/.vivarium", "/data/copy"))
attempt("copy into /data", lambda: shutil.copy(__file__, "/data/prog.py"))
ok = shutil.rmtree("/data/sub", ignore_errors=True)
print("still there:", sorted(os.listdir("/data")), sorted(os.listdir("/data/sub")))
if sorted(os.listdir("/data/sub")) != ["nested.txt"]:
    escaped.append("sub changed")
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
