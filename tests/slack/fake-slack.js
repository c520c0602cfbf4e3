#!/usr/bin/env node
// fake-slack.js: a loopback Slack (Web API + Socket Mode) for the chat-slack tests,
// written from /work/shared/reference/slack.md §8, independently of the plugin.
//
//   node fake-slack.js [--port N] [--ack-timeout-ms 3000] [--ping-ms 5000]
//                      [--grace-ms 3000] [--max-runtime-s 600]
//
// Prints "listening PORT" on stdout once ready. Web API at /api/<method>; Socket Mode
// at /link/?ticket=…; the test drives it through /_test/… (JSON in, JSON out):
//   POST /_test/message   {channel, user, text, thread_ts?}  → {ts, envelopes}
//         (a text with <@U0BOT> outside DMs yields app_mention AND message)
//   POST /_test/reaction  {channel, ts, user, name, added?}
//   POST /_test/files_scope {granted}           false: url_private answers a login page
//   (POST /_test/message takes files: [{name, mimetype, text | data_b64 | gen_bytes, size?}];
//    GET /files-pri/<team>-<id>/[download/]<name> serves them with the bot token)
//   POST /_test/redeliver {envelope_id}         send it again, retry_attempt+1
//   POST /_test/ratelimit {method, retry_after, count}   429s for that method
//   POST /_test/storm     {p, seed, min_s, max_s, methods?} random 429s (Retry-After
//                         min..max s) on the methods matching the regex (default: chat.*
//                         and reactions.*; "." hits every method, sign-in included)
//                         on every chat.* / reactions.* call; {} ends it
//   POST /_test/open_error {error, count}       apps.connections.open fails
//   POST /_test/http_error {method?, status, count, after?}   the next count calls of
//         method (any when absent) answer HTTP status (5xx); after: carried out first
//   POST /_test/disconnect {reason}             on the newest live socket
//   POST /_test/fault {mode: abrupt|halfopen|nofin}   on the newest live socket
//   POST /_test/slash     {channel, user, command, text}  a slash_commands envelope whose
//         response_url is /commands/<id>/<secret> here → {envelope, id}
//   GET  /_test/state     requests, frames, connections, envelopes, messages, dropped,
//                         slash (each invocation and what reached its response_url)
//   GET  /_test/messages  messages, dropped, live socket count (cheap to poll)
// Everything listens on 127.0.0.1 only; the process exits after --max-runtime-s.
'use strict';

const http = require('http');
const crypto = require('crypto');
const path = require('path');
const { WebSocketServer } = require(path.join(__dirname, '..', 'node_modules', 'ws'));

// responseTtlMs: how long a slash command's response_url takes answers (Slack: 30 min).
const opts = { port: 0, ackTimeoutMs: 3000, pingMs: 5000, graceMs: 3000, maxRuntimeS: 600,
    responseTtlMs: 30 * 60 * 1000 };
const slashes = new Map(); // id → {id, secret, at, command, text, posts: [{t, status, body}]}
const RESPONSE_URL_USES = 5;
for (let i = 2; i < process.argv.length; i += 2) {
    const key = process.argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    const val = Number(process.argv[i + 1]);
    if (!(key in opts) || !Number.isFinite(val)) {
        process.stderr.write(`fake-slack: bad option ${process.argv[i]}\n`);
        process.exit(2);
    }
    opts[key] = val;
}

const BOT_TOKEN = 'xoxb-fake-bot-token';
const APP_TOKEN = 'xapp-fake-app-token';
const BOT_USER = 'U0BOT';
const BOT_ID = 'B0BOT';
const TEAM = 'T111';
const APP = 'A111';
const USERS = {
    U1: { id: 'U1', name: 'alice', real_name: 'Alice A', profile: { display_name: 'ali' } },
    U2: { id: 'U2', name: 'bob', real_name: 'Bob B', profile: { display_name: '' } },
    [BOT_USER]: { id: BOT_USER, name: 'broker', is_bot: true, profile: { display_name: 'broker' } },
};
const BOTS = { [BOT_ID]: { id: BOT_ID, app_id: APP, user_id: BOT_USER, name: 'broker' } };
const EMOJI_NAMES = new Set(['eyes', 'thinking_face', 'fire', 'technologist', 'zap', 'ok', 'scream',
    'yawning_face', 'fearful', 'octagonal_sign', 'white_check_mark', 'infinity', 'x',
    'no_entry_sign', 'blush', 'shrug', 'sweat_smile', 'saluting_face', 'wrench', 'microphone',
    'thumbsup', '+1', 'tada', 'grey_question']);
const READ_METHODS = new Set(['users.info', 'bots.info', 'conversations.replies']);
const MAX_UPDATE_CHARS = 4000;

