# Filling the disk: files past the 1 GiB file-size rlimit fail with EFBIG
# (sparse, so nothing big is actually written), and a huge preallocation is
# refused; the host stays alive and the run finishes.
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED"
# flags: --timeout 20
import os

escaped = []


def attempt(name, fn):
    try:
        r = fn()
    except Exception as e:
        print(f"BLOCKED {name}: {type(e).__name__}: {e}")
        return
    print(f"ESCAPED {name}: {r!r:.300}")
    escaped.append(name)


def seek_write(offset):
    with open("/app/big.bin", "wb") as f:
        f.seek(offset)
        f.write(b"x")
        f.flush()
    return os.path.getsize("/app/big.bin")


attempt("write at 2 GiB", lambda: seek_write(2 << 30))
attempt("write at 1 TiB", lambda: seek_write(1 << 40))
attempt("ftruncate to 4 GiB", lambda: os.truncate("/app/big.bin", 4 << 30) or
        os.path.getsize("/app/big.bin"))
attempt("posix_fallocate 8 GiB", lambda: os.posix_fallocate(
    os.open("/app/alloc.bin", os.O_WRONLY | os.O_CREAT), 0, 8 << 30))
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
