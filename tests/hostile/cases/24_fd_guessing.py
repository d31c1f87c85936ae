# Guessing descriptors: the guest sees only WASI fds (stdio, preopens, its
# own files). No host descriptor of the parent or the runner may be
# reachable by number, whatever the guest tries on fds 0..1100.
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED"
# flags: --timeout 20 --data {DATA}
import os
import stat

escaped = []
seen = {}
for fd in range(0, 1100):
    try:
        st = os.fstat(fd)
    except OSError:
        continue
    seen[fd] = stat.filemode(st.st_mode)
print("fds the guest can see:", seen)
# stdio, /app, /data, /.vivarium and the guest's own stdlib (virtual) only.
if any(fd > 8 for fd in seen):
    escaped.append(f"unexpected fds {sorted(seen)}")
for fd in range(3, 65):
    for name, fn in [("read", lambda: os.read(fd, 64)), ("pread", lambda: os.pread(fd, 64, 0)),
                     ("write", lambda: os.write(fd, b"x")), ("lseek", lambda: os.lseek(fd, 0, 2))]:
        try:
            r = fn()
        except OSError:
            continue
        if fd in seen and seen[fd].startswith("d"):
            continue
        print(f"ESCAPED {name} on fd {fd}: {r!r:.100}")
        escaped.append(f"{name} {fd}")
for fd in range(6, 65):
    try:
        print(f"ESCAPED listdir of fd {fd}:", os.listdir(fd))
        escaped.append(f"listdir {fd}")
    except (OSError, TypeError, NotImplementedError):
        pass
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED: {escaped}")
