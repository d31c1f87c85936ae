# Known weakness probe: path_symlink measures a target lexically, counting
# every component as one level down. A link to "." adds a component without
# going down, so "s/s/../../canary/secret.txt" measures as staying inside
# but, followed by the host from the workspace root, climbs two levels out:
# ws/NN -> ws -> ROOT, then canary/secret.txt. Nothing needs renaming.
# The runner's workspace check reports what the guest left behind.
# expect: trap=null exit=0 stdout_contains="guest could not follow it"
# flags: --timeout 10
import os

os.symlink(".", "/app/s")
os.symlink("s/s/../../canary/secret.txt", "/app/alias")
os.symlink("s/s/s/s/../../../../etc", "/app/alias_etc")  # the host's /etc when ROOT is /tmp/X
print("both links were accepted")
try:
    print("ESCAPED", open("/app/alias").read())
except OSError as e:
    print("guest could not follow it:", type(e).__name__)
