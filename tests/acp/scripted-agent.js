#!/usr/bin/env node
// scripted-agent.js: an ACP v1 agent (JSON-RPC 2.0, NDJSON on stdio) whose behaviour
// is chosen by command-line flags and by [[markers]] in the prompt text, so the
// C ACP client can be tested against normal traffic and against the misbehaviour
// real agents show. Written independently of the C client. See README.md.
'use strict';

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const childProcess = require('child_process');

const VERSION = '1.0.0';
const MAX_MARKER_COUNT = 100000;
const MAX_BIG_BYTES = 64 * 1024 * 1024;
const MAX_LONG_LINE_BYTES = 256 * 1024 * 1024;
const MAX_GARBAGE_LINES = 1000000;

const ERR = {
    PARSE: -32700,
    INVALID_REQUEST: -32600,
    METHOD_NOT_FOUND: -32601,
    INVALID_PARAMS: -32602,
    INTERNAL: -32603,
    AUTH_REQUIRED: -32000,
    NOT_FOUND: -32002,
};

const PERMISSION_OPTIONS = [
    { optionId: 'opt-once', kind: 'allow_once', name: 'Allow' },
    { optionId: 'opt-always', kind: 'allow_always', name: 'Always' },
    { optionId: 'opt-reject', kind: 'reject_once', name: 'Reject' },
];

const MODES = [
    { id: 'default', name: 'Default', description: 'Ask before editing' },
    { id: 'plan', name: 'Plan', description: 'Read only, plan first' },
];

const MODELS = [
    { modelId: 'fast', name: 'Fast', description: 'Quick answers' },
    { modelId: 'smart', name: 'Smart', description: 'Careful answers' },
];

// Usage reported per turn with --usage: tokens in the prompt reply, a running cost total.
const USAGE_TURN = { inputTokens: 100, outputTokens: 20, cost: 0.0125, contextSize: 200000 };

// Write one diagnostic line to stderr (stdout carries only ACP).
function logErr(msg) {
    process.stderr.write(`scripted-agent[${process.pid}]: ${msg}\n`);
}

// Print a usage error and exit 2.
function usageFail(msg) {
    process.stderr.write(`scripted-agent: ${msg}\nsee tests/acp/README.md for the flags\n`);
    process.exit(2);
}

// Parse a non-negative integer flag value or fail with a usage error.
function parseCount(flag, value) {
    if (value === undefined || !/^\d+$/.test(value))
        usageFail(`${flag} needs a non-negative integer, got ${JSON.stringify(value)}`);
    return Number(value);
}

// Flags without a value: flag → option set to true.
const SWITCH_FLAGS = {
    '--auth-required': 'authRequired', '--load': 'load', '--load-hang': 'loadHang', '--load-exit': 'loadExit',
    '--ignore-term': 'ignoreTerm', '--crash-on-start': 'crashOnStart', '--log-mcp': 'logMcp',
    '--usage': 'usage', '--no-modes': 'noModes', '--no-models': 'noModels',
    '--config-options': 'configOptions',
    '--ignore-term': 'ignoreTerm', '--crash-on-start': 'crashOnStart',
    '--image': 'image', '--audio': 'audio', '--embedded-context': 'embeddedContext',
};

// Parse process.argv into the option object.
function parseArgs(argv) {
    const o = {
        log: null, tick: 5, protocolVersion: 1, authRequired: false, load: false,
        state: null, loadHang: false, loadExit: false, ignoreTerm: false, initDelay: 0,
        crashOnStart: false, exitOnEof: true, mcp: [], usage: false, noModes: false,
        noModels: false, configOptions: false,
        crashOnStart: false, exitOnEof: true, image: false, audio: false, embeddedContext: false,
    };
    for (let i = 0; i < argv.length; i++) {
        const [flag, inline] = argv[i].startsWith('--') && argv[i].includes('=')
            ? [argv[i].slice(0, argv[i].indexOf('=')), argv[i].slice(argv[i].indexOf('=') + 1)]
            : [argv[i], undefined];
        const value = () => (inline !== undefined ? inline : argv[++i]);
        switch (flag) {
        case '--log': o.log = value(); break;
        case '--state': o.state = value(); break;
        case '--tick': o.tick = parseCount(flag, value()); break;
        case '--init-delay': o.initDelay = parseCount(flag, value()); break;
        case '--protocol-version': {
            const v = value();
            if (v === undefined || !/^-?\d+$/.test(v)) usageFail(`${flag} needs an integer`);
            o.protocolVersion = Number(v);
            break;
        }
        case '--no-exit-on-eof': o.exitOnEof = false; break;
        case '--mcp': {
            // MCP transports to advertise besides stdio: "http", "sse", "http,sse"
            const v = value();
            const list = v === undefined || v === '' ? [] : v.split(',');
            if (list.some((t) => t !== 'http' && t !== 'sse'))
                usageFail(`--mcp takes http, sse or http,sse, got ${JSON.stringify(v)}`);
            o.mcp = list;
            break;
        }
        case '--exit-on-eof':
            if (inline === undefined || inline === 'true') o.exitOnEof = true;
            else if (inline === 'false') o.exitOnEof = false;
            else usageFail('--exit-on-eof takes =true or =false');
            break;
        default:
            if (!Object.prototype.hasOwnProperty.call(SWITCH_FLAGS, flag) || inline !== undefined)
                usageFail(`unknown argument ${JSON.stringify(argv[i])}`);
            o[SWITCH_FLAGS[flag]] = true;
        }
    }
    if ((o.log === undefined) || (o.state === undefined)) usageFail('--log and --state need a FILE');
    return o;
}

const opts = parseArgs(process.argv.slice(2));

if (opts.crashOnStart) {
    process.stderr.write('fatal: not logged in; run scripted-agent login\n');
    process.exit(1);
}

// ---------------------------------------------------------------- wire

let nextIntId = 0;                 // agent→client integer ids start at 0, like claude and gemini
const pendingOut = new Map();      // JSON.stringify(id) → resolve({result}|{error})
let initialized = false;
let authenticated = !opts.authRequired;
let sessionCounter = 0;
const sessions = new Map();        // sessionId → session

// Write one JSON-RPC message as a single line (stdout writes to a pipe are synchronous on Linux).
function send(msg) {
    process.stdout.write(JSON.stringify(msg) + '\n');
}

// Write a raw line (used to emit deliberately broken framing).
function sendRaw(line) {
    process.stdout.write(line + '\n');
}

// Answer a request with a result.
function reply(id, result) {
    send({ jsonrpc: '2.0', id, result });
}

// Answer a request with an error.
function replyError(id, code, message, data) {
    const error = { code, message };
    if (data !== undefined) error.data = data;
    send({ jsonrpc: '2.0', id, error });
}

