# Absolute symlinks planted in the workspace by the host, pointing at the
# canary tree outside every mount: following them must fail whatever the
# call, and writing through them must not touch the canary.
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED"
# flags: --timeout 10 --env CANARY_PATH={CANARY}
# setup: symlink app/abs_file -> {CANARY}/secret.txt
# setup: symlink app/abs_dir -> {CANARY}
# setup: symlink app/abs_writable -> {CANARY}/writable.txt
# setup: symlink app/abs_root -> /
# setup: mkdir app/sub
# setup: symlink app/sub/abs_etc -> /etc
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


attempt("read abs_file", lambda: open("/app/abs_file").read())
attempt("stat abs_file (follow)", lambda: os.stat("/app/abs_file"))
attempt("listdir abs_dir", lambda: os.listdir("/app/abs_dir"))
attempt("read abs_dir/secret.txt", lambda: open("/app/abs_dir/secret.txt").read())
attempt("read abs_dir/notes/inner.txt", lambda: open("/app/abs_dir/notes/inner.txt").read())
attempt("write abs_writable", lambda: open("/app/abs_writable", "w").write("pwned"))
attempt("append abs_writable", lambda: open("/app/abs_writable", "a").write("pwned"))
attempt("create through abs_dir", lambda: open("/app/abs_dir/new.txt", "w").write("x"))
attempt("mkdir through abs_dir", lambda: os.mkdir("/app/abs_dir/newdir"))
attempt("unlink through abs_dir", lambda: os.unlink("/app/abs_dir/writable.txt"))
attempt("rename through abs_dir", lambda: os.rename("/app/abs_dir/secret.txt", "/app/stolen"))
attempt("rmdir through abs_dir", lambda: os.rmdir("/app/abs_dir/empty"))
attempt("utime through abs_file", lambda: os.utime("/app/abs_file", (0, 0)))
attempt("truncate through abs_writable", lambda: os.truncate("/app/abs_writable", 0))
attempt("read abs_root/etc/passwd", lambda: open("/app/abs_root/etc/passwd").read())
attempt("listdir abs_root", lambda: os.listdir("/app/abs_root"))
attempt("read sub/abs_etc/passwd", lambda: open("/app/sub/abs_etc/passwd").read())
attempt("chdir abs_dir", lambda: (os.chdir("/app/abs_dir"), os.listdir("."))[1])
# The links themselves are fine to see and to remove (they are in /app).
print("readlink:", os.readlink("/app/abs_file") == os.environ["CANARY_PATH"] + "/secret.txt")
print("lstat ok:", os.lstat("/app/abs_dir").st_mode & 0o170000 == 0o120000)
os.unlink("/app/abs_writable")  # removes the link, never the target
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
