# Known weakness probe: path_symlink checks a relative target against the
# link's depth at creation time only. A link made deep in the tree, where
# "../../../canary/secret.txt" stays inside, points out of the workspace
# once its directory (or the link itself) is renamed closer to the root.
# Inside the guest the link stays inert (openat2 RESOLVE_BENEATH), so the
# guest cannot tell; the runner checks the workspace afterwards for
# symlinks that lead out when the host follows them.
# expect: trap=null exit=0 stdout_contains="guest could not follow it"
# flags: --timeout 10
import os

os.makedirs("/app/a/b/c", exist_ok=True)
os.symlink("../../../canary/secret.txt", "/app/a/b/c/deep_link")
print("created a/b/c/deep_link at depth 3")
os.rename("/app/a/b/c", "/app/c")            # the directory moves up two levels
os.makedirs("/app/x/y", exist_ok=True)
os.symlink("../../canary/notes", "/app/x/y/l2")  # inside at depth 2
os.rename("/app/x/y/l2", "/app/l2")           # the link itself moves to depth 0
try:
    print("ESCAPED", open("/app/c/deep_link").read())
except OSError as e:
    print("guest could not follow it:", type(e).__name__)
