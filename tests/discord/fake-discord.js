#!/usr/bin/env node
// fake-discord.js: a loopback Discord (REST v10 + Gateway v10) for the chat-discord
// tests, written from Discord's documentation (see /work/shared/reference/discord.md
// §10), independently of the plugin. One server on 127.0.0.1 serves REST under
// /api/v10, the gateway (WebSocket upgrade on /gateway, resume on /resume) and a test
// control channel under /_test. It enforces what Discord enforces (auth, User-Agent,
// Content-Type, 2000 characters, percent-encoded emoji, rate limits, gateway client
// limits) and records every request and frame so tests can assert on them.
//
// Usage: node fake-discord.js --token TOKEN [--port N] [--heartbeat MS] [--lifetime S]
//            [--shards N] [--guilds N] [--max_concurrency N]
// Prints one JSON line {"port":N} on stdout once listening.
//
// Sharding as Discord does it: --shards N (> 1) requires Identify's `shard: [id, N]`
// (none: close 4011; a malformed or out-of-range one: 4010); each shard has its own
// session, guild events go to shard (guild_id >> 22) % N and direct messages to shard 0.
// With --shards > 1, Identifies of one bucket (shard_id % max_concurrency) less than 5 s
// apart get op 9
// (counted in counts.identify_too_fast). --guilds N adds guilds 1..N-1, each with one
// text channel (ids in GET /_test/state `guilds`), spread over the shards.
'use strict';

const crypto = require('crypto');
const http = require('http');
const path = require('path');
let WebSocketServer;
try {
    ({ WebSocketServer } = require('ws'));
} catch (e) {
    ({ WebSocketServer } = require(path.join(__dirname, '..', 'node_modules', 'ws')));
}

// ---- options ----
// interaction_ttl: how long an interaction token lives (Discord: 15 min), ms (0: dead at once);
// interaction_deadline: how long the first response may take (Discord: 3 s), ms.
const opts = { token: 'test-token', port: 0, heartbeat: 1000, lifetime: 600, shards: 0, guilds: 1,
    max_concurrency: 1, interaction_ttl: 15 * 60 * 1000, interaction_deadline: 3000 };
for (let i = 2; i < process.argv.length; i += 2) {
    const k = process.argv[i].replace(/^--/, '');
    const v = process.argv[i + 1];
    if (!(k in opts) || v === undefined) {
        process.stderr.write(`fake-discord: unknown or incomplete option ${process.argv[i]}\n`);
        process.exit(2);
    }
    opts[k] = typeof opts[k] === 'number' ? Number(v) : v;
}

const BOT = { id: '1000000000000000001', username: 'agent-bot', global_name: null,
    discriminator: '0', avatar: null, bot: true };
const GUILD_ID = '1100000000000000001';
const APP_ID = '1000000000000000001';
const MAX_LOG = 5000; // recorded requests / frames kept
const REACTION_SPACING_MS = 250;
const ROUTE_LIMIT = 50; // requests per bucket window (headers say so; 429 beyond)
const ROUTE_WINDOW_MS = 1000;

// ---- state ----
let nextId = 1400000000000000000n;
const newId = () => String(nextId++);
const started = Date.now();
const now = () => Date.now() - started; // ms since start, for records

const channels = new Map(); // id -> channel object
const messages = new Map(); // id -> message object (+ _reactions)
const nonces = new Map(); // nonce -> {id, at}
const sessions = new Map(); // session_id -> {seq, log[], resumable, conn}
let activeSession = null; // the newest session (the only one unsharded)
const shardSessions = new Map(); // shard id -> its current session (sharded bots)
const lastIdentify = new Map(); // rate-limit bucket -> ms of its last Identify
const counts = { identify: 0, identify_too_fast: 0, resume: 0, connections: 0, invalid_requests: 0,
    rate_limited: 0, window_violations: 0, exhausted_violations: 0, closes: {} };
const requests = []; // {t, method, path, status, body, auth, ua, ct}
const frames = []; // {t, conn, dir, op, t_name, s, d}
const scripted = []; // {method, re, count, retry_after, global, scope, multipart: uploads only}
const scripted5xx = []; // {method, path, count, status, after}: REST server errors
const appCommands = new Map(); // application id -> the registered commands
const interactions = new Map(); // id -> {id, token, at, responded, type, original, edits}
const CMD_NAME = /^[-_\p{Ll}\p{Lm}\p{Lo}\p{N}]{1,32}$/u; // CHAT_INPUT names: lower case
const routeWindows = new Map(); // bucket key -> {start, used}
const blockedUntil = new Map(); // bucket key -> ms (time of our 429 window end)
let globalBlockedUntil = 0;
// What the client was last told per bucket: {exhaustedUntil} (remaining 0 or a 429).
const told = new Map();
let toldGlobalUntil = 0;
// A 429 storm (POST /_test/storm): Discord's real message bucket (5 per 5 s, shared by
// a channel's message create and edit routes), random 429s with real headers on every
// route (scope user, shared or global) from a seeded generator, so runs repeat.
let storm = null; // {limit, window_ms, p, seed, global_every}
function stormRand() {
    storm.seed = (storm.seed * 1103515245 + 12345) % 2147483648;
    return storm.seed / 2147483648;
}
const lastReaction = new Map(); // channel -> ms
let connSeq = 0;
let refuseUntil = 0;
// CDN: attachment id -> {name, type, size, data (Buffer) | gen (bytes of a pattern)};
// URLs are signed like Discord's (?ex=&is=&hm=): a wrong or missing signature is a 404.
const cdnFiles = new Map();
const cdnGets = []; // {t, path, status, auth (an Authorization header was sent), bytes}
const CDN_KEY = crypto.randomBytes(16);
const cdnSig = (p, ex) => crypto.createHmac('sha256', CDN_KEY).update(`${p}|${ex}`).digest('hex');

function channel(id, type, extra) {
    const parent = extra && extra.parent_id && channels.get(extra.parent_id);
    const ch = Object.assign({ id, type, guild_id: parent ? parent.guild_id : GUILD_ID, name: `ch-${id.slice(-3)}`,
        position: 0, permission_overwrites: [], parent_id: null }, extra || {});
    channels.set(id, ch);
    return ch;
}
channel('1200000000000000009', 4, { name: 'category' });
channel('1200000000000000001', 0, { name: 'general', parent_id: '1200000000000000009' });
channel('1200000000000000002', 0, { name: 'other', parent_id: '1200000000000000009' });
// A thread someone else opened (not the bot's), known from GUILD_CREATE.
channel('1300000000000000100', 11, { name: 'human thread', parent_id: '1200000000000000001',
    owner_id: '1000000000000000002', thread_metadata: { archived: false,
        auto_archive_duration: 1440, archive_timestamp: new Date(started).toISOString(),
        locked: false }, message_count: 0, member_count: 1 });
