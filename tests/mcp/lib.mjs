// tests/mcp/lib.mjs: what the MCP black-box tests share: a tiny runner that
// prints "N passed, N failed", the path of the vivarium binary, and clients
// for both transports built on the official SDK.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const here = dirname(fileURLToPath(import.meta.url));
export const VIVARIUM = process.env.VIVARIUM_BIN ?? join(here, '..', '..', 'build', 'vivarium');

const tests = [];
export function test(name, fn) {
  tests.push({ name, fn });
}

export async function run() {
  let passed = 0;
  let failed = 0;
  for (const t of tests) {
    const t0 = Date.now();
    try {
      await t.fn();
      passed++;
      console.log(`ok - ${t.name} (${Date.now() - t0} ms)`);
    } catch (e) {
      failed++;
      console.log(`not ok - ${t.name}: ${e?.stack ?? e}`);
    }
  }
  for (const f of cleanups.reverse()) {
    try {
      await f();
    } catch {
      /* best effort */
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

const cleanups = [];
export function cleanup(fn) {
  cleanups.push(fn);
}

export function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}
export function eq(actual, expected, msg) {
  if (actual !== expected) {
    throw new Error(`${msg}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function tempDir(prefix) {
  const d = mkdtempSync(join(tmpdir(), prefix));
  cleanup(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

// Server options with room for a `while True: pass` to still be running when a
// test cancels it: our guest spends the default 5e9 instructions of fuel in
// about 0.4 s; with 1e12 (about 80 s of spinning) the 30 s deadline comes first.
export const SPIN_FUEL = 1000000000000;
export function spinPolicy() {
  const pol = join(tempDir('viv-mcp-spin-'), 'policy.toml');
  writeFileSync(pol, `fuel_budget = ${SPIN_FUEL}\n`);
  return ['--policy', pol];
}

// The text block must carry the same result as structuredContent.
export function textJson(result) {
  const block = result.content.find((c) => c.type === 'text');
  assert(block, 'a text content block');
  return JSON.parse(block.text);
}

export async function stdioClient(args = []) {
  const transport = new StdioClientTransport({
    command: VIVARIUM,
    args: ['mcp', ...args],
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d) => (stderr += d));
  const client = new Client({ name: 'vivarium-test', version: '1.0.0' });
  await client.connect(transport);
  cleanup(() => client.close());
  return { client, transport, stderr: () => stderr };
}

// Start `vivarium mcp --http 127.0.0.1:0 ...` and wait for its address.
export async function httpServer(args = [], { token = true } = {}) {
  const dir = tempDir('viv-mcp-http-');
  let tokenValue = null;
  const extra = [];
  if (token) {
    tokenValue = 'test-token-' + Math.random().toString(36).slice(2) + 'abcdefgh';
    const f = join(dir, 'token');
    writeFileSync(f, tokenValue + '\n');
    chmodSync(f, 0o600);
    extra.push('--token-file', f);
  }
  const child = spawn(VIVARIUM, ['mcp', '--http', '127.0.0.1:0', ...extra, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 10000);
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = /listening on (http:\/\/\S+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited ${code}: ${stderr}`)));
  });
  const exited = new Promise((r) => child.on('exit', (code, sig) => r({ code, sig })));
  cleanup(async () => {
    child.kill('SIGTERM');
    await exited;
  });
  return { url, token: tokenValue, child, exited, stderr: () => stderr, stdout: () => stdout };
}

export async function httpClient(url, token) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  const client = new Client({ name: 'vivarium-test', version: '1.0.0' });
  await client.connect(transport);
  cleanup(() => client.close());
  return { client, transport };
}

// Run `vivarium mcp` with arguments and collect its exit status and stderr.
export function runVivarium(args, stdin = '') {
  return new Promise((resolve) => {
    const child = spawn(VIVARIUM, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => resolve({ code, out, err }));
    child.stdin.end(stdin);
  });
}

export const EXPECTED_TOOLS = [
  'execute_code',
  'create_session',
  'destroy_session',
  'list_sessions',
  'reset_session',
  'list_files',
  'read_file',
  'write_file',
  'delete_file',
  'cancel_execution',
  'get_metrics',
  'list_runtimes',
];

// A raw line-oriented peer for what the SDK will not send (malformed input).
export function rawStdio(args = []) {
  const child = spawn(VIVARIUM, ['mcp', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let buf = '';
  const lines = [];
  const waiters = [];
  child.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
      while (waiters.length && lines.length) waiters.shift()(lines.shift());
    }
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((r) => child.on('exit', (code) => r(code)));
  cleanup(async () => {
    child.kill('SIGTERM');
    await exited;
  });
  return {
    child,
    exited,
    stderr: () => stderr,
    send: (text) => child.stdin.write(text),
    next: (ms = 10000) =>
      lines.length
        ? Promise.resolve(JSON.parse(lines.shift()))
        : new Promise((resolve, reject) => {
            const t = setTimeout(() => reject(new Error('no reply within ' + ms + ' ms')), ms);
            waiters.push((l) => {
              clearTimeout(t);
              resolve(JSON.parse(l));
            });
          }),
  };
}
