#!/usr/bin/env node
// selftest.js: proves the test peers. (a) A tiny independent ACP client drives
// scripted-agent.js through every flag and marker and checks the documented
// behaviour; (b) the native codex-acp binary runs against fake-model.js offline
// (text turn, tool turn with a permission request). Prints "N passed, M failed".
// Usage: node selftest.js [--only SUBSTRING] [--verbose]
'use strict';

const assert = require('assert/strict');
const childProcess = require('child_process');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');

const HERE = __dirname;
const AGENT = path.join(HERE, 'scripted-agent.js');
const FAKE_MODEL = path.join(HERE, 'fake-model.js');
const CODEX = path.join(HERE, '..', 'node_modules', '@zed-industries', 'codex-acp-linux-x64', 'bin', 'codex-acp');
const TEST_TIMEOUT_MS = 20000;

const argv = process.argv.slice(2);
const ONLY = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : null;
const VERBOSE = argv.includes('--verbose');
const SCRATCH = fs.mkdtempSync(path.join(os.tmpdir(), 'acp-selftest-'));
const started = new Set();   // every child we spawned (killed by group at exit)

// Sleep ms milliseconds.
function sleep(ms) {
    return new Promise((r) => setTimeout(r, ms));
}

// Reject after ms with a message naming what was awaited.
function withTimeout(promise, ms, what) {
    let t;
    const timeout = new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms); });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(t));
}

// Kill a child's whole process group (it was spawned detached, so it leads its own group).
function killGroup(child, sig) {
    try { process.kill(-child.pid, sig || 'SIGKILL'); } catch (e) { if (e.code !== 'ESRCH') throw e; }
}

// True while a pid exists (and is not a zombie).
function pidAlive(pid) {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
    } catch (e) {
        return false;
    }
}

// ---------------------------------------------------------------- a small ACP client

class AcpPeer {
    // Spawn cmd in its own process group and start reading its stdout and stderr.
    constructor(cmd, args, options) {
        const o = options || {};
        this.child = childProcess.spawn(cmd, args, {
            cwd: o.cwd || SCRATCH, env: o.env || process.env, detached: true, stdio: ['pipe', 'pipe', 'pipe'],
        });
        started.add(this.child);
        this.nextId = 0;                 // our ids start at 0 too: they collide with the agent's
        this.pending = new Map();        // JSON.stringify(id) → resolve
        this.messages = [];              // everything parsed from stdout, in order
        this.rawLines = [];              // every stdout line, verbatim
        this.nonJson = [];
        this.stderr = '';
        this.stderrBytes = 0;
        this.onRequest = (msg) => ({ error: { code: -32601, message: `Method not found: ${msg.method}` } });
        this.waiters = [];
        this.exited = new Promise((resolve) => {
            this.child.on('exit', (code, signal) => {
                this.exitStatus = { code, signal };
                resolve(this.exitStatus);
                this.wake();
            });
        });
        this.child.on('error', (e) => { this.spawnError = e; this.wake(); });
        this.child.stdin.on('error', () => {});
        let buf = '';
        this.child.stdout.setEncoding('utf8');
        this.child.stdout.on('data', (d) => {
            buf += d;
            let i;
            while ((i = buf.indexOf('\n')) !== -1) {
                const line = buf.slice(0, i);
                buf = buf.slice(i + 1);
                this.onLine(line);
            }
        });
        this.child.stderr.on('data', (d) => {
            this.stderrBytes += d.length;
            this.stderr = (this.stderr + d.toString('utf8')).slice(-65536);
            if (VERBOSE) process.stderr.write(d);
            this.wake();
        });
    }

    // Handle one stdout line: classify as response, request or notification.
    onLine(line) {
        this.rawLines.push(line);
        if (VERBOSE) process.stderr.write(`<< ${line.slice(0, 400)}\n`);
        if (line.trim() === '') return;
        let msg;
        try { msg = JSON.parse(line); } catch (e) { this.nonJson.push(line); return; }
        this.messages.push(msg);
        if (msg.method === undefined && msg.id !== undefined) {
            const key = JSON.stringify(msg.id);
            const resolve = this.pending.get(key);
            if (resolve) { this.pending.delete(key); resolve(msg); }
        } else if (msg.method !== undefined && msg.id !== undefined) {
            Promise.resolve(this.onRequest(msg)).then((answer) => {
                if (answer === undefined) return;   /* the test answers it itself */
                this.write(Object.assign({ jsonrpc: '2.0', id: msg.id }, answer));
            });
        }
        this.wake();
    }

    // Re-run waiters after new input.
    wake() {
        for (const w of [...this.waiters]) w();
    }

    // Write one message (object) or a raw string line.
    write(msg) {
        const line = typeof msg === 'string' ? msg : JSON.stringify(msg);
        if (VERBOSE) process.stderr.write(`>> ${line.slice(0, 400)}\n`);
        this.child.stdin.write(line + '\n');
    }

    // Send a request; resolves with the whole response message.
    request(method, params, timeoutMs) {
        const id = this.nextId++;
        const p = new Promise((resolve) => this.pending.set(JSON.stringify(id), resolve));
        this.write({ jsonrpc: '2.0', id, method, params });
        return withTimeout(p, timeoutMs || 5000, `reply to ${method}`);
    }

    // Send a notification.
    notify(method, params) {
        this.write({ jsonrpc: '2.0', method, params });
    }

    // Resolve once pred() is truthy (checked after every input), or reject after ms.
    waitFor(pred, ms, what) {
        return withTimeout(new Promise((resolve) => {
            const check = () => {
                const v = pred();
                if (v) { this.waiters.splice(this.waiters.indexOf(check), 1); resolve(v); }
            };
            this.waiters.push(check);
            check();
        }), ms || 5000, what || 'condition');
    }

    // session/update payloads seen so far for a session (optionally from index `from`).
    updates(sessionId, from) {
        return this.messages.slice(from || 0)
            .filter((m) => m.method === 'session/update' && m.params && m.params.sessionId === sessionId)
            .map((m) => m.params.update);
    }