const started = performance.now();
const now = () => Math.round((performance.now() - started) * 1000) / 1000; // ms since start
const requests = [];   // every Web API request
const frames = [];     // every socket frame, both ways
const conns = [];      // every socket ever opened
const envelopes = new Map(); // envelope_id → {payload, attempts, acks, conn, timer}
const dropped = [];    // envelopes with no live socket to go to (lost, as on Slack)
const tickets = new Set();
const messages = new Map(); // `${channel}/${ts}` → message
const rateLimits = new Map(); // method → {retryAfter, count}
// Slack's limits are per method: what the client was told, method → ms (now()) until
// which a 429's Retry-After holds. A request inside it is an exhausted-bucket violation.
const told = new Map();
const counts = { rate_limited: 0, exhausted_violations: 0 };
let storm = null; // {p, seed, min_s, max_s, methods}
function stormRand() {
    storm.seed = (storm.seed * 1103515245 + 12345) % 2147483648;
    return storm.seed / 2147483648;
}
let openError = null; // {error, count}
// Files (url_private): id → {name, mimetype, data (Buffer) | gen (bytes)}; without the bot
// token (or with files_scope false) Slack answers 200 with an HTML login page.
const files = new Map();
const fileGets = []; // {t, id, status, auth, html}
let filesScope = true;
let fileSeq = 0;
const pendingUploads = new Map(); // file id → {filename, length, data} (getUploadURLExternal)
const uploadsDone = [];           // completed uploads: {id, name, size, sha256}
const uploadPosts = [];           // POSTs to upload_url: {t, id, status, auth, bytes, multipart}
const httpErrors = []; // {method, status, count, after}: scripted server errors
let tsCounter = 0;
let eventCounter = 0;

// A fresh monotonic ts string, "1700000000.000100" style.
function nextTs() {
    tsCounter += 1;
    const sec = 1700000000 + Math.floor(tsCounter / 1000);
    return `${sec}.${String((tsCounter % 1000) * 100).padStart(6, '0')}`;
}

// JSON answer.
function reply(res, status, body, headers = {}) {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
    res.end(text);
}

// The arguments of a Web API call: form always, JSON only on write methods.
function parseArgs(method, contentType, body, query) {
    const args = Object.fromEntries(new URLSearchParams(query));
    const ct = (contentType || '').split(';')[0].trim().toLowerCase();
    if (ct === 'application/x-www-form-urlencoded') {
        Object.assign(args, Object.fromEntries(new URLSearchParams(body)));
    } else if (ct === 'application/json' && !READ_METHODS.has(method)) {
        try {
            const obj = JSON.parse(body || '{}');
            if (obj && typeof obj === 'object')
                for (const [k, v] of Object.entries(obj))
                    args[k] = typeof v === 'string' ? v : JSON.stringify(v);
        } catch (e) {
            return null;
        }
    }
    return args;
}

// Which token a request carries: 'bot', 'app', 'bad' or null (none).
function tokenKind(req) {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization || '');
    if (!m)
        return null;
    if (m[1] === BOT_TOKEN)
        return 'bot';
    if (m[1] === APP_TOKEN)
        return 'app';
    return 'bad';
}

// The live sockets that may carry events, newest first: said hello, not told to go.
function liveConns() {
    return conns.filter((c) => c.hello_t !== null && c.closed_t === null && !c.halfOpen)
        .reverse();
}

// Send a frame on a socket and record it.
function sendFrame(conn, obj) {
    const data = JSON.stringify(obj);
    frames.push({ t: now(), conn: conn.id, dir: 'out', data: obj });
    conn.ws.send(data);
}

// Send (or resend) an envelope to the newest live socket not told to go; none = lost.
function deliverEnvelope(env) {
    const live = liveConns();
    const conn = live.find((c) => !c.retiring) || live[0];
    if (!conn) {
        dropped.push({ t: now(), envelope_id: env.id, event_id: env.payload.event_id });
        return;
    }
    env.attempts += 1;
    env.conn = conn.id;
    sendFrame(conn, {
        envelope_id: env.id, type: env.type || 'events_api', payload: env.payload,
        accepts_response_payload: false, retry_attempt: env.attempts - 1,
        retry_reason: env.attempts > 1 ? 'http_timeout' : '',
    });
    clearTimeout(env.timer);
    env.timer = setTimeout(() => {
        if (env.acks === 0 && env.attempts < 4)
            deliverEnvelope(env);
    }, opts.ackTimeoutMs);
}

// Wrap an event in an event_callback payload and deliver it.
function emitEvent(event) {
    eventCounter += 1;
    const env = {
        id: crypto.randomUUID(), attempts: 0, acks: 0, conn: null, timer: null,
        payload: {
            token: 'verification', team_id: TEAM, api_app_id: APP, type: 'event_callback',
            event_id: `Ev${String(eventCounter).padStart(6, '0')}`, event_time: Math.floor(Date.now() / 1000),
            event, authorizations: [{ user_id: BOT_USER, is_bot: true }],
        },
    };
    envelopes.set(env.id, env);
    deliverEnvelope(env);
    return env.id;
}