// Send a notification.
function notify(method, params) {
    send({ jsonrpc: '2.0', method, params });
}

// Send one session/update notification.
function update(sessionId, upd, extraParams) {
    notify('session/update', Object.assign({ sessionId, update: upd }, extraParams || {}));
}

// Send an agent→client request and resolve with the client's {result} or {error}.
function request(idMode, method, params) {
    const id = idMode === 'string' ? crypto.randomUUID() : nextIntId++;
    return new Promise((resolve) => {
        pendingOut.set(JSON.stringify(id), resolve);
        send({ jsonrpc: '2.0', id, method, params });
    });
}

// ---------------------------------------------------------------- state (--load)

// Read the persisted sessions from --state (empty when absent or unreadable).
function stateRead() {
    if (!opts.state) return { sessions: {} };
    try {
        const s = JSON.parse(fs.readFileSync(opts.state, 'utf8'));
        if (s && typeof s === 'object' && s.sessions && typeof s.sessions === 'object') return s;
        logErr(`state file ${opts.state} has no sessions object; ignoring it`);
    } catch (e) {
        if (e.code !== 'ENOENT') logErr(`cannot read state file ${opts.state}: ${e.message}`);
    }
    return { sessions: {} };
}

// Persist one session's history into --state (write to a temp file, then rename).
function stateSave(session) {
    if (!opts.load || !opts.state) return;
    const s = stateRead();
    s.sessions[session.id] = { cwd: session.cwd, history: session.history };
    const tmp = `${opts.state}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(s));
    fs.renameSync(tmp, opts.state);
}

// ---------------------------------------------------------------- validation

// True when v is a plain JSON object.
function isObject(v) {
    return v !== null && typeof v === 'object' && !Array.isArray(v);
}

// Check one mcpServers entry; returns an error string or null.
function mcpServerProblem(s, i) {
    if (!isObject(s)) return `mcpServers[${i}] is not an object`;
    if (typeof s.name !== 'string') return `mcpServers[${i}].name must be a string`;
    if (s.type === 'http' || s.type === 'sse') {
        if (!opts.mcp.includes(s.type))
            return `mcpServers[${i}] is ${s.type}, but mcpCapabilities say ${s.type}: false`;
        if (typeof s.url !== 'string') return `mcpServers[${i}].url must be a string`;
        if (!Array.isArray(s.headers)) return `mcpServers[${i}].headers must be an array`;
        return pairsProblem(s.headers, `mcpServers[${i}].headers`);
    }
    if (s.type !== undefined) return `mcpServers[${i}].type ${JSON.stringify(s.type)} is unknown`;
    if (typeof s.command !== 'string') return `mcpServers[${i}].command must be a string`;
    if (!Array.isArray(s.args) || s.args.some((a) => typeof a !== 'string'))
        return `mcpServers[${i}].args must be an array of strings`;
    if (!Array.isArray(s.env)) return `mcpServers[${i}].env must be an array of {name,value}`;
    return pairsProblem(s.env, `mcpServers[${i}].env`);
}

// Check an array of {name, value} strings; returns an error string or null.
function pairsProblem(list, where) {
    for (let j = 0; j < list.length; j++)
        if (!isObject(list[j]) || typeof list[j].name !== 'string' || typeof list[j].value !== 'string')
            return `${where}[${j}] must be {name, value} strings`;
    return null;
}

// Check the cwd/mcpServers params shared by session/new and session/load.
function sessionParamsProblem(p) {
    if (!isObject(p)) return 'params must be an object';
    if (typeof p.cwd !== 'string' || !path.isAbsolute(p.cwd)) return 'cwd must be an absolute path';
    if (!Array.isArray(p.mcpServers)) return 'mcpServers must be an array';
    // as real agents do: say which MCP servers it will start, credentials and all
    if (opts.logMcp) logErr(`mcp: ${JSON.stringify(p.mcpServers)}`);
    for (let i = 0; i < p.mcpServers.length; i++) {
        const why = mcpServerProblem(p.mcpServers[i], i);
        if (why) return why;
    }
    return null;
}

// Check the prompt blocks against the advertised capabilities; returns an error string or null.
function promptProblem(prompt) {
    if (!Array.isArray(prompt)) return 'prompt must be an array of content blocks';
    for (let i = 0; i < prompt.length; i++) {
        const b = prompt[i];
        if (!isObject(b) || typeof b.type !== 'string') return `prompt[${i}] has no type`;
        if (b.type === 'text') {
            if (typeof b.text !== 'string') return `prompt[${i}].text must be a string`;
        } else if (b.type === 'resource_link') {
            if (typeof b.uri !== 'string' || typeof b.name !== 'string')
                return `prompt[${i}] resource_link needs uri and name`;
        } else if ((b.type === 'image' && opts.image) || (b.type === 'audio' && opts.audio)) {
            if (typeof b.mimeType !== 'string' || typeof b.data !== 'string' ||
                !/^[A-Za-z0-9+/]*={0,2}$/.test(b.data) || b.data.length % 4 !== 0)
                return `prompt[${i}] ${b.type} needs mimeType and base64 data`;
        } else if (b.type === 'resource' && opts.embeddedContext) {
            const r = b.resource;
            if (!isObject(r) || typeof r.uri !== 'string' ||
                (typeof r.text !== 'string' && typeof r.blob !== 'string'))
                return `prompt[${i}] resource needs resource.uri and text or blob`;
        } else {
            return `prompt[${i}] type ${b.type} is not supported (promptCapabilities say false)`;
        }
    }
    return null;
}

// ---------------------------------------------------------------- markers

// Markers without an argument: marker → field set to true.
const SWITCH_MARKERS = {
    'no-message-id': 'noMessageId', tool: 'tool', permission: 'permission', crash: 'crash', hang: 'hang',
    fs: 'fs', env: 'env', noise: 'noise', plan: 'plan', thought: 'thought', grandchild: 'grandchild',
    'late-update-unknown-tool': 'lateUnknownTool', pid: 'pid', 'echo-session': 'echoSession',
    'echo-history': 'echoHistory',
    'close-stdin': 'closeStdin',
};

const MARKER_RE = /\[\[([a-z][a-z-]*)(?:[ \t]+([^\]]*?))?[ \t]*\]\]/g;

// Parse the [[markers]] of a prompt text into an object; throws Error on a bad argument.
function markersParse(text) {
    const m = { stderr: [], any: false };
    const count = (name, arg, max) => {
        if (arg === undefined || !/^\d+$/.test(arg) || Number(arg) > max)
            throw new Error(`bad marker [[${name}${arg === undefined ? '' : ' ' + arg}]]: needs an integer 0..${max}`);
        return Number(arg);
    };
    for (const [, name, arg] of text.matchAll(MARKER_RE)) {
        m.any = true;
        switch (name) {
        case 'stream': m.stream = count(name, arg, MAX_MARKER_COUNT); break;
        case 'slow': m.slow = count(name, arg, MAX_MARKER_COUNT); break;
        case 'silent-after': m.silentAfter = count(name, arg, MAX_MARKER_COUNT); break;
        case 'tools': m.tools = count(name, arg, 1000); break;
        case 'tick': m.tick = count(name, arg, 600000); break;
        case 'big': m.big = count(name, arg, MAX_BIG_BYTES); break;
        case 'flood': m.flood = count(name, arg, MAX_MARKER_COUNT); break;
        case 'permissions': m.permissions = count(name, arg, 1000); break;
        case 'stderr-flood': m.stderrFlood = count(name, arg, MAX_BIG_BYTES); break;
        case 'long-line': m.longLine = count(name, arg, MAX_LONG_LINE_BYTES); break;
        case 'garbage': m.garbage = count(name, arg, MAX_GARBAGE_LINES); break;
        case 'error': {
            if (arg === undefined || !/^-?\d+$/.test(arg)) throw new Error(`bad marker [[error ${arg || ''}]]: needs an integer code`);
            m.error = Number(arg);
            break;
        }
        case 'stop': {
            const ok = ['end_turn', 'max_tokens', 'max_turn_requests', 'refusal', 'cancelled'];
            if (!ok.includes(arg)) throw new Error(`bad marker [[stop ${arg || ''}]]: one of ${ok.join(', ')}`);
            m.stop = arg;
            break;
        }
        case 'permission-ids': {
            if (arg !== 'string' && arg !== 'int') throw new Error('bad marker [[permission-ids]]: string or int');
            m.idMode = arg;
            break;
        }
        case 'stderr': m.stderr.push(arg || ''); break;
        case 'write': {
            // [[write NAME TEXT]]: write TEXT (plus a newline) to NAME in the session's cwd.
            const w = /^([A-Za-z0-9_-][A-Za-z0-9._-]*) (.*)$/.exec(arg || '');
            if (!w) throw new Error('bad marker [[write]]: needs a plain file name and a text');
            m.writes = (m.writes || []).concat([{ name: w[1], text: w[2] }]);
            break;
        }
        case 'outbox': // [[outbox NAME BYTES]]: write a file into the sender context's outbox_dir
        case 'write-file': { // [[write-file REL/NAME BYTES]]: write a file under the session cwd
            const a = (name === 'outbox' ? /^([A-Za-z0-9._-]+)[ \t]+(\d+)$/
                : /^((?:[A-Za-z0-9_-][A-Za-z0-9._-]*\/)*[A-Za-z0-9._-]+)[ \t]+(\d+)$/).exec(arg || '');
            if (!a || Number(a[2]) > 256 * 1024 * 1024) throw new Error(`bad marker [[${name} NAME BYTES]]`);
            (m.outbox = m.outbox || []).push({ name: a[1], bytes: Number(a[2]), cwd: name === 'write-file' });
            break;
        }
        case 'outbox-swap': // [[outbox-swap NAME BYTES]]: [[outbox]], then a hostile swap
        case 'outbox-link': { // [[outbox-link NAME]]: the outbox becomes a link to a canary dir
            const a = /^([A-Za-z0-9._-]+)(?:[ \t]+(\d+))?$/.exec(arg || '');
            if (!a || (name === 'outbox-swap') !== (a[2] !== undefined))
                throw new Error(`bad marker [[${name}]]`);
            if (name === 'outbox-swap') {
                (m.outbox = m.outbox || []).push({ name: a[1], bytes: Number(a[2]), cwd: false });
                m.outboxSwap = { name: a[1], bytes: Number(a[2]) };
            } else {
                m.outboxLink = a[1];
            }
            break;
        }
        case 'permission-first': m.permission = true; m.permissionFirst = true; break;
        default:
            if (!Object.prototype.hasOwnProperty.call(SWITCH_MARKERS, name) || arg !== undefined)
                throw new Error(`unknown marker [[${name}${arg === undefined ? '' : ' ' + arg}]]`);
            m[SWITCH_MARKERS[name]] = true;
        }
    }
    return m;
}

// ---------------------------------------------------------------- turns

class Cancelled extends Error {}

// Wait ms milliseconds, waking early when the turn is cancelled.
function turnSleep(turn, ms) {
    return new Promise((resolve) => {
        const t = setTimeout(done, ms);
        function done() {
            clearTimeout(t);
            turn.wakers.delete(done);
            resolve();
        }
        turn.wakers.add(done);
    });
}

// Throw Cancelled when session/cancel arrived for this turn.
function turnCheck(turn) {
    if (turn.cancelled) throw new Cancelled();
}

// Send one agent_message_chunk of the turn's current message and record it in the history.
function turnChunk(turn, text) {
    const upd = { sessionUpdate: 'agent_message_chunk', content: { type: 'text', text } };
    if (!turn.m.noMessageId) upd.messageId = turn.messageId;
    update(turn.session.id, upd);
    turn.agentText += text;
}

// Stream pieces as chunks, tick apart, stopping at once on cancel.
async function turnStream(turn, pieces) {
    for (let i = 0; i < pieces.length; i++) {
        turnCheck(turn);
        if (i > 0) await turnSleep(turn, turn.tick);
        turnCheck(turn);
        turnChunk(turn, pieces[i]);
    }
}

// Split text into three pieces (by code point) for the default echo.
function splitThree(text) {
    const cps = Array.from(text);
    const n = Math.ceil(cps.length / 3) || 1;
    return [cps.slice(0, n).join(''), cps.slice(n, 2 * n).join(''), cps.slice(2 * n).join('')];
}

// Pieces chunk1 .. chunkN.
function numberedPieces(n) {
    return Array.from({ length: n }, (_, i) => `chunk${i + 1} `);
}

// [[noise]]: traffic a client must tolerate, sent before the turn's content.
function turnNoise(turn) {
    const sid = turn.session.id;
    update(sid, { sessionUpdate: 'mystery_update', detail: 'unknown kind, ignore me' });
    notify('_kiro.dev/metadata', { sessionId: sid, contextUsagePercentage: 12.5 });
    update(sid, { sessionUpdate: 'usage_update', used: null, size: 200000 },
           { _meta: { 'scripted.dev/trace': 'abc' } });
    update(sid, {
        sessionUpdate: 'available_commands_update',
        availableCommands: [
            { name: 'compact', description: 'Compact the conversation', input: { hint: 'instructions' } },
            { name: 'review', description: 'Review the changes' },
        ],
    });
    update(sid, { sessionUpdate: 'current_mode_update', currentModeId: turn.session.mode });
    update(sid, {
        sessionUpdate: 'config_option_update',
        configOptions: [{
            id: 'mode', name: 'Mode', category: 'mode', type: 'select', currentValue: turn.session.mode,
            options: MODES.map((md) => ({ value: md.id, name: md.name })),
        }],
    });
    turnPlan(turn);
    sendRaw('this line is not JSON {');
    sendRaw('');
}

// Send a plan update with two entries.
function turnPlan(turn) {
    update(turn.session.id, {
        sessionUpdate: 'plan',
        entries: [
            { content: 'Read the code', priority: 'high', status: 'completed' },
            { content: 'Write the fix', priority: 'medium', status: 'in_progress' },
        ],
    });
}

// [[tool]] / [[tools N]]: announce N read tool calls, interleave their updates, complete them.
async function turnTools(turn, n) {
    const sid = turn.session.id;
    const ids = Array.from({ length: n }, (_, i) => `tool-${i + 1}`);
    const file = (i) => (n === 1 ? 'README.md' : `file${i + 1}.txt`);
    ids.forEach((id, i) => {
        const p = path.join(turn.session.cwd, file(i));
        update(sid, {
            sessionUpdate: 'tool_call', toolCallId: id, title: `Read ${file(i)}`, kind: 'read',
            status: 'pending', locations: [{ path: p }], rawInput: { path: p },
        });
    });
    for (const id of ids) {
        await turnSleep(turn, turn.tick);
        turnCheck(turn);
        update(sid, { sessionUpdate: 'tool_call_update', toolCallId: id, status: 'in_progress' });
    }
    for (let i = n - 1; i >= 0; i--) {
        await turnSleep(turn, turn.tick);
        turnCheck(turn);
        update(sid, {
            sessionUpdate: 'tool_call_update', toolCallId: ids[i], status: 'completed',
            content: [{ type: 'content', content: { type: 'text', text: `contents of ${file(i)}\n` } }],
            rawOutput: { bytes: 20 },
        });
    }
}

// Classify a session/request_permission reply: {kind:'allow'|'reject'|'cancelled'|'invalid', optionId}.
function permissionOutcome(res) {
    const o = res && res.result && res.result.outcome;
    if (!isObject(o)) return { kind: 'invalid' };
    if (o.outcome === 'cancelled') return { kind: 'cancelled' };
    if (o.outcome !== 'selected' || typeof o.optionId !== 'string') return { kind: 'invalid' };
    const opt = PERMISSION_OPTIONS.find((x) => x.optionId === o.optionId);
    if (!opt) return { kind: 'invalid' };
    return { kind: opt.kind.startsWith('allow') ? 'allow' : 'reject', optionId: opt.optionId };
}

// [[permission]]: tool_call, request_permission, then act on the reply as real agents do.
// Returns a final turn result ({result}|{error}) when the reply ends the turn, else null.
async function turnPermission(turn) {
    const sid = turn.session.id;
    const toolCall = { toolCallId: 'tool-p', title: 'Write x.txt', kind: 'edit', status: 'pending',
        rawInput: { path: path.join(turn.session.cwd, 'x.txt'), content: 'hi\n' } };
    if (!turn.m.permissionFirst)
        update(sid, Object.assign({ sessionUpdate: 'tool_call' }, toolCall));
    const res = await request(turn.idMode, 'session/request_permission',
                              { sessionId: sid, toolCall, options: PERMISSION_OPTIONS });
    const out = permissionOutcome(res);
    if (out.kind === 'cancelled' || turn.cancelled) {
        update(sid, { sessionUpdate: 'tool_call_update', toolCallId: 'tool-p', status: 'failed' });
        return { result: { stopReason: 'cancelled' } };
    }
    if (out.kind === 'invalid') {
        logErr(`invalid permission response: ${JSON.stringify(res)}`);
        return { error: { code: ERR.INTERNAL, message: 'invalid permission response',
                          data: { received: res.result !== undefined ? res.result : res.error } } };
    }
    if (out.kind === 'allow') {
        update(sid, { sessionUpdate: 'tool_call_update', toolCallId: 'tool-p', status: 'in_progress' });
        update(sid, { sessionUpdate: 'tool_call_update', toolCallId: 'tool-p', status: 'completed',
            content: [{ type: 'diff', path: toolCall.rawInput.path, oldText: null, newText: 'hi\n' }] });
        await turnStream(turn, [`permission granted: ${out.optionId}`]);
    } else {
        update(sid, { sessionUpdate: 'tool_call_update', toolCallId: 'tool-p', status: 'failed' });
        await turnStream(turn, [`permission rejected: ${out.optionId}`]);
    }
    return null;
}

// [[permissions N]]: N tool calls ask for permission all at once (tool-q1…tool-qN,
// "Write qK.txt"), then the text counts the answers: `permissions: A allowed, R rejected,
// C cancelled, I invalid`.
async function turnPermissions(turn, n) {
    const sid = turn.session.id;
    const asks = [];
    for (let i = 1; i <= n; i++) {
        const toolCall = { toolCallId: `tool-q${i}`, title: `Write q${i}.txt`, kind: 'edit',
                           status: 'pending' };
        update(sid, Object.assign({ sessionUpdate: 'tool_call' }, toolCall));
        asks.push(request(turn.idMode, 'session/request_permission',
                          { sessionId: sid, toolCall, options: PERMISSION_OPTIONS }));
    }
    const counts = { allow: 0, reject: 0, cancelled: 0, invalid: 0 };
    for (const res of await Promise.all(asks)) counts[permissionOutcome(res).kind]++;
    turnCheck(turn);
    await turnStream(turn, [`permissions: ${counts.allow} allowed, ${counts.reject} rejected, ` +
                            `${counts.cancelled} cancelled, ${counts.invalid} invalid`]);
}

// [[flood N]]: N chunks of 64 KiB ('f' padding, each ending in its number), as fast as
// the pipe takes them.
async function turnFlood(turn, n) {
    for (let i = 1; i <= n; i++) {
        turnCheck(turn);
        const tail = ` flood${i}\n`;
        const upd = { sessionUpdate: 'agent_message_chunk',
                      content: { type: 'text', text: 'f'.repeat(65536 - tail.length) + tail } };
        await writeDrained(JSON.stringify({ jsonrpc: '2.0', method: 'session/update',
                                            params: { sessionId: turn.session.id, update: upd } }) + '\n');
    }
}

// [[fs]]: call client methods the client did not advertise and report the codes it answered.
async function turnFs(turn) {
    const sid = turn.session.id;
    const code = (res) => (res.error ? String(res.error.code) : 'ok');
    const r1 = await request(turn.idMode, 'fs/read_text_file',
                             { sessionId: sid, path: path.join(turn.session.cwd, 'README.md') });
    turnCheck(turn);
    const r2 = await request(turn.idMode, 'terminal/create',
                             { sessionId: sid, command: 'echo', args: ['hi'], cwd: turn.session.cwd });
    turnCheck(turn);
    await turnStream(turn, [`fs: ${code(r1)} terminal: ${code(r2)}`]);
}

// [[grandchild]]: start `sleep 300` in our process group (not detached) and report its pid.
function turnGrandchild() {
    const child = childProcess.spawn('sleep', ['300'], { stdio: 'ignore' });
    child.on('error', (e) => logErr(`cannot spawn sleep: ${e.message}`));
    child.unref();
    return `grandchild: ${child.pid}`;
}

// Write @buf to stdout and wait until the pipe took it (so a 100 MB line does not sit in
// our memory) or the turn was cancelled.
function writeDrained(buf) {
    return new Promise((resolve) => {
        if (process.stdout.write(buf)) setImmediate(resolve);
        else process.stdout.once('drain', resolve);
    });
}

// [[long-line N]]: one stdout line of N bytes (an agent_message_chunk whose text is 'x'
// padding), written 1 MiB at a time without a newline until the very end.
async function turnLongLine(turn, n) {
    const head = JSON.stringify({ jsonrpc: '2.0', method: 'session/update', params: {
        sessionId: turn.session.id, update: { sessionUpdate: 'agent_message_chunk',
            content: { type: 'text', text: '' } } } });
    const cut = head.indexOf('"text":""') + '"text":"'.length;
    const prefix = Buffer.from(head.slice(0, cut));
    const suffix = Buffer.from(head.slice(cut + 1) + '\n');
    let pad = Math.max(0, n - prefix.length - suffix.length + 1);
    const block = Buffer.alloc(1 << 20, 'x');
    await writeDrained(prefix);
    while (pad > 0) {
        const k = Math.min(pad, block.length);
        await writeDrained(k === block.length ? block : block.subarray(0, k));
        pad -= k;
    }
    await writeDrained(suffix);
}

// The malformed stdout lines [[garbage N]] cycles through: bad JSON, wrong types, huge
// ids, unknown methods (requests, which the client must answer), replies to ids never
// sent, deep nesting.
function garbageLine(i, sid) {
    const kinds = [
        () => '{"jsonrpc":"2.0","method":"session/update","params":{',
        () => 'not json at all ' + i,
        () => '\x00\x01\x02 binary \xff',
        () => JSON.stringify({ jsonrpc: '2.0', method: 42, params: [] }),
        () => JSON.stringify({ jsonrpc: '2.0', method: 'session/update', params: 'a string' }),
        () => JSON.stringify({ jsonrpc: '2.0', method: 'session/update',
            params: { sessionId: 7, update: { sessionUpdate: ['agent_message_chunk'] } } }),
        () => JSON.stringify({ jsonrpc: '2.0', method: 'session/update', params: { sessionId: sid,
            update: { sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: 5 } } } }),
        () => JSON.stringify({ jsonrpc: '2.0', method: 'session/update', params: { sessionId: sid,
            update: { sessionUpdate: 'tool_call', toolCallId: { x: 1 }, title: null, status: 9 } } }),
        () => '{"jsonrpc":"2.0","id":1e400,"result":{}}',
        () => '{"jsonrpc":"2.0","id":123456789012345678901234567890,"result":{}}',
        () => JSON.stringify({ jsonrpc: '2.0', id: 'i'.repeat(10000), result: {} }),
        () => JSON.stringify({ jsonrpc: '2.0', id: -1, error: { code: 'x', message: 7 } }),
        () => JSON.stringify({ jsonrpc: '2.0', id: `garbage-${i}`, method: `_unknown/method${i % 7}`,
            params: {} }),
        () => JSON.stringify({ jsonrpc: '2.0', id: 900000 + i, method: 'fs/unknown', params: null }),
        () => JSON.stringify({ jsonrpc: '2.0', method: `unknown/notification${i % 5}`, params: {} }),
        () => JSON.stringify([{ jsonrpc: '2.0', method: 'session/update' }]),
        () => 'null',
        () => '"just a string"',
        () => '['.repeat(5000) + ']'.repeat(5000),
        () => JSON.stringify({ jsonrpc: '1.0', id: null, result: null }),
    ];
    return kinds[i % kinds.length]();
}

