# A single deflate stream of 64 MiB of zeros (~64 KB), expanded with
# zlib.decompress into a 32 MiB guest.
# expect: trap=memory_limit exception=MemoryError
# flags: --memory 32M --timeout 30 --fuel 20000000000
import zlib

co = zlib.compressobj(9)
chunk = bytes(1 << 20)
bomb = b"".join(co.compress(chunk) for _ in range(64)) + co.flush()
del chunk
print("bomb size", len(bomb), flush=True)
out = zlib.decompress(bomb)
print("ESCAPED expanded", len(out))