// More guilds (--guilds): consecutive snowflake timestamps, so they spread over the shards.
const guilds = [GUILD_ID];
for (let k = 1; k < opts.guilds; k++) {
    const gid = String((((BigInt(GUILD_ID) >> 22n) + BigInt(k)) << 22n) | 1n);
    guilds.push(gid);
    channel(String(1200000000000001000n + BigInt(k)), 0, { name: `general-${k}`, guild_id: gid });
}
const shardOf = (guildId, n) => Number((BigInt(guildId) >> 22n) % BigInt(n));

function record(list, item) {
    list.push(item);
    if (list.length > MAX_LOG)
        list.shift();
}

// ---- gateway ----
// Send @payload; returns CLOCK_MONOTONIC in ns (a BigInt) just before the frame went to
// the socket, or null when it was not sent.
function gwSend(conn, payload) {
    if (conn.silent || conn.ws.readyState !== 1)
        return null;
    const text = JSON.stringify(payload);
    record(frames, { t: now(), conn: conn.id, dir: 'out', op: payload.op, name: payload.t || null,
        s: payload.s === undefined ? null : payload.s,
        mid: payload.t === 'MESSAGE_CREATE' ? payload.d.id : undefined,
        shard: conn.session && conn.session.shard ? conn.session.shard[0] : undefined });
    const sentNs = process.hrtime.bigint();
    conn.ws.send(text);
    return sentNs;
}

function gwClose(conn, code, reason) {
    counts.closes[code] = (counts.closes[code] || 0) + 1;
    record(frames, { t: now(), conn: conn.id, dir: 'close', op: null, code, reason });
    try {
        conn.ws.close(code, reason);
    } catch (e) { /* already closing */ }
}

// The session an event goes to: unsharded the active one; sharded the shard of its guild
// (guild_id >> 22) % shard_count, direct messages shard 0.
function sessionFor(d) {
    if (!shardSessions.size)
        return activeSession;
    const any = shardSessions.values().next().value;
    return shardSessions.get(d && d.guild_id ? shardOf(d.guild_id, any.shard[1]) : 0) || null;
}

// Send a dispatch on its session (buffered for resume when nobody listens).
// Returns gwSend()'s send time, or null.
function dispatch(t, d, to) {
    const sess = to || sessionFor(d);
    if (!sess)
        return null;
    const payload = { op: 0, t, s: ++sess.seq, d };
    sess.log.push(payload);
    if (sess.log.length > 1000)
        sess.log.shift();
    if (sess.conn && sess.conn.ready)
        return gwSend(sess.conn, payload);
    return null;
}

function guildCreate(gid) {
    const all = [...channels.values()].filter(c => c.guild_id === gid);
    return { id: gid, name: 'fake guild', unavailable: false, member_count: 3,
        channels: all.filter(c => !c.thread_metadata).map(c => Object.assign({}, c, { guild_id: undefined })),
        threads: all.filter(c => c.thread_metadata), members: [], roles: [] };
}

function onIdentify(conn, d) {
    if (conn.session) {
        gwClose(conn, 4005, 'Already authenticated.');
        return;
    }
    counts.identify++;
    if (!d || d.token !== opts.token) {
        gwClose(conn, 4004, 'Authentication failed.');
        return;
    }
    if (typeof d.intents !== 'number') {
        gwClose(conn, 4013, 'Invalid intent(s).');
        return;
    }
    let shard = null;
    if (d.shard !== undefined) {
        const [id, n] = Array.isArray(d.shard) ? d.shard : [];
        if (d.shard.length !== 2 || !Number.isInteger(id) || !Number.isInteger(n) || n < 1 || id < 0 ||
            id >= n || (opts.shards > 0 && n !== opts.shards)) {
            gwClose(conn, 4010, 'Invalid shard.');
            return;
        }
        shard = [id, n];
    } else if (opts.shards > 1) {
        gwClose(conn, 4011, 'Sharding required.');
        return;
    }
    const bucket = shard ? shard[0] % opts.max_concurrency : 0;
    const t = Date.now();
    if (opts.shards > 1 && lastIdentify.has(bucket) && t - lastIdentify.get(bucket) < 5000) {
        counts.identify_too_fast++;
        gwSend(conn, { op: 9, d: false });
        setTimeout(() => gwClose(conn, 4000, 'Invalid session.'), 500);
        return;
    }
    lastIdentify.set(bucket, t);
    const id = `sess-${newId()}`;
    const sess = { id, seq: 0, log: [], resumable: true, conn, intents: d.intents, shard };
    sessions.set(id, sess);
    activeSession = sess;
    if (shard)
        shardSessions.set(shard[0], sess);
    conn.session = sess;
    conn.ready = true;
    const mine = guilds.filter(g => !shard || shardOf(g, shard[1]) === shard[0]);
    dispatch('READY', { v: 10, user: BOT, guilds: mine.map(g => ({ id: g, unavailable: true })),
        session_id: id, resume_gateway_url: `ws://127.0.0.1:${server.address().port}/resume`,
        application: { id: APP_ID, flags: 0 }, shard: shard || undefined }, sess);
    for (const g of mine)
        dispatch('GUILD_CREATE', guildCreate(g), sess);
}

function onResume(conn, d) {
    if (conn.session) {
        gwClose(conn, 4005, 'Already authenticated.');
        return;
    }
    counts.resume++;
    conn.resumed = true;
    if (!d || d.token !== opts.token) {
        gwClose(conn, 4004, 'Authentication failed.');
        return;
    }
    const sess = sessions.get(d.session_id);
    if (!sess || !sess.resumable ||
        (sess.shard ? shardSessions.get(sess.shard[0]) !== sess : sess !== activeSession)) {
        gwSend(conn, { op: 9, d: false });
        setTimeout(() => gwClose(conn, 4000, 'Invalid session.'), 500);
        return;
    }
    if (typeof d.seq !== 'number' || d.seq > sess.seq || (sess.log.length && d.seq < sess.log[0].s - 1)) {
        gwClose(conn, 4007, 'Invalid seq.');
        return;
    }
    if (sess.conn && sess.conn !== conn) {
        sess.conn.ready = false; // the old connection no longer receives
        try { sess.conn.ws.terminate(); } catch (e) { /* gone */ }
    }
    sess.conn = conn;
    conn.session = sess;
    for (const p of sess.log)
        if (p.s > d.seq)
            gwSend(conn, p);
    conn.ready = true;
    const payload = { op: 0, t: 'RESUMED', s: ++sess.seq, d: {} };
    sess.log.push(payload);
    gwSend(conn, payload);
}

