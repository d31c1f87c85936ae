/*
 * guest/cpython/vivarium_entry.c: the host entry API of our CPython guest.
 *
 * Linked into python.wasm as the built-in module _vivarium (through
 * Modules/Setup.local), it exports two functions the runtime may call
 * instead of _start (reactor-style; a guest uses one style or the other,
 * never both, because both run the C constructors), and _start itself:
 *
 *   int vivarium_init(void)  start the interpreter once. Interpreter options
 *                            (-B -u -X utf8 -I -E ...) and PYTHON* variables
 *                            come from the WASI argv and environ of the moment.
 *                            0 on success; otherwise the reason is on stderr.
 *   int vivarium_run(void)   run one program in the ready interpreter. Its
 *                            command line is the WASI argv of the moment, read
 *                            as `python [options] (-c CODE | -m MOD | FILE | -)
 *                            [args]`, and os.environ becomes the WASI environ
 *                            of the moment. Returns the exit status `python`
 *                            would have (SystemExit honoured, 1 after an
 *                            uncaught exception, whose traceback goes to
 *                            stderr); atexit handlers run and the standard
 *                            streams are flushed before it returns.
 *
 * Arguments travel through args_get/environ_get rather than guest memory, so
 * the host needs no allocator inside the guest: it changes what those two
 * calls answer between runs. Each run gets a fresh __main__, sys.argv and
 * sys.path[0]; imported modules stay (that is the point of a warm guest).
 */
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <wasi/api.h>

#define VIV_EXPORT(name) __attribute__((export_name(name)))

extern void __wasm_call_ctors(void);
extern int __original_main(void);

/* The per-run logic is easier to get right in Python; it is compiled once,
 * at init, from this source. */
static const char runner_source[] =
    "import sys as _sys\n"
    "_RUNNER = __file__\n"
    "_base_path = list(_sys.path)\n"
    "_ARG_OPTS = 'cmWX'\n"
    "_FLAGS = 'bBdEhiIOPqsSuvVx'\n"
    "def _parse(argv):\n"
    "    i = 1\n"
    "    while i < len(argv):\n"
    "        a = argv[i]\n"
    "        if a == '--':\n"
    "            i += 1\n"
    "            break\n"
    "        if a == '-' or not a.startswith('-'):\n"
    "            break\n"
    "        if a.startswith('--'):\n"
    "            i += 2 if a == '--check-hash-based-pycs' else 1\n"
    "            continue\n"
    "        j = 1\n"
    "        while j < len(a):\n"
    "            ch = a[j]\n"
    "            if ch in _ARG_OPTS:\n"
    "                val = a[j + 1:]\n"
    "                if not val:\n"
    "                    i += 1\n"
    "                    if i >= len(argv):\n"
    "                        raise SystemExit('Argument expected for the -%s option' % ch)\n"
    "                    val = argv[i]\n"
    "                if ch == 'c':\n"
    "                    return ('c', val, argv[i + 1:])\n"
    "                if ch == 'm':\n"
    "                    return ('m', val, argv[i + 1:])\n"
    "                break\n"
    "            if ch not in _FLAGS:\n"
    "                raise SystemExit('Unknown option: -%s' % ch)\n"
    "            j += 1\n"
    "        i += 1\n"
    "    if i >= len(argv) or argv[i] == '-':\n"
    "        return ('-', '-', argv[i + 1:])\n"
    "    return ('f', argv[i], argv[i + 1:])\n"
    "def _exit_status(code):\n"
    "    if code is None:\n"
    "        return 0\n"
    "    if isinstance(code, int):\n"
    "        return code\n"
    "    try:\n"
    "        print(code, file=_sys.stderr)\n"
    "    except Exception:\n"
    "        pass\n"
    "    return 1\n"
    "def _flush():\n"
    "    for s in (_sys.stdout, _sys.stderr):\n"
    "        try:\n"
    "            s.flush()\n"
    "        except Exception:\n"
    "            pass\n"
    "def _main(kind, target, rest):\n"
    "    import os, types\n"
    "    main = types.ModuleType('__main__')\n"
    "    _sys.modules['__main__'] = main\n"
    "    g = main.__dict__\n"
    "    g['__builtins__'] = __builtins__\n"
    "    if kind == 'c':\n"
    "        _sys.argv = ['-c'] + rest\n"
    "        _sys.path[:] = [''] + _base_path\n"
    "        exec(compile(target, '<string>', 'exec'), g)\n"
    "    elif kind == 'm':\n"
    "        import runpy\n"
    "        _sys.argv = [target] + rest\n"
    "        _sys.path[:] = [os.getcwd()] + _base_path\n"
    "        runpy._run_module_as_main(target, alter_argv=True)\n"
    "    elif kind == 'f':\n"
    "        from importlib.machinery import SourceFileLoader\n"
    "        _sys.argv = [target] + rest\n"
    "        _sys.path[:] = [os.path.dirname(os.path.abspath(target))] + _base_path\n"
    "        with open(target, 'rb') as f:\n"
    "            src = f.read()\n"
    "        g['__file__'] = target\n"
    "        g['__cached__'] = None\n"
    "        g['__loader__'] = SourceFileLoader('__main__', target)\n"
    "        exec(compile(src, target, 'exec'), g)\n"
    "    else:\n"
    "        _sys.argv = [''] + rest\n"
    "        _sys.path[:] = [''] + _base_path\n"
    "        exec(compile(_sys.stdin.read(), '<stdin>', 'exec'), g)\n"
    "def run(argv, env):\n"
    "    import atexit, os\n"
    "    status = 0\n"
    "    try:\n"
    "        os.environ.clear()\n"
    "        for kv in env:\n"
    "            k, sep, v = kv.partition('=')\n"
    "            if sep and k:\n"
    "                os.environ[k] = v\n"
    "        _main(*_parse(argv))\n"
    "    except SystemExit as e:\n"
    "        status = _exit_status(e.code)\n"
    "    except BaseException as e:\n"
    "        tb = e.__traceback__\n"
    "        while tb is not None and tb.tb_frame.f_code.co_filename == _RUNNER:\n"
    "            tb = tb.tb_next\n"
    "        e.__traceback__ = tb\n"
    "        _sys.excepthook(type(e), e, tb)\n"
    "        status = 1\n"
    "    try:\n"
    "        atexit._run_exitfuncs()\n"
    "        atexit._clear()\n"
    "    except BaseException:\n"
    "        pass\n"
    "    _flush()\n"
    "    return status\n";

