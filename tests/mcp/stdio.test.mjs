// tests/mcp/stdio.test.mjs: `vivarium mcp` over stdio, driven by the
// official MCP TypeScript SDK client (and a raw peer for malformed input).
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import {
  test, run, assert, eq, sleep, tempDir, textJson, stdioClient, rawStdio, runVivarium,
  EXPECTED_TOOLS, SPIN_FUEL, spinPolicy,
} from './lib.mjs';

const { client, stderr } = await stdioClient(['--max-code-bytes', '64K', ...spinPolicy()]);
const call = (name, args = {}, opts) => client.callTool({ name, arguments: args }, undefined, opts);

test('initialize negotiates the protocol and names the server', async () => {
  eq(client.getServerVersion().name, 'vivarium', 'serverInfo.name');
  assert(client.getServerCapabilities().tools, 'tools capability');
  assert(client.getInstructions().includes('/app'), 'instructions mention /app');
});

test('tools/list offers every tool, each with schemas and a description', async () => {
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  for (const n of EXPECTED_TOOLS) assert(names.includes(n), `tool ${n} listed`);
  for (const t of tools) {
    eq(t.inputSchema.type, 'object', `${t.name} inputSchema`);
    eq(t.outputSchema?.type, 'object', `${t.name} outputSchema`);
    assert(t.description.length > 80, `${t.name} has a real description`);
  }
  const exec = tools.find((t) => t.name === 'execute_code');
  for (const word of ['fuel', '/app', 'out_of_fuel', 'cancelled', 'persist']) {
    assert(exec.description.includes(word), `execute_code description mentions ${word}`);
  }
});

test('execute_code print(6*7) gives 42 in text and structured content', async () => {
  const r = await call('execute_code', { code: 'print(6*7)' });
  eq(r.isError, false, 'isError');
  eq(r.structuredContent.stdout, '42\n', 'structured stdout');
  eq(r.structuredContent.success, true, 'success');
  eq(r.structuredContent.exit_code, 0, 'exit_code');
  eq(textJson(r).stdout, '42\n', 'text stdout');
  assert(r.structuredContent.fuel_consumed > 0, 'fuel reported');
  assert(r.structuredContent.duration_ms > 0, 'duration reported');
  assert(!('workspace_path' in r.structuredContent), 'no host path leaks');
});

test('an uncaught exception is a tool error with the traceback', async () => {
  const r = await call('execute_code', { code: 'raise ValueError("boom")' });
  eq(r.isError, true, 'isError');
  eq(r.structuredContent.exit_code, 1, 'exit_code');
  eq(r.structuredContent.trap_reason, 'proc_exit', 'trap_reason');
  assert(r.structuredContent.stderr.includes('ValueError: boom'), 'traceback in stderr');
});