function onGatewayConnection(ws, req) {
    const conn = { id: ++connSeq, ws, session: null, ready: false, ack: true, silent: false,
        sends: [], path: req.url, resumed: false };
    counts.connections++;
    record(frames, { t: now(), conn: conn.id, dir: 'open', op: null, path: req.url });
    conns.add(conn);
    ws.on('message', (data, isBinary) => {
        const t = Date.now();
        conn.sends = conn.sends.filter(x => t - x < 60000);
        conn.sends.push(t);
        if (conn.silent)
            return;
        if (conn.sends.length > 120) {
            gwClose(conn, 4008, 'Rate limited.');
            return;
        }
        if (isBinary || data.length > 4096) {
            gwClose(conn, 4002, 'Error while decoding payload.');
            return;
        }
        let p;
        try {
            p = JSON.parse(data.toString('utf8'));
        } catch (e) {
            gwClose(conn, 4002, 'Error while decoding payload.');
            return;
        }
        record(frames, { t: now(), conn: conn.id, dir: 'in', op: p.op,
            d: p.op === 1 ? p.d : p.op === 6 ? { session_id: p.d && p.d.session_id, seq: p.d && p.d.seq }
                : p.op === 2 ? { intents: p.d && p.d.intents, properties: p.d && p.d.properties,
                    shard: p.d && p.d.shard } : undefined });
        switch (p.op) {
        case 1:
            if (conn.ack)
                gwSend(conn, { op: 11 });
            return;
        case 2:
            onIdentify(conn, p.d);
            return;
        case 6:
            onResume(conn, p.d);
            return;
        default:
            if (!conn.session) {
                gwClose(conn, 4003, 'Not authenticated.');
                return;
            }
            if (![3, 4, 8, 31].includes(p.op))
                gwClose(conn, 4001, 'Unknown opcode.');
        }
    });
    ws.on('close', (code) => {
        record(frames, { t: now(), conn: conn.id, dir: 'closed', code });
        conn.ready = false;
        conns.delete(conn);
        if (conn.session && conn.session.conn === conn)
            conn.session.conn = null;
    });
    ws.on('error', () => { /* the close event follows */ });
    gwSend(conn, { op: 10, d: { heartbeat_interval: opts.heartbeat, _trace: ['fake'] } });
}

const conns = new Set();
const currentConn = () => (activeSession && activeSession.conn) ||
    [...conns].filter(c => c.ws.readyState === 1).pop();

// A scripted gateway fault.
function fault(f) {
    const conn = currentConn();
    switch (f.kind) {
    case 'reconnect':
        if (!conn)
            return 'no connection';
        gwSend(conn, { op: 7, d: null });
        setTimeout(() => { if (conn.ws.readyState === 1) gwClose(conn, 4000, 'Reconnect'); }, 2000);
        return null;
    case 'invalid_session':
        if (!conn)
            return 'no connection';
        if (!f.resumable && conn.session)
            conn.session.resumable = false;
        gwSend(conn, { op: 9, d: !!f.resumable });
        setTimeout(() => { if (conn.ws.readyState === 1) gwClose(conn, 4000, 'Invalid session'); }, 2000);
        return null;
    case 'close':
        if (!conn)
            return 'no connection';
        if ((f.code === 4007 || f.code === 4009) && conn.session)
            conn.session.resumable = false;
        gwClose(conn, f.code, f.reason || `scripted ${f.code}`);
        return null;
    case 'drop': // TCP gone without a close frame
        if (!conn)
            return 'no connection';
        conn.ready = false;
        if (conn.session)
            conn.session.conn = null;
        record(frames, { t: now(), conn: conn.id, dir: 'drop' });
        conn.ws._socket.destroy();
        return null;
    case 'zombie': // keep delivering, stop ACKing heartbeats
        if (!conn)
            return 'no connection';
        conn.ack = false;
        return null;
    case 'zombie_deaf': // stop ACKing and stop delivering (dispatches wait for a resume);
        // the client's frames are still read
        if (!conn)
            return 'no connection';
        conn.ack = false;
        conn.ready = false;
        return null;
    case 'half_open': // send nothing, read nothing, keep TCP
        if (!conn)
            return 'no connection';
        conn.silent = true;
        conn.ready = false;
        conn.ws._socket.pause(); // not even a close frame is answered
        if (conn.session)
            conn.session.conn = null;
        return null;
    case 'heartbeat_request':
        if (!conn)
            return 'no connection';
        gwSend(conn, { op: 1, d: null });
        return null;
    case 'refuse': // new gateway connections fail for f.ms
        refuseUntil = Date.now() + (f.ms || 5000);
        return null;
    case 'auth_fail_next': // every later Identify/Resume fails with 4004 (a reset token)
        opts.token = `reset-${opts.token}`;
        return null;
    case 'rest_5xx': // the next f.count REST requests matching method/path answer f.status;
        // after: the request is carried out first and only its answer is lost
        scripted5xx.push({ method: f.method, path: f.path || '.', count: f.count || 1,
            status: f.status || 502, after: !!f.after });
        return null;
    default:
        return `unknown fault ${f.kind}`;
    }
}

// ---- REST ----
function unicodeLength(s) {
    return [...s].length;
}

function apiError(status, code, message, extra) {
    return { status, body: Object.assign({ code, message }, extra || {}) };
}

// The bucket key: route template plus the top-level resource (channel).
function bucketOf(method, p) {
    const m = p.match(/^\/channels\/(\d+)(\/.*)?$/);
    if (!m)
        return `${method} ${p}`;
    const rest = (m[2] || '').replace(/\/\d+/g, '/:id').replace(/\/reactions\/[^/]+\/@me$/, '/reactions/:emoji/@me');
    if (rest.startsWith('/messages/:id/reactions'))
        return `reactions ${m[1]}`; // one bucket for every reaction call in a channel
    // In a storm, posting and editing in a channel share one bucket (two routes, one
    // X-RateLimit-Bucket): the client must learn the sharing from the headers.
    if (storm && ((method === 'POST' && rest === '/messages') ||
                  (method === 'PATCH' && rest === '/messages/:id')))
        return `messages ${m[1]}`;
    return `${method} /channels/${m[1]}${rest}`;
}

function newMessage(channelId, author, content, extra) {
    const m = Object.assign({ id: newId(), channel_id: channelId,
        guild_id: (channels.get(channelId) || {}).guild_id || GUILD_ID, author,
        content, timestamp: new Date().toISOString(), edited_timestamp: null, tts: false,
        mention_everyone: false, mentions: [], mention_roles: [], attachments: [], embeds: [],
        pinned: false, type: 0, flags: 0 }, extra || {});
    messages.set(m.id, m);
    return m;
}

function publicMessage(m) {
    const out = Object.assign({}, m);
    delete out._nonce;
    return out;
}

// Message components (components.mdx): at most 5 action rows (type 1) of at most 5
// buttons (type 2); a button has style 1-5, a custom_id of 1-100 characters unique in the
// message (style 5: a url instead), and a label or an emoji. An error answer, or null.
function checkComponents(body) {
    if (body.components === undefined) return null;
    const bad = (why) => apiError(400, 50035, 'Invalid Form Body', { errors: { components: { _errors: [{ code: 'COMPONENT_INVALID', message: why }] } } });
    if (!Array.isArray(body.components) || body.components.length > 5) return bad('at most 5 action rows');
    const ids = new Set();
    for (const row of body.components) {
        if (!row || row.type !== 1 || !Array.isArray(row.components) || row.components.length < 1 || row.components.length > 5)
            return bad('an action row holds 1-5 components');
        for (const b of row.components) {
            if (!b || b.type !== 2 || !Number.isInteger(b.style) || b.style < 1 || b.style > 5) return bad('a button needs type 2 and style 1-5');
            if (b.style === 5 ? typeof b.url !== 'string' : (typeof b.custom_id !== 'string' || b.custom_id.length < 1 || unicodeLength(b.custom_id) > 100))
                return bad('custom_id must be 1-100 characters');
            if (b.custom_id !== undefined && ids.has(b.custom_id)) return bad('custom_id must be unique');
            ids.add(b.custom_id);
            if (!(typeof b.label === 'string' && b.label.length) && !(b.emoji && typeof b.emoji.name === 'string'))
                return bad('a button needs a label or an emoji');
        }
    }
    return null;
}

