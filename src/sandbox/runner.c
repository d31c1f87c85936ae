/*
 * src/sandbox/runner.c: our Python around the user's program (runner.h).
 *
 * Line numbers and __main__ are the user's: the program is compiled under
 * its own file name and runs in a fresh __main__ module, and our frames are
 * cut from tracebacks. The names we need live in our own module's globals,
 * never in the user's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"
#include "viv_state_module.h"

/* What both programs define before they differ. */
static const char common_head[] =
    "# Vivarium's runner (not user code).\n"
    "import os, sys\n"
    "\n"
    "def _vivarium_load_state_module():\n"
    "    # It joins sys.modules under its own name, where pickle finds the\n"
    "    # helpers a state file names.\n"
    "    import types\n"
    "    path = '/.vivarium/" VIV_STATE_MODULE_FILE "'\n"
    "    try:\n"
    "        with open(path, 'rb') as f:\n"
    "            src = f.read()\n"
    "    except OSError:\n"
    "        return\n"
    "    mod = types.ModuleType('_vivarium_state')\n"
    "    mod.__file__ = path\n"
    "    sys.modules['_vivarium_state'] = mod\n"
    "    exec(compile(src, path, 'exec', dont_inherit=True), mod.__dict__)\n"
    "\n"
    "def _vivarium_new_main(path):\n"
    "    import builtins, types\n"
    "    main = types.ModuleType('__main__')\n"
    "    main.__file__ = path\n"
    "    main.__cached__ = None\n"
    "    main.__builtins__ = builtins\n"
    "    loader = getattr(sys.modules['__main__'], '__loader__', None)\n"
    "    if loader is not None:\n"
    "        main.__loader__ = type(loader)('__main__', path)\n"
    "    sys.modules['__main__'] = main\n"
    "    return main\n"
    "\n"
    "def _vivarium_make_room():\n"
    "    # Our module frame sits under the program's: give it its own room, so\n"
    "    # that recursion ends at the same depth of the program as when it runs\n"
    "    # alone. Before 3.12 the evaluation loop that exec() enters counts as\n"
    "    # a level of its own as well.\n"
    "    extra = 1 if sys.version_info >= (3, 12) else 2\n"
    "    sys.setrecursionlimit(sys.getrecursionlimit() + extra)\n"
    "\n"
    "def _vivarium_state_begin(main, mode):\n"
    "    if not mode:\n"
    "        return None\n"
    "    report = {'mode': mode}\n"
    "    if mode in ('pickle', 'json') and os.path.exists('/.vivarium/" VIV_STATE_IN_FILE "'):\n"
    "        try:\n"
    "            report['restore'] = sys.modules['_vivarium_state'].restore(\n"
    "                main.__dict__, '/.vivarium/" VIV_STATE_IN_FILE "')\n"
    "        except BaseException as e:\n"
    "            report['restore'] = {'restored': [], 'failed': {},\n"
    "                                 'reset': 'the state module failed: ' + type(e).__name__}\n"
    "    return report\n"
    "\n"
    "def _vivarium_state_end(main, report, status):\n"
    "    if report is None:\n"
    "        return\n"
    "    if report['mode'] in ('pickle', 'json'):\n"
    "        try:\n"
    "            report['save'] = sys.modules['_vivarium_state'].save(\n"
    "                main.__dict__, '/.vivarium/" VIV_STATE_OUT_FILE "', report['mode'])\n"
    "        except BaseException as e:\n"
    "            report['save'] = {'error': type(e).__name__}\n"
    "    report['status'] = status\n"
    "    state = sys.modules.get('_vivarium_state')\n"
    "    if state is not None:\n"
    "        state.write_report('/.vivarium/" VIV_STATE_REPORT_FILE "', report)\n"
    "\n"
    "def _vivarium_end(main, status):\n"
    "    # What interpreter shutdown would do that a program can observe (exit\n"
    "    # handlers, objects only the program held being released, buffered\n"
    "    # output written), without tearing down every module: this process\n"
    "    # ends here, and a zygote it came from is untouched.\n"
    "    import atexit, gc\n"
    "    atexit._run_exitfuncs()\n"
    "    main.__dict__.clear()\n"
    "    gc.collect()\n"
    "    for stream in (sys.stdout, sys.stderr):\n"
    "        try:\n"
    "            stream.flush()\n"
    "        except BaseException:\n"
    "            pass\n"
    "    os._exit(status)\n"
    "\n";

