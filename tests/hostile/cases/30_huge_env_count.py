# 3000 --env variables of 200 bytes: more than the policy allows
# (VIV_POLICY_MAX_ENV). A clean refusal before anything runs (exit 125 with
# a message) or a clean run are both acceptable; a crash is not.
# expect: trap=null exit=0 policy_error=allowed
# gen: env 3000 200
# flags: --timeout 20
import os
n = sum(1 for k in os.environ if k.startswith("VIV_GEN_"))
print("generated variables seen:", n)