// [[garbage N]]: N malformed lines on stdout, yielding now and then so the pipe drains.
async function turnGarbage(turn, n) {
    let batch = '';
    for (let i = 0; i < n; i++) {
        batch += garbageLine(i, turn.session.id) + '\n';
        if (batch.length > 256 * 1024 || i === n - 1) {
            await writeDrained(batch);
            batch = '';
            turnCheck(turn);
        }
    }
}

// [[big N]]: N bytes of a repeating digit pattern, so truncation or reordering shows.
function bigText(n) {
    return '0123456789'.repeat(Math.ceil(n / 10)).slice(0, n);
}

// The body of a turn. Resolves to {result} or {error} to answer the prompt, or null to never answer.
// [[echo-history]]: what this session remembers of earlier turns (its history, loaded
// back by session/load after a restart): "history: N turns: <said> | <said> ...".
function historyText(session) {
    const said = session.history.filter((h) => h.role === 'user')
        .map((h) => String(h.text).replace(/<sender_context>[\s\S]*?<\/sender_context>/g, '')
            .replace(MARKER_RE, '').replace(/\s+/g, ' ').trim());
    return `history: ${said.length} turns: ${said.join(' | ')}`;
}

async function turnBody(turn, userText) {
    const m = turn.m;
    for (const line of m.stderr) process.stderr.write(line + '\n');
    for (const w of m.writes || []) fs.writeFileSync(path.join(turn.session.cwd, w.name), w.text + '\n');
    if (m.stderrFlood) {
        const line = 'e'.repeat(99) + '\n';
        const buf = Buffer.from(line.repeat(Math.ceil(m.stderrFlood / 100))).subarray(0, m.stderrFlood);
        process.stderr.write(buf);
    }
    if (m.hang) return null;
    if (m.thought)
        update(turn.session.id, { sessionUpdate: 'agent_thought_chunk',
                                  content: { type: 'text', text: 'Thinking about it.' } });
    if (m.plan) turnPlan(turn);
    if (m.noise) turnNoise(turn);
    if (m.longLine !== undefined) await turnLongLine(turn, m.longLine);
    if (m.garbage !== undefined) await turnGarbage(turn, m.garbage);
    if (m.lateUnknownTool)
        update(turn.session.id, { sessionUpdate: 'tool_call_update', toolCallId: 'tool-never-announced',
                                  status: 'completed' });
    let produced = false;
    if (m.tool || m.tools !== undefined) {
        await turnTools(turn, m.tools !== undefined ? m.tools : 1);
        await turnStream(turn, ['done']);
        produced = true;
    }
    if (m.permission) {
        const end = await turnPermission(turn);
        if (end) return end;
        produced = true;
    }
    if (m.permissions !== undefined) { await turnPermissions(turn, m.permissions); produced = true; }
    if (m.flood !== undefined) { await turnFlood(turn, m.flood); produced = true; }
    if (m.fs) { await turnFs(turn); produced = true; }
    if (m.outboxLink) {
        // The outbox itself becomes a link to a directory holding a canary file: the daemon
        // must not post what the link leads to.
        const dir = /"outbox_dir":"([^"\\]*)"/.exec(userText);
        if (!dir) throw new Error('[[outbox-link]] without an outbox_dir in the sender context');
        const trap = path.join(turn.session.cwd, 'trap');
        fs.mkdirSync(trap, { recursive: true });
        fs.writeFileSync(path.join(trap, m.outboxLink), CANARY);
        fs.rmSync(dir[1], { recursive: true, force: true });
        fs.symlinkSync(trap, dir[1]);
        await turnStream(turn, ['linked the outbox ']);
        produced = true;
    }
    for (const o of m.outbox || []) {
        const dir = o.cwd ? [null, turn.session.cwd] : /"outbox_dir":"([^"\\]*)"/.exec(userText);
        if (!dir) throw new Error('[[outbox]] without an outbox_dir in the sender context');
        fs.mkdirSync(path.dirname(path.join(dir[1], o.name)), { recursive: true });
        const fd = fs.openSync(path.join(dir[1], o.name), 'w');
        const chunk = Buffer.alloc(1 << 20, `${o.name} `);
        for (let done = 0; done < o.bytes; done += chunk.length)
            fs.writeSync(fd, chunk, 0, Math.min(chunk.length, o.bytes - done));
        fs.closeSync(fd);
        await turnStream(turn, [`wrote ${o.name} `]);
        produced = true;
    }
    const single = [];
    if (m.env)
        single.push(Object.keys(process.env).sort().map((k) => `${k}=${process.env[k]}`).join('\n'));
    if (m.pid) single.push(`pid: ${process.pid}`);
    if (m.echoSession) single.push(`session: ${turn.session.id}`);
    if (m.echoHistory) single.push(historyText(turn.session));
    if (m.grandchild) single.push(turnGrandchild());
    if (m.big !== undefined) single.push(bigText(m.big));
    for (const text of single) { await turnStream(turn, [text]); produced = true; }
    if (m.stream !== undefined) { await turnStream(turn, numberedPieces(m.stream)); produced = true; }
    if (m.slow !== undefined) { await turnStream(turn, numberedPieces(m.slow)); produced = true; }
    if (m.silentAfter !== undefined) {
        await turnStream(turn, numberedPieces(m.silentAfter));
        return null;
    }
    if (m.crash) {
        turnChunk(turn, 'chunk1 ');
        logErr('crashing mid-turn as asked ([[crash]])');
        process.exit(3);
    }
    if (m.error !== undefined) return { error: { code: m.error, message: 'scripted failure' } };
    if (!produced) {
        const said = userText.replace(MARKER_RE, '').replace(/\s+/g, ' ').trim();
        await turnStream(turn, splitThree(`You said: ${said}`));
    }
    const result = { stopReason: m.stop || 'end_turn' };
    if (opts.usage) {
        const s = turn.session;
        s.cost += USAGE_TURN.cost;
        s.used += USAGE_TURN.inputTokens + USAGE_TURN.outputTokens;
        update(s.id, {
            sessionUpdate: 'usage_update', used: s.used, size: USAGE_TURN.contextSize,
            cost: { amount: s.cost, currency: 'USD' },
        });
        result.usage = {
            inputTokens: USAGE_TURN.inputTokens, outputTokens: USAGE_TURN.outputTokens,
            totalTokens: USAGE_TURN.inputTokens + USAGE_TURN.outputTokens,
        };
    }
    return { result };
}