// A file object as Slack sends it in events; its bytes kept for url_private. @f: {name,
// mimetype, data_b64 | text | gen_bytes, size (declared; default real), subtype}.
function fileObject(f) {
    const id = `F${String(++fileSeq).padStart(8, '0')}`;
    const data = f.data_b64 !== undefined ? Buffer.from(f.data_b64, 'base64')
        : f.text !== undefined ? Buffer.from(f.text, 'utf8') : null;
    const real = data ? data.length : (f.gen_bytes || 0);
    const name = f.name || 'file.bin';
    files.set(id, { name, mimetype: f.mimetype, data, gen: data ? 0 : real });
    const base = `http://127.0.0.1:${server.address().port}/files-pri/${TEAM}-${id}`;
    const o = { id, name, title: name, mimetype: f.mimetype || 'application/octet-stream',
        filetype: (name.split('.').pop() || 'binary'), size: f.size === undefined ? real : f.size,
        mode: 'hosted', is_external: false, url_private: `${base}/${encodeURIComponent(name)}`,
        url_private_download: `${base}/download/${encodeURIComponent(name)}`,
        permalink: `https://fake.slack.com/files/${BOT_USER}/${id}/${name}`, file_access: 'visible' };
    if (f.subtype)
        o.subtype = f.subtype;
    return o;
}

// GET /files-pri/<team>-<id>/[download/]<name>: the bytes with the bot token, else an
// HTML login page with status 200 (what Slack does).
function serveFile(req, res, url) {
    const m = /^\/files-pri\/[A-Z0-9]+-(F\d+)\/(?:download\/)?[^/]+$/.exec(url.pathname);
    const f = m && files.get(m[1]);
    const auth = req.headers.authorization === `Bearer ${BOT_TOKEN}`;
    const rec = { t: now(), id: m ? m[1] : null, status: 0, auth, html: false };
    fileGets.push(rec);
    if (!f) {
        rec.status = 404;
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        return res.end('not found');
    }
    if (!auth || !filesScope) {
        rec.status = 200;
        rec.html = true;
        const page = '<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to Fake</body></html>';
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(page) });
        return res.end(page);
    }
    const size = f.data ? f.data.length : f.gen;
    rec.status = 200;
    res.writeHead(200, { 'Content-Type': f.mimetype || 'application/octet-stream', 'Content-Length': size });
    if (f.data)
        return res.end(f.data);
    const chunk = Buffer.alloc(64 * 1024, 'abcdefghijklmnopqrstuvwxyz0123456789\n');
    let sent = 0;
    const pump = () => {
        while (sent < size) {
            const n = Math.min(chunk.length, size - sent);
            sent += n;
            if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n)))
                return res.once('drain', pump);
        }
        res.end();
    };
    pump();
}

// Store a message and tell the app about it (user messages and the bot's own posts).
function postMessage({ channel, user, text, thread_ts, bot, files: attached }) {
    const ts = nextTs();
    const msg = { type: 'message', channel, user, text, ts, reactions: {} };
    if (thread_ts)
        msg.thread_ts = thread_ts;
    messages.set(`${channel}/${ts}`, msg);
    const event = { type: 'message', user, text, ts, channel, event_ts: ts,
        channel_type: channel.startsWith('D') ? 'im' : 'channel' };
    const fileObjs = (attached || []).map(fileObject);
    if (fileObjs.length) {
        Object.assign(event, { subtype: 'file_share', files: fileObjs, upload: false,
            display_as_bot: false });
        msg.files = fileObjs;
    }
    if (thread_ts) {
        event.thread_ts = thread_ts;
        const parent = messages.get(`${channel}/${thread_ts}`);
        if (parent)
            event.parent_user_id = parent.user;
    }
    if (bot) {
        Object.assign(event, { bot_id: BOT_ID, app_id: APP, bot_profile: { id: BOT_ID, name: 'broker' } });
        Object.assign(msg, { bot_id: BOT_ID, app_id: APP });
    }
    const ids = [];
    if (!bot && text.includes(`<@${BOT_USER}>`) && !channel.startsWith('D')) {
        const mention = { type: 'app_mention', user, text, ts, channel, event_ts: ts };
        if (fileObjs.length)
            mention.files = fileObjs;
        if (thread_ts)
            mention.thread_ts = thread_ts;
        ids.push(emitEvent(mention));
    }
    ids.push(emitEvent(event));
    return { ts, envelopes: ids };
}

