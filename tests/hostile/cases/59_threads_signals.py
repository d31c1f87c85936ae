# Threads and signals: no threads in this guest; signal handlers and alarms
# cannot outlive the deadline.
# expect: trap=timeout stdout_contains="ALL BLOCKED" max_seconds=5
# flags: --timeout 1.5 --fuel 1000000000000000
import signal
import threading

escaped = []


def attempt(name, fn):
    try:
        r = fn()
    except Exception as e:
        print(f"BLOCKED {name}: {type(e).__name__}: {e}")
        return
    print(f"ESCAPED {name}: {r!r:.300}")
    escaped.append(name)


attempt("Thread.start", lambda: threading.Thread(target=print).start())
attempt("_thread.start_new_thread", lambda: __import__("_thread").start_new_thread(print, ()))
attempt("signal.alarm", lambda: signal.alarm(1))
attempt("setitimer", lambda: signal.setitimer(signal.ITIMER_REAL, 0.1))
try:
    signal.signal(signal.SIGTERM, lambda *a: print("ESCAPED handler ran"))
    print("BLOCKED SIGTERM handler installed but cannot keep the guest alive")
except Exception as e:
    print(f"BLOCKED signal.signal: {type(e).__name__}: {e}")
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED", flush=True)
while True:
    pass
