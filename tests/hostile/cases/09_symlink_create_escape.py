# The guest itself tries to make symlinks that point out of its mounts.
# Resolution is confined anyway, but src/wasi refuses to create them so that
# nothing the host later does with the workspace can follow them out.
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


os.makedirs("/app/a/b", exist_ok=True)
targets = ["/etc/passwd", "/", "..", "../", "../..", "../../canary/secret.txt",
           "a/../../x", "./../x", "a/b/../../../x", "//etc", "/app/a"]
for t in targets:
    attempt(f"symlink -> {t}", lambda t=t: os.symlink(t, "/app/l_" + str(abs(hash(t)))))
for t in ["../../..", "../../../canary", "../../../../etc"]:
    attempt(f"a/b/link -> {t}", lambda t=t: os.symlink(t, "/app/a/b/l_" + str(abs(hash(t)))))
# Links free of ".." stay usable; any ".." is refused, even one that would
# stay inside today, because moving the link later could take it out.
os.symlink("a/b", "/app/ok1")
attempt("a/b/link -> ../.. (inside, but has ..)", lambda: os.symlink("../..", "/app/a/b/ok2"))
print("inside links work:", os.path.isdir("/app/ok1"))
attempt("link into /data", lambda: os.symlink("readme.txt", "/data/new_link"))
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