    // Concatenated agent_message_chunk text of a session.
    agentText(sessionId, from) {
        return this.updates(sessionId, from).filter((u) => u.sessionUpdate === 'agent_message_chunk')
            .map((u) => u.content.text).join('');
    }

    // Kill the process group and wait for the exit.
    async kill() {
        killGroup(this.child, 'SIGKILL');
        if (!this.spawnError) await withTimeout(this.exited, 5000, 'agent exit after SIGKILL');
        started.delete(this.child);
    }
}

// ---------------------------------------------------------------- scripted agent helpers

// Start the scripted agent with flags.
function agentStart(flags, options) {
    return new AcpPeer(process.execPath, [AGENT, ...(flags || [])], options);
}

// initialize with our capabilities (fs and terminal off) and check the success shape.
async function agentInit(peer) {
    const r = await peer.request('initialize', {
        protocolVersion: 1, clientCapabilities: { fs: { readTextFile: false, writeTextFile: false }, terminal: false },
        clientInfo: { name: 'selftest', version: '0' },
    });
    assert.ok(r.result, `initialize failed: ${JSON.stringify(r)}`);
    return r.result;
}

// session/new in the scratch dir; returns the sessionId.
async function sessionNew(peer, cwd) {
    const r = await peer.request('session/new', { cwd: cwd || SCRATCH, mcpServers: [] });
    assert.ok(r.result, `session/new failed: ${JSON.stringify(r)}`);
    return r.result.sessionId;
}

// Start, initialize, open one session; run fn(peer, sid); always kill the group.
async function withSession(flags, fn) {
    const peer = agentStart(flags);
    try {
        await agentInit(peer);
        const sid = await sessionNew(peer);
        return await fn(peer, sid);
    } finally {
        await peer.kill();
    }
}

// A text prompt.
function prompt(peer, sid, text, timeoutMs) {
    return peer.request('session/prompt', { sessionId: sid, prompt: [{ type: 'text', text }] }, timeoutMs);
}

// Run one prompt in a fresh session and return {peer, sid, r, ups, text}.
function turn(text, check, flags) {
    return withSession(flags, async (peer, sid) => {
        const r = await prompt(peer, sid, text);
        return check({ peer, sid, r, ups: peer.updates(sid), text: peer.agentText(sid) });
    });
}

// Assert a successful prompt reply with this stopReason.
function assertStop(r, reason) {
    assert.ok(r.result, `prompt failed: ${JSON.stringify(r.error)}`);
    assert.equal(r.result.stopReason, reason);
}

// Assert an error reply with this code.
function assertCode(r, code, what) {
    assert.ok(r.error, `${what || 'request'} should fail with ${code}, got ${JSON.stringify(r.result)}`);
    assert.equal(r.error.code, code, `${what || 'request'}: ${JSON.stringify(r.error)}`);
}

// The sessionUpdate kinds of a list of updates.
function kinds(ups) {
    return ups.map((u) => u.sessionUpdate);
}

// ---------------------------------------------------------------- (a) scripted agent tests

const tests = [];
// Register a test.
function test(name, fn) {
    tests.push({ name, fn });
}

test('initialize answers protocol 1 and the documented capabilities', async () => {
    const peer = agentStart();
    try {
        const init = await agentInit(peer);
        assert.equal(init.protocolVersion, 1);
        assert.equal(init.agentCapabilities.loadSession, false);
        assert.deepEqual(init.agentCapabilities.promptCapabilities, { image: false, audio: false, embeddedContext: false });
        assert.deepEqual(init.authMethods.map((a) => [a.id, a.type]), [['test-key', undefined], ['weird', 'env_var']]);
        assert.equal(init.agentInfo.name, 'scripted-agent');
        assert.equal(typeof init.agentInfo.version, 'string');
    } finally { await peer.kill(); }
});

test('requests before initialize get -32600; framing errors get answers', async () => {
    const peer = agentStart();
    try {
        assertCode(await peer.request('session/new', { cwd: SCRATCH, mcpServers: [] }), -32600);
        await agentInit(peer);
        assertCode(await peer.request('session/fork', {}), -32601);
        const before = peer.messages.length;
        peer.write('this is not json');
        peer.write('[{"jsonrpc":"2.0","id":99,"method":"initialize","params":{}}]');
        await peer.waitFor(() => peer.messages.length >= before + 2, 2000, 'two framing error replies');
        const errs = peer.messages.slice(before).map((m) => [m.id, m.error && m.error.code]);
        assert.deepEqual(errs, [[null, -32700], [null, -32600]]);
    } finally { await peer.kill(); }
});

test('session/new checks cwd and mcpServers and returns sess-<pid>-<n> with modes', async () => {
    const peer = agentStart();
    try {
        await agentInit(peer);
        assertCode(await peer.request('session/new', { cwd: 'relative/dir', mcpServers: [] }), -32602, 'relative cwd');
        assertCode(await peer.request('session/new', { cwd: SCRATCH }), -32602, 'no mcpServers');
        assertCode(await peer.request('session/new', { cwd: SCRATCH, mcpServers: [{ name: 'x', command: 'y' }] }),
                   -32602, 'stdio server without args/env');
        const r = await peer.request('session/new', { cwd: SCRATCH, mcpServers: [] });
        assert.equal(r.result.sessionId, `sess-${peer.child.pid}-1`);
        assert.equal(r.result.modes.currentModeId, 'default');
        assert.deepEqual(r.result.modes.availableModes.map((m) => m.id), ['default', 'plan']);
        const r2 = await peer.request('session/new', { cwd: SCRATCH, mcpServers: [] });
        assert.equal(r2.result.sessionId, `sess-${peer.child.pid}-2`);
        assert.deepEqual(await peer.request('session/set_mode', { sessionId: r.result.sessionId, modeId: 'plan' })
            .then((x) => x.result), {});
        assertCode(await peer.request('session/set_mode', { sessionId: r.result.sessionId, modeId: 'yolo' }), -32602);
        assertCode(await prompt(peer, 'sess-nope', 'hi'), -32002, 'prompt on unknown session');
        assertCode(await peer.request('session/prompt', { sessionId: r.result.sessionId,
            prompt: [{ type: 'image', mimeType: 'image/png', data: 'AA==' }] }), -32602, 'image without capability');
        assertCode(await prompt(peer, r.result.sessionId, '[[stream many]]'), -32602, 'bad marker argument');
    } finally { await peer.kill(); }
});

