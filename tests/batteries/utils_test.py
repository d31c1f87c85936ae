# tests/batteries/utils_test.py: vivarium_utils, INSIDE the guest. The runner
# (tests/batteries/e2e_batteries.c) gives an empty workspace at /app and a
# data directory at /data holding in.csv; /data is read-only.
# Prints "ok NAME" / "FAIL NAME: why" and "N passed, N failed".
import json
import os
import sys
import traceback

import vivarium_utils as vu

results = []


def check(fn):
    try:
        fn()
        results.append((fn.__name__, None))
    except Exception:
        results.append((fn.__name__, traceback.format_exc().strip().splitlines()[-1]))
    return fn


def eq(got, want):
    if got != want:
        raise AssertionError("got %r, want %r" % (got, want))


def raises(exc, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except exc as e:
        return str(e)
    raise AssertionError("%s was not raised" % exc.__name__)


@check
def write_ls_cat():
    vu.write("notes/a.txt", "one\ntwo\nthree\n")
    vu.write("/app/notes/b.md", "# b\n")
    vu.write("notes/.hidden", "h")
    eq(vu.ls("notes"), ["a.txt", "b.md"])
    eq(vu.ls("notes", hidden=True), [".hidden", "a.txt", "b.md"])
    eq(vu.ls("notes/a.txt"), ["a.txt"])
    eq(vu.cat("notes/a.txt"), "one\ntwo\nthree\n")
    vu.write("notes/a.txt", "four\n", append=True)
    eq(vu.cat("/app/notes/a.txt").splitlines()[-1], "four")


@check
def head_tail():
    vu.write("n.txt", "".join("%d\n" % i for i in range(1, 101)))
    eq(vu.head("n.txt", 3), "1\n2\n3\n")
    eq(vu.tail("n.txt", 2), "99\n100\n")
    eq(vu.tail("n.txt", 0), "")
    eq(vu.head("n.txt", 1000).count("\n"), 100)


@check
def find_and_tree():
    vu.mkdir("src/pkg")
    vu.write("src/pkg/m.py", "x = 1\n")
    vu.write("src/main.py", "import pkg\n")
    eq(vu.find("*.py"), ["src/main.py", "src/pkg/m.py"])
    eq(vu.find("pkg", kind="dir"), ["src/pkg"])
    eq(vu.find("*.py", "src/pkg"), ["src/pkg/m.py"])
    eq(vu.tree("src"), "src/\n|-- main.py\n`-- pkg/\n    `-- m.py")
    eq(vu.tree("src", max_depth=1), "src/\n|-- main.py\n`-- pkg/")


@check
def grep():
    eq(vu.grep(r"^t", "notes"), [("notes/a.txt", 2, "two"), ("notes/a.txt", 3, "three")])
    eq(vu.grep("ONE", "notes/a.txt", ignore_case=True), [("notes/a.txt", 1, "one")])
    eq(vu.grep("x", "src", glob="*.md"), [])
    eq(len(vu.grep(r"\d", "n.txt", max_matches=5)), 5)
    assert "bad regular expression" in raises(ValueError, vu.grep, "(", ".")


@check
def cp_mv_rm():
    eq(vu.cp("notes/a.txt", "copy.txt"), "copy.txt")
    eq(vu.cat("copy.txt"), vu.cat("notes/a.txt"))
    eq(vu.cp("src", "src2"), "src2")
    eq(vu.find("*.py", "src2"), ["src2/main.py", "src2/pkg/m.py"])
    vu.mkdir("dest")
    eq(vu.mv("copy.txt", "dest"), "dest/copy.txt")
    eq(os.path.exists("/app/copy.txt"), False)
    eq(vu.mv("dest/copy.txt", "dest/renamed.txt"), "dest/renamed.txt")
    assert "recursive=True" in raises(IsADirectoryError, vu.rm, "src2")
    vu.rm("src2", recursive=True)
    vu.rm("dest/renamed.txt")
    eq(vu.ls("dest"), [])
    assert "does not exist" in raises(FileNotFoundError, vu.rm, "nope.txt")
    assert "workspace itself" in raises(ValueError, vu.rm, "/app", recursive=True)
    assert "into itself" in raises(ValueError, vu.cp, "src", "src/pkg")


@check
def data_is_readable_not_writable():
    eq(vu.ls("/data"), ["in.csv"])
    eq(vu.head("/data/in.csv", 1), "name,qty\n")
    eq(vu.cp("/data/in.csv", "in_copy.csv"), "in_copy.csv")
    msg = raises(vu.OutsideWorkspaceError, vu.write, "/data/x.txt", "x")
    assert "read-only" in msg and "/app" in msg, msg
    raises(vu.OutsideWorkspaceError, vu.rm, "/data/in.csv")
    raises(vu.OutsideWorkspaceError, vu.mv, "/data/in.csv", "x.csv")
    eq(vu.ls("/data"), ["in.csv"])


@check
def confined():
    for bad in ("/etc/passwd", "../etc/passwd", "/app/../etc", "/apple", "/"):
        msg = raises(vu.OutsideWorkspaceError, vu.cat, bad)
        assert "outside the workspace" in msg and "vivarium_utils.cat" in msg, msg
    raises(vu.OutsideWorkspaceError, vu.write, "/usr/local/x", "x")
    raises(vu.OutsideWorkspaceError, vu.ls, "/usr/local/lib")
    raises(PermissionError, vu.cp, "/etc/hosts", "h")  # OutsideWorkspaceError is one
    raises(ValueError, vu.cat, "")
    eq(vu.path("a/../b.txt"), "/app/b.txt")


@check
def symlink_leading_out_is_refused():
    try:
        os.symlink("/data/in.csv", "/app/link.csv")
    except OSError:
        return  # the sandbox may refuse the link itself; nothing to check then
    eq(vu.cat("link.csv").splitlines()[0], "name,qty")  # reading /data is allowed
    raises(vu.OutsideWorkspaceError, vu.write, "link.csv", "x")


@check
def clear_errors():
    assert "is a directory" in raises(IsADirectoryError, vu.cat, "notes")
    assert "not a directory" in raises(NotADirectoryError, vu.tree, "notes/a.txt")
    assert "does not exist" in raises(FileNotFoundError, vu.ls, "missing")
    assert "kind must be" in raises(ValueError, vu.find, "*", ".", "link")


@check
def csv_json():
    rows = vu.csv_to_json("/data/in.csv", "out/rows.json")
    eq(rows, [{"name": "apple", "qty": "3"}, {"name": "pear, green", "qty": "10"}])
    eq(json.loads(vu.cat("out/rows.json")), rows)
    text = vu.json_to_csv("out/rows.json", "out/back.csv")
    eq(text, vu.cat("/data/in.csv"))
    eq(vu.cat("out/back.csv"), text)
    eq(vu.json_to_csv([{"a": 1}, {"b": [1, 2]}]), 'a,b\n1,\n,"[1, 2]"\n')
    eq(vu.json_to_csv([{"a": 1, "b": 2}], fieldnames=["b"]), "b\n2\n")
    assert "list of objects" in raises(ValueError, vu.json_to_csv, {"a": 1})
    raises(vu.OutsideWorkspaceError, vu.csv_to_json, "/data/in.csv", "/data/out.json")


failed = 0
for name, why in results:
    if why is None:
        print("ok", name)
    else:
        failed += 1
        print("FAIL %s: %s" % (name, why))
print("%d passed, %d failed" % (len(results) - failed, failed))
sys.exit(1 if failed else 0)
