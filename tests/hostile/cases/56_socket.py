# Networking: WASI preview 1 has no socket creation; every attempt must fail
# cleanly (and Landlock/seccomp stand behind it).
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED"
# flags: --timeout 10
import socket

escaped = []


def attempt(name, fn):
    try:
        r = fn()
    except Exception as e:
        print(f"BLOCKED {name}: {type(e).__name__}: {e}")
        return
    print(f"ESCAPED {name}: {r!r:.300}")
    escaped.append(name)


attempt("socket()", lambda: socket.socket())
attempt("socket udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
attempt("socket unix", lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
attempt("create_connection", lambda: socket.create_connection(("127.0.0.1", 22), timeout=1))
attempt("getaddrinfo", lambda: socket.getaddrinfo("localhost", 80))
attempt("gethostbyname", lambda: socket.gethostbyname("example.com"))
attempt("fromfd 0", lambda: socket.socket(fileno=0))
attempt("fromfd 3", lambda: socket.socket(fileno=3))
attempt("socketpair", lambda: socket.socketpair())
try:
    import urllib.request
    attempt("urlopen", lambda: urllib.request.urlopen("http://127.0.0.1:1/", timeout=1))
except ImportError as e:
    print("BLOCKED urllib import:", e)
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
