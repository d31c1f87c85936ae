# Read-only /data: appending, in-place writes, and write-capable opens that
# would not change the file by themselves.
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


for f in ["/data/readme.txt", "/data/open.txt"]:
    attempt(f"open a {f}", lambda f=f: open(f, "a").write("x"))
    attempt(f"open ab {f}", lambda f=f: open(f, "ab").write(b"x"))
    attempt(f"open a+ {f}", lambda f=f: open(f, "a+"))
    attempt(f"open r+ {f}", lambda f=f: open(f, "r+").write("x"))
    attempt(f"O_APPEND|O_RDONLY {f}", lambda f=f: os.open(f, os.O_RDONLY | os.O_APPEND))
    attempt(f"O_APPEND|O_WRONLY {f}", lambda f=f: os.open(f, os.O_WRONLY | os.O_APPEND))
    attempt(f"O_RDWR {f}", lambda f=f: os.open(f, os.O_RDWR))
    attempt(f"write on read fd {f}", lambda f=f: os.write(os.open(f, os.O_RDONLY), b"x"))
    attempt(f"pwrite on read fd {f}", lambda f=f: os.pwrite(os.open(f, os.O_RDONLY), b"x", 0))
attempt("O_CREAT on existing", lambda: os.open("/data/readme.txt", os.O_RDONLY | os.O_CREAT))
attempt("O_CREAT|O_EXCL new", lambda: os.open("/data/new.txt", os.O_WRONLY | os.O_CREAT | os.O_EXCL))
attempt("create new file", lambda: open("/data/new.txt", "x"))
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
