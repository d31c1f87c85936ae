# 200 variables of 4 KiB each (800 KiB of environment on the CLI's command
# line): the guest sees them all intact, or the CLI refuses cleanly.
# expect: trap=null exit=0 stdout_contains="all intact" policy_error=allowed
# gen: env 200 4096
# flags: --timeout 20
import os
vals = [v for k, v in os.environ.items() if k.startswith("VIV_GEN_")]
ok = len(vals) == 200 and all(v == "e" * 4096 for v in vals)
print("all intact" if ok else f"ESCAPED? {len(vals)} values, damaged")
