# Chains of symlinks that end outside, mixed absolute/relative hops, and
# loops: every lookup must end in a clean error, never a hang or a crash.
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED" max_seconds=15
# flags: --timeout 10
# setup: symlink app/c1 -> c2
# setup: symlink app/c2 -> d/c3
# setup: mkdir app/d
# setup: symlink app/d/c3 -> ../c4
# setup: symlink app/c4 -> {CANARY}/secret.txt
# setup: symlink app/r1 -> d/r2
# setup: symlink app/d/r2 -> ../r3
# setup: symlink app/r3 -> ../../canary/notes/inner.txt
# setup: symlink app/loop1 -> loop2
# setup: symlink app/loop2 -> loop1
# setup: symlink app/selfloop -> selfloop
# setup: symlink app/dirloop -> d/../dirloop
# setup: symlink app/dot -> .
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


attempt("read chain c1", lambda: open("/app/c1").read())
attempt("read chain r1", lambda: open("/app/r1").read())
attempt("write chain c1", lambda: open("/app/c1", "a").write("x"))
for p in ["loop1", "selfloop", "dirloop", "loop1/x", "dot/loop1"]:
    attempt(f"open {p}", lambda p=p: open("/app/" + p).read())
    attempt(f"create {p}", lambda p=p: open("/app/" + p, "w").write("x"))
    attempt(f"stat {p}", lambda p=p: os.stat("/app/" + p))
# 40 "dot/" hops are fine (a loop of directories, not of links), 100 nested
# chained link hops are not.
deep = "/app/" + "dot/" * 40 + "d"
print("deep dot path is inside:", os.path.isdir(deep))
attempt("dot chain to c1", lambda: open("/app/" + "dot/" * 30 + "c1").read())
for i in range(60):
    os.symlink(f"h{i + 1}" if i < 59 else "c1", f"/app/h{i}")
attempt("60-hop chain", lambda: open("/app/h0").read())
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