test('a caller may lower fuel but not raise it', async () => {
  const r = await call('execute_code', { code: 'while True: pass', fuel_budget: 2000000 });
  eq(r.structuredContent.trap_reason, 'out_of_fuel', 'trap_reason');
  eq(r.structuredContent.fuel_budget, 2000000, 'fuel_budget');
  const up = await call('execute_code', { code: 'print(1)', fuel_budget: SPIN_FUEL + 1 });
  eq(up.isError, true, 'raising fuel is refused');
  assert(/above this server's limit/.test(up.content[0].text), up.content[0].text);
});

test('a caller may lower the timeout but not raise it', async () => {
  const t0 = Date.now();
  const r = await call('execute_code', { code: 'import time\ntime.sleep(10)', timeout_seconds: 0.5 });
  eq(r.structuredContent.trap_reason, 'timeout', 'trap_reason');
  assert(Date.now() - t0 < 5000, 'stopped near the lowered deadline');
  const up = await call('execute_code', { code: 'print(1)', timeout_seconds: 31 });
  eq(up.isError, true, 'raising the timeout is refused');
});

test('a file written with write_file is read by execute_code at /app', async () => {
  const s = await call('create_session', { session_id: 'files-1' });
  eq(s.structuredContent.session_id, 'files-1', 'session id');
  eq(s.structuredContent.created, true, 'created');
  const w = await call('write_file', {
    session_id: 'files-1', path: 'in/data.txt', content: 'hello from write_file',
  });
  eq(w.isError, false, 'write ok');
  const r = await call('execute_code', {
    session_id: 'files-1',
    code: 'print(open("/app/in/data.txt").read().upper())\n' +
      'open("/app/out.bin", "wb").write(bytes(range(256)))',
  });
  eq(r.structuredContent.stdout, 'HELLO FROM WRITE_FILE\n', 'python saw the file');
  assert(r.structuredContent.files_created.includes('out.bin'), 'files_created');
  const sized = r.structuredContent.metadata.files.created;
  assert(sized.some((f) => f.path === 'out.bin' && f.size === 256), 'its size in metadata.files');
  const bin = await call('read_file', { session_id: 'files-1', path: 'out.bin' });
  eq(bin.structuredContent.encoding, 'base64', 'binary comes back as base64');
  const bytes = Buffer.from(bin.structuredContent.content, 'base64');
  eq(bytes.length, 256, 'decoded length');
  eq(bytes[255], 255, 'last byte');
  const txt = await call('read_file', { session_id: 'files-1', path: 'in/data.txt' });
  eq(txt.structuredContent.encoding, 'utf-8', 'text encoding');
  eq(txt.structuredContent.content, 'hello from write_file', 'text content');
});

test('write_file takes base64 and refuses paths out of the workspace', async () => {
  const data = Buffer.from([0, 1, 2, 250, 255]).toString('base64');
  const w = await call('write_file', {
    session_id: 'files-1', path: 'b.bin', content: data, encoding: 'base64',
  });
  eq(w.structuredContent.size, 5, 'decoded size');
  const r = await call('execute_code', {
    session_id: 'files-1', code: 'print(list(open("/app/b.bin","rb").read()))',
  });
  eq(r.structuredContent.stdout, '[0, 1, 2, 250, 255]\n', 'bytes seen by python');
  for (const path of ['../escape.txt', '/etc/passwd']) {
    const bad = await call('write_file', { session_id: 'files-1', path, content: 'x' });
    eq(bad.isError, true, `write to ${path} refused`);
  }
  const badb64 = await call('write_file', {
    session_id: 'files-1', path: 'c.bin', content: '!!!', encoding: 'base64',
  });
  eq(badb64.isError, true, 'bad base64 refused');
});

test('list_files, delete_file and reset_session', async () => {
  const all = await call('list_files', { session_id: 'files-1' });
  const paths = all.structuredContent.files.map((f) => f.path);
  for (const p of ['b.bin', 'in/data.txt', 'out.bin']) assert(paths.includes(p), `lists ${p}`);
  const some = await call('list_files', { session_id: 'files-1', pattern: '*.bin' });
  eq(some.structuredContent.files.map((f) => f.path).join(','), 'b.bin,out.bin', 'pattern');
  const d = await call('delete_file', { session_id: 'files-1', path: 'out.bin' });
  eq(d.isError, false, 'delete ok');
  const dirNoRec = await call('delete_file', { session_id: 'files-1', path: 'in' });
  eq(dirNoRec.isError, true, 'a directory needs recursive');
  const after = await call('list_files', { session_id: 'files-1' });
  assert(!after.structuredContent.files.some((f) => f.path === 'out.bin'), 'out.bin gone');
  const reset = await call('reset_session', { session_id: 'files-1' });
  eq(reset.isError, false, 'reset ok');
  const empty = await call('list_files', { session_id: 'files-1' });
  eq(empty.structuredContent.count, 0, 'workspace empty after reset');
  const ls = await call('list_sessions');
  assert(ls.structuredContent.sessions.some((x) => x.session_id === 'files-1'), 'still listed');
});

test('Python state persists in a session; reset_session forgets it', async () => {
  await call('create_session', { session_id: 'state-1' });
  const a = await call('execute_code', {
    session_id: 'state-1', code: 'def inc(v): return v + 1\nx = 41\ng = (i for i in range(3))',
  });
  eq(a.isError, false, 'first run');
  const b = await call('execute_code', { session_id: 'state-1', code: 'print(inc(x), next(g))' });
  eq(b.structuredContent.stdout, '42 0\n', 'functions, globals and a generator kept');
  eq(b.structuredContent.metadata.state.resumed, true, 'the live interpreter resumed');
  const reset = await call('reset_session', { session_id: 'state-1' });
  eq(reset.isError, false, 'reset ok');
  const c = await call('execute_code', { session_id: 'state-1', code: "print('x' in globals())" });
  eq(c.structuredContent.stdout, 'False\n', 'state forgotten after reset');
  eq(c.structuredContent.metadata.state.resumed, false, 'a new interpreter');
  await call('destroy_session', { session_id: 'state-1' });
});

test('destroy_session removes the session; later calls say so', async () => {
  const d = await call('destroy_session', { session_id: 'files-1' });
  eq(d.structuredContent.destroyed, true, 'destroyed');
  const r = await call('execute_code', { session_id: 'files-1', code: 'print(1)' });
  eq(r.isError, true, 'no such session');
  assert(/create_session/.test(r.content[0].text), 'the error says what to do');
  const ls = await call('list_sessions');
  assert(!ls.structuredContent.sessions.some((x) => x.session_id === 'files-1'), 'not listed');
});

test('cancel_execution stops a running while True within 1 s', async () => {
  await call('create_session', { session_id: 'loop' });
  const running = call('execute_code', { session_id: 'loop', code: 'while True: pass' });
  // Wait until it is really running.
  for (let i = 0; i < 100; i++) {
    const m = await call('get_metrics');
    if (m.structuredContent.running_executions > 0) break;
    await sleep(50);
  }
  await sleep(300);
  const t0 = Date.now();
  const c = await call('cancel_execution', { session_id: 'loop' });
  eq(c.structuredContent.cancelled, 1, 'one execution cancelled');
  const r = await running;
  const elapsed = Date.now() - t0;
  eq(r.structuredContent.trap_reason, 'cancelled', 'trap_reason');
  assert(elapsed < 1000, `stopped in ${elapsed} ms`);
  const again = await call('execute_code', { session_id: 'loop', code: 'print("alive")' });
  eq(again.structuredContent.stdout, 'alive\n', 'the session works after a cancel');
});

test('notifications/cancelled stops the execution too', async () => {
  const before = (await call('get_metrics')).structuredContent.executions.trap_reasons.cancelled;
  const ac = new AbortController();
  const p = call('execute_code', { code: 'while True: pass' }, { signal: ac.signal });
  for (let i = 0; i < 100; i++) {
    const m = await call('get_metrics');
    if (m.structuredContent.running_executions > 0) break;
    await sleep(50);
  }
  const t0 = Date.now();
  ac.abort('test cancels');
  await p.then(() => assert(false, 'the aborted call should reject'), () => {});
  let after = before;
  let running = 1;
  while (Date.now() - t0 < 1000) {
    const m = (await call('get_metrics')).structuredContent;
    after = m.executions.trap_reasons.cancelled;
    running = m.running_executions;
    if (after > before && running === 0) break;
    await sleep(50);
  }
  eq(after, before + 1, 'one more cancelled execution');
  eq(running, 0, 'nothing left running');
  assert(Date.now() - t0 < 1000, 'within 1 s');
});

test('an unknown tool is JSON-RPC error -32602', async () => {
  try {
    await call('no_such_tool');
    assert(false, 'should throw');
  } catch (e) {
    assert(e instanceof McpError, `McpError, got ${e}`);
    eq(e.code, -32602, 'error code');
  }
});

test('bad arguments are tool errors the model can read', async () => {
  const r = await client.callTool({ name: 'execute_code', arguments: {} });
  eq(r.isError, true, 'isError');
  assert(/missing required argument "code"/.test(r.content[0].text), r.content[0].text);
  const r2 = await client.callTool({ name: 'execute_code', arguments: { code: 'x', colour: 1 } });
  assert(/unknown argument "colour"/.test(r2.content[0].text), r2.content[0].text);
  const r3 = await call('read_file', { session_id: 'no/slash', path: 'x' });
  assert(/session_id must be/.test(r3.content[0].text), r3.content[0].text);
});

test('code over the size cap is refused with the limit', async () => {
  const r = await call('execute_code', { code: '#' + 'x'.repeat(70 * 1024) });
  eq(r.isError, true, 'isError');
  assert(/accepts at most 65536 bytes/.test(r.content[0].text), r.content[0].text);
});

test('list_runtimes names the default guest, Python 3.11, and the limits', async () => {
  const r = await call('list_runtimes');
  const rt = r.structuredContent.runtimes[0];
  eq(rt.name, 'python', 'name');
  assert(rt.version.startsWith('3.11.'), `version ${rt.version}`);
  eq(rt.limits.fuel_budget, SPIN_FUEL, 'fuel limit (the server policy)');
});

test('get_metrics counts executions, errors, percentiles and fuel', async () => {
  const m = (await call('get_metrics')).structuredContent;
  assert(m.executions.total >= 8, `executions ${m.executions.total}`);
  assert(m.executions.succeeded >= 3, 'successes counted');
  assert(m.executions.trap_reasons.out_of_fuel >= 1, 'out_of_fuel counted');
  assert(m.executions.trap_reasons.timeout >= 1, 'timeout counted');
  assert(m.executions.error_rate > 0 && m.executions.error_rate < 1, 'error rate');
  const d = m.duration_ms;
  assert(d.p50 > 0 && d.p50 <= d.p95 && d.p95 <= d.p99 && d.p99 <= d.max, 'percentiles');
  // At least the 2,000,000 of the run that went out of fuel, whether the
  // others started warm (no start-up cost) or cold.
  assert(m.fuel_consumed_total >= 2000000, 'fuel total');
  eq(m.active_sessions, 1, 'active sessions (loop)');
  assert(m.tool_calls_by_name.execute_code >= 8, 'per-tool counts');
});

test('the guest\'s output goes into results; the server\'s diagnostics to stderr', async () => {
  const r = await call('execute_code', { code: 'import sys; print("err", file=sys.stderr)' });
  eq(r.structuredContent.stderr, 'err\n', 'guest stderr is in the result');
  const peer = rawStdio(['--session-idle-timeout', '0.2']);
  peer.send(JSON.stringify({
    jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  }) + '\n');
  await peer.next();
  peer.send(JSON.stringify({
    jsonrpc: '2.0', id: 2, method: 'tools/call',
    params: { name: 'create_session', arguments: { session_id: 'brief' } },
  }) + '\n');
  await peer.next();
  await sleep(1000);
  assert(/session brief expired/.test(peer.stderr()), `expiry logged on stderr: ${peer.stderr()}`);
  peer.send('{"jsonrpc":"2.0","id":3,"method":"ping"}\n');
  // next() parses every stdout line as JSON: a log line there would fail it.
  eq((await peer.next()).id, 3, 'the next stdout line is the ping reply');
  void stderr;
});

// ---- a second server with small caps ------------------------------------------------

test('caps: sessions and concurrent executions, each with a clear error', async () => {
  const { client: c2 } = await stdioClient(['--max-sessions', '2', '--max-concurrent', '1',
    ...spinPolicy()]);
  const call2 = (name, args = {}) => c2.callTool({ name, arguments: args });
  eq((await call2('create_session', { session_id: 'a' })).isError, false, 'first');
  eq((await call2('create_session', { session_id: 'b' })).isError, false, 'second');
  const third = await call2('create_session', { session_id: 'c' });
  eq(third.isError, true, 'third refused');
  assert(/limit/.test(third.content[0].text), third.content[0].text);
  const same = await call2('create_session', { session_id: 'a' });
  eq(same.structuredContent.created, false, 'an existing id is returned, not counted twice');
  const long = call2('execute_code', { session_id: 'a', code: 'while True: pass' });
  for (let i = 0; i < 100; i++) {
    const m = await call2('get_metrics');
    if (m.structuredContent.running_executions > 0) break;
    await sleep(50);
  }
  const busy = await call2('execute_code', { code: 'print(1)' });
  eq(busy.isError, true, 'second execution refused');
  assert(/busy/.test(busy.content[0].text), busy.content[0].text);
  await call2('cancel_execution', {});
  eq((await long).structuredContent.trap_reason, 'cancelled', 'cancel without session_id');
});

test('idle sessions expire and their workspaces are removed', async () => {
  const dir = tempDir('viv-mcp-sessions-');
  const { client: c3 } = await stdioClient(['--sessions-dir', dir, '--session-idle-timeout', '1']);
  const call3 = (name, args = {}) => c3.callTool({ name, arguments: args });
  await call3('create_session', { session_id: 'old' });
  await call3('write_file', { session_id: 'old', path: 'f.txt', content: 'x' });
  assert(existsSync(join(dir, 'old', 'workspace', 'f.txt')), 'file on disk');
  await sleep(2000);
  const ls = await call3('list_sessions');
  eq(ls.structuredContent.count, 0, 'expired');
  assert(!existsSync(join(dir, 'old')), 'session directory removed');
  const r = await call3('read_file', { session_id: 'old', path: 'f.txt' });
  eq(r.isError, true, 'expired session refused');
});

test('--policy sets the server limits; calls are held to them', async () => {
  const dir = tempDir('viv-mcp-policy-');
  const pol = join(dir, 'policy.toml');
  writeFileSync(pol, 'fuel_budget = 300000000\ntimeout_seconds = 5\n');
  const { client: c4 } = await stdioClient(['--policy', pol]);
  const call4 = (name, args = {}) => c4.callTool({ name, arguments: args });
  const r = await call4('execute_code', { code: 'print(2+2)' });
  eq(r.structuredContent.fuel_budget, 300000000, 'server fuel applies');
  const up = await call4('execute_code', { code: 'print(1)', fuel_budget: 300000001 });
  eq(up.isError, true, 'cannot exceed the policy');
  const t = await call4('execute_code', { code: 'print(1)', timeout_seconds: 6 });
  eq(t.isError, true, 'cannot exceed the policy timeout');
  const bad = await runVivarium(['mcp', '--policy', join(dir, 'missing.toml')]);
  eq(bad.code, 125, 'a missing policy file stops start-up');
});

// ---- malformed input, raw ---------------------------------------------------------------

test('100 malformed messages in a row leave the server answering', async () => {
  const peer = rawStdio();
  const bad = [
    'garbage', '{', '{"jsonrpc":"2.0"', '[]', '[1,2]', '42', '"str"', 'null', '{}',
    '{"jsonrpc":"1.0","id":1,"method":"ping"}', '{"jsonrpc":"2.0","id":{},"method":"ping"}',
    '{"jsonrpc":"2.0","id":1.5,"method":"ping"}', '{"jsonrpc":"2.0","id":1}',
    '{"jsonrpc":"2.0","id":2,"method":7}', '{"jsonrpc":"2.0","id":3,"method":"ping","params":"x"}',
    '{"jsonrpc":"2.0","id":4,"method":"tools/list"}', // before initialize
    '{"jsonrpc":"2.0","id":5,"id":6,"method":"ping"}', '\xff\xfe{}', '[' .repeat(5000),
    '{"jsonrpc":"2.0","id":7,"method":"initialize","params":{}}',
  ];
  for (let i = 0; i < 100; i++) peer.send(bad[i % bad.length] + '\n');
  let errors = 0;
  for (let i = 0; i < 100; i++) {
    const reply = await peer.next();
    if (reply.error && typeof reply.error.code === 'number') errors++;
  }
  eq(errors, 100, 'every malformed message got a JSON-RPC error');
  peer.send(JSON.stringify({
    jsonrpc: '2.0', id: 'init', method: 'initialize',
    params: { protocolVersion: '2099-01-01', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  }) + '\n');
  const init = await peer.next();
  eq(init.result.protocolVersion, '2025-11-25', 'unknown version: the server offers its latest');
  peer.send('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
  peer.send('{"jsonrpc":"2.0","id":99,"method":"ping"}\n');
  const pong = await peer.next();
  eq(pong.id, 99, 'ping answered');
  peer.send('{"jsonrpc":"2.0","id":100,"method":"resources/list"}\n');
  eq((await peer.next()).error.code, -32601, 'unknown method is -32601');
});

test('an oversize message is refused and the server goes on', async () => {
  const peer = rawStdio(['--max-request-bytes', '64K']);
  peer.send('{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"' + 'x'.repeat(200000) + '"}}\n');
  const r = await peer.next();
  eq(r.error.code, -32600, 'invalid request');
  assert(/limit/.test(r.error.message), r.error.message);
  peer.send('{"jsonrpc":"2.0","id":2,"method":"ping"}\n');
  eq((await peer.next()).id, 2, 'still answering');
});

test('stdin closing ends the server cleanly and removes its temporary sessions', async () => {
  const peer = rawStdio();
  peer.send(JSON.stringify({
    jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  }) + '\n');
  await peer.next();
  peer.send(JSON.stringify({
    jsonrpc: '2.0', id: 2, method: 'tools/call',
    params: { name: 'create_session', arguments: { session_id: 'tmp' } },
  }) + '\n');
  await peer.next();
  const before = readdirSync(process.env.TMPDIR ?? '/tmp').filter((n) => n.startsWith('vivarium-mcp-'));
  peer.child.stdin.end();
  eq(await peer.exited, 0, 'exit status');
  const after = readdirSync(process.env.TMPDIR ?? '/tmp').filter((n) => n.startsWith('vivarium-mcp-'));
  assert(after.length < before.length, 'its temporary session root is gone');
});

await run();
