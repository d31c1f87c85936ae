"""Tests of guest/state/_vivarium_state.py, the guest side of session state.

Every turn of a scenario runs in a separate interpreter process, the way the
runner uses the module: the module's source is executed as the module
'_vivarium_state', the user's code runs in a fresh __main__, restore() comes
before it and save() after it. Turns run either on a native interpreter (the
one running this file) or, with --vivarium CLI, inside the real guest through
`vivarium run` (CPython 3.12 on WASI by default).

    python3.11 tests/state/test_state.py [--vivarium build/vivarium]
        [--other-python python3.12] [-k NAME]

--other-python names an interpreter of another version: a state it writes must
be a reset here.

Prints "N passed, N failed" and exits non-zero when a test failed.
"""

import builtins
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import types

HERE = os.path.dirname(os.path.abspath(__file__))
MODULE = os.path.join(os.path.dirname(os.path.dirname(HERE)), "guest", "state",
                      "_vivarium_state.py")


# --------------------------------------------------------------------------
# One turn, in its own process (native or guest).


def run_turn(module_path, state_path, mode, code_path, report_path):
    with open(module_path) as f:
        source = f.read()
    state_module = types.ModuleType("_vivarium_state")
    sys.modules["_vivarium_state"] = state_module
    exec(compile(source, module_path, "exec"), state_module.__dict__)
    main = types.ModuleType("__main__")
    sys.modules["__main__"] = main
    ns = main.__dict__
    ns["__builtins__"] = builtins
    sys.path.insert(0, os.path.dirname(code_path))
    with open(code_path) as f:
        user = f.read()
    report = {}
    t0 = time.perf_counter()
    report["restore"] = state_module.restore(ns, state_path)
    t1 = time.perf_counter()
    report["error"] = None
    try:
        exec(compile(user, "<turn>", "exec"), ns)
    except BaseException:
        report["error"] = traceback.format_exc()
    sys.stdout.flush()
    t2 = time.perf_counter()
    report["save"] = state_module.save(ns, state_path, mode)
    t3 = time.perf_counter()
    report["restore_s"] = t1 - t0
    report["save_s"] = t3 - t2
    with open(report_path, "w") as f:
        json.dump(report, f)


class Session:
    """A scratch directory holding the state file, the turn's code and its report."""

    def __init__(self, runner):
        self.runner = runner
        self.dir = tempfile.mkdtemp(prefix="viv-state-test-")
        self.state = os.path.join(self.dir, "state.bin")

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, data):
        mode = "wb" if isinstance(data, bytes) else "w"
        with open(self.path(name), mode) as f:
            f.write(data)

    def read(self, name="state.bin"):
        with open(self.path(name), "rb") as f:
            return f.read()

    def turn(self, code, mode="pickle"):
        """Runs code as one execution; returns (stdout, report)."""
        self.write("code.py", code)
        report_file = self.path("report.json")
        if os.path.exists(report_file):
            os.unlink(report_file)
        out = self.runner(self, mode)
        try:
            with open(report_file) as f:
                report = json.load(f)
        except (OSError, ValueError):
            raise AssertionError("the turn wrote no report; output:\n" + out)
        return out, report


def native_runner(python):
    def run(session, mode):
        argv = [python, os.path.abspath(__file__), "--turn", MODULE, session.state,
                mode, session.path("code.py"), session.path("report.json")]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise AssertionError("turn exited %d: %s" % (proc.returncode, proc.stderr))
        return proc.stdout
    return run


def guest_runner(cli, extra):
    def run(session, mode):
        argv = [cli, "run", "--workspace", session.dir,
                "--mount", os.path.dirname(MODULE) + ":/vstate", *extra,
                os.path.abspath(__file__), "--turn", "/vstate/_vivarium_state.py",
                "/app/state.bin", mode, "/app/code.py", "/app/report.json"]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise AssertionError("guest turn exited %d: %s" % (proc.returncode, proc.stderr))
        return proc.stdout
    return run


# --------------------------------------------------------------------------
# Helpers for the assertions.


