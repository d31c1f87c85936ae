"""Vivarium's guest-side session state: save the user's globals after a run,
restore them before the next one.

The host embeds this source in the guest runner, registers it as
sys.modules['_vivarium_state'] (pickles name its helpers by that module
name) and calls restore(ns, path) before the user's code and
save(ns, path, mode) after it, where ns is the user's __main__.__dict__.
Neither call raises: a state that cannot be read or written is reported
in the returned dict, never allowed to break the run.

Pure Python for CPython 3.11 and 3.12 on WASI: no threads, sockets or
subprocesses. The file format and what persists are described in
docs/state.md.
"""

import io
import marshal
import os
import sys
import types

# The C accelerator alone: pickle.py would also import re (and more), which
# costs a cold execution more than the whole save. json is imported only by
# the json format, for the same reason.
try:
    import _pickle as pickle
except ImportError:  # an interpreter built without it
    import pickle

MAGIC = b"VIVARIUM-STATE 1\n"
JSON_FORMAT = "vivarium-state-json"
JSON_VERSION = 1
PROTOCOL = 5

# Pickling recurses in C once per level of nesting. On 3.11 that is bounded
# only by the Python recursion limit, so a session that raised the limit could
# overflow the C stack while saving; saving and restoring run under this cap.
_RECURSION_CAP = 2000

# Reasons and messages end up in the result's metadata: keep them short.
_REASON_MAX = 200

# Types that can never be pickled, with the short reason a user sees.
_UNPICKLABLE = {
    types.GeneratorType: "generator",
    types.CoroutineType: "coroutine",
    types.AsyncGeneratorType: "async generator",
    types.FrameType: "frame",
    types.TracebackType: "traceback",
}


def _python_version():
    return "%d.%d" % sys.version_info[:2]


def _is_dunder(name):
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def _short(text):
    text = " ".join(str(text).split())
    if len(text) > _REASON_MAX:
        text = text[: _REASON_MAX - 3] + "..."
    return text


def _exc_text(exc):
    if isinstance(exc, RecursionError):
        return "too deeply nested (RecursionError)"
    msg = str(exc)
    name = type(exc).__name__
    return _short("%s: %s" % (name, msg) if msg else name)


def _describe(value):
    """A short human name for a value's kind ('lambda', 'dict', ...)."""
    if isinstance(value, types.FunctionType):
        return "lambda" if value.__name__ == "<lambda>" else "function"
    if isinstance(value, type):
        return "class"
    return type(value).__name__


def _not_persisted_reason(value, exc):
    label = _UNPICKLABLE.get(type(value))
    if label is not None:
        return label
    if isinstance(value, io.IOBase):
        return "open file"
    if isinstance(exc, RecursionError):
        return "too deeply nested to pickle (RecursionError)"
    msg = str(exc)
    if not isinstance(exc, (TypeError, pickle.PicklingError)) or not msg:
        # Anything else came from the value's own code: say what it raised.
        msg = "%s: %s" % (type(exc).__name__, msg) if msg else type(exc).__name__
    return _short("%s: %s" % (_describe(value), msg))


# --------------------------------------------------------------------------
# Saving: a pickler that takes __main__'s functions and classes by value.


def _resolves_by_reference(obj):
    """True when the default pickler could find obj again by module and
    qualified name in a fresh interpreter. Everything defined in __main__,
    in a function body, or in a module that is gone must go by value."""
    module = getattr(obj, "__module__", None)
    if not isinstance(module, str) or module == "__main__":
        return False
    qualname = getattr(obj, "__qualname__", None)
    if not isinstance(qualname, str) or "<locals>" in qualname:
        return False
    found = sys.modules.get(module)
    if found is None:
        return False
    try:
        for part in qualname.split("."):
            found = getattr(found, part)
    except Exception:
        return False
    return found is obj


def _resolves_by_name(obj):
    """Like _resolves_by_reference for objects pickled by their __name__."""
    module_name = getattr(obj, "__module__", None)
    name = getattr(obj, "__name__", None)
    if not isinstance(module_name, str) or module_name == "__main__" or not isinstance(name, str):
        return False
    module = sys.modules.get(module_name)
    return module is not None and getattr(module, name, None) is obj