const CANARY = 'CANARY: bytes the daemon must never post\n';

// [[outbox-swap]]: once the turn's answer is out, wait (up to 30 s, checking every
// millisecond without an event loop turn in between: Atomics.wait sleeps, so a loaded
// machine still runs the daemon) for NAME to land in the outbox's .sent/, then put a
// link to a canary file in its place, as a hostile agent would.
function outboxSwap(userText, name, bytes) {
    const dir = /"outbox_dir":"([^"\\]*)"/.exec(userText)[1];
    const canary = path.join(dir, '..', `canary-${name}`);
    const sent = path.join(dir, '.sent', name);
    // as long as the file (the upload declared its size; the daemon may have moved it
    // already on a busy machine, so the size comes from the marker)
    fs.writeFileSync(canary, Buffer.alloc(bytes, 'CANARY '));
    const nap = new Int32Array(new SharedArrayBuffer(4));
    for (const end = Date.now() + 30000; Date.now() < end;) {
        let st = null;
        try {
            st = fs.lstatSync(sent);
        } catch (e) {
            Atomics.wait(nap, 0, 0, 1);
            continue;
        }
        if (!st.isFile()) return;
        fs.symlinkSync(canary, `${sent}.swap`);
        fs.renameSync(`${sent}.swap`, sent);
        logErr(`swapped ${sent} for a link to ${canary}`);
        return;
    }
    logErr(`${sent} never appeared`);
}

