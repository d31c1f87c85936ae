# A link to "." adds a path component without going down, so a lexical
# depth count would take "s/s/../../canary/secret.txt" for a target that
# stays inside, while the host following it from the workspace climbs two
# levels out. Every ".." in a target is refused; "." itself is harmless.
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED"
# flags: --timeout 10
import os

escaped = []
os.symlink(".", "/app/s")
for target, at in [("s/s/../../canary/secret.txt", "/app/alias"),
                   ("s/s/s/s/../../../../etc", "/app/alias_etc")]:
    try:
        os.symlink(target, at)
        escaped.append(at)
        print("ESCAPED: created", at, "->", target)
    except OSError as e:
        print("BLOCKED", at, type(e).__name__)
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