def check(cond, what, *context):
    if not cond:
        detail = "".join("\n    " + (c if isinstance(c, str) else json.dumps(c))
                         for c in context)
        raise AssertionError(what + detail)


def clean(report, what="turn"):
    """The turn ran without a reset, a failure or a user error."""
    check(report["error"] is None, what + ": user code failed", report["error"] or "")
    check(report["restore"]["reset"] is None, what + ": unexpected reset", report)
    check(report["restore"]["failed"] == {}, what + ": unexpected restore failure", report)
    check(report["save"]["error"] is None, what + ": state not written", report)


TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


# --------------------------------------------------------------------------
# The scenarios.


@test
def globals_and_function_across_three_turns(s):
    _, r = s.turn("x = 41\n")
    clean(r)
    check(r["restore"]["restored"] == [], "first turn restored something", r)
    check(r["save"]["saved"] == ["x"], "x not saved", r)
    _, r = s.turn("def inc(v):\n    return v + 1\n")
    clean(r)
    check(r["restore"]["restored"] == ["x"], "x not restored", r)
    out, r = s.turn("print(inc(x))\n")
    clean(r)
    check(out == "42\n", "inc(x) did not print 42", out)
    check(sorted(r["restore"]["restored"]) == ["inc", "x"], "names", r)


@test
def functions_read_globals_at_call_time(s):
    _, r = s.turn("count = 0\n"
                  "def bump():\n    global count\n    count += 1\n    return count\n"
                  "def twice():\n    bump()\n    return bump()\n"
                  "def is_even(n):\n    return True if n == 0 else is_odd(n - 1)\n"
                  "def is_odd(n):\n    return False if n == 0 else is_even(n - 1)\n")
    clean(r)
    out, r = s.turn("print(twice(), count, is_even(10), is_odd(7))\n")
    clean(r)
    check(out == "2 2 True True\n", "mutually calling functions", out)
    out, r = s.turn("print(bump(), count)\nprint(bump.__globals__ is globals())\n")
    clean(r)
    check(out == "3 3\nTrue\n", "the global counter did not carry on", out)


@test
def class_and_instance(s):
    _, r = s.turn(
        "class Base:\n"
        "    kind = 'base'\n"
        "    def __init__(self, n):\n        self.n = n\n"
        "    def describe(self):\n        return '%s:%d' % (self.kind, self.n)\n"
        "class Point(Base):\n"
        "    '''A point.'''\n"
        "    kind = 'point'\n"
        "    def __init__(self, n, m=2):\n        super().__init__(n)\n        self.m = m\n"
        "    def __repr__(self):\n        return 'Point(%d, %d)' % (self.n, self.m)\n"
        "    @property\n    def total(self):\n        return self.n + self.m\n"
        "    @staticmethod\n    def origin():\n        return Point(0, 0)\n"
        "    @classmethod\n    def named(cls):\n        return cls.__name__\n"
        "class Slotted:\n    __slots__ = ('a', '__b')\n"
        "    def __init__(self):\n        self.a = 1\n        self.__b = 2\n"
        "    def b(self):\n        return self.__b\n"
        "p = Point(3)\nsl = Slotted()\npoints = [p, Point(5, 6)]\n")
    clean(r)
    check(r["save"]["not_persisted"] == {}, "something not persisted", r)
    out, r = s.turn(
        "print(p, p.describe(), p.total, Point.origin(), Point.named(), Point.__doc__)\n"
        "print(isinstance(p, Point), isinstance(p, Base), type(points[1]) is Point)\n"
        "print(Point(7).describe(), sl.a, sl.b(), Point.__qualname__)\n")
    clean(r)
    check(out == "Point(3, 2) point:3 5 Point(0, 0) Point A point.\n"
                 "True True True\npoint:7 1 2 Point\n", "class behaviour after restore", out)


