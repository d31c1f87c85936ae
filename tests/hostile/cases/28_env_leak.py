# The host environment: the CLI runs with a canary variable
# (VIV_HOSTILE_CANARY) that the guest must not see anywhere. The guest's
# environment is exactly the policy's defaults. This case prints everything
# it can find; the runner checks the canary's value never appears.
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED"
# flags: --timeout 10
import os
import sys

escaped = []
# TMPDIR is the workspace (the sandbox's default, docs/policy.md), never the host's.
expected = {"PYTHONUTF8": "1", "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8",
            "PYTHONHASHSEED": "0", "TMPDIR": "/app"}
env = dict(os.environ)
print("environ:", env)
print("argv:", sys.argv, "orig_argv:", getattr(sys, "orig_argv", None))
print("executable:", sys.executable, "flags:", sys.flags)
if env != expected:
    escaped.append("environment differs from the policy's")
    print("ESCAPED environment differs:", set(env) ^ set(expected))
if "VIV_HOSTILE_CANARY" in os.environ or os.getenv("VIV_HOSTILE_CANARY"):
    escaped.append("canary variable")
    print("ESCAPED canary variable visible")
if hasattr(os, "environb") and b"VIV_HOSTILE_CANARY" in os.environb:
    escaped.append("environb")
for p in ["/proc/self/environ", "/proc/1/environ", "/proc/self/cmdline"]:
    try:
        data = open(p, "rb").read()
        print(f"ESCAPED read {p}: {data!r:.300}")
        escaped.append(p)
    except OSError as e:
        print(f"BLOCKED {p}: {e}")
import sysconfig
print("config vars:", {k: v for k, v in sysconfig.get_config_vars().items()
                       if isinstance(v, str) and "CANARY" in v})
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