static PyObject *runner_run; /* the runner's run(argv, env); NULL until init */

/* Reads the WASI argv (environ == 0) or environ (environ != 0) as raw C
 * strings in one block: *out_ptrs[count] == NULL. Caller frees both. */
static int wasi_strings(int environ, char ***out_ptrs, char **out_buf, size_t *out_count)
{
    __wasi_size_t count = 0;
    __wasi_size_t size = 0;
    __wasi_errno_t e = environ ? __wasi_environ_sizes_get(&count, &size)
                               : __wasi_args_sizes_get(&count, &size);
    if (e != 0) {
        return -1;
    }
    char **ptrs = calloc((size_t)count + 1, sizeof *ptrs);
    char *buf = malloc(size ? size : 1);
    if (ptrs == NULL || buf == NULL) {
        free(ptrs);
        free(buf);
        return -1;
    }
    e = environ ? __wasi_environ_get((uint8_t **)ptrs, (uint8_t *)buf)
                : __wasi_args_get((uint8_t **)ptrs, (uint8_t *)buf);
    if (e != 0) {
        free(ptrs);
        free(buf);
        return -1;
    }
    ptrs[count] = NULL;
    *out_ptrs = ptrs;
    *out_buf = buf;
    *out_count = count;
    return 0;
}

static PyObject *wasi_list(int environ)
{
    char **ptrs = NULL;
    char *buf = NULL;
    size_t count = 0;
    if (wasi_strings(environ, &ptrs, &buf, &count) != 0) {
        PyErr_SetString(PyExc_OSError, environ ? "environ_get failed" : "args_get failed");
        return NULL;
    }
    PyObject *list = PyList_New((Py_ssize_t)count);
    for (size_t i = 0; list != NULL && i < count; i++) {
        PyObject *s = PyUnicode_DecodeFSDefault(ptrs[i]);
        if (s == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, s);
    }
    free(ptrs);
    free(buf);
    return list;
}

