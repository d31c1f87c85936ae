"""vivarium_utils: small, safe file conveniences for code running in Vivarium.

Every function works on paths under the workspace, /app (a relative path is
taken relative to /app, whatever the current directory). Functions that only
read also accept paths under /data, the read-only input mount. Anything else,
including a symbolic link that leads out, is refused with OutsideWorkspaceError
before any file is touched. Errors say which function, which path and what to
do; they are ordinary Python exceptions (subclasses of OSError or ValueError).

    >>> import vivarium_utils as vu
    >>> vu.write("notes/a.txt", "one\\ntwo\\n")
    >>> vu.ls("notes")
    ['a.txt']
    >>> vu.grep("tw", "notes")
    [('notes/a.txt', 2, 'two')]

Documented in docs/vivarium_utils.md.
"""

import csv
import fnmatch
import io
import json
import os
import re
import shutil

__all__ = [
    "WORKSPACE", "DATA", "OutsideWorkspaceError",
    "path", "ls", "tree", "find", "grep", "cat", "head", "tail", "write",
    "mkdir", "cp", "mv", "rm", "csv_to_json", "json_to_csv",
]

WORKSPACE = "/app"
DATA = "/data"


class OutsideWorkspaceError(PermissionError):
    """A path lies outside the places vivarium_utils may use."""


def _under(p, root):
    return p == root or p.startswith(root + "/")


def _resolve(func, p, write):
    if isinstance(p, os.PathLike):
        p = os.fspath(p)
    if not isinstance(p, str) or p == "":
        raise ValueError("vivarium_utils.%s: a path must be a non-empty string, got %r"
                         % (func, p))
    full = p if p.startswith("/") else WORKSPACE + "/" + p
    # realpath also resolves symlinks, so a link inside /app that points
    # elsewhere is judged by where it leads.
    real = os.path.realpath(full)
    roots = (WORKSPACE,) if write else (WORKSPACE, DATA)
    if not any(_under(real, r) for r in roots):
        where = "under %s" % WORKSPACE if write else "under %s or %s" % (WORKSPACE, DATA)
        hint = (" (%s is read-only: write results to %s)" % (DATA, WORKSPACE)
                if write and _under(real, DATA) else "")
        raise OutsideWorkspaceError(
            "vivarium_utils.%s: %r is outside the workspace; use a path %s%s"
            % (func, p, where, hint))
    return real


def _rel(real):
    """How results name a path: relative to /app when inside it."""
    if _under(real, WORKSPACE):
        return os.path.relpath(real, WORKSPACE)
    return real


def _need(func, real, kind):
    if not os.path.exists(real):
        raise FileNotFoundError("vivarium_utils.%s: %s does not exist" % (func, real))
    if kind == "file" and os.path.isdir(real):
        raise IsADirectoryError("vivarium_utils.%s: %s is a directory, not a file"
                                % (func, real))
    if kind == "dir" and not os.path.isdir(real):
        raise NotADirectoryError("vivarium_utils.%s: %s is not a directory" % (func, real))


def _makedirs(real):
    # os.makedirs would also try to create "/", which the guest cannot see.
    if not os.path.isdir(real):
        os.makedirs(real)


def _parent(real):
    _makedirs(os.path.dirname(real))
    return real


def path(p):
    """The absolute, resolved path of p, refused if it leaves /app."""
    return _resolve("path", p, write=True)


def ls(p=".", hidden=False):
    """Sorted names in a directory (a file gives its own name)."""
    real = _resolve("ls", p, write=False)
    _need("ls", real, None)
    if not os.path.isdir(real):
        return [os.path.basename(real)]
    return sorted(n for n in os.listdir(real) if hidden or not n.startswith("."))


def _walk(real, hidden):
    for root, dirs, files in os.walk(real):
        dirs[:] = sorted(d for d in dirs if hidden or not d.startswith("."))
        yield root, dirs, sorted(f for f in files if hidden or not f.startswith("."))


def tree(p=".", max_depth=None, hidden=False):
    """A text drawing of a directory tree, directories marked with '/'."""
    real = _resolve("tree", p, write=False)
    _need("tree", real, "dir")
    lines = [(_rel(real) if real != WORKSPACE else WORKSPACE) + "/"]

    def draw(d, prefix, depth):
        if max_depth is not None and depth >= max_depth:
            return
        names = sorted(n for n in os.listdir(d) if hidden or not n.startswith("."))
        for i, n in enumerate(names):
            last = i == len(names) - 1
            full = os.path.join(d, n)
            is_dir = os.path.isdir(full) and not os.path.islink(full)
            lines.append(prefix + ("`-- " if last else "|-- ") + n + ("/" if is_dir else ""))
            if is_dir:
                draw(full, prefix + ("    " if last else "|   "), depth + 1)

    draw(real, "", 0)
    return "\n".join(lines)


def find(pattern="*", p=".", kind=None, hidden=False):
    """Paths under p whose file name matches the glob pattern.

    kind: None (anything), "file" or "dir". Paths are relative to /app."""
    if kind not in (None, "file", "dir"):
        raise ValueError("vivarium_utils.find: kind must be None, 'file' or 'dir', got %r"
                         % (kind,))
    real = _resolve("find", p, write=False)
    _need("find", real, "dir")
    out = []
    for root, dirs, files in _walk(real, hidden):
        if kind != "file":
            out += [_rel(os.path.join(root, d)) for d in dirs if fnmatch.fnmatch(d, pattern)]
        if kind != "dir":
            out += [_rel(os.path.join(root, f)) for f in files if fnmatch.fnmatch(f, pattern)]
    return sorted(out)


