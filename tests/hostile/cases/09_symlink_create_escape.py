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
# Legitimate links inside the workspace are allowed.
os.symlink("a/b", "/app/ok1")
os.symlink("../..", "/app/a/b/ok2")  # a/b/.. /.. = /app
os.symlink("../data", "/app/a/ok3") if False else None
print("inside links work:", os.path.isdir("/app/ok1"), os.path.isdir("/app/a/b/ok2"))
attempt("link into /data", lambda: os.symlink("readme.txt", "/data/new_link"))
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