static int start_interpreter(void)
{
    char **argv = NULL;
    char *buf = NULL;
    size_t argc = 0;
    if (wasi_strings(0, &argv, &buf, &argc) != 0) {
        fputs("vivarium_init: cannot read the WASI argv\n", stderr);
        return 1;
    }
    PyStatus st;
    PyPreConfig pre;
    PyPreConfig_InitPythonConfig(&pre);
    pre.parse_argv = 1;
    st = Py_PreInitializeFromBytesArgs(&pre, (Py_ssize_t)argc, argv);
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    if (!PyStatus_Exception(st)) {
        config.parse_argv = 1;
        st = PyConfig_SetBytesArgv(&config, (Py_ssize_t)argc, argv);
    }
    if (!PyStatus_Exception(st)) {
        st = Py_InitializeFromConfig(&config);
    }
    PyConfig_Clear(&config);
    free(argv);
    free(buf);
    if (PyStatus_Exception(st)) {
        fprintf(stderr, "vivarium_init: %s%s%s\n", st.func ? st.func : "",
                st.func ? ": " : "", st.err_msg ? st.err_msg : "interpreter start failed");
        return 1;
    }
    return 0;
}

static int load_runner(void)
{
    /* Its own file name lets the runner drop its frames from tracebacks. */
    static const char runner_file[] = "<vivarium-runner>";
    PyObject *globals = PyDict_New();
    PyObject *name = PyUnicode_FromString("_vivarium_runner");
    PyObject *file = PyUnicode_FromString(runner_file);
    PyObject *code = Py_CompileString(runner_source, runner_file, Py_file_input);
    int bad = globals == NULL || name == NULL || file == NULL || code == NULL ||
              PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) != 0 ||
              PyDict_SetItemString(globals, "__name__", name) != 0 ||
              PyDict_SetItemString(globals, "__file__", file) != 0;
    PyObject *r = bad ? NULL : PyEval_EvalCode(code, globals, globals);
    Py_XDECREF(name);
    Py_XDECREF(file);
    Py_XDECREF(code);
    if (r == NULL) {
        Py_XDECREF(globals);
        return -1;
    }
    Py_DECREF(r);
    runner_run = PyDict_GetItemString(globals, "run");
    Py_XINCREF(runner_run);
    Py_DECREF(globals);
    return runner_run != NULL ? 0 : -1;
}

VIV_EXPORT("vivarium_init") int vivarium_init(void)
{
    static int state; /* 0 never tried, 1 ready, 2 failed */
    if (state != 0) {
        return state == 1 ? 0 : 1;
    }
    state = 2;
    __wasm_call_ctors();
    if (start_interpreter() != 0) {
        return 1;
    }
    if (load_runner() != 0) {
        PyErr_Print();
        return 1;
    }
    state = 1;
    return 0;
}

VIV_EXPORT("vivarium_run") int vivarium_run(void)
{
    if (vivarium_init() != 0) {
        return 1;
    }
    PyObject *argv = wasi_list(0);
    PyObject *env = argv != NULL ? wasi_list(1) : NULL;
    PyObject *r = env != NULL ? PyObject_CallFunctionObjArgs(runner_run, argv, env, NULL) : NULL;
    Py_XDECREF(argv);
    Py_XDECREF(env);
    if (r == NULL) {
        PyErr_Print();
        return 1;
    }
    long status = PyLong_AsLong(r);
    Py_DECREF(r);
    if (status == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 1;
    }
    return (int)status;
}

/* The module's _start (python.wasm is linked with -nostartfiles, see
 * build.sh). wasi-libc's own _start leaves running the C constructors to the
 * linker, which adds that call only while no code names __wasm_call_ctors;
 * vivarium_init must name it, so _start does it here as well. Weak, so a
 * link that does include wasi-libc's start file still works. */
__attribute__((weak, export_name("_start"))) void _start(void)
{
    __wasm_call_ctors();
    int r = __original_main();
    if (r != 0) {
        exit(r);
    }
}

/* The module itself only exists so Setup.local can link this file in. */
static struct PyModuleDef vivarium_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_vivarium",
    .m_doc = "Host entry API of the Vivarium guest (vivarium_init, vivarium_run).",
    .m_size = 0,
};

PyMODINIT_FUNC PyInit__vivarium(void)
{
    return PyModuleDef_Init(&vivarium_module);
}