/* The zygote's own part: pre-imports, then the requests. */
static const char zygote_head[] =
    "def _vivarium_request(interp):\n"
    "    def read_exact(n):\n"
    "        buf = b''\n"
    "        while len(buf) < n:\n"
    "            chunk = os.read(0, n - len(buf))\n"
    "            if not chunk:\n"
    "                raise SystemExit(70)\n"
    "            buf += chunk\n"
    "        return buf\n"
    "\n"
    "    # The host forks (or, in a live interpreter, ends the execution\n"
    "    # before) inside this read; it returns in the next execution.\n"
    "    size = int.from_bytes(read_exact(8), 'little')\n"
    "    fields = iter(read_exact(size).split(b'\\0'))\n"
    "    argv = [os.fsdecode(next(fields)) for _ in range(int(next(fields)))]\n"
    "    env = [next(fields) for _ in range(int(next(fields)))]\n"
    "    mode = os.fsdecode(next(fields))\n"
    "    live = next(fields) == b'1'\n"
    "    sys.argv = argv\n"
    "    sys.orig_argv = interp + argv\n"
    "    os.environ.clear()\n"
    "    for item in env:\n"
    "        key, _, value = item.partition(b'=')\n"
    "        os.environ[os.fsdecode(key)] = os.fsdecode(value)\n"
    "    return argv[0], mode, live\n"
    "\n"
    "def _vivarium_wait(preimports):\n"
    "    for name in preimports:\n"
    "        try:\n"
    "            __import__(name)\n"
    "        except Exception:\n"
    "            pass\n"
    "    _vivarium_load_state_module()\n"
    "    import atexit, builtins, gc, types\n"
    "    # The first compile() pays a one-time set-up; pay it here, once.\n"
    "    compile(b'def f(a, *b, **c):\\n    return [x for x in a if x] or f\"{c!r:>3}\"\\n',\n"
    "            '<vivarium>', 'exec', dont_inherit=True)\n"
    "    gc.collect()\n"
    "    # Start-up's objects live as long as the zygote: collections in an\n"
    "    # execution skip them (cheaper, and their pages stay shared).\n"
    "    gc.freeze()\n"
    "    sys.stdout.flush()\n"
    "    sys.stderr.flush()\n"
    "    interp = sys.orig_argv[:-1]\n"
    "    path, mode, live = _vivarium_request(interp)\n"
    "    rnd = sys.modules.get('random')\n"
    "    if rnd is not None:\n"
    "        rnd.seed()\n"
    "    main = _vivarium_new_main(path)\n"
    "    _vivarium_make_room()\n"
    "    return interp, main, path, mode, live\n"
    "\n"
    "def _vivarium_next(interp, main, status):\n"
    "    # A live interpreter: the status file ends this execution; the\n"
    "    # next request finds everything of the program's as it was left.\n"
    "    # What an exit would have written out reaches the workspace now:\n"
    "    # the program's open files (its globals), then our streams.\n"
    "    import io\n"
    "    for value in list(main.__dict__.values()):\n"
    "        if isinstance(value, io.IOBase):\n"
    "            try:\n"
    "                value.flush()\n"
    "            except BaseException:\n"
    "                pass\n"
    "    for stream in (sys.stdout, sys.stderr):\n"
    "        try:\n"
    "            stream.flush()\n"
    "        except BaseException:\n"
    "            pass\n"
    "    with open('/.vivarium/" VIV_LIVE_STATUS_FILE "', 'w') as f:\n"
    "        f.write(str(status))\n"
    "    path, mode, live = _vivarium_request(interp)\n"
    "    # The execution's stdin is new: nothing the previous one left in\n"
    "    # sys.stdin's buffers may be read as part of it.\n"
    "    old = sys.stdin\n"
    "    if old is not None and hasattr(old, 'buffer'):\n"
    "        try:\n"
    "            sys.stdin = io.TextIOWrapper(\n"
    "                io.BufferedReader(io.FileIO(0, 'rb', closefd=False)),\n"
    "                encoding=old.encoding, errors=old.errors,\n"
    "                line_buffering=old.line_buffering)\n"
    "        except BaseException:\n"
    "            pass\n"
    "    main.__file__ = path\n"
    "    sys.modules['__main__'] = main\n"
    "    return path, mode, live\n"
    "\n";