// Run a session/prompt turn to its end and answer the request.
async function turnRun(session, reqId, userText, m) {
    const turn = {
        session, m, cancelled: false, wakers: new Set(), agentText: '',
        tick: m.tick !== undefined ? m.tick : opts.tick,
        idMode: m.idMode || 'int', messageId: crypto.randomUUID(),
    };
    session.turn = turn;
    let end;
    try {
        end = await turnBody(turn, userText);
    } catch (e) {
        if (!(e instanceof Cancelled)) {
            logErr(`turn failed: ${e.stack}`);
            end = { error: { code: ERR.INTERNAL, message: `internal error: ${e.message}` } };
        } else {
            end = { result: { stopReason: 'cancelled' } };
        }
    }
    if (end === null) return; /* a stall: the turn stays running and is never answered */
    session.turn = null;
    session.history.push({ role: 'user', text: userText });
    if (turn.agentText) session.history.push({ role: 'agent', text: turn.agentText });
    try {
        stateSave(session);
    } catch (e) {
        logErr(`cannot save state: ${e.message}`);
    }
    if (end.error) {
        replyError(reqId, end.error.code, end.error.message, end.error.data);
    } else {
        if (m.noise) end.result._meta = { quota: { remaining: 42 } };
        reply(reqId, end.result);
        if (m.outboxSwap) outboxSwap(userText, m.outboxSwap.name, m.outboxSwap.bytes);
    }
    if (m.noise)
        update(session.id, { sessionUpdate: 'session_info_update', title: 'Scripted session',
                             updatedAt: new Date().toISOString() });
    if (m.closeStdin) {
        logErr('closing stdin and staying alive as asked ([[close-stdin]])');
        process.stdin.removeAllListeners('end');
        process.stdin.pause();
        fs.closeSync(0); /* node keeps fd 0 open after destroy(): close it for real */
        keepAlive();
    }
}

