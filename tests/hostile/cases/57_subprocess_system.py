# Processes: no fork, exec, spawn, system or kill in WASI.
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED"
# flags: --timeout 10
import os
import subprocess

escaped = []


def attempt(name, fn):
    try:
        r = fn()
    except Exception as e:
        print(f"BLOCKED {name}: {type(e).__name__}: {e}")
        return
    print(f"ESCAPED {name}: {r!r:.300}")
    escaped.append(name)


attempt("subprocess.run", lambda: subprocess.run(["/bin/sh", "-c", "id"]))
attempt("subprocess.Popen", lambda: subprocess.Popen("id", shell=True))
attempt("check_output", lambda: subprocess.check_output(["ls", "/"]))
attempt("os.system", lambda: os.system("id"))
attempt("os.popen", lambda: os.popen("id").read())
attempt("os.fork", lambda: os.fork())
attempt("os.execv", lambda: os.execv("/bin/sh", ["sh"]))
attempt("os.posix_spawn", lambda: os.posix_spawn("/bin/sh", ["sh"], {}))
attempt("os.spawnv", lambda: os.spawnv(os.P_WAIT, "/bin/sh", ["sh"]))
attempt("os.kill", lambda: os.kill(1, 9))
attempt("os.killpg", lambda: os.killpg(0, 9))
attempt("os.pipe", lambda: os.pipe())
attempt("os.setuid", lambda: os.setuid(0))
attempt("os.chroot", lambda: os.chroot("/app"))
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