/* The session runner's own part: argv[1] is the program. */
static const char session_head[] = "def _vivarium_prepare():\n"
                                   "    _vivarium_load_state_module()\n"
                                   "    argv = sys.argv[1:]\n"
                                   "    sys.argv = argv\n"
                                   "    main = _vivarium_new_main(argv[0])\n"
                                   "    _vivarium_make_room()\n"
                                   "    return main, argv[0]\n"
                                   "\n"
                                   "_main, _path = _vivarium_prepare()\n"
                                   "_interp, _live = None, False\n";

static const char common_tail[] =
    "while True:\n"
    "    _report = _vivarium_state_begin(_main, _mode)\n"
    "    try:\n"
    "        with open(_path, 'rb') as _f:\n"
    "            _src = _f.read()\n"
    "        if sys.version_info < (3, 12):\n"
    "            # Before 3.12 the interpreter read a program file only up to\n"
    "            # its first NUL byte; compile() refuses one instead.\n"
    "            _src = _src.split(b'\\0', 1)[0]\n"
    "        _code = compile(_src, _path, 'exec', dont_inherit=True)\n"
    "        del _src\n"
    "        del _f\n"
    "        exec(_code, _main.__dict__)\n"
    "    except SystemExit as _e:\n"
    "        _c = _e.code\n"
    "        if _c is None:\n"
    "            _status = 0\n"
    "        elif isinstance(_c, int):\n"
    "            _status = _c\n"
    "        else:\n"
    "            try:\n"
    "                print(_c, file=sys.stderr)\n"
    "            except BaseException:\n"
    "                pass\n"
    "            _status = 1\n"
    "        del _e, _c\n"
    "    except BaseException as _e:\n"
    "        _tb = _e.__traceback__\n"
    "        while _tb is not None and _tb.tb_frame.f_code.co_filename == __file__:\n"
    "            _tb = _tb.tb_next\n"
    "        _e.__traceback__ = _tb\n"
    "        sys.excepthook(type(_e), _e, _tb)\n"
    "        del _e, _tb\n"
    "        _status = 1\n"
    "    else:\n"
    "        _status = 0\n"
    "    _code = None\n"
    "    _vivarium_state_end(_main, _report, _status)\n"
    "    if not _live:\n"
    "        _vivarium_end(_main, _status)\n"
    "    _path, _mode, _live = _vivarium_next(_interp, _main, _status)\n";

char *viv_runner_zygote_program(char *const *preimports, size_t npreimports)
{
    size_t n = sizeof common_head + sizeof zygote_head + sizeof common_tail + 128;
    for (size_t i = 0; i < npreimports; i++) {
        n += strlen(preimports[i]) + 4;
    }
    char *out = malloc(n);
    if (out == NULL) {
        return NULL;
    }
    size_t len =
        (size_t)snprintf(out, n, "%s%s_interp, _main, _path, _mode, _live = _vivarium_wait([",
                         common_head, zygote_head);
    for (size_t i = 0; i < npreimports; i++) {
        /* Names were checked to be dotted identifiers: no quoting needed. */
        len += (size_t)snprintf(out + len, n - len, "'%s', ", preimports[i]);
    }
    snprintf(out + len, n - len, "])\ndel _vivarium_wait\n\n%s", common_tail);
    return out;
}

char *viv_runner_session_program(const char *format)
{
    size_t n = sizeof common_head + sizeof session_head + sizeof common_tail + 64;
    char *out = malloc(n);
    if (out == NULL) {
        return NULL;
    }
    snprintf(out, n, "%s%s_mode = '%s'\n\n%s", common_head, session_head,
             strcmp(format, "json") == 0 ? "json" : "pickle", common_tail);
    return out;
}

const char *viv_runner_state_module(size_t *len)
{
    *len = sizeof viv_state_module_py;
    return (const char *)viv_state_module_py;
}