@test
def closures_survive(s):
    _, r = s.turn(
        "def make_counter():\n    n = 0\n"
        "    def step():\n        nonlocal n\n        n += 1\n        return n\n"
        "    return step\n"
        "counter = make_counter()\ncounter(); counter()\n"
        "def make_fact():\n"
        "    def fact(k):\n        return 1 if k <= 1 else k * fact(k - 1)\n"
        "    return fact\n"
        "fact = make_fact()\n"
        "square = lambda v: v * v\n"
        "pair = (counter, counter)\n")
    clean(r)
    out, r = s.turn("print(counter(), fact(6), square(9), pair[0] is pair[1])\n")
    clean(r)
    check(out == "3 720 81 True\n", "closures after restore", out)
    out, r = s.turn("print(counter(), pair[0] is counter)\n")
    clean(r)
    # One object under two names comes back as one object.
    check(out == "4 True\n", "closure state or identity across names", out)


@test
def names_for_one_object_stay_one_object(s):
    _, r = s.turn("a = [1]\nb = a\nc = {'k': a}\nn = 5\nm = n\n"
                  "class Bad:\n    def __reduce__(self):\n        raise TypeError('no')\n"
                  "bad = Bad()\nbad2 = bad\n")
    check(r["error"] is None, "turn 1 failed", r)
    check(set(r["save"]["not_persisted"]) == {"bad", "bad2"}, "unpicklable alias", r)
    out, r = s.turn("b.append(2)\nprint(a, a is b, c['k'] is a, m)\n")
    clean(r)
    # Shared inside one value survives; across two names only for the name itself.
    check(out == "[1, 2] True False 5\n", "aliases after restore", out)
    out, r = s.turn("print(a, b is a)\n")
    clean(r)
    check(out == "[1, 2] True\n", "aliases after a second restore", out)


@test
def imports_survive(s):
    _, r = s.turn("import json as j\nfrom os import path\nimport os.path\n"
                  "import collections.abc as cabc\nimport builtins\n")
    clean(r)
    check("builtins" not in r["save"]["saved"], "builtins module saved", r)
    check("builtins" not in r["save"]["not_persisted"], "builtins module reported", r)
    out, r = s.turn("print(j.dumps([1]), path.join('a', 'b'), os.sep, cabc.Mapping.__name__)\n")
    clean(r)
    check(out == '[1] a/b / Mapping\n', "modules after restore", out)


@test
def generator_not_persisted_rest_restored(s):
    _, r = s.turn("import json as j\ng = (i for i in range(3))\nfirst = next(g)\n"
                  "held = (f for f in [lambda: 1])\nbox = {'gen': (i for i in [1])}\n")
    check(r["error"] is None, "turn 1 failed", r)
    np = r["save"]["not_persisted"]
    check(np.get("g") == "generator", "g's reason", r)
    check(np.get("held") == "generator", "lambda held in a generator", r)
    check("generator" in np.get("box", ""), "a dict holding a generator", r)
    check(sorted(r["save"]["saved"]) == ["first", "j"], "saved names", r)
    out, r = s.turn("print(first, j.dumps([1]), 'g' in globals())\n")
    clean(r)
    check(out == "0 [1] False\n", "the rest after a generator", out)


@test
def other_unpicklable_values(s):
    _, r = s.turn("import os, sys\nf = open(os.path.join(sys.path[0], 'x.txt'), 'w')\n"
                  "def gen():\n    yield 1\n"
                  "it = gen()\n"
                  "class Bad:\n    def __reduce__(self):\n        raise SystemExit(3)\n"
                  "bad = Bad()\nok = 1\n")
    check(r["error"] is None, "turn 1 failed", r)
    np = r["save"]["not_persisted"]
    check(np.get("f") == "open file", "open file reason", r)
    check(np.get("it") == "generator", "generator function instance", r)
    check("SystemExit" in np.get("bad", ""), "SystemExit from __reduce__", r)
    check("ok" in r["save"]["saved"] and "gen" in r["save"]["saved"], "the rest saved", r)


def corrupt_then_recover(s, damage, expect):
    _, r = s.turn("x = 1\ndef f():\n    return x\n")
    clean(r)
    damage(s)
    out, r = s.turn("print('ran', 'x' in globals())\ny = 2\n")
    check(r["error"] is None, "the run after a bad state file failed", r)
    check(out == "ran False\n", "state leaked from a bad file", out)
    reset = r["restore"]["reset"]
    check(isinstance(reset, str) and expect in reset, "reset reason (want %r)" % expect, r)
    check(r["restore"]["restored"] == [], "names restored despite a reset", r)
    out, r = s.turn("print(y)\n")
    clean(r)
    check(out == "2\n", "the state written after a reset", out)