def _module_sentinels():
    """Module-level singletons that are compared by identity (dataclasses'
    MISSING and field markers): pickled as a reference to the attribute so
    that `field.default is MISSING` still holds after a restore."""
    found = {}
    dc = sys.modules.get("dataclasses")
    if dc is not None:
        for attr in ("MISSING", "_FIELD", "_FIELD_CLASSVAR", "_FIELD_INITVAR",
                     "_HAS_DEFAULT_FACTORY", "_EMPTY_METADATA"):
            if hasattr(dc, attr):
                found[id(getattr(dc, attr))] = ("dataclasses", attr)
    return found


def _code_global_names(code, out):
    out.update(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _code_global_names(const, out)
    return out


class _Pickler(pickle.Pickler):
    """One pickler per saved name; `save_scope` is shared by all names of one
    save, so that an object pickled by value under two names gets the same
    token and is rebuilt once on restore (identity survives)."""

    def __init__(self, file, save_scope):
        super().__init__(file, protocol=PROTOCOL)
        self._scope = save_scope

    def _token(self, obj):
        # Keeping obj alive for the whole save keeps its id unique.
        self._scope["keep"][id(obj)] = obj
        return "%x" % id(obj)

    def reducer_override(self, obj):
        kind = type(obj)
        if kind is types.FunctionType:
            if _resolves_by_reference(obj):
                return NotImplemented
            return self._reduce_function(obj)
        if kind is types.ModuleType:
            return self._reduce_module(obj)
        if kind is _AliasOf:
            return (_alias_of, (obj.name,))
        if isinstance(obj, type):
            if _resolves_by_reference(obj):
                return NotImplemented
            return self._reduce_class(obj)
        if kind is staticmethod or kind is classmethod:
            return (kind, (obj.__func__,))
        if kind is property:
            return (property, (obj.fget, obj.fset, obj.fdel, obj.__doc__))
        if kind is types.MappingProxyType:
            # Its type has no importable name: rebuilt by a helper.
            return (_mapping_proxy, (dict(obj),))
        sentinel = self._scope["sentinels"].get(id(obj))
        if sentinel is not None:
            return (_module_attr, sentinel)
        if kind in self._scope["typing_kinds"]:
            # These pickle by name, which fails for the session's own ones
            # (and for the type parameters of 3.12's `def f[T]`).
            if not _resolves_by_name(obj):
                return self._reduce_typing(obj, kind, sys.modules["typing"])
        if kind is self._scope["cached_property"]:
            # Its 3.11 lock cannot be pickled and is not needed after a restore.
            state = {k: v for k, v in vars(obj).items() if k != "lock"}
            return (kind, (obj.func,), state)
        return NotImplemented

    def _reduce_typing(self, obj, kind, typing):
        token = self._token(obj)
        if kind is typing.TypeVar:
            options = {"bound": obj.__bound__, "covariant": obj.__covariant__,
                       "contravariant": obj.__contravariant__}
            if hasattr(obj, "__infer_variance__"):
                options["infer_variance"] = obj.__infer_variance__
            return (_make_typing, (token, "TypeVar", (obj.__name__,) + obj.__constraints__,
                                   options, obj.__module__))
        if kind is typing.NewType:
            return (_make_typing, (token, "NewType", (obj.__name__, obj.__supertype__), {},
                                   obj.__module__))
        return (_make_typing, (token, "TypeAliasType", (obj.__name__, obj.__value__),
                               {"type_params": obj.__type_params__}, obj.__module__))

    def _reduce_module(self, module):
        name = getattr(module, "__name__", None)
        if not isinstance(name, str) or sys.modules.get(name) is not module:
            raise pickle.PicklingError("module %r is not importable by name" % (name,))
        return (_import_module, (name,))

    def _reduce_function(self, func):
        code = func.__code__
        module = func.__module__
        glob = func.__globals__
        main = sys.modules.get("__main__")
        state = {}
        # Decided by the globals themselves, not __module__: functools.wraps
        # copies a wrapped function's __module__ onto the wrapper.
        owner = glob.get("__name__")
        owner_module = sys.modules.get(owner) if isinstance(owner, str) else None
        if glob is self._scope["ns"] or (main is not None and glob is getattr(main, "__dict__", None)):
            # Re-bound to the restoring namespace: the function sees the
            # other restored globals at call time.
            globals_kind, globals_arg = "main", None
        elif owner_module is not None and getattr(owner_module, "__dict__", None) is glob:
            globals_kind, globals_arg = "module", owner
        else:
            # A private namespace (attrs makes its methods in a copy of the
            # module's globals): keep only the names the code reads. They go
            # in the state, not the arguments, since they may refer back to
            # the function itself.
            globals_kind, globals_arg = "dict", None
            names = _code_global_names(code, set())
            state["globals"] = {n: glob[n] for n in names if n in glob}
            if "__name__" in glob:
                state["globals"]["__name__"] = glob["__name__"]
        cells = func.__closure__ or ()
        contents, empty = [], []
        for index, cell in enumerate(cells):
            try:
                contents.append(cell.cell_contents)
            except ValueError:
                contents.append(None)
                empty.append(index)
        state.update({
            "qualname": func.__qualname__,
            "module": module,
            "defaults": func.__defaults__,
            "kwdefaults": func.__kwdefaults__,
            "doc": func.__doc__,
            "annotations": func.__annotations__ or None,
            "dict": func.__dict__ or None,
            "cells": contents,
            "empty": empty,
        })
        type_params = getattr(func, "__type_params__", None)
        if type_params:
            state["type_params"] = type_params
        args = (self._token(func), marshal.dumps(code), func.__name__,
                globals_kind, globals_arg, len(cells))
        return (_make_function, args, state, None, None, _fill_function)

    def _reduce_class(self, cls):
        if not cls.__flags__ & (1 << 9):  # not Py_TPFLAGS_HEAPTYPE: built in
            return NotImplemented
        enum = sys.modules.get("enum")
        if enum is not None and isinstance(cls, enum.EnumMeta):
            return self._reduce_enum(cls)
        typing = sys.modules.get("typing")
        if typing is not None and typing.is_typeddict(cls):
            return (_make_typeddict, (self._token(cls), cls.__name__, cls.__qualname__,
                                      cls.__module__, dict(cls.__annotations__), cls.__total__))
        namespace = cls.__dict__
        initial = {"__module__": cls.__module__, "__doc__": namespace.get("__doc__")}
        if "__orig_bases__" in namespace:
            # Generic[T] and friends check it when the class is created.
            initial["__orig_bases__"] = namespace["__orig_bases__"]
        if "__slots__" in namespace:
            slots = namespace["__slots__"]
            initial["__slots__"] = (slots,) if isinstance(slots, str) else tuple(slots)
        attrs = {}
        for key, value in namespace.items():
            if key in ("__dict__", "__weakref__", "__module__", "__doc__", "__slots__", "__orig_bases__",
                       "__slotnames__", "_abc_impl", "__qualname__"):
                continue
            if (isinstance(value, (types.MemberDescriptorType, types.GetSetDescriptorType))
                    and getattr(value, "__objclass__", None) is cls):
                continue  # made again from __slots__ when the class is created
            attrs[key] = value
        args = (self._token(cls), type(cls), cls.__name__, cls.__bases__, initial)
        state = {"qualname": cls.__qualname__, "attrs": attrs}
        return (_make_class, args, state, None, None, _fill_class)

    def _reduce_enum(self, cls):
        """An Enum is made again by its metaclass from its members' values;
        the user's methods follow, as for any class."""
        if isinstance(cls.__dict__.get("_new_member_"), types.FunctionType):
            raise pickle.PicklingError("an Enum with its own __new__ is not supported")
        members = cls.__members__
        attrs = {}
        for key, value in cls.__dict__.items():
            if key in members:
                continue
            func = value
            if type(value) in (staticmethod, classmethod):
                func = value.__func__
            elif type(value) is property:
                func = value.fget
            # What EnumType adds itself is found by reference; the user's own
            # methods are not.
            if isinstance(func, types.FunctionType) and not _resolves_by_reference(func):
                attrs[key] = value
        extra = {}
        for name, member in members.items():
            own = {k: v for k, v in vars(member).items()
                   if k not in ("_value_", "_name_", "__objclass__", "_sort_order_")}
            if own:
                extra[name] = own
        args = (self._token(cls), type(cls), cls.__name__, cls.__bases__, cls.__module__,
                cls.__qualname__, [(name, member._value_) for name, member in members.items()])
        state = {"qualname": cls.__qualname__, "attrs": attrs, "members": extra}
        return (_make_enum, args, state, None, None, _fill_class)


# --------------------------------------------------------------------------
# Restoring: helpers the pickles name. The unpickler hands each one the
# restore's context first (see _Unpickler.find_class), so no module-level
# state is involved.


class _Context:
    def __init__(self, ns):
        self.ns = ns
        self.built = {}    # token -> function or class rebuilt in this restore
        self.filled = set()  # ids of those whose state is already set


def _module_attr(ctx, module, attr):
    return getattr(_import_module(ctx, module), attr)


def _alias_of(ctx, name):
    if name not in ctx.ns:
        raise LookupError("the same object as %s, which was not restored" % name)
    return ctx.ns[name]


def _mapping_proxy(ctx, mapping):
    return types.MappingProxyType(mapping)


def _import_module(ctx, name):
    if name == "__main__":
        main = sys.modules.get("__main__")
        if main is not None and getattr(main, "__dict__", None) is ctx.ns:
            return main
    __import__(name)
    return sys.modules[name]


def _make_function(ctx, token, code_bytes, name, globals_kind, globals_arg, ncells):
    built = ctx.built.get(token)
    if built is not None:
        return built
    code = marshal.loads(code_bytes)
    if not isinstance(code, types.CodeType):
        raise pickle.UnpicklingError("function %s: no code object" % name)
    if globals_kind == "main":
        glob = ctx.ns
    elif globals_kind == "module":
        glob = _import_module(ctx, globals_arg).__dict__
    else:
        glob = {}
    closure = tuple(types.CellType() for _ in range(ncells)) if ncells else None
    func = types.FunctionType(code, glob, name, None, closure)
    ctx.built[token] = func
    return func


def _fill_function(ctx, func, state):
    if id(func) in ctx.filled:
        return func
    ctx.filled.add(id(func))
    if "globals" in state:
        func.__globals__.update(state["globals"])
    func.__qualname__ = state["qualname"]
    func.__module__ = state["module"]
    func.__defaults__ = state["defaults"]
    func.__kwdefaults__ = state["kwdefaults"]
    func.__doc__ = state["doc"]
    if state["annotations"]:
        func.__annotations__ = state["annotations"]
    if state["dict"]:
        func.__dict__.update(state["dict"])
    if "type_params" in state:
        func.__type_params__ = state["type_params"]
    empty = set(state["empty"])
    for index, (cell, value) in enumerate(zip(func.__closure__ or (), state["cells"])):
        if index not in empty:
            cell.cell_contents = value
    return func


def _make_class(ctx, token, meta, name, bases, initial):
    built = ctx.built.get(token)
    if built is not None:
        return built
    # Methods come later (_fill_class): a method that uses super() holds the
    # class in a closure cell, so the class must exist before its methods.
    cls = meta(name, bases, dict(initial))
    ctx.built[token] = cls
    return cls


def _make_enum(ctx, token, meta, name, bases, module, qualname, members):
    built = ctx.built.get(token)
    if built is not None:
        return built
    classdict = meta.__prepare__(name, bases)
    classdict["__module__"] = module
    classdict["__qualname__"] = qualname
    for member, value in members:
        classdict[member] = value
    cls = meta(name, bases, classdict)
    ctx.built[token] = cls
    return cls


def _make_typing(ctx, token, kind, args, options, module):
    built = ctx.built.get(token)
    if built is None:
        import typing
        built = getattr(typing, kind)(*args, **options)
        if kind != "TypeAliasType":
            built.__module__ = module
        ctx.built[token] = built
    return built


def _make_typeddict(ctx, token, name, qualname, module, fields, total):
    built = ctx.built.get(token)
    if built is None:
        import typing
        built = typing.TypedDict(name, fields, total=total)
        built.__qualname__ = qualname
        built.__module__ = module
        ctx.built[token] = built
    return built


def _fill_class(ctx, cls, state):
    if id(cls) in ctx.filled:
        return cls
    ctx.filled.add(id(cls))
    cls.__qualname__ = state["qualname"]
    attrs = state["attrs"]
    for key, value in attrs.items():
        type.__setattr__(cls, key, value)
    # Class creation would have called __set_name__ on these; setattr does not.
    for key, value in attrs.items():
        set_name = getattr(type(value), "__set_name__", None)
        if set_name is not None:
            set_name(value, cls, key)
    for member, own in state.get("members", {}).items():
        vars(cls[member]).update(own)
    abc = sys.modules.get("abc")
    if abc is not None and isinstance(cls, abc.ABCMeta):
        abc.update_abstractmethods(cls)
    return cls


_HELPERS = {
    "_module_attr": _module_attr,
    "_import_module": _import_module,
    "_mapping_proxy": _mapping_proxy,
    "_alias_of": _alias_of,
    "_make_function": _make_function,
    "_fill_function": _fill_function,
    "_make_class": _make_class,
    "_make_enum": _make_enum,
    "_make_typing": _make_typing,
    "_make_typeddict": _make_typeddict,
    "_fill_class": _fill_class,
}
# The helpers are pickled under this module's name; "__main__" (the file run
# as a script) must never resolve to them.
_HELPER_MODULES = {"_vivarium_state"} | ({__name__} - {"__main__"})


class _Bound:
    """A helper with the restore's context bound as its first argument."""

    __slots__ = ("fn", "ctx")

    def __init__(self, fn, ctx):
        self.fn = fn
        self.ctx = ctx

    def __call__(self, *args):
        return self.fn(self.ctx, *args)


class _Unpickler(pickle.Unpickler):
    def __init__(self, data, ctx):
        super().__init__(io.BytesIO(data))
        self._ctx = ctx

    def find_class(self, module, name):
        if module in _HELPER_MODULES:
            helper = _HELPERS.get(name)
            if helper is None:
                raise pickle.UnpicklingError("unknown state helper %s" % name)
            return _Bound(helper, self._ctx)
        if module == "__main__":
            # Objects pickled by name in the session: look in the namespace
            # being restored, whatever sys.modules['__main__'] is.
            found = self._ctx.ns
            try:
                found = found[name.split(".")[0]]
                for part in name.split(".")[1:]:
                    found = getattr(found, part)
            except (KeyError, AttributeError):
                raise AttributeError("%s is not restored (yet)" % name) from None
            return found
        return super().find_class(module, name)


class _ContainerUnpickler(pickle.Unpickler):
    """The outer {name: bytes} pickle holds no classes at all."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError("unexpected global %s.%s in the state file" % (module, name))


class _Reset(Exception):
    """The whole state file is unusable: start with empty state."""


# --------------------------------------------------------------------------
# The two formats.


def _crc32(data):
    try:
        import binascii
    except ImportError:
        return None
    return binascii.crc32(data)


# Values whose identity nobody can observe: never stored as aliases.
_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None), tuple, frozenset)


class _AliasOf:
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name


def _dump_pickle(ns, report):
    typing = sys.modules.get("typing")
    functools = sys.modules.get("functools")
    scope = {
        "ns": ns,
        "keep": {},
        "sentinels": _module_sentinels(),
        "typing_kinds": tuple(getattr(typing, n) for n in ("TypeVar", "NewType", "TypeAliasType")
                              if hasattr(typing, n)) if typing is not None else (),
        "cached_property": getattr(functools, "cached_property", None),
    }
    builtins_module = sys.modules.get("builtins")
    blobs = {}
    first_name = {}  # id of a saved value -> the first name it was saved under
    for name, value in list(ns.items()):
        if not isinstance(name, str) or _is_dunder(name) or value is builtins_module:
            continue
        buf = io.BytesIO()
        try:
            # `b = a` stays one object: b's pickle points at a, which is
            # restored first (file order).
            alias = None if type(value) in _IMMUTABLE else first_name.get(id(value))
            if alias is not None:
                _Pickler(buf, scope).dump(_AliasOf(alias))
            else:
                _Pickler(buf, scope).dump(value)
                first_name[id(value)] = name
        except BaseException as exc:  # user __reduce__ code may raise anything
            report["not_persisted"][name] = _not_persisted_reason(value, exc)
            continue
        blobs[name] = buf.getvalue()
        report["saved"].append(name)
    scope["keep"].clear()
    payload = pickle.dumps(blobs, protocol=PROTOCOL)
    header = {
        "python": _python_version(),
        "implementation": sys.implementation.name,
        "cache_tag": sys.implementation.cache_tag,
        "protocol": PROTOCOL,
        "names": len(blobs),
        "length": len(payload),
        "crc32": _crc32(payload),
    }
    # Written as three pieces: no copy of a large payload.
    return [MAGIC, _header_line(header), payload]


def _header_line(header):
    # One line of space-separated key=value pairs (ASCII, no spaces in the
    # values), readable with split(): no json import on the way in or out.
    parts = []
    for key, value in header.items():
        text = "-" if value is None else str(value)
        parts.append("%s=%s" % (key, text.replace(" ", "_")))
    return (" ".join(parts) + "\n").encode("ascii", "replace")


def _parse_header(line):
    header = {}
    for part in line.decode("ascii").split(" "):
        key, eq, value = part.partition("=")
        if not eq or not key:
            raise ValueError("bad header field")
        if value == "-":
            header[key] = None
        elif value.isdigit():
            header[key] = int(value)
        else:
            header[key] = value
    return header


def _json_problem(value, depth=0):
    """Why value would not come back from JSON exactly, or None."""
    if depth > 200:
        return "too deeply nested"
    kind = type(value)
    if value is None or kind is bool or kind is str or kind is int:
        return None
    if kind is float:
        return None if value - value == 0.0 else "float %r" % value
    if kind is list:
        for item in value:
            problem = _json_problem(item, depth + 1)
            if problem is not None:
                return problem if problem.startswith("contains") else "contains a " + problem
        return None
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return "dict with %s keys" % type(key).__name__
            problem = _json_problem(item, depth + 1)
            if problem is not None:
                return problem if problem.startswith("contains") else "contains a " + problem
        return None
    return _describe(value)


def _dump_json(ns, report):
    import json
    builtins_module = sys.modules.get("builtins")
    kept = {}
    for name, value in list(ns.items()):
        if not isinstance(name, str) or _is_dunder(name) or value is builtins_module:
            continue
        try:
            problem = _json_problem(value)
            if problem is None:
                # Catches what the walk cannot see: cycles, huge ints, surrogates.
                text = json.dumps(value, ensure_ascii=False, allow_nan=False)
                text.encode("utf-8")
        except BaseException as exc:
            problem = _exc_text(exc)
        if problem is not None:
            report["not_persisted"][name] = "not JSON-serialisable: " + problem
            continue
        kept[name] = value
        report["saved"].append(name)
    doc = {"format": JSON_FORMAT, "version": JSON_VERSION,
           "python": _python_version(), "globals": kept}
    return [(json.dumps(doc, ensure_ascii=False, allow_nan=False, indent=1) + "\n").encode("utf-8")]


def _load_pickle(ns, data, report):
    end = data.find(b"\n", len(MAGIC))
    if end < 0:
        raise _Reset("truncated state file (no header)")
    try:
        header = _parse_header(data[len(MAGIC):end])
    except ValueError:
        raise _Reset("corrupt state file (bad header)") from None
    if not isinstance(header, dict):
        raise _Reset("corrupt state file (bad header)")
    made_by, this = header.get("python"), _python_version()
    if made_by != this:
        raise _Reset("made by Python %s, this is %s" % (made_by, this))
    if header.get("cache_tag") != sys.implementation.cache_tag:
        raise _Reset("made by %s, this is %s" % (header.get("cache_tag"), sys.implementation.cache_tag))
    payload = data[end + 1:]
    length = header.get("length")
    if isinstance(length, int) and length != len(payload):
        raise _Reset("truncated state file (%d of %d bytes)" % (len(payload), length))
    crc = header.get("crc32")
    if isinstance(crc, int) and _crc32(payload) not in (None, crc):
        raise _Reset("corrupt state file (checksum mismatch)")
    try:
        blobs = _ContainerUnpickler(io.BytesIO(payload)).load()
    except BaseException as exc:
        raise _Reset("corrupt state file (%s)" % _exc_text(exc)) from None
    if not isinstance(blobs, dict) or not all(
            type(k) is str and type(v) is bytes for k, v in blobs.items()):
        raise _Reset("corrupt state file (unexpected contents)")
    ctx = _Context(ns)
    for name, blob in blobs.items():
        if _is_dunder(name):
            report["failed"][name] = "reserved name"
            continue
        before = set(ctx.built)
        try:
            value = _Unpickler(blob, ctx).load()
        except BaseException as exc:
            # Half-built functions or classes must not be shared with the
            # names restored after this one.
            for token in set(ctx.built) - before:
                ctx.filled.discard(id(ctx.built.pop(token)))
            report["failed"][name] = _exc_text(exc)
            continue
        ns[name] = value
        report["restored"].append(name)


def _load_json(ns, data, report):
    import json
    try:
        doc = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        raise _Reset("corrupt JSON state file") from None
    if not isinstance(doc, dict) or doc.get("format") != JSON_FORMAT:
        raise _Reset("not a Vivarium state file (JSON without the format tag)")
    if doc.get("version") != JSON_VERSION:
        raise _Reset("unsupported JSON state version %r" % (doc.get("version"),))
    kept = doc.get("globals")
    if not isinstance(kept, dict):
        raise _Reset("corrupt JSON state file (no globals)")
    for name, value in kept.items():
        if _is_dunder(name):
            report["failed"][name] = "reserved name"
            continue
        ns[name] = value
        report["restored"].append(name)


# --------------------------------------------------------------------------
# The API the runner calls.


def restore(ns, path):
    """Load the state file at path into ns. Never raises.

    Returns {"restored": [names], "failed": {name: reason},
    "reset": None or why the whole file was unusable}. A missing file is
    an empty state, not a reset. Each name is restored on its own: one
    that fails does not take the others with it.
    """
    report = {"restored": [], "failed": {}, "reset": None}
    try:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return report
        except BaseException as exc:
            raise _Reset("state file unreadable (%s)" % _exc_text(exc)) from None
        if data.startswith(MAGIC):
            _capped_recursion(_load_pickle, ns, data, report)
        elif not data:
            raise _Reset("empty state file")
        elif data.lstrip()[:1] == b"{":
            _load_json(ns, data, report)
        else:
            raise _Reset("not a Vivarium state file (bad magic)")
    except _Reset as reset:
        report["reset"] = _short(reset)
    except BaseException as exc:
        # BaseException on purpose, here and wherever user objects run: WASI
        # delivers no signals and the host stops a guest from outside Python,
        # so a KeyboardInterrupt or SystemExit at this point can only come
        # from the session's own __setstate__ or __reduce__. It must not
        # break the run.
        report["reset"] = _short("corrupt state file (%s)" % _exc_text(exc))
    if report["reset"] is not None:
        for name in report["restored"]:
            ns.pop(name, None)
        report["restored"] = []
        report["failed"] = {}
    return report


def _capped_recursion(fn, *args):
    old = sys.getrecursionlimit()
    capped = old > _RECURSION_CAP
    if capped:
        sys.setrecursionlimit(_RECURSION_CAP)
    try:
        return fn(*args)
    finally:
        if capped:
            sys.setrecursionlimit(old)


def _write_atomic(path, chunks):
    tmp = path + ".tmp"
    try:
        with open(tmp, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            fsync = getattr(os, "fsync", None)
            if fsync is not None:
                try:
                    fsync(f.fileno())
                except OSError:
                    pass  # WASI layers without fd_sync: the rename still holds
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except BaseException:
            pass
        raise


def save(ns, path, mode="pickle"):
    """Write ns's globals to path atomically, in mode "pickle" or "json".
    Never raises.

    Returns {"saved": [names], "not_persisted": {name: reason},
    "error": None or why no file was written}. Dunder names and names bound
    to the builtins module are skipped silently.
    """
    report = {"saved": [], "not_persisted": {}, "error": None}
    try:
        if mode == "pickle":
            data = _capped_recursion(_dump_pickle, ns, report)
        elif mode == "json":
            data = _capped_recursion(_dump_json, ns, report)
        else:
            report["error"] = "unknown state mode %r" % (mode,)
            return report
        _write_atomic(path, data)
    except BaseException as exc:
        report["error"] = _short("state not written (%s)" % _exc_text(exc))
        report["not_persisted"].update({name: "state not written" for name in report["saved"]})
        report["saved"] = []
    return report


def _report_json(value, depth=0):
    # The runner's report holds dicts, lists, strings, ints, bools and None.
    # Written by hand: importing json would cost a cold execution more than
    # the whole save.
    if depth > 20:
        return "null"
    if value is None or value is True or value is False:
        return {None: "null", True: "true", False: "false"}[value]
    if type(value) is int:
        return str(value)
    if type(value) is float:
        return repr(value) if value - value == 0.0 else "null"
    if isinstance(value, dict):
        return "{" + ",".join(_report_json(str(k)) + ":" + _report_json(v, depth + 1)
                              for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_report_json(v, depth + 1) for v in value) + "]"
    out = ['"']
    for ch in str(value):
        code = ord(ch)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif code < 0x20:
            out.append("\\u%04x" % code)
        elif 0xD800 <= code < 0xE000:
            out.append("\\ufffd")  # a lone surrogate is not valid JSON text
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def write_report(path, report):
    """The runner's report for the host, as JSON; never raises."""
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(_report_json(report))
    except BaseException:
        pass
