# One huge allocation under a 64 MiB cap: refused at the cap, the guest dies
# of the uncaught MemoryError, reported as memory_limit.
# expect: trap=memory_limit exception=MemoryError
# flags: --memory 64M --timeout 20
b = bytearray(10**9)
print("ESCAPED allocated", len(b))
