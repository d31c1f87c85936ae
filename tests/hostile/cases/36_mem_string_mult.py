# String multiplication: one absurd size (OverflowError or MemoryError,
# caught), then one just big enough to cross the cap, uncaught.
# expect: trap=memory_limit exception=MemoryError stdout_contains="BLOCKED huge"
# flags: --memory 64M --timeout 20
try:
    s = "x" * (2**62)
    print("ESCAPED", len(s))
except (OverflowError, MemoryError) as e:
    print("BLOCKED huge:", type(e).__name__, flush=True)
s = "xy" * (10**8)
print("ESCAPED", len(s))