// Parse and check a blocks argument as Slack does (block-kit): a JSON array of at most
// 50 blocks; section text ≤ 3000; actions ≤ 25 elements, buttons with action_id (≤ 255,
// unique), plain_text text ≤ 75, value ≤ 2000. Returns the blocks, or throws {error}.
function checkBlocks(raw) {
    if (raw === undefined) return undefined;
    let blocks;
    try { blocks = JSON.parse(raw); } catch (e) { throw { error: 'invalid_blocks_format' }; }
    if (!Array.isArray(blocks) || blocks.length > 50) throw { error: 'invalid_blocks' };
    const ids = new Set();
    for (const b of blocks) {
        if (!b || typeof b !== 'object') throw { error: 'invalid_blocks' };
        if (b.type === 'section') {
            if (!b.text || !['mrkdwn', 'plain_text'].includes(b.text.type) || typeof b.text.text !== 'string'
                || [...b.text.text].length < 1 || [...b.text.text].length > 3000) throw { error: 'invalid_blocks' };
        } else if (b.type === 'actions') {
            if (!Array.isArray(b.elements) || b.elements.length < 1 || b.elements.length > 25) throw { error: 'invalid_blocks' };
            for (const e of b.elements) {
                if (!e || e.type !== 'button' || typeof e.action_id !== 'string' || !e.action_id || e.action_id.length > 255
                    || ids.has(e.action_id) || !e.text || e.text.type !== 'plain_text' || typeof e.text.text !== 'string'
                    || [...e.text.text].length < 1 || [...e.text.text].length > 75
                    || (e.value !== undefined && (typeof e.value !== 'string' || e.value.length > 2000)))
                    throw { error: 'invalid_blocks' };
                ids.add(e.action_id);
            }
        } else {
            throw { error: 'invalid_blocks' };
        }
    }
    return blocks;
}

// The Web API methods: (args) → [answer] or throws {error}.
const METHODS = {
    'auth.test': () => ({ url: 'https://fake.slack.com/', team: 'Fake', user: 'broker', team_id: TEAM,
        user_id: BOT_USER, bot_id: BOT_ID }),
    'chat.postMessage': (a) => {
        if (!a.channel)
            throw { error: 'channel_not_found' };
        if (!a.text)
            throw { error: 'no_text' };
        if (a.thread_ts && !messages.has(`${a.channel}/${a.thread_ts}`))
            throw { error: 'thread_not_found' };
        const blocks = checkBlocks(a.blocks);
        const { ts } = postMessage({ channel: a.channel, user: BOT_USER, text: a.text,
            thread_ts: a.thread_ts, bot: true });
        if (blocks) messages.get(`${a.channel}/${ts}`).blocks = blocks;
        return { channel: a.channel, ts, message: messages.get(`${a.channel}/${ts}`) };
    },
    // files.upload is gone (2025-11-12): the three-step external upload instead.
    'files.upload': () => { throw { error: 'method_deprecated' }; },
    'files.getUploadURLExternal': (a) => {
        if (!a.filename || a.length === undefined)
            throw { error: 'invalid_arguments' };
        const length = Number(a.length);
        if (!Number.isInteger(length) || length <= 0)
            throw { error: 'missing_argument' };
        const id = `F${String(++fileSeq).padStart(8, '0')}`;
        pendingUploads.set(id, { filename: a.filename, length, data: null });
        return { upload_url: `http://127.0.0.1:${server.address().port}/upload/v1/${id}`, file_id: id };
    },
    'files.completeUploadExternal': (a) => {
        let list;
        try {
            list = JSON.parse(a.files || '');
        } catch (e) {
            throw { error: 'invalid_arguments' };
        }
        if (!Array.isArray(list) || list.length === 0)
            throw { error: 'invalid_arguments' };
        const done = [];
        for (const f of list) {
            const u = f && pendingUploads.get(f.id);
            if (!u || !u.data)
                throw { error: 'file_not_found' };
            done.push({ id: f.id, name: u.filename, title: f.title || u.filename, size: u.data.length,
                sha256: crypto.createHash('sha256').update(u.data).digest('hex') });
        }
        if (a.thread_ts && !a.channel_id)
            throw { error: 'invalid_arguments' };
        if (a.channel_id && a.thread_ts && !messages.has(`${a.channel_id}/${a.thread_ts}`))
            throw { error: 'thread_not_found' };
        for (const f of list)
            pendingUploads.delete(f.id);
        if (a.channel_id) {
            const { ts } = postMessage({ channel: a.channel_id, user: BOT_USER, text: a.initial_comment || '',
                thread_ts: a.thread_ts, bot: true });
            messages.get(`${a.channel_id}/${ts}`).uploaded = done;
        }
        uploadsDone.push(...done);
        return { files: done.map((f) => ({ id: f.id, title: f.title })) };
    },
    'chat.update': (a) => {
        const msg = messages.get(`${a.channel}/${a.ts}`);
        if (!msg)
            throw { error: 'message_not_found' };
        if (msg.user !== BOT_USER)
            throw { error: 'cant_update_message' };
        if (!a.text)
            throw { error: 'no_text' };
        if ([...a.text].length > MAX_UPDATE_CHARS)
            throw { error: 'msg_too_long' };
        const blocks = checkBlocks(a.blocks);
        msg.text = a.text;
        if (blocks !== undefined) msg.blocks = blocks; // absent: the blocks stay
        msg.edits = (msg.edits || 0) + 1;
        return { channel: a.channel, ts: a.ts, text: a.text };
    },
    'reactions.add': (a) => reaction(a, true),
    'reactions.remove': (a) => reaction(a, false),
    'conversations.replies': (a) => {
        if (!a.channel || !a.ts)
            throw { error: 'invalid_arguments' };
        if (!messages.has(`${a.channel}/${a.ts}`))
            throw { error: 'thread_not_found' };
        const list = [...messages.values()].filter((m) => m.channel === a.channel &&
            (m.ts === a.ts || m.thread_ts === a.ts));
        return { messages: list, has_more: false, response_metadata: { next_cursor: '' } };
    },
    'users.info': (a) => {
        if (!USERS[a.user])
            throw { error: 'user_not_found' };
        return { user: USERS[a.user] };
    },
    'bots.info': (a) => {
        if (!BOTS[a.bot])
            throw { error: 'bot_not_found' };
        return { bot: BOTS[a.bot] };
    },
};

