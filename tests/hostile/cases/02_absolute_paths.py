# Absolute host paths that no mount covers, and spellings that try to make
# a mount prefix match something else.
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED"
# flags: --timeout 10 --data {DATA} --env CANARY_PATH={CANARY}/secret.txt
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


for p in ["/etc/passwd", "/etc/shadow", "//etc/passwd", "/tmp", "/root", "/home",
          "/dev/null", "/dev/zero", "/sys/kernel", "/var/log", "/appendix",
          "/app_other", "/datax/readme.txt", "/.vivarium2/x", "/usr/bin/env",
          "/usr/local/../../etc/passwd", "/usr/local/lib/../../../etc/passwd"]:
    attempt(f"open {p}", lambda p=p: open(p, "rb").read(64))
    attempt(f"listdir {p}", lambda p=p: os.listdir(p))
attempt("listdir /", lambda: os.listdir("/"))
attempt("create /tmp/x", lambda: open("/tmp/vivarium-hostile-escape", "w").write("x"))
attempt("create /x", lambda: open("/escape.txt", "w").write("x"))
attempt("mkdir /newdir", lambda: os.mkdir("/newdir"))
attempt("symlink into /", lambda: os.symlink("/app", "/link"))
# The canary tree by its real host path.
canary = os.environ.get("CANARY_PATH", "/nonexistent")
attempt("open host canary path", lambda: open(canary).read())
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
