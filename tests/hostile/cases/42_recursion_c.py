# C-level recursion through nested containers (repr, json, pickle, the
# parser, deepcopy, comparison): each must stop with RecursionError or
# MemoryError, caught here, never a crash.
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED"
# flags: --timeout 30 --fuel 20000000000
import copy
import json
import pickle

nested = []
for _ in range(300000):
    nested = [nested]
other = []
for _ in range(300000):
    other = [other]
d = {}
for _ in range(300000):
    d = {"a": d}
escaped = []
tests = {
    "repr": lambda: repr(nested),
    "str dict": lambda: str(d),
    "json dumps": lambda: json.dumps(nested),
    "json loads": lambda: json.loads("[" * 300000 + "]" * 300000),
    "pickle": lambda: pickle.dumps(nested),
    "deepcopy": lambda: copy.deepcopy(nested),
    "compare": lambda: nested == other,
    "eval parens": lambda: eval("(" * 300000 + ")" * 300000),
    "compile nesting": lambda: compile("-" * 300000 + "1", "<x>", "eval"),
}
for name, fn in tests.items():
    try:
        fn()
        print(f"ESCAPED {name} completed")
        escaped.append(name)
    except (RecursionError, MemoryError, SyntaxError) as e:
        print(f"BLOCKED {name}: {type(e).__name__}")
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