@test
def garbage_file_resets(s):
    corrupt_then_recover(s, lambda s: s.write("state.bin", os.urandom(512)), "bad magic")


@test
def empty_file_resets(s):
    corrupt_then_recover(s, lambda s: s.write("state.bin", b""), "empty")


@test
def truncated_file_resets(s):
    corrupt_then_recover(s, lambda s: s.write("state.bin", s.read()[:-7]), "truncated")


@test
def truncated_header_resets(s):
    corrupt_then_recover(s, lambda s: s.write("state.bin", s.read()[:20]), "truncated")


@test
def wrong_magic_resets(s):
    corrupt_then_recover(
        s, lambda s: s.write("state.bin", b"VIVARIUM-STATE 9\n" + s.read()[17:]), "bad magic")


@test
def flipped_byte_resets(s):
    def flip(s):
        data = bytearray(s.read())
        data[-3] ^= 0x55
        s.write("state.bin", bytes(data))
    corrupt_then_recover(s, flip, "checksum")


def parse_header(line):
    """The state file's header line (key=value pairs) as a dict."""
    header = {}
    for part in line.decode("ascii").split(" "):
        key, _, value = part.partition("=")
        header[key] = None if value == "-" else int(value) if value.isdigit() else value
    return header


def header_line(header):
    return " ".join("%s=%s" % (k, "-" if v is None else v) for k, v in header.items()).encode()


@test
def bad_payload_resets(s):
    def rewrite(s):
        data = s.read()
        end = data.index(b"\n", 17)
        header = parse_header(data[17:end])
        payload = b"\x80\x05not a pickle at all"
        header["length"] = len(payload)
        header.pop("crc32")
        s.write("state.bin", data[:17] + header_line(header) + b"\n" + payload)
    corrupt_then_recover(s, rewrite, "corrupt")


@test
def other_python_version_resets(s):
    def rewrite(s):
        data = s.read()
        end = data.index(b"\n", 17)
        header = parse_header(data[17:end])
        header["python"] = "3.99"
        s.write("state.bin", data[:17] + header_line(header) + data[end:])
    corrupt_then_recover(s, rewrite, "made by Python 3.99, this is 3.")


@test
def state_of_another_interpreter_resets(s):
    if OTHER_PYTHON is None:
        info("state_of_another_interpreter_resets: no --other-python, only the faked header")
        return
    mine = s.runner
    s.runner = native_runner(OTHER_PYTHON)
    out, r = s.turn("import sys\nprint('%d.%d' % sys.version_info[:2])\nx = 1\n")
    clean(r)
    other = out.strip()
    s.runner = mine
    out, r = s.turn("import sys\nprint('%d.%d' % sys.version_info[:2], 'x' in globals())\n")
    this = out.split()[0]
    check(other != this, "--other-python is the same version", other, this)
    check(r["restore"]["reset"] == "made by Python %s, this is %s" % (other, this),
          "reset reason", r)
    check(out.split()[1] == "False", "state of another interpreter restored", out)


@test
def bad_json_resets(s):
    corrupt_then_recover(s, lambda s: s.write("state.bin", b'{"format": "vivarium-state-json", '),
                         "corrupt JSON")


@test
def foreign_json_resets(s):
    corrupt_then_recover(s, lambda s: s.write("state.bin", b'{"x": 1}'), "format tag")


@test
def unreadable_path_resets(s):
    os.mkdir(s.state)  # a directory where the file should be
    out, r = s.turn("print('ran')\n")
    check(r["error"] is None and out == "ran\n", "run with an unreadable state", r)
    check("unreadable" in (r["restore"]["reset"] or ""), "reset reason", r)
    check(r["save"]["error"] is not None, "save into a directory reported no error", r)


