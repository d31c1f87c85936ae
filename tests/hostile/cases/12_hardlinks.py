# Hard links. The host planted app/hl as a second name of the canary's
# notes/inner.txt (same file system): that file is in the workspace by the
# operator's choice, so the guest may see it; this case only reads its
# size. What the guest must not do is make new names for files outside its
# writable mount: no link out of /app, no link from /data (read-only) into
# /app, no link through escaping paths, no link of a symlink to the outside.
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED"
# flags: --timeout 10 --data {DATA}
# setup: hardlink app/hl -> {CANARY}/notes/inner.txt
# setup: symlink app/abs -> {CANARY}/secret.txt
# setup: symlink app/rel -> ../../canary/writable.txt
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


st = os.stat("/app/hl")
print(f"planted hard link visible: nlink={st.st_nlink} size={st.st_size}")
attempt("link /data/readme.txt -> /app", lambda: os.link("/data/readme.txt", "/app/ro_alias"))
attempt("link /data/open.txt -> /app", lambda: os.link("/data/open.txt", "/app/ro_alias2"))
attempt("link /app file -> /data", lambda: os.link("/app/hl", "/data/alias"))
attempt("link via .. source", lambda: os.link("/app/../../canary/secret.txt", "/app/s1"))
attempt("link via .. target", lambda: os.link("/app/hl", "/app/../escape_link"))
attempt("link abs symlink (follow)",
        lambda: os.link("/app/abs", "/app/s2", follow_symlinks=True))
attempt("link rel symlink (follow)",
        lambda: os.link("/app/rel", "/app/s3", follow_symlinks=True))
attempt("link abs symlink (no follow)",
        lambda: os.link("/app/abs", "/app/s4", follow_symlinks=False))
attempt("link the program file", lambda: os.link(__file__, "/app/prog"))
attempt("link a directory", lambda: (os.mkdir("/app/d"), os.link("/app/d", "/app/d2")))
open("/app/mine.txt", "w").write("mine")
os.link("/app/mine.txt", "/app/mine2.txt")
print("links inside /app work:", os.stat("/app/mine.txt").st_nlink == 2)
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
