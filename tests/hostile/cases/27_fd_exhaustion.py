# Opening files until the table is full: WASI caps the guest at 1024
# descriptors and answers EMFILE; the host must not run out first.
# expect: trap=null exit=0 stdout_contains="BLOCKED at" stdout_contains="still works"
# flags: --timeout 20
import os

open("/app/f.txt", "w").write("x")
fds = []
try:
    for i in range(5000):
        fds.append(os.open("/app/f.txt", os.O_RDONLY))
    print(f"ESCAPED no limit after {len(fds)} descriptors")
except OSError as e:
    print(f"BLOCKED at {len(fds)} descriptors: {e}")
for fd in fds:
    os.close(fd)
print("still works:", open("/app/f.txt").read())
