# A decompression bomb: 512 gzip members of 1 MiB of zeros each (about
# 520 KB compressed, 512 MiB expanded), decompressed at once into a guest
# capped at 48 MiB. The bounded pattern (decompressobj with max_length)
# works; the unbounded one dies at the cap.
# expect: trap=memory_limit exception=MemoryError stdout_contains="bounded read ok"
# flags: --memory 48M --timeout 30
import gzip
import zlib

member = gzip.compress(bytes(1 << 20), 9)
bomb = member * 512
print("bomb size", len(bomb), flush=True)
d = zlib.decompressobj(wbits=31)
part = d.decompress(bomb, 1 << 20)
print("bounded read ok:", len(part), flush=True)
out = gzip.decompress(bomb)
print("ESCAPED expanded", len(out))
