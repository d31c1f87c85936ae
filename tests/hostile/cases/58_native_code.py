# Native code: no ctypes, no mmap, no loading of shared objects (even one
# the guest writes into /app), no _imp.create_dynamic.
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED"
# flags: --timeout 10
import importlib.machinery
import importlib.util
import sys

escaped = []


def attempt(name, fn):
    try:
        r = fn()
    except Exception as e:
        print(f"BLOCKED {name}: {type(e).__name__}: {e}")
        return
    print(f"ESCAPED {name}: {r!r:.300}")
    escaped.append(name)


attempt("import ctypes", lambda: __import__("ctypes"))
attempt("import _ctypes", lambda: __import__("_ctypes"))
attempt("import mmap", lambda: __import__("mmap"))
attempt("import cffi", lambda: __import__("cffi"))
open("/app/evil.so", "wb").write(b"\x7fELF" + bytes(1000))
open("/app/evil.cpython-312-wasm32-wasi.so", "wb").write(b"\x00asm\x01\x00\x00\x00")
sys.path.insert(0, "/app")
attempt("import evil (.so in /app)", lambda: __import__("evil"))
attempt("ExtensionFileLoader", lambda: importlib.machinery.ExtensionFileLoader(
    "evil", "/app/evil.so").create_module(importlib.util.spec_from_file_location(
        "evil", "/app/evil.so")))
attempt("_imp.create_dynamic", lambda: __import__("_imp").create_dynamic(
    importlib.util.spec_from_file_location("evil", "/app/evil.so")))
print("extension suffixes:", importlib.machinery.EXTENSION_SUFFIXES)
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
