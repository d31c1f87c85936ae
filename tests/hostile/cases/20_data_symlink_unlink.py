# Read-only /data: creating symlinks and hard links in it, removing files
# and links from it.
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


attempt("symlink in /data", lambda: os.symlink("readme.txt", "/data/l"))
attempt("symlink in /data/sub", lambda: os.symlink("../readme.txt", "/data/sub/l"))
attempt("symlink over existing", lambda: os.symlink("x", "/data/readme.txt"))
attempt("hard link in /data", lambda: os.link("/data/readme.txt", "/data/hl"))
attempt("unlink file", lambda: os.unlink("/data/readme.txt"))
attempt("remove nested", lambda: os.remove("/data/sub/nested.txt"))
attempt("unlink symlink", lambda: os.unlink("/data/link_inside"))
attempt("unlink dir", lambda: os.unlink("/data/sub"))
attempt("unlink /data", lambda: os.unlink("/data"))
print("link_inside reads:", open("/data/link_inside").read().strip())
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
