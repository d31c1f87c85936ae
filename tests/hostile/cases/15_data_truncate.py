# Read-only /data: every way to truncate a file there.
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


for f in ["/data/readme.txt", "/data/open.txt", "/data/sub/nested.txt", "/data/link_inside"]:
    attempt(f"open w {f}", lambda f=f: open(f, "w"))
    attempt(f"open wb {f}", lambda f=f: open(f, "wb"))
    attempt(f"open w+ {f}", lambda f=f: open(f, "w+"))
    attempt(f"os.open O_TRUNC|O_RDONLY {f}", lambda f=f: os.open(f, os.O_RDONLY | os.O_TRUNC))
    attempt(f"os.open O_TRUNC|O_WRONLY {f}", lambda f=f: os.open(f, os.O_WRONLY | os.O_TRUNC))
    attempt(f"os.truncate {f}", lambda f=f: os.truncate(f, 0))
    attempt(f"ftruncate of read fd {f}", lambda f=f: os.ftruncate(os.open(f, os.O_RDONLY), 0))
    attempt(f"r+ then truncate {f}", lambda f=f: open(f, "r+").truncate(0))
print("content intact:", open("/data/readme.txt").read() == "DATA-README\n")
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
