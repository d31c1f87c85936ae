# /proc: by path, and through planted links to magic links (/proc/self/root,
# /proc/self/fd/N, /proc/self/cwd, /proc/self/environ).
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED"
# flags: --timeout 10
# setup: symlink app/proc_root -> /proc/self/root
# setup: symlink app/proc_fd3 -> /proc/self/fd/3
# setup: symlink app/proc_cwd -> /proc/self/cwd
# setup: symlink app/proc_env -> /proc/self/environ
# setup: symlink app/proc_rel -> ../../../../../../../../../../proc/self/root
# setup: symlink app/proc_dir -> /proc
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


for p in ["/proc/self/environ", "/proc/self/cmdline", "/proc/self/maps", "/proc/self/status",
          "/proc/self/root/etc/passwd", "/proc/self/fd/0", "/proc/self/fd/3",
          "/proc/self/cwd/x", "/proc/1/environ", "/proc/self/mem", "/proc/sys/kernel/hostname"]:
    attempt(f"read {p}", lambda p=p: open(p, "rb").read(200))
attempt("listdir /proc", lambda: os.listdir("/proc"))
attempt("listdir /proc/self/fd", lambda: os.listdir("/proc/self/fd"))
attempt("readlink /proc/self/exe", lambda: os.readlink("/proc/self/exe"))
attempt("read app/proc_root/etc/passwd", lambda: open("/app/proc_root/etc/passwd").read())
attempt("listdir app/proc_root", lambda: os.listdir("/app/proc_root"))
attempt("listdir app/proc_fd3", lambda: os.listdir("/app/proc_fd3"))
attempt("read app/proc_fd3/x", lambda: open("/app/proc_fd3/x").read())
attempt("listdir app/proc_cwd", lambda: os.listdir("/app/proc_cwd"))
attempt("read app/proc_env", lambda: open("/app/proc_env", "rb").read())
attempt("read app/proc_rel/etc/passwd", lambda: open("/app/proc_rel/etc/passwd").read())
attempt("listdir app/proc_dir/self", lambda: os.listdir("/app/proc_dir/self"))
attempt("write app/proc_dir/self/comm", lambda: open("/app/proc_dir/self/comm", "w").write("x"))
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