// ---------------------------------------------------------------- methods

// Create the in-memory session object.
function sessionCreate(id, cwd, history) {
    const s = { id, cwd, mode: 'default', model: 'fast', history: history || [], turn: null, cost: 0, used: 0 };
    sessions.set(id, s);
    return s;
}

// The sessionId param must name a live session; returns it or answers the error itself.
function sessionLookup(id, p) {
    if (!isObject(p) || typeof p.sessionId !== 'string') {
        replyError(id, ERR.INVALID_PARAMS, 'Invalid params: sessionId must be a string');
        return null;
    }
    const s = sessions.get(p.sessionId);
    if (!s) replyError(id, ERR.NOT_FOUND, 'Resource not found', { sessionId: p.sessionId });
    return s || null;
}

const methods = {
    // initialize → protocolVersion, capabilities, authMethods, agentInfo.
    initialize(id, p) {
        if (!isObject(p) || typeof p.protocolVersion !== 'number')
            return replyError(id, ERR.INVALID_PARAMS, 'Invalid params: protocolVersion must be a number');
        const answer = () => {
            initialized = true;
            reply(id, {
                protocolVersion: opts.protocolVersion,
                agentCapabilities: {
                    loadSession: opts.load || opts.loadHang || opts.loadExit,
                    sessionCapabilities: { close: {} },
                    promptCapabilities: { image: opts.image, audio: opts.audio,
                        embeddedContext: opts.embeddedContext },
                    mcpCapabilities: { http: opts.mcp.includes('http'), sse: opts.mcp.includes('sse') },
                },
                authMethods: [
                    { id: 'test-key', name: 'Test key', description: 'Any client may use it' },
                    { id: 'weird', name: 'x', type: 'env_var' },
                ],
                agentInfo: { name: 'scripted-agent', title: 'Scripted ACP agent', version: VERSION },
            });
        };
        if (opts.initDelay > 0) setTimeout(answer, opts.initDelay);
        else answer();
    },

    // authenticate {methodId}: only test-key works.
    authenticate(id, p) {
        if (!isObject(p) || typeof p.methodId !== 'string')
            return replyError(id, ERR.INVALID_PARAMS, 'Invalid params: methodId must be a string');
        if (p.methodId !== 'test-key')
            return replyError(id, ERR.INVALID_PARAMS, `unsupported auth method ${p.methodId}`);
        authenticated = true;
        reply(id, {});
    },

    // session/new {cwd, mcpServers} → {sessionId, modes}.
    'session/new'(id, p) {
        if (!authenticated) return replyError(id, ERR.AUTH_REQUIRED, 'Authentication required');
        const why = sessionParamsProblem(p);
        if (why) return replyError(id, ERR.INVALID_PARAMS, `Invalid params: ${why}`);
        const s = sessionCreate(`sess-${process.pid}-${++sessionCounter}`, p.cwd);
        try {
            stateSave(s);
        } catch (e) {
            logErr(`cannot save state: ${e.message}`);
        }
        reply(id, sessionAdvertised(s));
    },

    // session/load {sessionId, cwd, mcpServers}: replay the history, then answer null.
    'session/load'(id, p) {
        if (opts.loadHang) { logErr('session/load: hanging as asked (--load-hang)'); return; }
        if (opts.loadExit) { logErr('session/load: exiting 0 as asked (--load-exit)'); process.exit(0); }
        if (!opts.load) return replyError(id, ERR.METHOD_NOT_FOUND, 'Method not found: session/load');
        if (!isObject(p) || typeof p.sessionId !== 'string')
            return replyError(id, ERR.INVALID_PARAMS, 'Invalid params: sessionId must be a string');
        const why = sessionParamsProblem(p);
        if (why) return replyError(id, ERR.INVALID_PARAMS, `Invalid params: ${why}`);
        let s = sessions.get(p.sessionId);
        if (!s) {
            const saved = stateRead().sessions[p.sessionId];
            if (!saved) return replyError(id, ERR.NOT_FOUND, 'Resource not found', { sessionId: p.sessionId });
            s = sessionCreate(p.sessionId, p.cwd, Array.isArray(saved.history) ? saved.history : []);
        }
        if (s.turn) return replyError(id, ERR.INVALID_PARAMS, 'turn already running');
        for (const h of s.history) {
            const kind = h.role === 'user' ? 'user_message_chunk' : 'agent_message_chunk';
            update(s.id, { sessionUpdate: kind, content: { type: 'text', text: String(h.text) } });
        }
        reply(id, null);
    },

    // session/close {sessionId} → {}: the session is forgotten (session/load brings it back).
    'session/close'(id, p) {
        const s = sessionLookup(id, p);
        if (!s) return;
        if (s.turn) return replyError(id, ERR.INVALID_PARAMS, 'turn already running');
        sessions.delete(s.id);
        reply(id, {});
    },

    // session/set_mode {sessionId, modeId} → {}.
    'session/set_mode'(id, p) {
        const s = sessionLookup(id, p);
        if (!s) return;
        if (!MODES.some((md) => md.id === p.modeId))
            return replyError(id, ERR.INVALID_PARAMS, `Invalid params: unknown modeId ${JSON.stringify(p.modeId)}`);
        s.mode = p.modeId;
        reply(id, {});
    },

    // session/set_model {sessionId, modelId} → {} (unstable; only with models advertised).
    'session/set_model'(id, p) {
        if (opts.noModels || opts.configOptions) return replyError(id, ERR.METHOD_NOT_FOUND, 'Method not found: session/set_model');
        const s = sessionLookup(id, p);
        if (!s) return;
        if (!MODELS.some((md) => md.modelId === p.modelId))
            return replyError(id, ERR.INVALID_PARAMS, `Invalid params: unknown modelId ${JSON.stringify(p.modelId)}`);
        s.model = p.modelId;
        reply(id, {});
    },

    // session/set_config_option {sessionId, configId, value} → {configOptions} (--config-options).
    'session/set_config_option'(id, p) {
        if (!opts.configOptions) return replyError(id, ERR.METHOD_NOT_FOUND, 'Method not found: session/set_config_option');
        const s = sessionLookup(id, p);
        if (!s) return;
        const list = p.configId === 'mode' ? MODES.map((md) => md.id)
            : p.configId === 'model' ? MODELS.map((md) => md.modelId) : null;
        if (!list) return replyError(id, ERR.INVALID_PARAMS, `Invalid params: unknown configId ${JSON.stringify(p.configId)}`);
        if (!list.includes(p.value))
            return replyError(id, ERR.INVALID_PARAMS, `Invalid params: unknown value ${JSON.stringify(p.value)}`);
        if (p.configId === 'mode') s.mode = p.value;
        else s.model = p.value;
        reply(id, { configOptions: configOptionsOf(s) });
    },

    // session/prompt {sessionId, prompt[]}: run a scripted turn.
    'session/prompt'(id, p) {
        if (!authenticated) return replyError(id, ERR.AUTH_REQUIRED, 'Authentication required');
        const s = sessionLookup(id, p);
        if (!s) return;
        const why = promptProblem(p.prompt);
        if (why) return replyError(id, ERR.INVALID_PARAMS, `Invalid params: ${why}`);
        if (s.turn) return replyError(id, ERR.INVALID_PARAMS, 'turn already running');
        const texts = p.prompt.filter((b) => b.type === 'text');
        const last = texts.length ? texts[texts.length - 1].text : '';
        let m;
        try {
            m = markersParse(last);
        } catch (e) {
            return replyError(id, ERR.INVALID_PARAMS, `Invalid params: ${e.message}`);
        }
        turnRun(s, id, texts.map((b) => b.text).join('\n'), m);
    },
};