function checkContent(body) {
    if (!body || typeof body.content !== 'string' || body.content.length === 0)
        return apiError(400, 50006, 'Cannot send an empty message');
    if (unicodeLength(body.content) > 2000)
        return apiError(400, 50035, 'Invalid Form Body', { errors: { content: { _errors: [
            { code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 2000 or fewer in length.' }] } } });
    return null;
}

// Validate one application command as Discord does (application-commands.mdx):
// an error string, or null.
function commandProblem(c, seen) {
    if (!c || typeof c !== 'object') return 'not an object';
    if (c.type !== undefined && c.type !== 1) return `type ${c.type} is not CHAT_INPUT`;
    if (typeof c.name !== 'string' || !CMD_NAME.test(c.name)) return `invalid name ${JSON.stringify(c.name)}`;
    if (seen.has(c.name)) return `duplicate name ${c.name}`;
    seen.add(c.name);
    if (typeof c.description !== 'string' || unicodeLength(c.description) < 1 || unicodeLength(c.description) > 100)
        return `${c.name}: description must be 1-100 characters`;
    const opts_ = c.options === undefined ? [] : c.options;
    if (!Array.isArray(opts_) || opts_.length > 25) return `${c.name}: options must be an array of at most 25`;
    let optional = false;
    const names = new Set();
    for (const o of opts_) {
        if (!o || typeof o !== 'object' || !Number.isInteger(o.type) || o.type < 3 || o.type > 11)
            return `${c.name}: option type must be 3..11`;
        if (typeof o.name !== 'string' || !CMD_NAME.test(o.name) || names.has(o.name))
            return `${c.name}: invalid option name ${JSON.stringify(o.name)}`;
        names.add(o.name);
        if (typeof o.description !== 'string' || unicodeLength(o.description) < 1 || unicodeLength(o.description) > 100)
            return `${c.name}.${o.name}: description must be 1-100 characters`;
        if (o.required) { if (optional) return `${c.name}: required options must come first`; }
        else optional = true;
    }
    return null;
}

// The interaction named by id and token, or an error answer.
function interactionOf(id, token) {
    const it = interactions.get(id);
    if (!it || it.token !== token) return { err: apiError(404, 10062, 'Unknown interaction') };
    return { it };
}

function rest(method, p, body) {
    let m;
    if ((m = p.match(/^\/applications\/(\d+)\/commands$/)) && method === 'PUT') {
        if (m[1] !== APP_ID) return apiError(403, 50001, 'Missing Access');
        if (!Array.isArray(body) || body.length > 100)
            return apiError(400, 50035, 'Invalid Form Body', { errors: { _errors: [{ code: 'BASE_TYPE_BAD_ARRAY', message: 'at most 100 commands' }] } });
        const seen = new Set();
        for (const c of body) {
            const why = commandProblem(c, seen);
            if (why) return apiError(400, 50035, 'Invalid Form Body', { errors: { _errors: [{ code: 'INVALID_COMMAND', message: why }] } });
        }
        const stored = body.map(c => Object.assign({ id: newId(), application_id: APP_ID, type: 1, version: newId() }, c));
        appCommands.set(m[1], stored);
        return { status: 200, body: stored };
    }
    if ((m = p.match(/^\/interactions\/(\d+)\/([^/]+)\/callback$/)) && method === 'POST') {
        const { it, err } = interactionOf(m[1], m[2]);
        if (err) return err;
        // the first response must come within the deadline, once
        if (Date.now() - it.at > opts.interaction_deadline) { it.late = true; return apiError(404, 10062, 'Unknown interaction'); }
        if (it.responded) return apiError(400, 40060, 'Interaction has already been acknowledged.');
        const allowed = it.type === 3 ? [4, 5, 6, 7] : [4, 5];
        if (!body || !allowed.includes(body.type))
            return apiError(400, 50035, 'Invalid Form Body', { errors: { type: { _errors: [{ code: 'BASE_TYPE_CHOICES', message: 'Value must be one of {4, 5}.' }] } } });
        if (body.type === 4) { const bad = checkContent(body.data || {}); if (bad) return bad; }
        it.responded = body.type;
        it.original = body.type === 4 ? body.data.content : '';
        return { status: 204, body: null };
    }
    if ((m = p.match(/^\/webhooks\/(\d+)\/([^/]+)\/messages\/@original$/)) && method === 'PATCH') {
        const it = [...interactions.values()].find(x => x.token === m[2]);
        if (!it || m[1] !== APP_ID || Date.now() - it.at >= opts.interaction_ttl)
            return apiError(401, 50027, 'Invalid Webhook Token');
        if (!it.responded) return apiError(404, 10008, 'Unknown Message');
        const bad = checkContent(body);
        if (bad) return bad;
        it.original = body.content;
        it.edits++;
        return { status: 200, body: { id: it.id, content: body.content } };
    }
    if (method === 'GET' && p === '/gateway')
        return { status: 200, body: { url: `ws://127.0.0.1:${server.address().port}/gateway` } };
    if (method === 'GET' && p === '/gateway/bot')
        return { status: 200, body: { url: `ws://127.0.0.1:${server.address().port}/gateway`,
            shards: Math.max(opts.shards, 1), session_start_limit: { total: 1000,
                remaining: 1000 - counts.identify, reset_after: 14400000,
                max_concurrency: opts.max_concurrency } } };
    if ((m = p.match(/^\/channels\/(\d+)$/)) && method === 'GET') {
        const ch = channels.get(m[1]);
        return ch ? { status: 200, body: ch } : apiError(404, 10003, 'Unknown Channel');
    }
    if ((m = p.match(/^\/channels\/(\d+)\/messages$/))) {
        const ch = channels.get(m[1]);
        if (!ch)
            return apiError(404, 10003, 'Unknown Channel');
        if (method === 'GET') {
            const all = [...messages.values()].filter(x => x.channel_id === m[1]).reverse();
            return { status: 200, body: all.slice(0, 50).map(publicMessage) };
        }
        if (method !== 'POST')
            return apiError(405, 0, '405: Method Not Allowed');
        const uploads = body._files || [];
        const bad = (uploads.length && !body.content ? null : checkContent(body)) ||
            checkComponents(body);
        if (bad)
            return bad;
        if (body.nonce !== undefined && (String(body.nonce).length > 25))
            return apiError(400, 50035, 'Invalid Form Body');
        if (body.enforce_nonce && body.nonce !== undefined) {
            const seen = nonces.get(String(body.nonce));
            if (seen && Date.now() - seen.at < 5 * 60 * 1000)
                return { status: 200, body: publicMessage(messages.get(seen.id)) };
        }
        const msg = newMessage(m[1], BOT, body.content || '', { nonce: body.nonce,
            guild_id: ch.guild_id, components: body.components || [], attachments: uploads.map(f => {
                const meta = (body.attachments || []).find(a => Number(a.id) === f.n) || {};
                return { id: newId(), filename: meta.filename || f.filename, size: f.data.length,
                    content_type: f.type, url: `https://cdn.invalid/${f.filename}`,
                    sha256: crypto.createHash('sha256').update(f.data).digest('hex') };
            }) });
        msg._allowed_mentions = body.allowed_mentions;
        if (body.nonce !== undefined)
            nonces.set(String(body.nonce), { id: msg.id, at: Date.now() });
        dispatch('MESSAGE_CREATE', Object.assign(publicMessage(msg), { member: { roles: [] } }));
        return { status: 200, body: publicMessage(msg) };
    }
    if ((m = p.match(/^\/channels\/(\d+)\/messages\/(\d+)$/))) {
        const msg = messages.get(m[2]);
        if (!channels.has(m[1]))
            return apiError(404, 10003, 'Unknown Channel');
        if (!msg || msg.channel_id !== m[1])
            return apiError(404, 10008, 'Unknown Message');
        if (method === 'GET')
            return { status: 200, body: publicMessage(msg) };
        if (method !== 'PATCH')
            return apiError(405, 0, '405: Method Not Allowed');
        if (msg.author.id !== BOT.id)
            return apiError(403, 50005, 'Cannot edit a message authored by another user');
        const uploads = body._files || [];
        const bad = (uploads.length && !body.content ? null : checkContent(body)) ||
            checkComponents(body);
        if (bad)
            return bad;
        msg.content = body.content;
        if (body.components !== undefined)
            msg.components = body.components;
        msg.edited_timestamp = new Date().toISOString();
        msg._edits = (msg._edits || 0) + 1;
        dispatch('MESSAGE_UPDATE', publicMessage(msg));
        return { status: 200, body: publicMessage(msg) };
    }
    if ((m = p.match(/^\/channels\/(\d+)\/messages\/(\d+)\/threads$/)) && method === 'POST') {
        const parent = channels.get(m[1]);
        const msg = messages.get(m[2]);
        if (!parent)
            return apiError(404, 10003, 'Unknown Channel');
        if (!msg || msg.channel_id !== m[1])
            return apiError(404, 10008, 'Unknown Message');
        if (msg.thread)
            return apiError(400, 160004, 'A thread has already been created for this message');
        if (!body || typeof body.name !== 'string' || unicodeLength(body.name) < 1 ||
            unicodeLength(body.name) > 100)
            return apiError(400, 50035, 'Invalid Form Body');
        if (body.auto_archive_duration !== undefined &&
            ![60, 1440, 4320, 10080].includes(body.auto_archive_duration))
            return apiError(400, 50035, 'Invalid Form Body');
        const th = channel(msg.id, 11, { name: body.name, parent_id: m[1], owner_id: BOT.id,
            thread_metadata: { archived: false, auto_archive_duration: body.auto_archive_duration || 4320,
                archive_timestamp: new Date().toISOString(), locked: false,
                create_timestamp: new Date().toISOString() }, message_count: 0, member_count: 1,
            last_message_id: null, rate_limit_per_user: 0, flags: 0 });
        msg.thread = th;
        dispatch('THREAD_CREATE', Object.assign({ newly_created: true }, th));
        dispatch('MESSAGE_UPDATE', publicMessage(msg));
        return { status: 201, body: th };
    }
    if ((m = p.match(/^\/channels\/(\d+)\/messages\/(\d+)\/reactions\/([^/]+)\/@me$/))) {
        if (method !== 'PUT' && method !== 'DELETE')
            return apiError(405, 0, '405: Method Not Allowed');
        const msg = messages.get(m[2]);
        if (!channels.has(m[1]))
            return apiError(404, 10003, 'Unknown Channel');
        if (!msg || msg.channel_id !== m[1])
            return apiError(404, 10008, 'Unknown Message');
        const raw = m[3];
        let emoji;
        // Every byte that is not alphanumeric must come percent-encoded.
        if (!/^(?:[A-Za-z0-9_]|%[0-9A-Fa-f]{2})+$/.test(raw))
            return apiError(400, 10014, 'Unknown Emoji');
        try {
            emoji = decodeURIComponent(raw);
        } catch (e) {
            return apiError(400, 10014, 'Unknown Emoji');
        }
        // Unicode emoji only (or custom name:id): plain ASCII words are not emoji.
        if (!/[^\x00-\x7f]/.test(emoji) && !/^[A-Za-z0-9_]+:\d+$/.test(emoji))
            return apiError(400, 10014, 'Unknown Emoji');
        msg._reactions = msg._reactions || {};
        const users = new Set(msg._reactions[emoji] || []);
        if (method === 'PUT')
            users.add(BOT.id);
        else
            users.delete(BOT.id);
        msg._reactions[emoji] = [...users];
        const custom = emoji.match(/^(.+):(\d+)$/);
        dispatch(method === 'PUT' ? 'MESSAGE_REACTION_ADD' : 'MESSAGE_REACTION_REMOVE', {
            user_id: BOT.id, channel_id: m[1], message_id: m[2], guild_id: msg.guild_id || GUILD_ID,
            emoji: custom ? { id: custom[2], name: custom[1] } : { id: null, name: emoji } });
        return { status: 204, body: null };
    }
    if ((m = p.match(/^\/channels\/(\d+)\/typing$/)) && method === 'POST')
        return { status: 204, body: null };
    return apiError(404, 0, '404: Not Found');
}

// Rate-limit headers and enforcement for one request; returns a 429 answer or null.
function rateLimit(method, p, headers, multipart) {
    const t = Date.now();
    const key = bucketOf(method, p);
    const limit = storm && storm.limit ? storm.limit : ROUTE_LIMIT;
    const windowMs = storm && storm.window_ms ? storm.window_ms : ROUTE_WINDOW_MS;
    let w = routeWindows.get(key);
    if (!w || t - w.start >= windowMs)
        routeWindows.set(key, w = { start: t, used: 0 });
    const blocked = Math.max(blockedUntil.get(key) || 0, globalBlockedUntil);
    if (blocked > t)
        counts.window_violations++; // the client came back inside a window we announced
    // A request into a bucket the client was told is exhausted (remaining 0 or a 429,
    // and the window it was told about has not reset) — the scheduler must never do this.
    const tb = told.get(key);
    const known = Math.max(tb ? tb.exhaustedUntil : 0, toldGlobalUntil);
    headers._bucket = key;
    headers._known_exhausted = known > t;
    headers._remaining_before = limit - w.used;
    if (known > t)
        counts.exhausted_violations++;
    const resetAfter = Math.max(0, (w.start + windowMs - t) / 1000);
    headers['X-RateLimit-Bucket'] = Buffer.from(key.replace(/\d+/g, '')).toString('hex').slice(0, 32);
    headers['X-RateLimit-Limit'] = String(limit);
    headers['X-RateLimit-Reset'] = ((t / 1000) + resetAfter).toFixed(3);
    headers['X-RateLimit-Reset-After'] = resetAfter.toFixed(3);
    const too = (retryAfter, global, scope) => {
        counts.rate_limited++;
        if (global) {
            globalBlockedUntil = t + retryAfter * 1000;
            toldGlobalUntil = Math.max(toldGlobalUntil, t + retryAfter * 1000);
        } else {
            blockedUntil.set(key, t + retryAfter * 1000);
            told.set(key, { exhaustedUntil: t + retryAfter * 1000 });
        }
        headers['Retry-After'] = String(Math.ceil(retryAfter));
        // A shared or global limit is not this bucket's window: it keeps its count.
        headers['X-RateLimit-Remaining'] = scope === 'user' ? '0' : String(limit - w.used);
        headers['X-RateLimit-Scope'] = scope;
        if (global)
            headers['X-RateLimit-Global'] = 'true';
        return { status: 429, body: { message: 'You are being rate limited.',
            retry_after: retryAfter, global } };
    };
    for (const s of scripted) {
        if (s.count > 0 && (!s.method || s.method === method) && new RegExp(s.path).test(p) &&
            (!s.multipart || multipart)) {
            s.count--;
            return too(s.retry_after, !!s.global, s.global ? 'global' : 'user');
        }
    }
    if (key.startsWith('reactions ')) {
        const ch = key.slice(10);
        const last = lastReaction.get(ch) || 0;
        lastReaction.set(ch, t);
        if (t - last < REACTION_SPACING_MS)
            return too((REACTION_SPACING_MS - (t - last)) / 1000, false, 'user');
    }
    if (storm && storm.p > 0 && stormRand() < storm.p) {
        const ra = Math.round(200 + stormRand() * 1300) / 1000;
        storm.n = (storm.n || 0) + 1;
        if (storm.global_every && storm.n % storm.global_every === 0)
            return too(ra, true, 'global');
        return too(ra, false, stormRand() < 0.5 ? 'shared' : 'user');
    }
    if (w.used >= limit)
        return too(resetAfter || 0.001, false, 'user');
    w.used++;
    headers['X-RateLimit-Remaining'] = String(limit - w.used);
    if (w.used >= limit)
        told.set(key, { exhaustedUntil: w.start + windowMs });
    return null;
}

// The scripted server error for this request, if one is armed (used up one at a time).
function take5xx(method, p) {
    for (const f of scripted5xx) {
        if (f.count > 0 && (!f.method || f.method === method) && new RegExp(f.path).test(p)) {
            f.count--;
            return f;
        }
    }
    return null;
}

function send(res, status, body, headers) {
    const h = Object.assign({}, headers || {});
    let text = '';
    if (body !== null && body !== undefined) {
        text = JSON.stringify(body);
        h['Content-Type'] = 'application/json';
    }
    h['Content-Length'] = Buffer.byteLength(text);
    res.writeHead(status, h);
    res.end(text);
}

function handleApi(req, res, raw) {
    const url = new URL(req.url, 'http://127.0.0.1');
    const p = url.pathname.slice('/api/v10'.length) || '/';
    const method = req.method;
    const auth = req.headers.authorization || '';
    const ua = req.headers['user-agent'] || '';
    const ct = req.headers['content-type'] || '';
    const rec = { t: now(), method, path: p, query: url.search, auth: auth === `Bot ${opts.token}`,
        ua, ct, body: null, status: 0 };
    record(requests, rec);
    const answer = (status, body, headers) => {
        rec.status = status;
        if (status === 401 || status === 403 || status === 429)
            counts.invalid_requests++;
        send(res, status, body, headers);
    };
    const headers = {};
    if (p !== '/gateway' && auth !== `Bot ${opts.token}`)
        return answer(401, { message: '401: Unauthorized', code: 0 });
    if (!/^DiscordBot \(\S+, \S+\)$/.test(ua))
        return answer(403, { message: 'Missing or invalid User-Agent', code: 0 });
    let body = null;
    if (raw.length && /^multipart\/form-data\b/.test(ct)) {
        const form = parseMultipart(raw, ct);
        if (form.error)
            return answer(form.status || 400, form.error);
        body = form.body;
        rec.body = Object.assign({}, body, { _files: body._files.map(f => ({ n: f.n,
            filename: f.filename, type: f.type, size: f.data.length })) });
        rec.multipart = true;
    } else if (raw.length) {
        if (!/^application\/json\b/.test(ct))
            return answer(400, { code: 50035, message: 'Invalid Form Body',
                errors: { _errors: [{ code: 'CONTENT_TYPE_INVALID', message: 'Expected "Content-Type" header to be one of {\'application/json\'}.' }] } });
        try {
            body = JSON.parse(raw.toString('utf8'));
        } catch (e) {
            return answer(400, { code: 50109, message: 'The request body contains invalid JSON.' });
        }
        rec.body = body;
    }
    const broken = take5xx(method, p);
    const fail5xx = () => {
        counts.server_errors = (counts.server_errors || 0) + 1;
        rec.fault = broken.after ? 'after' : 'before';
        answer(broken.status, { message: `${broken.status}: scripted server error`, code: 0 });
    };
    if (broken && !broken.after)
        return fail5xx();
    const limited = rateLimit(method, p, headers, !!rec.multipart);
    rec.bucket = headers._bucket;
    rec.known_exhausted = headers._known_exhausted;
    rec.remaining_before = headers._remaining_before;
    delete headers._bucket;
    delete headers._known_exhausted;
    delete headers._remaining_before;
    if (limited)
        return answer(limited.status, limited.body, headers);
    const r = rest(method, p, body);
    if (broken && r.status < 300)
        return fail5xx();
    answer(r.status, r.body, headers);
}

// ---- multipart uploads (Create Message with files) ----
const MAX_UPLOAD_FILE = 10 * 1024 * 1024; // per file without Boost
const MAX_UPLOAD_REQUEST = 25 * 1024 * 1024;
const MAX_UPLOAD_FILES = 10;

// Parse a multipart/form-data body as Discord reads it: payload_json (the JSON body)
// and files[n] parts, each with a filename; the attachments array's ids name the parts.
// Returns {body} (body._files = [{n, filename, type, data}]) or {status, error}.
function parseMultipart(raw, ct) {
    const bm = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(ct);
    const bad = (message, code, status) => ({ status: status || 400,
        error: { code: code || 50035, message } });
    if (!bm)
        return bad('Invalid Form Body: no boundary');
    if (raw.length > MAX_UPLOAD_REQUEST)
        return bad('Request entity too large', 40005, 413);
    const delim = Buffer.from('--' + (bm[1] || bm[2]).trim());
    const parts = [];
    let at = raw.indexOf(delim);
    while (at >= 0) {
        let start = at + delim.length;
        if (raw.slice(start, start + 2).toString() === '--')
            break;
        start += 2; // CRLF
        const next = raw.indexOf(delim, start);
        if (next < 0)
            return bad('Invalid Form Body: unterminated part');
        const part = raw.slice(start, next - 2); // CRLF before the delimiter
        const sep = part.indexOf('\r\n\r\n');
        if (sep < 0)
            return bad('Invalid Form Body: part without headers');
        const head = part.slice(0, sep).toString('utf8');
        const disp = /content-disposition:\s*form-data;([^\r\n]*)/i.exec(head);
        const name = disp && /\bname="([^"]*)"/.exec(disp[1]);
        const filename = disp && /\bfilename="([^"]*)"/.exec(disp[1]);
        const type = /content-type:\s*([^\r\n]+)/i.exec(head);
        if (!name)
            return bad('Invalid Form Body: part without a name');
        parts.push({ name: name[1], filename: filename ? filename[1] : null,
            type: type ? type[1].trim() : null, data: part.slice(sep + 4) });
        at = next;
    }
    const pj = parts.find(x => x.name === 'payload_json');
    let body = {};
    if (pj) {
        try {
            body = JSON.parse(pj.data.toString('utf8'));
        } catch (e) {
            return bad('The request body contains invalid JSON.', 50109);
        }
    }
    const files = [];
    for (const x of parts) {
        const fm = /^files\[(\d+)\]$/.exec(x.name);
        if (!fm)
            continue;
        if (!x.filename)
            return bad('Invalid Form Body: files[n] needs a filename');
        if (files.some(f => f.n === Number(fm[1])))
            return bad('Invalid Form Body: duplicate files[n]');
        if (x.data.length > MAX_UPLOAD_FILE)
            return bad('Request entity too large', 40005, 413);
        files.push({ n: Number(fm[1]), filename: x.filename, type: x.type, data: x.data });
    }
    if (files.length > MAX_UPLOAD_FILES)
        return bad('Maximum number of attachments in a message reached (10)', 30015);
    for (const a of body.attachments || [])
        if (!files.some(f => f.n === Number(a.id)))
            return bad('Invalid Form Body: attachments[].id names no files[n] part');
    body._files = files;
    return { body };
}

// ---- CDN (attachments) ----
// An attachment object as Discord sends it, its bytes kept for the CDN. @a: {filename,
// content_type, data_b64 | text | gen_bytes, size (declared; default the real size)}.
function cdnAttachment(chId, a) {
    const id = newId();
    const data = a.data_b64 !== undefined ? Buffer.from(a.data_b64, 'base64')
        : a.text !== undefined ? Buffer.from(a.text, 'utf8') : null;
    const real = data ? data.length : (a.gen_bytes || 0);
    const name = a.filename || 'file.bin';
    const p = `/attachments/${chId}/${id}/${encodeURIComponent(name)}`;
    const ex = (Math.floor(Date.now() / 1000) + 86400).toString(16);
    cdnFiles.set(id, { name, type: a.content_type, data, gen: data ? 0 : real });
    const out = { id, filename: name, size: a.size === undefined ? real : a.size,
        url: `http://127.0.0.1:${server.address().port}${p}?ex=${ex}&is=${ex}&hm=${cdnSig(p, ex)}&`,
        proxy_url: `http://127.0.0.1:${server.address().port}${p}` };
    if (a.content_type)
        out.content_type = a.content_type;
    if (a.duration_secs)
        out.duration_secs = a.duration_secs;
    return out;
}

// GET /attachments/<channel>/<id>/<name>?ex&is&hm: the bytes, streamed (large ones are
// generated chunk by chunk, never held whole).
function cdn(req, res) {
    const url = new URL(req.url, 'http://127.0.0.1');
    const m = url.pathname.match(/^\/attachments\/(\d+)\/(\d+)\/[^/]+$/);
    const rec = { t: now(), path: url.pathname, status: 0, auth: !!req.headers.authorization,
        bytes: 0 };
    record(cdnGets, rec);
    const f = m && cdnFiles.get(m[2]);
    const ex = url.searchParams.get('ex') || '';
    const ok = f && req.method === 'GET' && url.searchParams.get('hm') === cdnSig(url.pathname, ex) &&
        parseInt(ex, 16) * 1000 > Date.now();
    if (!ok) {
        rec.status = 404;
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        return res.end('This content is no longer available.');
    }
    const size = f.data ? f.data.length : f.gen;
    rec.status = 200;
    rec.bytes = size;
    res.writeHead(200, { 'Content-Type': f.type || 'application/octet-stream',
        'Content-Length': size });
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

// ---- control channel ----
function control(req, res, raw) {
    const url = new URL(req.url, 'http://127.0.0.1');
    let body = {};
    try {
        body = raw.length ? JSON.parse(raw.toString('utf8')) : {};
    } catch (e) {
        return send(res, 400, { error: 'bad json' });
    }
    switch (`${req.method} ${url.pathname}`) {
    case 'GET /_test/messages': // the messages alone (cheap to poll for hours)
    case 'GET /_test/state': {
        const msgs = [...messages.values()].map(m => ({ id: m.id, channel_id: m.channel_id,
            author_id: m.author.id, content: m.content, thread: m.thread ? m.thread.id : null,
            attachments: m.attachments,
            reactions: m._reactions || {}, edits: m._edits || 0, nonce: m.nonce,
            components: m.components || [],
            allowed_mentions: m._allowed_mentions }));
        if (url.pathname === '/_test/messages')
            return send(res, 200, { counts, messages: msgs,
                connected: !!(activeSession && activeSession.conn && activeSession.conn.ready) });
        const shards = {};
        for (const [k, v] of shardSessions)
            shards[k] = { session: v.id, count: v.shard[1], intents: v.intents,
                connected: !!(v.conn && v.conn.ready) };
        return send(res, 200, { counts, requests, frames, messages: msgs, guilds, shards,
            channels: [...channels.values()], cdn_gets: cdnGets,
            seq: activeSession ? activeSession.seq : 0,
            session: activeSession ? activeSession.id : null,
            connected: !!(activeSession && activeSession.conn && activeSession.conn.ready) });
    }
    case 'POST /_test/message': { // a message as from a human (or another bot)
        const chId = body.channel_id || '1200000000000000001';
        const ch = channels.get(chId);
        if (!ch && !body.dm)
            return send(res, 404, { error: 'unknown channel' });
        const author = Object.assign({ id: '1000000000000000002', username: 'alice',
            global_name: 'Alice', discriminator: '0', avatar: null }, body.author || {});
        const mentions = (body.mentions || []).map(id => id === BOT.id ? BOT
            : { id, username: `user${id.slice(-3)}`, discriminator: '0', avatar: null });
        const attachments = (body.attachments || []).map(a => cdnAttachment(chId, a));
        const msg = newMessage(chId, author, body.content || '', { mentions,
            mention_roles: body.mention_roles || [], type: body.type || 0, attachments,
            flags: body.voice ? 1 << 13 : 0 });
        const d = Object.assign(publicMessage(msg), body.dm ? {} : { member: {
            nick: body.nick === undefined ? null : body.nick, roles: [],
            joined_at: new Date(started).toISOString(), deaf: false, mute: false, flags: 0 } });
        if (body.dm)
            delete d.guild_id;
        const sentNs = dispatch('MESSAGE_CREATE', d);
        if (body.thread_by_other) { // another bot opens the thread first (the 160004 race)
            const th = channel(msg.id, 11, { name: 'raced', parent_id: chId,
                owner_id: '1000000000000000099', thread_metadata: { archived: false,
                    auto_archive_duration: 1440, archive_timestamp: new Date().toISOString(),
                    locked: false }, message_count: 0, member_count: 1 });
            msg.thread = th;
            dispatch('THREAD_CREATE', Object.assign({ newly_created: true }, th));
        }
        // sent_ns: when the MESSAGE_CREATE frame went to the gateway socket (CLOCK_MONOTONIC)
        return send(res, 200, Object.assign(publicMessage(msg),
            sentNs === null ? {} : { sent_ns: String(sentNs) }));
    }
    case 'POST /_test/reaction': {
        const msg = messages.get(body.message_id);
        if (!msg)
            return send(res, 404, { error: 'unknown message' });
        dispatch('MESSAGE_REACTION_ADD', { user_id: body.user_id || '1000000000000000002',
            channel_id: msg.channel_id, message_id: msg.id, guild_id: msg.guild_id || GUILD_ID,
            emoji: { id: null, name: body.emoji } });
        return send(res, 200, { ok: true });
    }
    case 'POST /_test/interaction': { // a user runs /name [arg] in channel_id
        const chId = body.channel_id || '1200000000000000001';
        const ch = channels.get(chId);
        if (!ch) return send(res, 404, { error: 'unknown channel' });
        const cmd = (appCommands.get(APP_ID) || []).find(c => c.name === body.name);
        if (!cmd && !body.unregistered) return send(res, 409, { error: `command /${body.name} is not registered` });
        const user = Object.assign({ id: '1000000000000000002', username: 'alice', global_name: 'Alice',
            discriminator: '0', avatar: null }, body.user || {});
        const id = newId();
        const token = 'aW50ZXJhY3Rpb246' + require('crypto').randomBytes(24).toString('hex');
        const options = body.value === undefined || !cmd || !cmd.options ? undefined
            : [{ name: cmd.options[0].name, type: 3, value: body.value }];
        interactions.set(id, { id, token, at: Date.now(), responded: 0, original: null, edits: 0,
            name: body.name, channel_id: chId });
        dispatch('INTERACTION_CREATE', { id, application_id: APP_ID, type: 2, token, version: 1,
            guild_id: GUILD_ID, channel_id: chId, channel: ch, locale: 'en-US',
            member: { user, roles: [], permissions: '0', nick: null, joined_at: new Date(started).toISOString() },
            data: Object.assign({ id: cmd ? cmd.id : newId(), name: body.name, type: 1 }, options ? { options } : {}) });
        return send(res, 200, { id });
    }
    case 'POST /_test/click': { // a user clicks the button custom_id on message_id
        const msg = messages.get(body.message_id);
        if (!msg) return send(res, 404, { error: 'unknown message' });
        const button = (msg.components || []).flatMap(r => r.components).find(b => b.custom_id === body.custom_id);
        if (!button) return send(res, 409, { error: 'no such button on the message' });
        const user = Object.assign({ id: '1000000000000000002', username: 'alice', global_name: 'Alice',
            discriminator: '0', avatar: null }, body.user || {});
        const id = newId();
        const token = 'aW50ZXJhY3Rpb246' + require('crypto').randomBytes(24).toString('hex');
        interactions.set(id, { id, token, type: 3, at: Date.now(), responded: 0, original: null, edits: 0,
            name: body.custom_id, channel_id: msg.channel_id });
        dispatch('INTERACTION_CREATE', { id, application_id: APP_ID, type: 3, token, version: 1,
            guild_id: GUILD_ID, channel_id: msg.channel_id, channel: channels.get(msg.channel_id),
            member: { user, roles: [], permissions: '0', nick: null, joined_at: new Date(started).toISOString() },
            message: publicMessage(msg), data: { custom_id: body.custom_id, component_type: 2 } });
        return send(res, 200, { id });
    }
    case 'GET /_test/interactions':
        return send(res, 200, { commands: appCommands.get(APP_ID) || null,
            interactions: [...interactions.values()].map(x => ({ id: x.id, name: x.name, responded: x.responded,
                original: x.original, edits: x.edits, late: !!x.late, age_ms: Date.now() - x.at })) });
    case 'POST /_test/fault': {
        const err = fault(body);
        return send(res, err ? 409 : 200, err ? { error: err } : { ok: true });
    }
    case 'POST /_test/channel': // a channel the gateway never announces (needs a lookup)
        channel(body.id, body.type === undefined ? 0 : body.type, body.extra || {});
        return send(res, 200, { ok: true });
    case 'POST /_test/storm': // {limit, window_ms, p, seed, global_every}; {} ends it
        storm = body.p === undefined && !body.limit ? null : { limit: body.limit || 0,
            window_ms: body.window_ms || 0, p: body.p || 0, seed: body.seed || 1,
            global_every: body.global_every || 0 };
        return send(res, 200, { ok: true });
    case 'POST /_test/ratelimit':
        scripted.push({ method: body.method, path: body.path || '.', count: body.count || 1,
            retry_after: body.retry_after || 1, global: !!body.global,
            multipart: !!body.multipart });
        return send(res, 200, { ok: true });
    default:
        return send(res, 404, { error: 'no such control endpoint' });
    }
}

const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', c => chunks.push(c));
    req.on('end', () => {
        const raw = Buffer.concat(chunks);
        if (req.url.startsWith('/_test/'))
            return control(req, res, raw);
        if (req.url.startsWith('/attachments/'))
            return cdn(req, res);
        if (req.url.startsWith('/api/v10/'))
            return handleApi(req, res, raw);
        send(res, 404, { message: '404: Not Found', code: 0 });
    });
});

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
server.on('upgrade', (req, socket, head) => {
    if (Date.now() < refuseUntil) {
        record(frames, { t: now(), conn: 0, dir: 'refused', path: req.url });
        socket.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n');
        return;
    }
    if (!/^\/(gateway|resume)\/?(\?|$)/.test(req.url)) {
        socket.destroy();
        return;
    }
    wss.handleUpgrade(req, socket, head, ws => onGatewayConnection(ws, req));
});

server.listen(opts.port, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});

// Bounded life: never outlive a forgotten test.
setTimeout(() => process.exit(0), opts.lifetime * 1000).unref();
process.on('SIGTERM', () => process.exit(0));