@test
def failed_name_does_not_lose_others(s):
    s.write("gonemod.py", "class Thing:\n    def __init__(self):\n        self.v = 5\n")
    _, r = s.turn("import gonemod\nthing = gonemod.Thing()\ny = 1\n"
                  "class Touchy:\n"
                  "    def __setstate__(self, state):\n        raise ValueError('no thanks')\n"
                  "touchy = Touchy()\ntouchy.a = 1\nz = [1, 2]\n")
    clean(r)
    os.unlink(s.path("gonemod.py"))
    shutil.rmtree(s.path("__pycache__"), ignore_errors=True)
    out, r = s.turn("print(y, z, 'thing' in globals(), 'touchy' in globals())\n")
    check(r["error"] is None and r["restore"]["reset"] is None, "run after failures", r)
    failed = r["restore"]["failed"]
    check("ModuleNotFoundError" in failed.get("thing", ""), "thing's failure", r)
    check("ModuleNotFoundError" in failed.get("gonemod", ""), "the module's failure", r)
    check("no thanks" in failed.get("touchy", ""), "the __setstate__ failure", r)
    check(sorted(r["restore"]["restored"]) == ["Touchy", "y", "z"], "the rest restored", r)
    check(out == "1 [1, 2] False False\n", "values after failures", out)


@test
def deep_and_cyclic_structures(s):
    _, r = s.turn("deep = []\ncur = deep\n"
                  "for _ in range(100000):\n    cur.append([])\n    cur = cur[0]\n"
                  "del cur\n"
                  "nested = []\ncur = nested\n"
                  "for _ in range(150):\n    cur.append([])\n    cur = cur[0]\n"
                  "del cur\n"
                  "del _\nloop = [1]\nloop.append(loop)\nd = {}\nd['self'] = d\nok = 'yes'\n")
    check(r["error"] is None, "turn 1 failed", r)
    check("RecursionError" in r["save"]["not_persisted"].get("deep", ""), "deep reason", r)
    check(sorted(r["save"]["saved"]) == ["d", "loop", "nested", "ok"], "the rest saved", r)
    out, r = s.turn("n = 0\ncur = nested\nwhile cur:\n    cur = cur[0]\n    n += 1\n"
                    "print(ok, n, loop[1] is loop, d['self'] is d)\n")
    clean(r)
    check(out == "yes 150 True True\n", "deep and cyclic values", out)


@test
def raised_recursion_limit_does_not_crash(s):
    # With the limit raised, pickling a deep list would overflow the C stack
    # on 3.11 instead of raising RecursionError.
    _, r = s.turn("import sys\nsys.setrecursionlimit(1000000)\n"
                  "deep = []\ncur = deep\n"
                  "for _ in range(200000):\n    cur.append([])\n    cur = cur[0]\n"
                  "del cur, _\nok = 1\n")
    check(r["error"] is None, "turn 1 failed", r)
    check("RecursionError" in r["save"]["not_persisted"].get("deep", ""), "deep reason", r)
    # The restore leaves the interpreter's own limit (600 on our 3.11
    # guest, 1000 elsewhere) as it found it.
    out, r = s.turn("print(ok, sys.getrecursionlimit())\n")
    clean(r)
    check(out in ("1 600\n", "1 1000\n"), "after a raised recursion limit", out)


@test
def function_details_survive(s):
    _, r = s.turn(
        "import functools\n"
        "def greet(name: str, greeting='hi', *, punct='!') -> str:\n"
        "    '''Greets.'''\n    return '%s %s%s' % (greeting, name, punct)\n"
        "greet.tag = 'mine'\n"
        "def deco(fn):\n"
        "    @functools.wraps(fn)\n"
        "    def wrapper(*a, **k):\n        return fn(*a, **k).upper()\n"
        "    return wrapper\n"
        "@deco\ndef shout(v):\n    return v\n"
        "part = functools.partial(greet, greeting='yo')\n")
    clean(r)
    out, r = s.turn(
        "print(greet('a'), greet.__doc__, greet.tag, greet.__annotations__['return'].__name__)\n"
        "print(greet.__kwdefaults__, greet.__defaults__, shout('q'), shout.__name__, part('b'))\n")
    clean(r)
    check(out == "hi a! Greets. mine str\n{'punct': '!'} ('hi',) Q shout yo b!\n",
          "function attributes after restore", out)