const notifications = {
    // session/cancel {sessionId}: stop the running turn at once.
    'session/cancel'(p) {
        const s = isObject(p) && sessions.get(p.sessionId);
        if (!s) return logErr(`session/cancel for unknown session ${JSON.stringify(p && p.sessionId)}`);
        if (!s.turn) return;
        s.turn.cancelled = true;
        for (const wake of [...s.turn.wakers]) wake();
    },
};

// The configOptions of session s (--config-options): a mode and a model select.
function configOptionsOf(s) {
    return [
        { id: 'mode', name: 'Mode', category: 'mode', type: 'select', currentValue: s.mode,
          options: MODES.map((md) => ({ value: md.id, name: md.name })) },
        { id: 'model', name: 'Model', category: 'model', type: 'select', currentValue: s.model,
          options: MODELS.map((md) => ({ value: md.modelId, name: md.name })) },
    ];
}

// session/new's result: the id, and modes/models/configOptions as the flags say.
function sessionAdvertised(s) {
    const r = { sessionId: s.id };
    if (opts.configOptions) {
        r.configOptions = configOptionsOf(s);
        return r;
    }
    if (!opts.noModes) r.modes = { currentModeId: s.mode, availableModes: MODES };
    if (!opts.noModels) r.models = { currentModelId: s.model, availableModels: MODELS };
    return r;
}

