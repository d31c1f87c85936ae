# A directory tree deeper than PATH_MAX in a temporary workspace. The guest
# never names a long path: it nests /app/t one level deeper per iteration
# by renaming it into a fresh directory. The workspace ("a fresh temporary
# directory per execution, removed afterwards", docs/policy.md) must be gone
# after the run; the runner checks that the CLI's TMPDIR is empty.
# expect: trap=null exit=0 stdout_contains="depth 2500"
# workspace: temporary
# flags: --timeout 30
import os

os.mkdir("/app/t")
for i in range(2500):
    os.mkdir("/app/n")
    os.rename("/app/t", "/app/n/t")
    os.rename("/app/n", "/app/t")
open("/app/t/marker.txt", "w").write("x")
print("depth 2500")