test('no markers: "You said: <text>" in 3 chunks sharing a messageId, end_turn', () =>
    turn('hello there', ({ r, ups, text }) => {
        assertStop(r, 'end_turn');
        assert.deepEqual(kinds(ups), ['agent_message_chunk', 'agent_message_chunk', 'agent_message_chunk']);
        assert.equal(text, 'You said: hello there');
        assert.equal(typeof ups[0].messageId, 'string');
        assert.ok(ups.every((u) => u.messageId === ups[0].messageId));
    }));

test('[[stream N]] streams chunk1..chunkN; [[no-message-id]] omits messageId', () =>
    turn('[[stream 4]] [[no-message-id]]', ({ r, ups, text }) => {
        assertStop(r, 'end_turn');
        assert.equal(text, 'chunk1 chunk2 chunk3 chunk4 ');
        assert.equal(ups.length, 4);
        assert.ok(ups.every((u) => !('messageId' in u)));
    }));

test('[[tool]]: tool_call pending, in_progress, completed with content, then "done"', () =>
    turn('[[tool]]', ({ r, ups, text }) => {
        assertStop(r, 'end_turn');
        const tc = ups.filter((u) => u.toolCallId === 'tool-1');
        assert.deepEqual(tc.map((u) => [u.sessionUpdate, u.status]),
                         [['tool_call', 'pending'], ['tool_call_update', 'in_progress'], ['tool_call_update', 'completed']]);
        assert.equal(tc[0].title, 'Read README.md');
        assert.equal(tc[0].kind, 'read');
        assert.equal(tc[2].content[0].type, 'content');
        assert.equal(text, 'done');
    }));

test('[[tools 3]]: three tool calls whose updates interleave', () =>
    turn('[[tools 3]]', ({ r, ups }) => {
        assertStop(r, 'end_turn');
        const seq = ups.filter((u) => u.toolCallId).map((u) => `${u.toolCallId}:${u.status}`);
        for (const id of ['tool-1', 'tool-2', 'tool-3'])
            assert.deepEqual(seq.filter((s) => s.startsWith(id + ':')), [`${id}:pending`, `${id}:in_progress`, `${id}:completed`]);
        assert.ok(seq.indexOf('tool-2:pending') < seq.indexOf('tool-1:in_progress'), `not interleaved: ${seq}`);
        assert.ok(seq.indexOf('tool-3:completed') < seq.indexOf('tool-1:completed'), `not interleaved: ${seq}`);
    }));

// Run a [[permission]] turn answering the request with `answer`; returns {r, ups, text, req}.
function permissionTurn(markers, answer) {
    return withSession([], async (peer, sid) => {
        let req;
        peer.onRequest = (msg) => { req = msg; return answer(msg); };
        const r = await prompt(peer, sid, markers);
        return { r, ups: peer.updates(sid), text: peer.agentText(sid), req, peer };
    });
}

const selected = (optionId) => ({ result: { outcome: { outcome: 'selected', optionId } } });

test('[[permission]] allow_once: request shape, tool completed, "permission granted", end_turn', async () => {
    const { r, ups, text, req } = await permissionTurn('[[permission]]', () => selected('opt-once'));
    assertStop(r, 'end_turn');
    assert.equal(req.method, 'session/request_permission');
    assert.equal(req.id, 0, 'agent ids are integers from 0 by default');
    assert.deepEqual(req.params.options, [
        { optionId: 'opt-once', kind: 'allow_once', name: 'Allow' },
        { optionId: 'opt-always', kind: 'allow_always', name: 'Always' },
        { optionId: 'opt-reject', kind: 'reject_once', name: 'Reject' }]);
    assert.equal(req.params.toolCall.toolCallId, 'tool-p');
    assert.equal(ups[0].sessionUpdate, 'tool_call');
    assert.equal(ups[0].title, 'Write x.txt');
    assert.equal(ups[0].kind, 'edit');
    assert.equal(ups.filter((u) => u.toolCallId === 'tool-p').pop().status, 'completed');
    assert.equal(text, 'permission granted: opt-once');
});

test('[[permission]] allow_always and reject_once', async () => {
    const a = await permissionTurn('[[permission]]', () => selected('opt-always'));
    assertStop(a.r, 'end_turn');
    assert.equal(a.text, 'permission granted: opt-always');
    const b = await permissionTurn('[[permission]]', () => selected('opt-reject'));
    assertStop(b.r, 'end_turn');
    assert.equal(b.ups.filter((u) => u.toolCallId === 'tool-p').pop().status, 'failed');
    assert.equal(b.text, 'permission rejected: opt-reject');
});

test('[[permission]] outcome cancelled → stopReason cancelled', async () => {
    const { r } = await permissionTurn('[[permission]]', () => ({ result: { outcome: { outcome: 'cancelled' } } }));
    assertStop(r, 'cancelled');
});

test('[[permission]] bare {optionId}, unknown optionId, error reply → -32603', async () => {
    for (const answer of [{ result: { optionId: 'allow_always' } }, { result: { optionId: 'opt-once' } },
        selected('allow_always'), { result: { outcome: { outcome: 'approved' } } },
        { error: { code: -32601, message: 'no' } }]) {
        const { r } = await permissionTurn('[[permission]]', () => answer);
        assertCode(r, -32603, `answer ${JSON.stringify(answer)}`);
        assert.equal(r.error.message, 'invalid permission response');
    }
});

