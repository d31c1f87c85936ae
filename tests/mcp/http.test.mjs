// tests/mcp/http.test.mjs: `vivarium mcp --http`, Streamable HTTP, driven by
// the official MCP TypeScript SDK client and by raw fetch for what the SDK
// will not send (no token, bad origin, malformed and oversize bodies).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  test, run, assert, eq, sleep, textJson, httpServer, httpClient, runVivarium, EXPECTED_TOOLS,
  spinPolicy,
} from './lib.mjs';

// Rate limiting has its own test and server; here it would only slow the flood tests.
const srv = await httpServer(['--max-request-bytes', '64K', '--rate-limit', '0', ...spinPolicy()]);
const auth = { Authorization: `Bearer ${srv.token}` };
const json = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
const initBody = JSON.stringify({
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});
const post = (body, headers = {}) =>
  fetch(srv.url, { method: 'POST', headers: { ...json, ...headers }, body });

// A raw MCP session: initialize, initialized, and its Mcp-Session-Id.
async function rawSession() {
  const r = await post(initBody, auth);
  eq(r.status, 200, 'initialize status');
  const sid = r.headers.get('mcp-session-id');
  assert(/^[0-9a-f]{32}$/.test(sid ?? ''), `session id ${sid}`);
  await r.json();
  const n = await post('{"jsonrpc":"2.0","method":"notifications/initialized"}', {
    ...auth, 'Mcp-Session-Id': sid,
  });
  eq(n.status, 202, 'a notification is 202 Accepted');
  return sid;
}

test('the server refuses to start over HTTP without a token', async () => {
  const r = await runVivarium(['mcp', '--http', '127.0.0.1:0']);
  eq(r.code, 125, 'exit status');
  assert(/--token-file/.test(r.err), r.err);
  eq(r.out, '', 'nothing on stdout');
});

test('it binds to loopback by default', async () => {
  assert(srv.url.startsWith('http://127.0.0.1:'), srv.url);
});

test('a request without the token gets 401', async () => {
  const r = await post(initBody);
  eq(r.status, 401, 'status');
  assert(/Bearer/.test(r.headers.get('www-authenticate') ?? ''), 'WWW-Authenticate');
  const wrong = await post(initBody, { Authorization: 'Bearer not-the-token-at-all' });
  eq(wrong.status, 401, 'a wrong token is 401 too');
});

test('the SDK client without the token cannot connect', async () => {
  const client = new Client({ name: 'no-token', version: '1' });
  const transport = new StreamableHTTPClientTransport(new URL(srv.url));
  let failed = false;
  try {
    await client.connect(transport);
  } catch (e) {
    failed = /401/.test(String(e?.message ?? e)) || e?.code === 401;
  }
  assert(failed, 'connect rejected with 401');
});

const { client } = await httpClient(srv.url, srv.token);
const call = (name, args = {}) => client.callTool({ name, arguments: args });

test('with the token: initialize, tools/list, print(6*7) -> 42', async () => {
  eq(client.getServerVersion().name, 'vivarium', 'serverInfo');
  const { tools } = await client.listTools();
  for (const n of EXPECTED_TOOLS) assert(tools.some((t) => t.name === n), `tool ${n}`);
  const r = await call('execute_code', { code: 'print(6*7)' });
  eq(r.structuredContent.stdout, '42\n', 'structured');
  eq(textJson(r).stdout, '42\n', 'text');
});

test('write_file then execute_code reads it at /app', async () => {
  await call('create_session', { session_id: 'web' });
  await call('write_file', { session_id: 'web', path: 'note.txt', content: 'over http' });
  const r = await call('execute_code', { session_id: 'web', code: 'print(open("/app/note.txt").read())' });
  eq(r.structuredContent.stdout, 'over http\n', 'python saw it');
});

test('cancel_execution over HTTP stops while True within 1 s', async () => {
  const running = call('execute_code', { session_id: 'web', code: 'while True: pass' });
  for (let i = 0; i < 100; i++) {
    const m = await call('get_metrics');
    if (m.structuredContent.running_executions > 0) break;
    await sleep(50);
  }
  await sleep(300);
  const t0 = Date.now();
  const c = await call('cancel_execution', { session_id: 'web' });
  eq(c.structuredContent.cancelled, 1, 'cancelled one');
  const r = await running;
  const ms = Date.now() - t0;
  eq(r.structuredContent.trap_reason, 'cancelled', 'trap_reason');
  assert(ms < 1000, `stopped in ${ms} ms`);
});

test('a foreign Origin is 403; a loopback Origin is accepted', async () => {
  const bad = await post(initBody, { ...auth, Origin: 'http://evil.example' });
  eq(bad.status, 403, 'foreign origin');
  const port = new URL(srv.url).port;
  const ok = await post(initBody, { ...auth, Origin: `http://localhost:${port}` });
  eq(ok.status, 200, 'loopback origin');
});

