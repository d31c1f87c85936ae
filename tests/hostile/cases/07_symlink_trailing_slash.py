# Trailing slashes make the kernel follow a final symlink even where a call
# would otherwise act on the link itself (unlink, rmdir, rename, mkdir).
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED"
# flags: --timeout 10
# setup: symlink app/dirlink -> {CANARY}
# setup: symlink app/rel_dirlink -> ../../canary/empty
# setup: symlink app/inside -> sub
# setup: mkdir app/sub
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


for link in ["dirlink", "rel_dirlink"]:
    for suffix in ["/", "//", "/.", "/./"]:
        p = "/app/" + link + suffix
        attempt(f"listdir {p}", lambda p=p: os.listdir(p))
        attempt(f"stat {p}", lambda p=p: os.stat(p))
        attempt(f"open {p}", lambda p=p: os.close(os.open(p, os.O_RDONLY)) or "opened")
        attempt(f"rmdir {p}", lambda p=p: os.rmdir(p))
        attempt(f"mkdir {p}new", lambda p=p: os.mkdir(p + "new"))
        attempt(f"create {p}f.txt", lambda p=p: open(p + "f.txt", "w").write("x"))
    attempt(f"rename {link}/ away", lambda link=link: os.rename(f"/app/{link}/", "/app/moved"))
    attempt(f"rename onto {link}/", lambda link=link: os.rename("/app/sub", f"/app/{link}/"))
    attempt(f"unlink {link}/", lambda link=link: os.unlink(f"/app/{link}/"))
    attempt(f"read {link}/secret.txt", lambda link=link: open(f"/app/{link}/secret.txt").read())
# Inside, the same spellings work.
os.mkdir("/app/inside/made")
print("inside/ works:", sorted(os.listdir("/app/inside/")))
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