@test
def function_made_in_a_copy_of_globals(s):
    # attrs builds its methods this way: exec in a copy of the module's globals.
    _, r = s.turn("limit = 1\n"
                  "private = dict(globals())\nprivate['helper_val'] = 5\n"
                  "exec('def peek():\\n    return helper_val, limit\\n', private)\n"
                  "peek = private['peek']\ndel private\n")
    clean(r)
    out, r = s.turn("print(peek(), 'helper_val' in globals())\n")
    clean(r)
    check(out == "(5, 1) False\n", "a function with its own globals", out)


@test
def dataclass_namedtuple_abc(s):
    _, r = s.turn(
        "import dataclasses, collections, abc, enum\n"
        "@dataclasses.dataclass\nclass Item:\n    name: str\n"
        "    tags: list = dataclasses.field(default_factory=list)\n"
        "@dataclasses.dataclass(frozen=True)\nclass Frozen:\n    a: int = 1\n"
        "Pair = collections.namedtuple('Pair', 'left right')\n"
        "class Shape(abc.ABC):\n    @abc.abstractmethod\n    def area(self): ...\n"
        "class Square(Shape):\n    def __init__(self, s):\n        self.s = s\n"
        "    def area(self):\n        return self.s ** 2\n"
        "item = Item('a')\npair = Pair(1, 2)\nsq = Square(3)\n"
        "flag = __import__('re').IGNORECASE\n")
    clean(r)
    out, r = s.turn(
        "print(item, dataclasses.asdict(item), Item('b') == Item('b'), hash(Frozen()) == hash((1,)))\n"
        "print(pair, pair._replace(left=5), pair.right, sq.area(), isinstance(sq, Shape))\n"
        "try:\n    Shape()\nexcept TypeError:\n    print('abstract')\n"
        "print(flag)\n")
    check(r["error"] is None, "turn 2 failed", r)
    check(out == "Item(name='a', tags=[]) {'name': 'a', 'tags': []} True True\n"
                 "Pair(left=1, right=2) Pair(left=5, right=2) 2 9 True\nabstract\n"
                 "re.IGNORECASE\n", "library-made classes after restore", out)


@test
def enums(s):
    _, r = s.turn(
        "import enum\n"
        "class Color(enum.Enum):\n    RED = 1\n    GREEN = 2\n    CRIMSON = 1\n"
        "    def describe(self):\n        return self.name.lower()\n"
        "    @classmethod\n    def default(cls):\n        return cls.RED\n"
        "class Perm(enum.IntFlag):\n    R = 4\n    W = 2\n"
        "class Planet(enum.Enum):\n    EARTH = (5, 6)\n"
        "    def __init__(self, mass, radius):\n        self.mass = mass\n"
        "class Odd(enum.Enum):\n    A = 1\n"
        "    def __new__(cls, v):\n        obj = object.__new__(cls)\n        obj._value_ = v * 2\n"
        "        return obj\n"
        "fav = Color.GREEN\nrw = Perm.R | Perm.W\nMode = enum.Enum('Mode', 'A B')\n")
    check(r["error"] is None, "turn 1 failed", r)
    check("__new__" in r["save"]["not_persisted"].get("Odd", ""), "an Enum with __new__", r)
    out, r = s.turn(
        "print(fav, fav is Color.GREEN, Color.CRIMSON is Color.RED, fav.describe(), "
        "Color.default(), len(Color))\n"
        "print(int(rw), Perm.W in rw, Planet.EARTH.mass, Planet((5, 6)).name, list(Mode))\n")
    clean(r)
    check(out == "Color.GREEN True True green Color.RED 2\n"
                 "6 True 5 EARTH [<Mode.A: 1>, <Mode.B: 2>]\n", "enums after restore", out)