// ---------------------------------------------------------------- dispatch

// Handle one parsed message from the client.
function dispatch(msg) {
    if (!isObject(msg) || msg.jsonrpc !== '2.0') {
        const id = isObject(msg) && msg.id !== undefined ? msg.id : null;
        return replyError(id, ERR.INVALID_REQUEST, 'Invalid Request');
    }
    const hasId = Object.prototype.hasOwnProperty.call(msg, 'id');
    if (typeof msg.method !== 'string') {
        if (!hasId) return replyError(null, ERR.INVALID_REQUEST, 'Invalid Request');
        const key = JSON.stringify(msg.id);
        const resolve = pendingOut.get(key);
        if (!resolve) return logErr(`response for unknown id ${key}`);
        pendingOut.delete(key);
        return resolve(msg.error !== undefined ? { error: msg.error } : { result: msg.result });
    }
    if (!hasId) {
        if (!initialized) return logErr(`notification ${msg.method} before initialize`);
        const h = notifications[msg.method];
        if (!h) return logErr(`ignoring notification ${msg.method}`);
        return h(msg.params);
    }
    if (!initialized && msg.method !== 'initialize')
        return replyError(msg.id, ERR.INVALID_REQUEST, 'Invalid Request: initialize first');
    const h = Object.prototype.hasOwnProperty.call(methods, msg.method) ? methods[msg.method] : null;
    if (!h) return replyError(msg.id, ERR.METHOD_NOT_FOUND, `Method not found: ${msg.method}`);
    h(msg.id, msg.params);
}

// Handle one received line: log it verbatim, then parse and dispatch.
function onLine(line) {
    if (opts.log) fs.appendFileSync(opts.log, line + '\n');
    if (line.trim() === '') return;
    let msg;
    try {
        msg = JSON.parse(line);
    } catch (e) {
        logErr(`not JSON: ${line.slice(0, 200)}`);
        return replyError(null, ERR.PARSE, 'Parse error');
    }
    if (Array.isArray(msg)) return replyError(null, ERR.INVALID_REQUEST, 'Invalid Request: batches are not supported');
    dispatch(msg);
}

// Stay alive after stdin EOF (--ignore-term, --no-exit-on-eof) until killed.
function keepAlive() {
    setInterval(() => {}, 1 << 30);
}

let pending = [];
process.stdin.on('data', (buf) => {
    let start = 0;
    for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, start)) {
        pending.push(buf.subarray(start, i));
        const line = Buffer.concat(pending).toString('utf8');
        pending = [];
        start = i + 1;
        onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
    }
    if (start < buf.length) pending.push(buf.subarray(start));
});
process.stdin.on('end', () => {
    if (pending.length) onLine(Buffer.concat(pending).toString('utf8'));
    pending = [];
    if (opts.exitOnEof && !opts.ignoreTerm) {
        logErr('stdin closed, exiting');
        process.exit(0);
    }
    logErr('stdin closed, staying alive');
    keepAlive();
});
process.stdout.on('error', (e) => {
    logErr(`stdout: ${e.message}; exiting`);
    process.exit(0);
});
if (opts.ignoreTerm) {
    process.on('SIGTERM', () => logErr('ignoring SIGTERM'));
    process.on('SIGHUP', () => logErr('ignoring SIGHUP'));
}
