# Escapes through "..": from the mounts, from the working directory, and
# through directories the guest made itself.
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


os.makedirs("/app/a/b/c", exist_ok=True)
targets = [
    "/app/../canary/secret.txt",
    "/app/../../canary/secret.txt",
    "/app/../../../etc/passwd",
    "/app/a/b/c/../../../../etc/passwd",
    "/app/a/../../etc/hostname",
    "/data/../canary/secret.txt",
    "/data/sub/../../etc/passwd",
    "/.vivarium/../etc/passwd",
    "/app/./../etc/passwd",
    "/app/a/b/c/" + "../" * 40 + "etc/passwd",
]
for t in targets:
    attempt(f"read {t}", lambda t=t: open(t).read())
    attempt(f"stat {t}", lambda t=t: os.stat(t))
for d in ["/app/..", "/app/../..", "/data/..", "/app/a/b/c/../../../.."]:
    attempt(f"listdir {d}", lambda d=d: os.listdir(d))
attempt("write /app/../escaped.txt", lambda: open("/app/../escaped.txt", "w").write("x"))
attempt("mkdir /app/../newdir", lambda: os.mkdir("/app/../newdir"))
attempt("rename into ..", lambda: os.rename("/app/a", "/app/../a"))

os.chdir("/app/a/b")
for t in ["../../../etc/passwd", "../../../../canary/secret.txt", "../" * 64 + "etc/passwd"]:
    attempt(f"relative read {t[:40]}", lambda t=t: open(t).read())
attempt("relative listdir ../../..", lambda: os.listdir("../../.."))
attempt("chdir above /app", lambda: (os.chdir("../../.."), os.listdir("."))[1])

print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