@test
def typing_constructs(s):
    _, r = s.turn(
        "import sys, typing\n"
        "T = typing.TypeVar('T', bound=int)\n"
        "class Box(typing.Generic[T]):\n    def __init__(self, v: T):\n        self.v = v\n"
        "class Row(typing.NamedTuple):\n    a: int\n    b: str = 'x'\n"
        "UserId = typing.NewType('UserId', int)\n"
        "class Opts(typing.TypedDict):\n    k: int\n"
        "row = Row(1)\nbox = Box[int](2)\n"
        "if sys.version_info >= (3, 12):\n"
        "    exec('def first[X](xs: list[X]) -> X:\\n    return xs[0]\\n'\n"
        "         'type Pairs = list[tuple[int, int]]\\n')\n")
    clean(r)
    check(r["save"]["not_persisted"] == {}, "typing constructs not persisted", r)
    out, r = s.turn(
        "print(T, T.__bound__.__name__, Box.__parameters__[0] is T, Box(3).v, box.v, row, "
        "row._replace(a=2).a, UserId(3), Opts(k=1), sorted(Opts.__required_keys__))\n"
        "if sys.version_info >= (3, 12):\n"
        "    print(first([7]), first.__type_params__, Pairs.__value__)\n"
        "else:\n    print(7, '(X,)', 'list[tuple[int, int]]')\n")
    clean(r)
    check(out == "~T int True 3 2 Row(a=1, b='x') 2 3 {'k': 1} ['k']\n"
                 "7 (X,) list[tuple[int, int]]\n", "typing constructs after restore", out)


@test
def tampered_file_cannot_set_dunders(s):
    import pickle
    blobs = {"__builtins__": pickle.dumps({}), "__name__": pickle.dumps("x"),
             "fine": pickle.dumps([1])}
    payload = pickle.dumps(blobs, protocol=5)
    header = {"python": "%d.%d" % sys.version_info[:2], "cache_tag": None,
              "protocol": 5, "names": len(blobs), "length": len(payload)}
    # The guest's version, not the driver's: read it from a turn.
    out, _ = s.turn("import sys\nprint(sys.implementation.cache_tag)\nprint('%d.%d' % sys.version_info[:2])\n")
    tag, version = out.split()
    header["cache_tag"], header["python"] = tag, version
    s.write("state.bin", b"VIVARIUM-STATE 1\n" + header_line(header) + b"\n" + payload)
    out, r = s.turn("print(__name__, type(__builtins__).__name__, fine)\n")
    check(r["error"] is None, "turn failed", r)
    check(out == "__main__ module [1]\n", "a dunder was set from the file", out)
    check(r["restore"]["restored"] == ["fine"], "restored names", r)
    check(set(r["restore"]["failed"]) == {"__builtins__", "__name__"}, "dunders reported", r)


@test
def json_mode(s):
    _, r = s.turn("a = 1\nb = 'text \u00e9'\nc = [1, 2.5, None, True, {'k': [False]}]\n"
                  "d = {1: 2}\ne = {1, 2}\nt = (1, 2)\nn = float('nan')\n"
                  "def f():\n    return a\nimport json\nloop = []\nloop.append(loop)\n"
                  "big = 10 ** 5000\nsub = [{'x': {3, 4}}]\n", mode="json")
    check(r["error"] is None, "turn 1 failed", r)
    check(r["save"]["error"] is None, "json not written", r)
    check(sorted(r["save"]["saved"]) == ["a", "b", "c"], "json saved names", r)
    np = r["save"]["not_persisted"]
    check(np.get("e") == "not JSON-serialisable: set", "set reason", r)
    check(np.get("t") == "not JSON-serialisable: tuple", "tuple reason", r)
    check(np.get("f") == "not JSON-serialisable: function", "function reason", r)
    check(np.get("json") == "not JSON-serialisable: module", "module reason", r)
    check(np.get("sub") == "not JSON-serialisable: contains a set", "nested reason", r)
    for name in ("d", "n", "loop", "big"):
        check(np.get(name, "").startswith("not JSON-serialisable"), name + " reason", r)
    doc = json.loads(s.read().decode("utf-8"))
    check(doc["format"] == "vivarium-state-json" and doc["version"] == 1, "json header", doc)
    check(doc["python"] == "%d.%d" % sys.version_info[:2] or doc["python"].startswith("3."),
          "json python version", doc)
    check(doc["globals"] == {"a": 1, "b": "text \u00e9", "c": [1, 2.5, None, True, {"k": [False]}]},
          "json globals", doc)
    # A JSON file restores in either mode; a pickle file too.
    out, r = s.turn("print(a, b, c)\nz = {3}\n", mode="pickle")
    clean(r)
    check(out == "1 text \u00e9 [1, 2.5, None, True, {'k': [False]}]\n", "json restored", out)
    out, r = s.turn("print(sorted(z), a)\n", mode="json")
    clean(r)
    check(out == "[3] 1\n", "pickle file restored by a json-mode run", out)