def grep(pattern, p=".", glob="*", ignore_case=False, max_matches=1000):
    """Lines matching a regular expression, as (path, line number, line).

    p may be a file or a directory (searched recursively, files whose name
    matches glob). Files that are not valid UTF-8 text are skipped."""
    try:
        rx = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error as e:
        raise ValueError("vivarium_utils.grep: bad regular expression %r: %s"
                         % (pattern, e)) from None
    real = _resolve("grep", p, write=False)
    _need("grep", real, None)
    if os.path.isdir(real):
        targets = [os.path.join(root, f) for root, _, files in _walk(real, False)
                   for f in files if fnmatch.fnmatch(f, glob)]
    else:
        targets = [real]
    out = []
    for t in targets:
        try:
            with open(t, encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    if rx.search(line):
                        out.append((_rel(t), n, line.rstrip("\n")))
                        if len(out) >= max_matches:
                            return out
        except UnicodeDecodeError:
            continue
    return out


def cat(p, encoding="utf-8"):
    """The whole text of a file."""
    real = _resolve("cat", p, write=False)
    _need("cat", real, "file")
    with open(real, encoding=encoding) as fh:
        return fh.read()


def head(p, n=10, encoding="utf-8"):
    """The first n lines of a file, as one string."""
    real = _resolve("head", p, write=False)
    _need("head", real, "file")
    out = []
    with open(real, encoding=encoding) as fh:
        for line in fh:
            if len(out) >= n:
                break
            out.append(line)
    return "".join(out)


def tail(p, n=10, encoding="utf-8"):
    """The last n lines of a file, as one string (reads the file once)."""
    real = _resolve("tail", p, write=False)
    _need("tail", real, "file")
    if n <= 0:
        return ""
    keep = []
    with open(real, encoding=encoding) as fh:
        for line in fh:
            keep.append(line)
            if len(keep) > n:
                del keep[0]
    return "".join(keep)


def write(p, text, encoding="utf-8", append=False):
    """Write text to a file under /app, creating its directories.

    Every function that writes a file creates the directories above it."""
    real = _parent(_resolve("write", p, write=True))
    with open(real, "a" if append else "w", encoding=encoding) as fh:
        fh.write(text)


def mkdir(p):
    """Create a directory under /app, and its parents; fine if it exists."""
    real = _resolve("mkdir", p, write=True)
    _makedirs(real)
    return _rel(real)


def cp(src, dst):
    """Copy a file or a directory tree into /app (src may be under /data).

    A dst that is an existing directory receives src under its own name."""
    s = _resolve("cp", src, write=False)
    d = _resolve("cp", dst, write=True)
    _need("cp", s, None)
    if os.path.isdir(d):
        d = os.path.join(d, os.path.basename(s))
    _parent(d)
    if os.path.isdir(s):
        if _under(d, s):
            raise ValueError("vivarium_utils.cp: cannot copy %s into itself (%s)" % (s, d))
        shutil.copytree(s, d, symlinks=True)
    else:
        shutil.copyfile(s, d)
    return _rel(d)


def mv(src, dst):
    """Move or rename a file or directory within /app."""
    s = _resolve("mv", src, write=True)
    d = _resolve("mv", dst, write=True)
    _need("mv", s, None)
    if s == WORKSPACE:
        raise ValueError("vivarium_utils.mv: cannot move the workspace itself")
    if os.path.isdir(d):
        d = os.path.join(d, os.path.basename(s))
    shutil.move(s, d)
    return _rel(d)


def rm(p, recursive=False):
    """Remove a file, or a directory tree when recursive=True."""
    real = _resolve("rm", p, write=True)
    if real == WORKSPACE:
        raise ValueError("vivarium_utils.rm: refusing to remove the workspace itself; "
                         "remove what is in it instead")
    if not os.path.lexists(real):
        raise FileNotFoundError("vivarium_utils.rm: %s does not exist" % real)
    if os.path.isdir(real) and not os.path.islink(real):
        if not recursive:
            raise IsADirectoryError("vivarium_utils.rm: %s is a directory; "
                                    "use rm(path, recursive=True)" % real)
        shutil.rmtree(real)
    else:
        os.remove(real)


def csv_to_json(src, dst=None, delimiter=",", encoding="utf-8"):
    """Read a CSV file with a header row into a list of dicts.

    With dst, the list is also written there as JSON (under /app)."""
    s = _resolve("csv_to_json", src, write=False)
    _need("csv_to_json", s, "file")
    with open(s, newline="", encoding=encoding) as fh:
        rows = list(csv.DictReader(fh, delimiter=delimiter))
    if dst is not None:
        d = _parent(_resolve("csv_to_json", dst, write=True))
        with open(d, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
    return rows


def json_to_csv(src, dst=None, fieldnames=None, delimiter=","):
    """Write a JSON list of objects as CSV; returns the CSV text.

    The columns are fieldnames, or every key in order of first appearance.
    src may be a path or the list itself. With dst, the CSV is written there."""
    if isinstance(src, (str, os.PathLike)):
        s = _resolve("json_to_csv", src, write=False)
        _need("json_to_csv", s, "file")
        with open(s, encoding="utf-8") as fh:
            data = json.load(fh)
    else:
        data = src
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ValueError("vivarium_utils.json_to_csv: expected a list of objects")
    if fieldnames is None:
        fieldnames = []
        for r in data:
            fieldnames += [k for k in r if k not in fieldnames]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fieldnames, delimiter=delimiter, lineterminator="\n",
                       extrasaction="ignore")
    w.writeheader()
    for r in data:
        w.writerow({k: (json.dumps(v) if isinstance(v, (dict, list)) else v)
                    for k, v in r.items()})
    text = buf.getvalue()
    if dst is not None:
        d = _parent(_resolve("json_to_csv", dst, write=True))
        with open(d, "w", newline="", encoding="utf-8") as fh:
            fh.write(text)
    return text
