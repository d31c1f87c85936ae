# The same deep tree in a persistent workspace, with files at the bottom:
# the after-run snapshot of the workspace is capped in depth, so the result
# says its file lists may be partial, and everything returns normally.
# expect: trap=null exit=0 stdout_contains="depth 3000" json_true=files_truncated
# flags: --timeout 30
import os

os.mkdir("/app/t")
for i in range(3000):
    os.mkdir("/app/n")
    os.rename("/app/t", "/app/n/t")
    os.rename("/app/n", "/app/t")
for i in range(10):
    open(f"/app/t/file{i}.txt", "w").write("x" * i)
print("depth 3000")
