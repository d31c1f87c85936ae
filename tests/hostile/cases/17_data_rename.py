# Read-only /data: renames into, out of and within the mount, and replace.
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


open("/app/mine.txt", "w").write("mine")
os.mkdir("/app/mydir")
attempt("rename out of /data", lambda: os.rename("/data/readme.txt", "/app/stolen.txt"))
attempt("rename dir out of /data", lambda: os.rename("/data/sub", "/app/sub"))
attempt("rename into /data", lambda: os.rename("/app/mine.txt", "/data/mine.txt"))
attempt("replace a /data file", lambda: os.replace("/app/mine.txt", "/data/readme.txt"))
attempt("replace a /data dir", lambda: os.replace("/app/mydir", "/data/emptydir"))
attempt("rename within /data", lambda: os.rename("/data/readme.txt", "/data/renamed.txt"))
attempt("rename /data itself", lambda: os.rename("/data", "/app/data"))
attempt("rename onto /data", lambda: os.rename("/app/mydir", "/data"))
attempt("shutil.move out", lambda: shutil.move("/data/open.txt", "/app/open.txt"))
attempt("rename link_inside", lambda: os.rename("/data/link_inside", "/data/l2"))
print("still there:", sorted(os.listdir("/data")))
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