test('[[permission-first]] asks before any tool_call; [[permission-ids string|int]]', async () => {
    const a = await permissionTurn('[[permission-first]] [[permission-ids string]]', () => selected('opt-once'));
    assertStop(a.r, 'end_turn');
    const firstTool = a.peer.messages.findIndex((m) => m.params && m.params.update && m.params.update.toolCallId);
    const reqIdx = a.peer.messages.findIndex((m) => m.method === 'session/request_permission');
    assert.ok(reqIdx < firstTool, 'permission request must come before the first tool update');
    assert.match(a.req.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const b = await permissionTurn('[[permission]] [[permission-ids int]]', () => selected('opt-once'));
    assert.equal(b.req.id, 0);
});

test('[[slow N]] + session/cancel → cancelled at once', () => withSession(['--tick', '100'], async (peer, sid) => {
    const p = prompt(peer, sid, '[[slow 50]]');
    await peer.waitFor(() => peer.updates(sid).length >= 2, 3000, 'two chunks');
    const t0 = Date.now();
    peer.notify('session/cancel', { sessionId: sid });
    const r = await p;
    assertStop(r, 'cancelled');
    assert.ok(Date.now() - t0 < 80, `cancel took ${Date.now() - t0} ms`);
    assert.ok(peer.updates(sid).length < 50);
    const again = await prompt(peer, sid, 'next');
    assertStop(again, 'end_turn');
}));

test('[[tick MS]] sets the chunk spacing', () => withSession([], async (peer, sid) => {
    const t0 = Date.now();
    assertStop(await prompt(peer, sid, '[[stream 4]] [[tick 60]]'), 'end_turn');
    assert.ok(Date.now() - t0 >= 180, `4 chunks 60 ms apart took only ${Date.now() - t0} ms`);
}));

test('session/cancel during a pending permission: the client answers cancelled', () => withSession([], async (peer, sid) => {
    let req;
    peer.onRequest = (msg) => { req = msg; return undefined; };
    const p = prompt(peer, sid, '[[permission]]');
    await peer.waitFor(() => req, 3000, 'permission request');
    peer.notify('session/cancel', { sessionId: sid });
    await sleep(100);
    assert.equal(peer.messages.filter((m) => m.result && m.result.stopReason).length, 0,
                 'the agent waits for the client to answer the permission request');
    peer.write({ jsonrpc: '2.0', id: req.id, result: { outcome: { outcome: 'cancelled' } } });
    assertStop(await p, 'cancelled');
}));

test('a second prompt while a turn runs → -32602; sessions run concurrently', () => withSession(['--tick', '20'], async (peer, sid) => {
    const sid2 = await sessionNew(peer);
    const p1 = prompt(peer, sid, '[[slow 5]]');
    const busy = await prompt(peer, sid, 'again');
    assertCode(busy, -32602);
    assert.equal(busy.error.message, 'turn already running');
    const p2 = prompt(peer, sid2, '[[slow 5]]');
    const [r1, r2] = await Promise.all([p1, p2]);
    assertStop(r1, 'end_turn');
    assertStop(r2, 'end_turn');
    const order = peer.messages.filter((m) => m.method === 'session/update').map((m) => m.params.sessionId);
    assert.ok(order.lastIndexOf(sid) > order.indexOf(sid2), 'the two turns should overlap');
}));

test('[[crash]]: one chunk, then exit code 3 without answering', () => withSession([], async (peer, sid) => {
    const p = prompt(peer, sid, '[[crash]]').catch((e) => e);
    const st = await withTimeout(peer.exited, 3000, 'exit');
    assert.deepEqual(st, { code: 3, signal: null });
    assert.equal(peer.agentText(sid), 'chunk1 ');
    assert.equal(peer.messages.filter((m) => m.id === 2).length, 0, 'prompt never answered');
    void p;
}));

test('[[hang]] and [[silent-after N]] never answer', () => withSession([], async (peer, sid) => {
    const sid2 = await sessionNew(peer);
    prompt(peer, sid, '[[hang]]', 60000).catch(() => {});
    prompt(peer, sid2, '[[silent-after 2]]', 60000).catch(() => {});
    await sleep(400);
    assert.equal(peer.updates(sid).length, 0);
    assert.equal(peer.agentText(sid2), 'chunk1 chunk2 ');
    assert.equal(peer.messages.filter((m) => m.result && m.result.stopReason).length, 0);
    assertCode(await prompt(peer, sid, 'again'), -32602, 'hung session still busy');
}));

test('[[big 10000000]]: one 10 MB chunk, intact', () => withSession([], async (peer, sid) => {
    const r = await prompt(peer, sid, '[[big 10000000]]', 15000);
    assertStop(r, 'end_turn');
    const ups = peer.updates(sid);
    assert.equal(ups.length, 1);
    const t = ups[0].content.text;
    assert.equal(t.length, 10000000);
    assert.equal(t.slice(0, 12), '012345678901');
    assert.equal(t.slice(-3), '789');
    assert.ok(peer.rawLines.some((l) => l.length > 10000000));
}));

test('[[fs]]: unadvertised fs/terminal requests; the text reports the codes', () => withSession([], async (peer, sid) => {
    const seen = [];
    peer.onRequest = (msg) => { seen.push(msg.method); return { error: { code: -32601, message: 'Method not found' } }; };
    const r = await prompt(peer, sid, '[[fs]]');
    assertStop(r, 'end_turn');
    assert.deepEqual(seen, ['fs/read_text_file', 'terminal/create']);
    assert.equal(peer.agentText(sid), 'fs: -32601 terminal: -32601');
}));

test('[[env]]: the environment, sorted, one NAME=value per line', async () => {
    const env = { PATH: process.env.PATH, SELFTEST_CANARY: 'tweety', A_FIRST: '1' };
    const peer = agentStart([], { env });
    try {
        await agentInit(peer);
        const sid = await sessionNew(peer);
        assertStop(await prompt(peer, sid, '[[env]]'), 'end_turn');
        const lines = peer.agentText(sid).split('\n');
        assert.ok(lines.includes('SELFTEST_CANARY=tweety'));
        assert.ok(!lines.some((l) => l.startsWith('HOME=')), 'only the environment we gave');
        assert.deepEqual(lines, [...lines].sort());
    } finally { await peer.kill(); }
});

test('[[noise]]: odd traffic before, a late update after the reply', () => withSession([], async (peer, sid) => {
    const r = await prompt(peer, sid, 'hi [[noise]]');
    assertStop(r, 'end_turn');
    await peer.waitFor(() => peer.updates(sid).some((u) => u.sessionUpdate === 'session_info_update'), 2000, 'late update');
    const ks = kinds(peer.updates(sid));
    for (const k of ['mystery_update', 'usage_update', 'available_commands_update', 'current_mode_update',
        'config_option_update', 'plan', 'agent_message_chunk'])
        assert.ok(ks.includes(k), `missing ${k}`);
    assert.equal(peer.updates(sid).find((u) => u.sessionUpdate === 'usage_update').used, null);
    assert.ok(peer.messages.some((m) => m.method === '_kiro.dev/metadata'));
    assert.ok(peer.messages.some((m) => m.params && m.params._meta));
    assert.deepEqual(peer.nonJson, ['this line is not JSON {']);
    assert.ok(peer.rawLines.includes(''));
    const replyIdx = peer.messages.indexOf(r);
    const lateIdx = peer.messages.findIndex((m) => m.params && m.params.update &&
                                                  m.params.update.sessionUpdate === 'session_info_update');
    assert.ok(lateIdx > replyIdx, 'session_info_update comes after the prompt reply');
    assert.equal(peer.agentText(sid), 'You said: hi');
}));

test('[[stop REASON]] and [[error CODE]]', () => withSession([], async (peer, sid) => {
    for (const reason of ['max_tokens', 'refusal', 'max_turn_requests'])
        assertStop(await prompt(peer, sid, `[[stop ${reason}]]`), reason);
    const r = await prompt(peer, sid, '[[error 500]]');
    assertCode(r, 500);
    assert.equal(r.error.message, 'scripted failure');
}));

test('[[thought]] comes first; [[plan]] has 2 entries', () =>
    turn('[[thought]] [[plan]] go', ({ r, ups }) => {
        assertStop(r, 'end_turn');
        assert.equal(ups[0].sessionUpdate, 'agent_thought_chunk');
        assert.equal(ups[1].sessionUpdate, 'plan');
        assert.equal(ups[1].entries.length, 2);
        assert.ok(ups[1].entries.every((e) => e.content && e.priority && e.status));
    }));

test('[[stderr LINE]] and [[stderr-flood N]] arrive whole on stderr', () => withSession([], async (peer, sid) => {
    const before = peer.stderrBytes;
    const want = 1000000 + 'boom: disk on fire\n'.length;
    assertStop(await prompt(peer, sid, '[[stderr boom: disk on fire]] [[stderr-flood 1000000]]', 10000), 'end_turn');
    // The agent writes stderr before the reply, but two pipes are read independently:
    // the reply can be read first on a loaded machine. Every byte must still arrive.
    for (let waited = 0; peer.stderrBytes - before < want && waited < 10000; waited += 50)
        await sleep(50);
    assert.ok(peer.stderrBytes - before >= want, `${peer.stderrBytes - before} of ${want} bytes`);
}));

test('[[grandchild]]: a sleep in the same process group dies with the group', async () => {
    const peer = agentStart();
    await agentInit(peer);
    const sid = await sessionNew(peer);
    assertStop(await prompt(peer, sid, '[[grandchild]]'), 'end_turn');
    const pid = Number(/^grandchild: (\d+)$/.exec(peer.agentText(sid))[1]);
    assert.ok(pidAlive(pid), 'grandchild running');
    const pgid = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[2];
    assert.equal(Number(pgid), peer.child.pid, 'grandchild in the agent group');
    await peer.kill();
    await sleep(100);
    assert.ok(!pidAlive(pid), 'grandchild killed with the group');
});

test('[[late-update-unknown-tool]], [[pid]], [[echo-session]]', () => withSession([], async (peer, sid) => {
    assertStop(await prompt(peer, sid, '[[late-update-unknown-tool]]'), 'end_turn');
    assert.ok(peer.updates(sid).some((u) => u.sessionUpdate === 'tool_call_update' && u.toolCallId === 'tool-never-announced'));
    let from = peer.messages.length;
    assertStop(await prompt(peer, sid, '[[pid]]'), 'end_turn');
    assert.equal(peer.agentText(sid, from), `pid: ${peer.child.pid}`);
    from = peer.messages.length;
    assertStop(await prompt(peer, sid, '[[echo-session]]'), 'end_turn');
    assert.equal(peer.agentText(sid, from), `session: ${sid}`);
}));

test('--log records every received line verbatim', async () => {
    const log = path.join(SCRATCH, 'received.log');
    await withSession(['--log', log], async (peer, sid) => {
        assertStop(await prompt(peer, sid, 'logged'), 'end_turn');
    });
    const lines = fs.readFileSync(log, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.equal(JSON.parse(lines[0]).method, 'initialize');
    assert.deepEqual(JSON.parse(lines[2]).params.prompt, [{ type: 'text', text: 'logged' }]);
});

test('--protocol-version N is answered as given', async () => {
    const peer = agentStart(['--protocol-version', '2']);
    try { assert.equal((await agentInit(peer)).protocolVersion, 2); } finally { await peer.kill(); }
});

test('--auth-required: -32000 until authenticate test-key', async () => {
    const peer = agentStart(['--auth-required']);
    try {
        await agentInit(peer);
        const r = await peer.request('session/new', { cwd: SCRATCH, mcpServers: [] });
        assertCode(r, -32000);
        assert.equal(r.error.message, 'Authentication required');
        assertCode(await peer.request('authenticate', { methodId: 'weird' }), -32602);
        assert.deepEqual((await peer.request('authenticate', { methodId: 'test-key' })).result, {});
        const sid = await sessionNew(peer);
        assertStop(await prompt(peer, sid, 'hi'), 'end_turn');
    } finally { await peer.kill(); }
});

test('--load --state: a new process replays the history before replying null', async () => {
    const state = path.join(SCRATCH, 'state.json');
    const sid = await withSession(['--load', '--state', state], async (peer, s) => {
        assertStop(await prompt(peer, s, 'first question'), 'end_turn');
        assertStop(await prompt(peer, s, '[[stream 2]]'), 'end_turn');
        return s;
    });
    const peer = agentStart(['--load', '--state', state]);
    try {
        assert.equal((await agentInit(peer)).agentCapabilities.loadSession, true);
        const r = await peer.request('session/load', { sessionId: sid, cwd: SCRATCH, mcpServers: [] });
        assert.equal(r.result, null);
        const idx = peer.messages.indexOf(r);
        const replay = peer.messages.slice(0, idx).filter((m) => m.method === 'session/update').map((m) => m.params.update);
        assert.deepEqual(replay.map((u) => [u.sessionUpdate, u.content.text]), [
            ['user_message_chunk', 'first question'], ['agent_message_chunk', 'You said: first question'],
            ['user_message_chunk', '[[stream 2]]'], ['agent_message_chunk', 'chunk1 chunk2 ']]);
        assertStop(await prompt(peer, sid, 'after load'), 'end_turn');
        const unknown = await peer.request('session/load', { sessionId: 'sess-0-0', cwd: SCRATCH, mcpServers: [] });
        assertCode(unknown, -32002);
        assert.equal(unknown.error.message, 'Resource not found');
    } finally { await peer.kill(); }
});

test('--load-hang never answers session/load; --load-exit exits 0', async () => {
    const a = agentStart(['--load-hang']);
    try {
        assert.equal((await agentInit(a)).agentCapabilities.loadSession, true);
        await assert.rejects(a.request('session/load', { sessionId: 'x', cwd: SCRATCH, mcpServers: [] }, 400), /timed out/);
    } finally { await a.kill(); }
    const b = agentStart(['--load-exit']);
    try {
        await agentInit(b);
        b.request('session/load', { sessionId: 'x', cwd: SCRATCH, mcpServers: [] }, 60000).catch(() => {});
        assert.deepEqual(await withTimeout(b.exited, 3000, 'exit'), { code: 0, signal: null });
    } finally { await b.kill(); }
});

test('stdin EOF: exits by default, stays with --no-exit-on-eof', async () => {
    const a = agentStart();
    await agentInit(a);
    a.child.stdin.end();
    assert.deepEqual(await withTimeout(a.exited, 3000, 'exit on EOF'), { code: 0, signal: null });
    await a.kill();
    const b = agentStart(['--exit-on-eof=false']);
    try {
        await agentInit(b);
        b.child.stdin.end();
        await sleep(300);
        assert.equal(b.exitStatus, undefined);
    } finally { await b.kill(); }
});

test('--ignore-term survives EOF, SIGTERM and SIGHUP; SIGKILL ends it', async () => {
    const peer = agentStart(['--ignore-term']);
    try {
        await agentInit(peer);
        peer.child.stdin.end();
        killGroup(peer.child, 'SIGTERM');
        killGroup(peer.child, 'SIGHUP');
        await sleep(300);
        assert.equal(peer.exitStatus, undefined, 'still running');
    } finally { await peer.kill(); }
    assert.equal(peer.exitStatus.signal, 'SIGKILL');
});

test('--init-delay MS delays the initialize reply', async () => {
    const peer = agentStart(['--init-delay', '300']);
    try {
        const t0 = Date.now();
        await agentInit(peer);
        assert.ok(Date.now() - t0 >= 290, `answered after ${Date.now() - t0} ms`);
    } finally { await peer.kill(); }
});

test('--crash-on-start: the login hint on stderr, exit 1, nothing on stdout', async () => {
    const peer = agentStart(['--crash-on-start']);
    const st = await withTimeout(peer.exited, 3000, 'exit');
    await peer.kill();
    assert.deepEqual(st, { code: 1, signal: null });
    assert.match(peer.stderr, /fatal: not logged in; run scripted-agent login/);
    assert.equal(peer.rawLines.length, 0);
});

test('unknown flags are refused with exit 2', async () => {
    const peer = agentStart(['--frobnicate']);
    assert.equal((await withTimeout(peer.exited, 3000, 'exit')).code, 2);
    await peer.kill();
    assert.match(peer.stderr, /unknown argument/);
});

// ---------------------------------------------------------------- (b) codex-acp against the fake model

const codexFacts = {};

let fakeModelCount = 0;

// Start fake-model.js on an ephemeral port; resolves {child, port, log}.
async function fakeModelStart() {
    const log = path.join(SCRATCH, `fake-model-${++fakeModelCount}.log`);
    const child = childProcess.spawn(process.execPath, [FAKE_MODEL, '--port', '0', '--log', log],
                                     { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    started.add(child);
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    const port = await withTimeout(new Promise((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d) => {
            out += d;
            const m = /listening (\d+)\n/.exec(out);
            if (m) resolve(Number(m[1]));
        });
        child.on('exit', (code) => reject(new Error(`fake-model exited ${code}: ${err}`)));
    }), 5000, 'fake-model listening');
    return { child, port, log };
}

// Run fn with codex-acp (native binary) started against a fresh fake model, in scratch HOME/CODEX_HOME.
async function withCodex(fn) {
    const model = await fakeModelStart();
    const home = fs.mkdtempSync(path.join(SCRATCH, 'codex-home-'));
    const work = path.join(home, 'work');
    fs.mkdirSync(path.join(home, '.codex'), { recursive: true });
    fs.mkdirSync(path.join(home, 'tmp'));
    fs.mkdirSync(work);
    const env = { PATH: process.env.PATH, HOME: home, CODEX_HOME: path.join(home, '.codex'),
                  TMPDIR: path.join(home, 'tmp'), NO_BROWSER: '1', RUST_LOG: 'warn' };
    const provider = `model_providers.fake={name="fake",base_url="http://127.0.0.1:${model.port}/v1",` +
        'wire_api="responses",supports_websockets=false,request_max_retries=0,stream_max_retries=0}';
    const peer = new AcpPeer(CODEX, ['-c', 'model_provider=fake', '-c', 'model=fake-model', '-c', provider],
                             { cwd: work, env });
    try {
        return await fn(peer, work, model);
    } finally {
        await peer.kill();
        killGroup(model.child, 'SIGTERM');
        started.delete(model.child);
    }
}

// Start a codex session; returns sid and records what codex answered.
async function codexSession(peer, work) {
    const init = await peer.request('initialize', { protocolVersion: 1,
        clientCapabilities: { fs: { readTextFile: false, writeTextFile: false }, terminal: false },
        clientInfo: { name: 'selftest', version: '0' } }, 15000);
    assert.ok(init.result, `initialize: ${JSON.stringify(init.error)}`);
    assert.equal(init.result.protocolVersion, 1);
    codexFacts.initialize = init.result;
    const r = await peer.request('session/new', { cwd: work, mcpServers: [] }, 30000);
    assert.ok(r.result, `session/new: ${JSON.stringify(r.error)}`);
    codexFacts.sessionNew = r.result;
    return r.result.sessionId;
}

// Register a codex test; skipped (not failed) when the package is not installed.
function codexTest(name, fn) {
    test(name, async () => {
        if (!fs.existsSync(CODEX)) return 'skip: codex-acp not installed (run scripts/deps.sh test)';
        return withCodex(fn);
    });
}

codexTest('codex-acp + fake model: [[text]] streams the canned text, end_turn', async (peer, work, model) => {
    const sid = await codexSession(peer, work);
    const r = await prompt(peer, sid, '[[text]] say hello', 60000);
    assertStop(r, 'end_turn');
    const text = peer.agentText(sid);
    assert.match(text, /Hello from the fake model\./);
    codexFacts.textTurnKinds = [...new Set(kinds(peer.updates(sid)))];
    codexFacts.textChunks = peer.updates(sid).filter((u) => u.sessionUpdate === 'agent_message_chunk').slice(0, 6);
    const reqs = fs.readFileSync(model.log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(reqs.some((q) => q.method === 'POST' && q.path === '/v1/responses' && q.scenario === 'text'));
    codexFacts.modelRequests = reqs.map((q) => `${q.method} ${q.path} ${q.scenario || ''}`.trim());
});

codexTest('codex-acp + fake model: [[tool]] asks permission; a selected reply ends end_turn', async (peer, work, model) => {
    const sid = await codexSession(peer, work);
    let req;
    peer.onRequest = (msg) => {
        if (msg.method !== 'session/request_permission')
            return { error: { code: -32601, message: `Method not found: ${msg.method}` } };
        req = msg;
        const opt = msg.params.options.find((o) => o.kind === 'allow_once');
        return selected(opt.optionId);
    };
    const r = await prompt(peer, sid, '[[tool]] create x.txt', 60000);
    assertStop(r, 'end_turn');
    assert.ok(req, 'codex sent no session/request_permission');
    codexFacts.permissionRequest = req;
    codexFacts.toolTurn = peer.updates(sid).filter((u) => u.sessionUpdate !== 'agent_message_chunk');
    assert.match(peer.agentText(sid), /tool done/);
    const reqs = fs.readFileSync(model.log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(reqs.some((q) => q.scenario === 'tool-done'), 'the follow-up request carried the tool result');
    assert.ok(fs.existsSync(path.join(work, 'x.txt')), 'the approved command ran');
});

codexTest('codex-acp + fake model: [[slow]] + session/cancel → cancelled', async (peer, work) => {
    const sid = await codexSession(peer, work);
    const p = prompt(peer, sid, '[[slow]] count slowly', 60000);
    await peer.waitFor(() => /tick2 /.test(peer.agentText(sid)), 10000, 'two slow deltas');
    const t0 = Date.now();
    peer.notify('session/cancel', { sessionId: sid });
    const r = await p;
    codexFacts.cancelMs = Date.now() - t0;
    assertStop(r, 'cancelled');
    assert.ok(!/tick60/.test(peer.agentText(sid)));
});

codexTest('codex-acp + fake model: a bare {optionId} permission reply fails the prompt', async (peer, work) => {
    const sid = await codexSession(peer, work);
    peer.onRequest = (msg) => (msg.method === 'session/request_permission'
        ? { result: { optionId: 'approved' } } : { error: { code: -32601, message: 'Method not found' } });
    const r = await prompt(peer, sid, '[[tool]] create x.txt', 60000);
    codexFacts.legacyReply = r.error || r.result;
    assert.ok(r.error, `codex accepted a bare optionId: ${JSON.stringify(r.result)}`);
    assert.ok(!fs.existsSync(path.join(work, 'x.txt')), 'the command must not run');
});

// ---------------------------------------------------------------- (c) fake model wire formats

// POST (or GET when body is null) to the fake model; resolves {status, headers, body}.
function httpCall(port, method, urlPath, body) {
    return withTimeout(new Promise((resolve, reject) => {
        const data = body === null ? null : (typeof body === 'string' ? body : JSON.stringify(body));
        const req = http.request({ host: '127.0.0.1', port, method, path: urlPath,
            headers: data === null ? {} : { 'content-type': 'application/json' } }, (res) => {
            let out = '';
            res.setEncoding('utf8');
            res.on('data', (d) => { out += d; });
            res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: out }));
        });
        req.on('error', reject);
        req.end(data === null ? undefined : data);
    }), 10000, `${method} ${urlPath}`);
}

// Parse an SSE body into [{event, data}] (data JSON-decoded).
function sseParse(body) {
    return body.split('\n\n').filter((b) => b.trim()).map((block) => {
        const ev = /^event: (.*)$/m.exec(block);
        const data = /^data: (.*)$/m.exec(block);
        return { event: ev ? ev[1] : null, data: JSON.parse(data[1]) };
    });
}

// Run fn(port, log) against a fresh fake model.
async function withFakeModel(fn) {
    const model = await fakeModelStart();
    try { return await fn(model.port, model.log); } finally { killGroup(model.child, 'SIGTERM'); started.delete(model.child); }
}

test('fake model: Anthropic Messages SSE text, tool_use Write, tool_result follow-up, count_tokens', () =>
    withFakeModel(async (port) => {
        const tools = [{ name: 'Write', input_schema: { type: 'object' } }];
        const user = (content) => ({ model: 'claude-fake', stream: true, tools, max_tokens: 100,
            system: [{ type: 'text', text: 'Working directory: /srv/proj' }], messages: [{ role: 'user', content }] });
        const t = await httpCall(port, 'POST', '/v1/messages?beta=true', user([{ type: 'text', text: 'hi' }]));
        assert.equal(t.status, 200);
        assert.match(t.headers['content-type'], /text\/event-stream/);
        const evs = sseParse(t.body);
        assert.deepEqual([...new Set(evs.map((e) => e.event))], ['message_start', 'content_block_start',
            'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
        assert.ok(evs.every((e) => e.event === e.data.type));
        assert.equal(evs.filter((e) => e.event === 'content_block_delta').map((e) => e.data.delta.text).join(''),
                     'Hello from the fake model.');
        const tool = sseParse((await httpCall(port, 'POST', '/v1/messages', user('[[tool]] write it'))).body);
        const start = tool.find((e) => e.event === 'content_block_start').data.content_block;
        assert.deepEqual([start.type, start.name], ['tool_use', 'Write']);
        const input = JSON.parse(tool.find((e) => e.event === 'content_block_delta').data.delta.partial_json);
        assert.deepEqual(input, { file_path: '/srv/proj/x.txt', content: 'hi\n' });
        assert.equal(tool.find((e) => e.event === 'message_delta').data.delta.stop_reason, 'tool_use');
        const follow = sseParse((await httpCall(port, 'POST', '/v1/messages',
            user([{ type: 'tool_result', tool_use_id: start.id, content: 'ok' }]))).body);
        assert.equal(follow.filter((e) => e.event === 'content_block_delta').map((e) => e.data.delta.text).join(''), 'tool done');
        const count = await httpCall(port, 'POST', '/v1/messages/count_tokens', { messages: [] });
        assert.equal(typeof JSON.parse(count.body).input_tokens, 'number');
    }));

test('fake model: Gemini SSE text, write_file call, functionResponse follow-up, router JSON', () =>
    withFakeModel(async (port, log) => {
        const tools = [{ functionDeclarations: [{ name: 'write_file' }] }];
        const body = (parts) => ({ contents: [{ role: 'user', parts }], tools,
            systemInstruction: { parts: [{ text: "I'm currently working in the directory: /srv/g" }] } });
        const url = '/v1beta/models/gemini-fake:streamGenerateContent?alt=sse';
        const t = sseParse((await httpCall(port, 'POST', url, body([{ text: 'hi' }]))).body);
        assert.ok(t.every((e) => e.event === null), 'Gemini SSE has data lines only');
        assert.equal(t.map((e) => e.data.candidates[0].content.parts[0].text).join(''), 'Hello from the fake model.');
        assert.equal(t[t.length - 1].data.candidates[0].finishReason, 'STOP');
        const tool = sseParse((await httpCall(port, 'POST', url, body([{ text: '[[tool]]' }]))).body);
        assert.deepEqual(tool[0].data.candidates[0].content.parts[0].functionCall,
                         { name: 'write_file', args: { file_path: '/srv/g/x.txt', content: 'hi\n' } });
        const follow = sseParse((await httpCall(port, 'POST', url,
            body([{ functionResponse: { name: 'write_file', response: { output: 'ok' } } }]))).body);
        assert.equal(follow.map((e) => e.data.candidates[0].content.parts[0].text).join(''), 'tool done');
        const router = await httpCall(port, 'POST', '/v1beta/models/router:generateContent',
            { contents: [{ role: 'user', parts: [{ text: 'x' }] }], generationConfig: { responseMimeType: 'application/json' } });
        assert.equal(JSON.parse(JSON.parse(router.body).candidates[0].content.parts[0].text).complexity_score, 1);
        assert.equal((await httpCall(port, 'POST', '/v1/nothing', {})).status, 404);
        assert.equal((await httpCall(port, 'POST', '/v1/messages', '{broken')).status, 400);
        assert.equal(JSON.parse((await httpCall(port, 'GET', '/v1/models', null)).body).data[0].id, 'fake-model');
        const logged = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
        assert.deepEqual(logged.slice(0, 3).map((q) => [q.method, q.path, q.scenario]), [
            ['POST', '/v1beta/models/gemini-fake:streamGenerateContent', 'text'],
            ['POST', '/v1beta/models/gemini-fake:streamGenerateContent', 'tool'],
            ['POST', '/v1beta/models/gemini-fake:streamGenerateContent', 'tool-done']]);
    }));

// ---------------------------------------------------------------- runner

// Run every test (or those matching --only) with a timeout; print results and counts.
async function main() {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const t of tests) {
        if (ONLY && !t.name.includes(ONLY)) continue;
        const t0 = Date.now();
        try {
            const res = await withTimeout(Promise.resolve().then(t.fn), TEST_TIMEOUT_MS * 3, t.name);
            if (typeof res === 'string' && res.startsWith('skip')) {
                skipped++;
                console.log(`skip - ${t.name}: ${res}`);
            } else {
                passed++;
                console.log(`ok   - ${t.name} (${Date.now() - t0} ms)`);
            }
        } catch (e) {
            failed++;
            console.log(`FAIL - ${t.name}\n       ${String(e && e.stack || e).split('\n').slice(0, 12).join('\n       ')}`);
        }
    }
    if (Object.keys(codexFacts).length)
        fs.writeFileSync(path.join(SCRATCH, 'codex-facts.json'), JSON.stringify(codexFacts, null, 2));
    if (process.env.SELFTEST_CODEX_FACTS)
        fs.writeFileSync(process.env.SELFTEST_CODEX_FACTS, JSON.stringify(codexFacts, null, 2));
    console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
    return failed === 0 ? 0 : 1;
}

// Kill every process group we started that is still around.
function cleanup() {
    for (const c of started) killGroup(c, 'SIGKILL');
    started.clear();
    fs.rmSync(SCRATCH, { recursive: true, force: true });
}

process.on('SIGTERM', () => { cleanup(); process.exit(1); });
main().then((code) => { cleanup(); process.exit(code); },
            (e) => { console.error(e); cleanup(); process.exit(1); });
