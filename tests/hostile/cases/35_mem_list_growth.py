# Gradual growth: a list of 1 MB buffers under a 64 MiB cap.
# expect: trap=memory_limit exception=MemoryError
# flags: --memory 64M --timeout 20
chunks = []
while True:
    chunks.append(bytearray(1 << 20))
