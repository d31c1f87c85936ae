# --env adds exactly what the policy says: keys and values arrive intact
# (unicode, '=' in values, empty values), nothing from the host comes along
# (the runner's PATH/HOME/TMPDIR/LC_ALL differ from the guest's).
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED"
# flags: --timeout 10 --env FOO=bar --env "EQ=a=b=c" --env EMPTY= --env UNI=żółw --env LC_ALL=override
import os

escaped = []
env = dict(os.environ)
want = {"PYTHONUTF8": "1", "LC_ALL": "override", "PYTHONIOENCODING": "utf-8",
        "PYTHONHASHSEED": "0", "FOO": "bar", "EQ": "a=b=c", "EMPTY": "", "UNI": "żółw",
        "TMPDIR": "/app"}
print(sorted(env.items()))
# TMPDIR is the sandbox's default, the workspace; the host's would be a host path.
for k in ("PATH", "HOME", "TMPDIR", "VIV_HOSTILE_CANARY"):
    if k in env and (k != "TMPDIR" or env[k] != "/app"):
        escaped.append(k)
        print(f"ESCAPED host variable {k} visible")
if env != want:
    escaped.append("mismatch")
    print("ESCAPED environment mismatch", set(env.items()) ^ set(want.items()))
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
