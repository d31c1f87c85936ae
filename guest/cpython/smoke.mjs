// guest/cpython/smoke.mjs WASM STDLIB_DIR SCRATCH_DIR
//
// The build's own check of a fresh python.wasm under node:wasi (no Vivarium
// needed): _start runs a program that imports the built-in extension
// modules and keeps a sqlite database, and the host entry API runs two
// programs in one instance with a different argv and environ each, the
// second ending in SystemExit. Exits non-zero on any mismatch.
import { WASI } from 'node:wasi';
import fs from 'node:fs';

const [wasmPath, libDir, scratch] = process.argv.slice(2);
const mod = await WebAssembly.compile(fs.readFileSync(wasmPath));
const preopens = { '/usr/local/lib/python3.11': libDir, '/app': scratch };
let failures = 0;
const check = (what, ok) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
};

// 1. _start, as a command.
{
  const code = 'import sys, zlib, sqlite3, bz2, lzma, json, decimal, pyexpat, zoneinfo\n' +
    'assert sys.version_info[:2] == (3, 11), sys.version_info\n' +
    'db = sqlite3.connect("/app/smoke.db"); db.execute("create table t(x)"); db.commit()\n' +
    'raise SystemExit(7)\n';
  const wasi = new WASI({ version: 'preview1', args: ['python', '-c', code], env: {}, preopens,
    returnOnExit: true });
  const inst = await WebAssembly.instantiate(mod, wasi.getImportObject());
  const rc = wasi.start(inst);
  check(`_start: imports and a sqlite file, exit status ${rc} (want 7)`, rc === 7);
  check('_start: /app/smoke.db written', fs.existsSync(`${scratch}/smoke.db`));
}

// 2. vivarium_init + vivarium_run, argv and environ changed between runs.
{
  const wasi = new WASI({ version: 'preview1', args: ['x'], env: {}, preopens, returnOnExit: true });
  const imports = wasi.getImportObject();
  const w = imports.wasi_snapshot_preview1;
  let cur = { args: [], env: [] };
  let memory;
  const enc = new TextEncoder();
  const sizes = (list, pc, ps) => {
    const dv = new DataView(memory.buffer);
    dv.setUint32(pc, list.length, true);
    dv.setUint32(ps, list.reduce((n, s) => n + enc.encode(s).length + 1, 0), true);
    return 0;
  };
  const get = (list, pp, pb) => {
    const dv = new DataView(memory.buffer);
    const u8 = new Uint8Array(memory.buffer);
    let off = pb;
    list.forEach((s, i) => {
      const b = enc.encode(s);
      dv.setUint32(pp + 4 * i, off, true);
      u8.set(b, off);
      u8[off + b.length] = 0;
      off += b.length + 1;
    });
    return 0;
  };
  w.args_sizes_get = (a, b) => sizes(cur.args, a, b);
  w.args_get = (a, b) => get(cur.args, a, b);
  w.environ_sizes_get = (a, b) => sizes(cur.env, a, b);
  w.environ_get = (a, b) => get(cur.env, a, b);
  const inst = await WebAssembly.instantiate(mod, imports);
  memory = inst.exports.memory;
  wasi.initialize({ exports: { memory } });
  cur = { args: ['python', '-B', '-X', 'utf8'], env: [] };
  check('vivarium_init returns 0', inst.exports.vivarium_init() === 0);
  cur = { args: ['python', '-c', 'import os, sys\nopen("/app/run1", "w").write(os.environ["A"] + " ".join(sys.argv))', 'p'],
          env: ['A=1'] };
  check('vivarium_run #1 returns 0', inst.exports.vivarium_run() === 0);
  check('run #1 saw its argv and environ',
    fs.readFileSync(`${scratch}/run1`, 'utf8') === '1-c p');
  cur = { args: ['python', '-c', 'import os; assert "A" not in os.environ; raise SystemExit(5)'],
          env: ['B=2'] };
  check('vivarium_run #2 returns its SystemExit status 5', inst.exports.vivarium_run() === 5);
}
process.exitCode = failures ? 1 : 0;
