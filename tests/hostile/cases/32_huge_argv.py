# 10,000 extra sys.argv entries of 100 bytes (1 MB of argv): they arrive in
# order, or the CLI refuses cleanly.
# expect: trap=null exit=0 stdout_contains="argv intact" policy_error=allowed
# gen: args 10000 100
# flags: --timeout 20
import sys
extra = sys.argv[1:]
ok = len(extra) == 10000 and all(a == f"{i}:" + "a" * 100 for i, a in enumerate(extra))
print("argv intact" if ok else f"argv damaged: {len(extra)}")