// reactions.add / reactions.remove with Slack's name rules.
function reaction(a, add) {
    const m = /^([a-z0-9_+'-]+)(::skin-tone-[2-6])?$/.exec(a.name || '');
    if (!m || !EMOJI_NAMES.has(m[1]))
        throw { error: 'invalid_name' };
    const msg = messages.get(`${a.channel}/${a.timestamp}`);
    if (!msg)
        throw { error: 'message_not_found' };
    const users = msg.reactions[a.name] || [];
    if (add) {
        if (users.includes(BOT_USER))
            throw { error: 'already_reacted' };
        msg.reactions[a.name] = users.concat(BOT_USER);
    } else {
        if (!users.includes(BOT_USER))
            throw { error: 'no_reaction' };
        msg.reactions[a.name] = users.filter((u) => u !== BOT_USER);
    }
    return {};
}

// One Web API request.
function webApi(req, res, method, body, query) {
    const rec = { t: now(), method, content_type: req.headers['content-type'] || '', token: tokenKind(req),
        args: null, status: 200, error: null };
    requests.push(rec);
    const fail = (error, status = 200, headers = {}) => {
        rec.error = error;
        rec.status = status;
        reply(res, status, { ok: false, error }, headers);
    };
    const args = parseArgs(method, req.headers['content-type'], body, query);
    rec.args = args;
    if (args === null)
        return fail('invalid_json');
    if (rec.token === null)
        return fail('not_authed');
    if (rec.token === 'bad')
        return fail('invalid_auth');
    if (method === 'apps.connections.open') {
        if (rec.token !== 'app')
            return fail('not_allowed_token_type');
    } else if (rec.token !== 'bot') {
        return fail('not_allowed_token_type');
    }
    rec.bucket = method;
    // A client counts whole milliseconds (libuv): a request within 1 ms of the window's
    // end is its clock's grain, not a request into a known limit.
    rec.known_exhausted = (told.get(method) || 0) > rec.t + 1;
    if (rec.known_exhausted)
        counts.exhausted_violations++;
    const tooMany = (seconds) => {
        counts.rate_limited++;
        told.set(method, Math.max(told.get(method) || 0, rec.t + seconds * 1000));
        return fail('ratelimited', 429, { 'Retry-After': String(seconds) });
    };
    const broken = httpErrors.find((h) => h.count > 0 && (!h.method || h.method === method));
    if (broken)
        broken.count -= 1;
    const serverError = () => {
        rec.fault = broken.after ? 'after' : 'before';
        rec.status = broken.status;
        res.writeHead(broken.status, { 'Content-Type': 'text/html' });
        res.end('<html><body>upstream connect error</body></html>');
    };
    if (broken && !broken.after)
        return serverError();
    const limit = rateLimits.get(method);
    if (limit && limit.count !== 0) {
        limit.count -= 1;
        return tooMany(limit.retryAfter);
    }
    if (storm && storm.methods.test(method) && stormRand() < storm.p)
        return tooMany(storm.min_s + Math.floor(stormRand() * (storm.max_s - storm.min_s + 1)));
    if (method === 'apps.connections.open') {
        if (openError && openError.count !== 0) {
            openError.count -= 1;
            return fail(openError.error);
        }
        const ticket = crypto.randomUUID();
        tickets.add(ticket);
        return reply(res, 200, { ok: true, url: `ws://127.0.0.1:${server.address().port}/link/?ticket=${ticket}&app_id=${APP}` });
    }
    const fn = METHODS[method];
    if (!fn)
        return fail('unknown_method');
    try {
        const out = fn(args);
        if (broken)
            return serverError();
        reply(res, 200, { ok: true, ...out });
    } catch (e) {
        if (!e || !e.error)
            throw e;
        fail(e.error);
    }
}

// The newest live socket, or an error answer.
function newestConn(res) {
    const conn = liveConns()[0];
    if (!conn)
        reply(res, 409, { ok: false, error: 'no live socket' });
    return conn;
}

// A POST to a slash command's response_url: JSON with text (or blocks), at most 5 uses,
// only while it lives (Slack answers 404 "expired_url" / "used_url").
function responseUrl(req, res, id, secret, body) {
    const sl = slashes.get(id);
    const post = { t: now(), status: 200, body: null, content_type: req.headers['content-type'] || '' };
    const answer = (status, text) => { post.status = status; if (sl) sl.posts.push(post); res.writeHead(status, { 'Content-Type': 'text/plain' }); res.end(text); };
    if (!sl || sl.secret !== secret) return answer(404, 'invalid_token');
    if (Date.now() - sl.at > opts.responseTtlMs) return answer(404, 'expired_url');
    if (sl.posts.filter((p) => p.status === 200).length >= RESPONSE_URL_USES) return answer(404, 'used_url');
    if (!/^application\/json\b/.test(post.content_type)) return answer(400, 'invalid_payload');
    try { post.body = JSON.parse(body); } catch (e) { return answer(400, 'invalid_payload'); }
    const b = post.body;
    if (!b || (typeof b.text !== 'string' || !b.text) && !Array.isArray(b.blocks)) return answer(400, 'no_text');
    if (b.response_type !== undefined && !['ephemeral', 'in_channel'].includes(b.response_type))
        return answer(400, 'invalid_response_type');
    if (typeof b.text === 'string' && [...b.text].length > 40000) return answer(400, 'msg_too_long');
    return answer(200, 'ok');
}

// The test's control channel.
function control(req, res, name, body) {
    let a = {};
    try {
        a = body ? JSON.parse(body) : {};
    } catch (e) {
        return reply(res, 400, { ok: false, error: 'bad json' });
    }
    switch (name) {
    case 'state':
        return reply(res, 200, {
            ok: true, requests, frames, dropped, counts,
            connections: conns.map((c) => ({ id: c.id, open_t: c.open_t, hello_t: c.hello_t,
                closed_t: c.closed_t, retiring: c.retiring, pings_in: c.pingsIn, pongs_in: c.pongsIn })),
            envelopes: [...envelopes.values()].map((e) => ({ id: e.id, attempts: e.attempts, acks: e.acks,
                event_id: e.payload.event_id, type: e.payload.event ? e.payload.event.type : e.type,
                conn: e.conn })),
            slash: [...slashes.values()].map((x) => ({ id: x.id, command: x.command, text: x.text,
                posts: x.posts })),
            messages: [...messages.values()], file_gets: fileGets, upload_posts: uploadPosts,
            uploads: uploadsDone,
        });
    case 'messages': // the messages alone (cheap to poll for hours)
        return reply(res, 200, { ok: true, messages: [...messages.values()], dropped,
            live: liveConns().length, requests: requests.length });
    case 'message':
        if (!a.channel || !a.user || typeof a.text !== 'string')
            return reply(res, 400, { ok: false, error: 'need channel, user, text' });
        return reply(res, 200, { ok: true, ...postMessage(a) });
    case 'files_scope': // {granted}: false makes url_private answer a login page
        filesScope = !!a.granted;
        return reply(res, 200, { ok: true });
    case 'reaction': {
        const msg = messages.get(`${a.channel}/${a.ts}`);
        if (!msg)
            return reply(res, 404, { ok: false, error: 'message_not_found' });
        const id = emitEvent({ type: a.added === false ? 'reaction_removed' : 'reaction_added', user: a.user,
            reaction: a.name, item_user: msg.user, item: { type: 'message', channel: a.channel, ts: a.ts },
            event_ts: nextTs() });
        return reply(res, 200, { ok: true, envelope: id });
    }
    case 'slash': { // a user runs `command text` in channel
        if (!a.channel || !a.user || typeof a.command !== 'string' || !a.command.startsWith('/'))
            return reply(res, 400, { ok: false, error: 'need channel, user, /command' });
        const id = crypto.randomUUID().replace(/-/g, '').slice(0, 12);
        const secret = crypto.randomBytes(12).toString('hex');
        slashes.set(id, { id, secret, at: Date.now(), command: a.command, text: a.text || '', posts: [] });
        const env = {
            id: crypto.randomUUID(), type: 'slash_commands', attempts: 0, acks: 0, conn: null, timer: null,
            payload: {
                token: 'verification', team_id: TEAM, team_domain: 'fake', channel_id: a.channel,
                channel_name: 'general', user_id: a.user, user_name: (USERS[a.user] || { name: a.user }).name,
                command: a.command, text: a.text || '', api_app_id: APP, is_enterprise_install: 'false',
                response_url: a.response_url ||
                    `http://127.0.0.1:${server.address().port}/commands/${TEAM}/${id}/${secret}`,
                trigger_id: `${Date.now()}.${id}`,
            },
        };
        envelopes.set(env.id, env);
        deliverEnvelope(env);
        return reply(res, 200, { ok: true, envelope: env.id, id });
    }
    case 'click': { // a user clicks the button action_id on message channel/ts
        const msg = messages.get(`${a.channel}/${a.ts}`);
        if (!msg) return reply(res, 404, { ok: false, error: 'message_not_found' });
        const button = (msg.blocks || []).filter((b) => b.type === 'actions').flatMap((b) => b.elements.map((e) => [b, e]))
            .find(([, e]) => e.action_id === a.action_id);
        if (!button) return reply(res, 409, { ok: false, error: 'no such button on the message' });
        const [block, el] = button;
        const env = {
            id: crypto.randomUUID(), type: 'interactive', attempts: 0, acks: 0, conn: null, timer: null,
            payload: {
                type: 'block_actions', user: { id: a.user, username: (USERS[a.user] || { name: a.user }).name, team_id: TEAM },
                api_app_id: APP, token: 'verification', trigger_id: `${Date.now()}.click`, team: { id: TEAM, domain: 'fake' },
                container: { type: 'message', message_ts: msg.ts, channel_id: msg.channel, is_ephemeral: false },
                channel: { id: msg.channel, name: 'general' },
                message: Object.assign({}, msg, { bot_id: BOT_ID }),
                response_url: `http://127.0.0.1:${server.address().port}/actions/${TEAM}/unused`,
                actions: [{ action_id: el.action_id, block_id: block.block_id || 'b', text: el.text, value: el.value,
                    type: 'button', action_ts: nextTs() }],
            },
        };
        envelopes.set(env.id, env);
        deliverEnvelope(env);
        return reply(res, 200, { ok: true, envelope: env.id });
    }
    case 'redeliver': {
        const env = envelopes.get(a.envelope_id);
        if (!env)
            return reply(res, 404, { ok: false, error: 'no such envelope' });
        deliverEnvelope(env);
        return reply(res, 200, { ok: true, attempts: env.attempts });
    }
    case 'storm':
        storm = a.p ? { p: a.p, seed: a.seed || 1, min_s: a.min_s || 1, max_s: a.max_s || 2,
            methods: new RegExp(a.methods || '^(chat|reactions)\\.') } : null;
        return reply(res, 200, { ok: true });
    case 'ratelimit':
        rateLimits.set(a.method, { retryAfter: a.retry_after || 1, count: a.count === undefined ? 1 : a.count });
        return reply(res, 200, { ok: true });
    case 'http_error':
        httpErrors.push({ method: a.method || null, status: a.status || 503,
            count: a.count === undefined ? 1 : a.count, after: !!a.after });
        return reply(res, 200, { ok: true });
    case 'open_error':
        openError = { error: a.error || 'invalid_auth', count: a.count === undefined ? -1 : a.count };
        return reply(res, 200, { ok: true });
    case 'disconnect': {
        const conn = newestConn(res);
        if (!conn)
            return undefined;
        conn.retiring = true;
        sendFrame(conn, { type: 'disconnect', reason: a.reason || 'refresh_requested',
            debug_info: { host: 'fake-slack' } });
        // Slack closes the old socket itself a little later if the app does not.
        setTimeout(() => { if (conn.closed_t === null) conn.ws.terminate(); }, opts.graceMs);
        return reply(res, 200, { ok: true, conn: conn.id });
    }
    case 'fault': {
        const conn = newestConn(res);
        if (!conn)
            return undefined;
        if (a.mode === 'abrupt') {
            conn.ws.terminate();
        } else if (a.mode === 'halfopen') {
            conn.halfOpen = true; // no frame either way from now on, TCP stays up
        } else if (a.mode === 'nofin') {
            conn.ws._socket.write(Buffer.from([0x88, 0x02, 0x03, 0xe8])); // close 1000, no FIN after
            conn.halfOpen = true;
            conn.ws._socket.removeAllListeners('data');
        } else {
            return reply(res, 400, { ok: false, error: 'mode: abrupt | halfopen | nofin' });
        }
        return reply(res, 200, { ok: true, conn: conn.id });
    }
    default:
        return reply(res, 404, { ok: false, error: 'unknown control' });
    }
}

// POST upload_url: raw bytes or a multipart form with one file part; 200 only when the
// bytes match the length given to getUploadURLExternal.
function uploadBytes(req, res, id, raw) {
    const u = pendingUploads.get(id);
    const ct = req.headers['content-type'] || '';
    const rec = { t: now(), id, status: 0, auth: !!req.headers.authorization, bytes: 0,
        multipart: /^multipart\/form-data/.test(ct) };
    uploadPosts.push(rec);
    let data = raw;
    if (rec.multipart) {
        const bm = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(ct);
        const delim = bm && Buffer.from('--' + (bm[1] || bm[2]).trim());
        const first = delim ? raw.indexOf(delim) : -1;
        const sep = first >= 0 ? raw.indexOf('\r\n\r\n', first) : -1;
        const end = sep >= 0 ? raw.indexOf(Buffer.concat([Buffer.from('\r\n'), delim]), sep) : -1;
        data = end >= 0 ? raw.slice(sep + 4, end) : null;
    }
    rec.bytes = data ? data.length : 0;
    if (!u || !data || data.length !== u.length) {
        rec.status = 400;
        res.writeHead(400, { 'Content-Type': 'text/plain' });
        return res.end(u ? 'length mismatch' : 'unknown upload');
    }
    u.data = data;
    rec.status = 200;
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(`OK - ${data.length}`);
}

const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
        const upm = /^\/upload\/v1\/(F\d+)$/.exec(req.url);
        if (upm && req.method === 'POST')
            return uploadBytes(req, res, upm[1], Buffer.concat(chunks));
        const body = Buffer.concat(chunks).toString('utf8');
        const url = new URL(req.url, 'http://127.0.0.1');
        let m;
        if ((m = /^\/api\/([A-Za-z.]+)$/.exec(url.pathname)) && req.method === 'POST')
            webApi(req, res, m[1], body, url.search);
        else if ((m = /^\/commands\/T111\/(\w+)\/(\w+)$/.exec(url.pathname)) && req.method === 'POST')
            responseUrl(req, res, m[1], m[2], body);
        else if (url.pathname.startsWith('/files-pri/') && req.method === 'GET')
            serveFile(req, res, url);
        else if ((m = /^\/_test\/([a-z_]+)$/.exec(url.pathname)))
            control(req, res, m[1], body);
        else
            reply(res, 404, { ok: false, error: 'not found' });
    });
});

