# Read-only /data through descriptors: a directory fd opened in /data used
# as dir_fd for writes, files opened read-only then written, and a write
# fd obtained on /app used against /data paths.
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED"
# flags: --timeout 10 --data {DATA}
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


dfd = os.open("/data/sub", os.O_RDONLY | os.O_DIRECTORY)
attempt("create via dir_fd", lambda: os.open("new.txt", os.O_WRONLY | os.O_CREAT, dir_fd=dfd))
attempt("trunc via dir_fd", lambda: os.open("nested.txt", os.O_WRONLY | os.O_TRUNC, dir_fd=dfd))
attempt("mkdir via dir_fd", lambda: os.mkdir("x", dir_fd=dfd))
attempt("unlink via dir_fd", lambda: os.unlink("nested.txt", dir_fd=dfd))
attempt("rename via dir_fd", lambda: os.rename("nested.txt", "/app/n", src_dir_fd=dfd))
attempt("symlink via dir_fd", lambda: os.symlink("nested.txt", "l", dir_fd=dfd))
attempt("utime via dir_fd", lambda: os.utime("nested.txt", (0, 0), dir_fd=dfd))
attempt("escape via dir_fd ..", lambda: os.open("../../canary/secret.txt", os.O_RDONLY, dir_fd=dfd))
rfd = os.open("/data/readme.txt", os.O_RDONLY)
attempt("write read fd", lambda: os.write(rfd, b"x"))
attempt("ftruncate read fd", lambda: os.ftruncate(rfd, 0))


def fdopen_write():
    f = os.fdopen(os.open("/data/readme.txt", os.O_RDONLY), "w")
    f.write("x")
    f.flush()  # the write reaches the fd only here
    return "flushed"


attempt("fdopen w on read fd", fdopen_write)
afd = os.open("/app", os.O_RDONLY | os.O_DIRECTORY)
attempt("app dir_fd to ../data", lambda: os.open("../data/readme.txt", os.O_WRONLY, dir_fd=afd))
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