@test
def save_is_atomic_and_skips_dunders(s):
    _, r = s.turn("__secret__ = 1\n_private = 2\n")
    clean(r)
    check(r["save"]["saved"] == ["_private"], "dunders saved", r)
    check(not os.path.exists(s.state + ".tmp"), "temporary file left behind")
    check(s.read().startswith(b"VIVARIUM-STATE 1\n"), "magic line")
    header = parse_header(s.read().split(b"\n")[1])
    check(header["names"] == 1 and header["protocol"] == 5, "header", header)


@test
def typical_state_cost(s):
    code = ["import json, math, collections", "from os import path"]
    for i in range(12):
        code.append("n%d = %d" % (i, i * 7))
        code.append("s%d = 'value %d' * 3" % (i, i))
    code += ["rows = [{'id': i, 'name': 'row%d' % i, 'score': i * 0.5} for i in range(200)]",
             "counts = collections.Counter('abracadabra')",
             "def score(r):\n    return r['score'] * 2",
             "def top(k=3):\n    return sorted(rows, key=score)[-k:]",
             "class Model:\n    def __init__(self, w):\n        self.w = w\n"
             "    def predict(self, v):\n        return self.w * v",
             "m = Model(2.0)", "adder = lambda a, b: a + b"]
    _, r1 = s.turn("\n".join(code) + "\n")
    clean(r1)
    out, r2 = s.turn("print(len(top()), m.predict(2), adder(1, 2), counts['a'])\n")
    clean(r2)
    check(out == "3 4.0 3 5\n", "typical state after restore", out)
    count = len(r2["restore"]["restored"])
    check(count >= 30, "typical state restored %d names" % count, r2)
    info("typical state: %d globals, %d bytes; save %.1f ms, restore %.1f ms" % (
        count, len(s.read()), r1["save_s"] * 1000, r2["restore_s"] * 1000))


# --------------------------------------------------------------------------

_INFO = []
OTHER_PYTHON = None  # an interpreter of another version, to write a state this one refuses


def info(line):
    _INFO.append(line)


def main(argv):
    if argv[:1] == ["--turn"]:
        run_turn(*argv[1:6])
        return 0
    global OTHER_PYTHON
    runner, label, only = native_runner(sys.executable), "python %d.%d" % sys.version_info[:2], None
    args = list(argv)
    while args:
        opt = args.pop(0)
        if opt == "--vivarium":
            cli = args.pop(0)
            extra = []
            runner, label = guest_runner(cli, extra), "guest via " + cli
        elif opt == "--other-python":
            OTHER_PYTHON = args.pop(0)
        elif opt == "-k":
            only = args.pop(0)
        else:
            print("usage: test_state.py [--vivarium CLI] [--other-python PYTHON] [-k NAME]",
                  file=sys.stderr)
            return 2
    if not os.path.exists(MODULE):
        print("missing " + MODULE, file=sys.stderr)
        return 2
    passed = failed = 0
    for fn in TESTS:
        if only and only not in fn.__name__:
            continue
        session = Session(runner)
        try:
            fn(session)
        except Exception:
            failed += 1
            print("FAIL %s (%s)\n%s" % (fn.__name__, label, traceback.format_exc()))
        else:
            passed += 1
            print("ok   %s" % fn.__name__)
        finally:
            session.close()
    for line in _INFO:
        print("info: " + line)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