const wss = new WebSocketServer({ noServer: true, autoPong: false });

server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const ticket = url.searchParams.get('ticket');
    if (url.pathname !== '/link/' || !tickets.has(ticket) || req.headers['sec-websocket-protocol']) {
        socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
        return;
    }
    tickets.delete(ticket); // single use
    wss.handleUpgrade(req, socket, head, (ws) => {
        const conn = { id: conns.length + 1, ws, open_t: now(), hello_t: null, closed_t: null, retiring: false,
            halfOpen: false, pingsIn: 0, pongsIn: 0 };
        conns.push(conn);
        ws.on('ping', (data) => {
            conn.pingsIn += 1;
            if (!conn.halfOpen)
                ws.pong(data);
        });
        ws.on('pong', () => { conn.pongsIn += 1; });
        ws.on('message', (data) => {
            if (conn.halfOpen)
                return;
            let obj = null;
            try {
                obj = JSON.parse(data.toString('utf8'));
            } catch (e) {
                obj = { unparsable: data.toString('utf8') };
            }
            frames.push({ t: now(), conn: conn.id, dir: 'in', data: obj });
            const env = obj && envelopes.get(obj.envelope_id);
            if (env) {
                env.acks += 1;
                clearTimeout(env.timer);
            }
        });
        ws.on('close', () => { conn.closed_t = now(); });
        ws.on('error', () => {});
        const pinger = setInterval(() => {
            if (conn.closed_t !== null)
                clearInterval(pinger);
            else if (!conn.halfOpen)
                ws.ping();
        }, opts.pingMs);
        conn.hello_t = now();
        sendFrame(conn, { type: 'hello', num_connections: liveConns().length,
            debug_info: { host: 'fake-slack', build_number: 1, approximate_connection_time: 18060 },
            connection_info: { app_id: APP } });
    });
});

server.listen(opts.port, '127.0.0.1', () => {
    process.stdout.write(`listening ${server.address().port}\n`);
});
setTimeout(() => process.exit(0), opts.maxRuntimeS * 1000).unref();
process.on('SIGTERM', () => process.exit(0));
