# A program that catches MemoryError and carries on is a success: the cap
# held and the program coped (docs/result.md).
# expect: trap=null exit=0 stdout_contains="coped after"
# flags: --memory 48M --timeout 20
chunks = []
try:
    while True:
        chunks.append(bytearray(1 << 20))
except MemoryError:
    n = len(chunks)
    chunks.clear()
    print(f"coped after {n} MiB")
