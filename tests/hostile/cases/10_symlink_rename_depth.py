# A link made deep in the tree, where "../../../canary/secret.txt" would
# stay inside, would point out of the workspace once its directory (or the
# link itself) is renamed closer to the root. src/wasi therefore refuses
# every ".." in a link target; the runner also checks the workspace
# afterwards for symlinks that lead out when the host follows them.
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED"
# flags: --timeout 10
import os

escaped = []
os.makedirs("/app/a/b/c", exist_ok=True)
os.makedirs("/app/x/y", exist_ok=True)
for target, at in [("../../../canary/secret.txt", "/app/a/b/c/deep_link"),
                   ("../../canary/notes", "/app/x/y/l2")]:
    try:
        os.symlink(target, at)
        escaped.append(at)
        print("ESCAPED: created", at, "->", target)
    except OSError as e:
        print("BLOCKED", at, type(e).__name__)
os.rename("/app/a/b/c", "/app/c")
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
