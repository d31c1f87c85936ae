# One environment value of 120,000 bytes (close to the kernel's 128 KiB
# limit on a single argument of the CLI), and keys and values with odd bytes.
# expect: trap=null exit=0 stdout_contains="long value intact" policy_error=allowed
# gen: env 1 120000
# flags: --timeout 20 --env "NEWLINE=a\nb" --env "SPACE KEY=v" --env "TAB=\t"
import os
v = os.environ.get("VIV_GEN_0", "")
print("long value intact" if v == "e" * 120000 else f"damaged: {len(v)}")
print({k: v for k, v in os.environ.items() if not k.startswith("VIV_GEN_")})