test('GET is 405 (no SSE stream); other paths are 404', async () => {
  const g = await fetch(srv.url, { headers: { ...auth, Accept: 'text/event-stream' } });
  eq(g.status, 405, 'GET');
  const other = await fetch(srv.url.replace('/mcp', '/other'), { method: 'POST', headers: auth });
  eq(other.status, 404, 'other path');
});

test('Mcp-Session-Id: required, checked, and ended by DELETE', async () => {
  const ping = '{"jsonrpc":"2.0","id":5,"method":"ping"}';
  eq((await post(ping, auth)).status, 400, 'missing session id');
  eq((await post(ping, { ...auth, 'Mcp-Session-Id': 'f'.repeat(32) })).status, 404, 'unknown');
  const sid = await rawSession();
  const r = await post(ping, { ...auth, 'Mcp-Session-Id': sid });
  eq(r.status, 200, 'ping in session');
  eq((await r.json()).id, 5, 'ping id');
  const badv = await post(ping, { ...auth, 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '1999-01-01' });
  eq(badv.status, 400, 'unsupported MCP-Protocol-Version');
  const del = await fetch(srv.url, { method: 'DELETE', headers: { ...auth, 'Mcp-Session-Id': sid } });
  eq(del.status, 200, 'DELETE');
  eq((await post(ping, { ...auth, 'Mcp-Session-Id': sid })).status, 404, 'ended session');
});

test('an oversize request is 413 and the server goes on', async () => {
  const big = '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"' + 'x'.repeat(100000) + '"}}';
  const r = await post(big, auth);
  eq(r.status, 413, 'status');
  const body = await r.json();
  eq(body.error.code, -32600, 'JSON-RPC error body');
  const again = await call('execute_code', { code: 'print("still here")' });
  eq(again.structuredContent.stdout, 'still here\n', 'server answers');
});

test('100 malformed messages in a row leave the server answering', async () => {
  const sid = await rawSession();
  const h = { ...auth, 'Mcp-Session-Id': sid };
  const bad = [
    'garbage', '{', '', '[]', '42', 'null', '{}', '{"jsonrpc":"1.0","id":1,"method":"ping"}',
    '{"jsonrpc":"2.0","id":{},"method":"ping"}', '{"jsonrpc":"2.0","id":1}',
    '{"jsonrpc":"2.0","id":3,"method":"ping","params":"x"}', '['.repeat(5000),
    '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"nope"}}',
  ];
  let errors = 0;
  for (let i = 0; i < 100; i++) {
    const r = await post(bad[i % bad.length], h);
    const text = await r.text();
    const body = text ? JSON.parse(text) : null;
    if ((r.status === 400 || r.status === 200) && body?.error?.code < 0) errors++;
  }
  eq(errors, 100, 'every malformed message got a JSON-RPC error');
  const r = await call('execute_code', { code: 'print(1+1)' });
  eq(r.structuredContent.stdout, '2\n', 'the SDK client still works');
});

test('per-client rate limit answers 429', async () => {
  const limited = await httpServer(['--rate-limit', '2', '--rate-burst', '5']);
  const codes = [];
  for (let i = 0; i < 12; i++) {
    const r = await fetch(limited.url, {
      method: 'POST', headers: { ...json, Authorization: `Bearer ${limited.token}` }, body: initBody,
    });
    codes.push(r.status);
    await r.text();
  }
  eq(codes.slice(0, 5).join(','), '200,200,200,200,200', 'the burst passes');
  assert(codes.includes(429), `some requests limited: ${codes}`);
  await sleep(1100);
  const r = await fetch(limited.url, {
    method: 'POST', headers: { ...json, Authorization: `Bearer ${limited.token}` }, body: initBody,
  });
  eq(r.status, 200, 'tokens refill');
});

test('at --max-clients the least recently seen idle MCP session makes room', async () => {
  const small = await httpServer(['--max-clients', '2']);
  const h = { ...json, Authorization: `Bearer ${small.token}` };
  const ids = [];
  for (let i = 0; i < 3; i++) {
    const r = await fetch(small.url, { method: 'POST', headers: h, body: initBody });
    eq(r.status, 200, `initialize ${i}`);
    ids.push(r.headers.get('mcp-session-id'));
    await r.text();
  }
  const ping = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
  const first = await fetch(small.url, { method: 'POST', headers: { ...h, 'Mcp-Session-Id': ids[0] }, body: ping });
  eq(first.status, 404, 'the oldest was ended');
  const last = await fetch(small.url, { method: 'POST', headers: { ...h, 'Mcp-Session-Id': ids[2] }, body: ping });
  eq(last.status, 200, 'the newest works');
});

test('SIGTERM stops the server cleanly', async () => {
  const s2 = await httpServer([]);
  s2.child.kill('SIGTERM');
  const { code } = await s2.exited;
  eq(code, 0, 'exit status');
  eq(s2.stdout(), '', 'nothing on stdout');
});

await run();
