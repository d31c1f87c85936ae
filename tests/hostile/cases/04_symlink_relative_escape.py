# Relative symlinks that climb out of the workspace (the workspace is
# ROOT/ws/NN, the canary ROOT/canary), at several depths.
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED"
# flags: --timeout 10
# setup: symlink app/up_file -> ../../canary/secret.txt
# setup: symlink app/up_dir -> ../../canary
# setup: mkdir app/d
# setup: mkdir app/d/e
# setup: symlink app/d/e/deep_up -> ../../../../canary/notes
# setup: symlink app/d/far_up -> ../../../../../../../../../../../etc
# setup: symlink app/d/mixed -> ../d/../../../canary/writable.txt
# setup: symlink app/inside_then_out -> d/e/../../../../canary/secret.txt
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


attempt("read up_file", lambda: open("/app/up_file").read())
attempt("listdir up_dir", lambda: os.listdir("/app/up_dir"))
attempt("read up_dir/secret.txt", lambda: open("/app/up_dir/secret.txt").read())
attempt("write up_dir/writable.txt", lambda: open("/app/up_dir/writable.txt", "w").write("x"))
attempt("listdir deep_up", lambda: os.listdir("/app/d/e/deep_up"))
attempt("read deep_up/inner.txt", lambda: open("/app/d/e/deep_up/inner.txt").read())
attempt("read far_up/passwd", lambda: open("/app/d/far_up/passwd").read())
attempt("write mixed", lambda: open("/app/d/mixed", "a").write("x"))
attempt("read inside_then_out", lambda: open("/app/inside_then_out").read())
attempt("stat up_file", lambda: os.stat("/app/up_file"))
attempt("mkdir via up_dir", lambda: os.mkdir("/app/up_dir/made"))
attempt("chdir up_dir", lambda: (os.chdir("/app/up_dir"), os.listdir("."))[1])
attempt("scandir up_dir", lambda: [e.name for e in os.scandir("/app/up_dir")])
attempt("walk follows links", lambda: [p for p, _, _ in os.walk("/app", followlinks=True)
                                       if "notes" in p or "canary" in p] or 1 / 0)
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
