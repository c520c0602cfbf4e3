#!/usr/bin/env node
// fake-telegram.js: a loopback Telegram Bot API for the chat-telegram tests, written from
// /work/shared/reference/telegram.md, independently of the plugin. It validates requests
// the way the Bot API server does (token in the path, method names, parameter types,
// the 4096-character limit, entities and MarkdownV2, reply and topic targets) and
// misbehaves on command (429 with parameters.retry_after). Updates go out by long polling
// (getUpdates) or, once setWebhook named a URL, by POSTing each one alone to it with the
// X-Telegram-Bot-Api-Secret-Token header, retried with doubling delays (from --retry-ms,
// capped at --retry-max-ms; a Retry-After in the answer is honoured) until a 2xx confirms
// it; getUpdates is refused with 409 meanwhile. --local 1 is the local Bot API server,
// which allows http:// webhooks on any port (the tests' ingress); --local 0 wants https on
// 443, 80, 88 or 8443, as api.telegram.org.
//
//   node fake-telegram.js [--port N] [--max-runtime-s 600] [--privacy 0|1] [--local 1]
//                         [--retry-ms 200] [--retry-max-ms 2000]
//
// Prints "listening PORT" once ready. Bot API at /bot<token>/<method>; the test drives
// it through /_test/… (JSON in, JSON out):
//   POST /_test/message  {chat, user, text, reply_to?, thread?, entities?}
//                        → {message_id, update_id|null}   (mentions of @broker_bot and a
//                        leading /command get their entities as Telegram computes them)
//   POST /_test/topic    {chat, name, user?} → {thread}   a forum topic and its service
//                        message (user 999000: the bot created it)
//   POST /_test/reaction {chat, message_id, user, emoji}
//   POST /_test/ratelimit {method, count, retry_after}   the next count calls → 429;
//                        {clear: true} forgets every such order
//   POST /_test/reject_entities {count}  the next count texts with entities or a
//                        parse_mode get 400 "can't parse entities"
//   POST /_test/storm    {p, seed, min_s, max_s}  random 429s on send/edit/react; {} ends
//   POST /_test/lose_answers {count, retry_ms?}  the next count webhook answers are lost
//                        (as if the connection dropped after the bot answered): delivered
//                        again, after retry_ms when given
//   GET  /_test/state    requests, chats' messages, updates, offset, polls, webhook,
//                        deliveries [{update_id, status, t}]
// Chats: 111 (alice, private), 222 (bob, private), -4001 (group "plain"),
// -1001000 (supergroup forum "forum", topic 7 "work" exists). Users 111, 222, 333 (a bot).
'use strict';

const http = require('http');

const opts = { port: 0, maxRuntimeS: 600, privacy: 0, local: 1, retryMs: 200, retryMaxMs: 2000 };
for (let i = 2; i < process.argv.length; i += 2) {
    const key = process.argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    const val = Number(process.argv[i + 1]);
    if (!(key in opts) || !Number.isFinite(val)) {
        process.stderr.write(`fake-telegram: bad option ${process.argv[i]}\n`);
        process.exit(2);
    }
    opts[key] = val;
}

const TOKEN = '999000:AAFakeTokenForTestsOnly_abcdefghijklmno';
const BOT = { id: 999000, is_bot: true, first_name: 'Broker', username: 'broker_bot' };
const USERS = {
    111: { id: 111, is_bot: false, first_name: 'Alice', last_name: 'A', username: 'alice' },
    222: { id: 222, is_bot: false, first_name: 'Bob' },
    333: { id: 333, is_bot: true, first_name: 'Other', username: 'other_bot' },
};
const MAX_TEXT = 4096;
const ALLOWED_REACTIONS = new Set(['❤', '👍', '👎', '🔥', '🥰', '👏', '😁', '🤔', '🤯', '😱', '🤬',
    '😢', '🎉', '🤩', '🤮', '💩', '🙏', '👌', '🕊', '🤡', '🥱', '🥴', '😍', '🐳', '❤‍🔥', '🌚', '🌭',
    '💯', '🤣', '⚡', '🍌', '🏆', '💔', '🤨', '😐', '🍓', '🍾', '💋', '🖕', '😈', '😴', '😭', '🤓',
    '👻', '👨‍💻', '👀', '🎃', '🙈', '😇', '😨', '🤝', '✍', '🤗', '🫡', '🎅', '🎄', '☃', '💅', '🤪',
    '🗿', '🆒', '💘', '🙉', '🦄', '😘', '💊', '🙊', '😎', '👾', '🤷‍♂', '🤷', '🤷‍♀', '😡']);
const ENTITY_TYPES = new Set(['mention', 'hashtag', 'cashtag', 'bot_command', 'url', 'email',
    'phone_number', 'bold', 'italic', 'underline', 'strikethrough', 'spoiler', 'blockquote',
    'expandable_blockquote', 'code', 'pre', 'text_link', 'text_mention', 'custom_emoji']);
const ACTIONS = new Set(['typing', 'upload_photo', 'record_video', 'upload_video', 'record_voice',
    'upload_voice', 'upload_document', 'choose_sticker', 'find_location', 'record_video_note',
    'upload_video_note']);
const UPDATE_TYPES = ['message', 'edited_message', 'channel_post', 'callback_query',
    'my_chat_member', 'message_reaction', 'chat_member'];

const t0 = Date.now();
const now = () => Date.now() - t0;
const chats = new Map();
function addChat(c) { chats.set(c.id, Object.assign({ messages: new Map(), next: 1, topics: new Map() }, c)); }
addChat({ id: 111, type: 'private', first_name: 'Alice', username: 'alice' });
addChat({ id: 222, type: 'private', first_name: 'Bob' });
addChat({ id: -4001, type: 'group', title: 'plain' });
addChat({ id: -1001000, type: 'supergroup', title: 'forum', is_forum: true });

const requests = [];
const updates = [];        // {update_id, type, payload, returned}
let nextUpdateId = 500;
let offset = 0;            // every update below this is confirmed (deleted)
let allowedUpdates = null; // null: the default (all but chat_member, message_reaction*)
let poll = null;           // the waiting getUpdates: {res, timer, params}
let polls = 0;
const ratelimits = [];     // {method, count, retry_after}
let storm = null;
let rejectEntities = 0;   // the next N formatted texts are refused as unparsable
let webhook = null;       // {url, secret, max_connections, last_error_date, last_error_message}
let webhookSerial = 0;    // a new setWebhook/deleteWebhook stops the old deliveries
const deliveries = [];    // {update_id, status, t} per webhook POST
let loseAnswers = 0;      // the next N webhook answers are lost
let loseRetryMs = 0;      // and retried after this long (0: the usual backoff)

function chatInfo(c) {
    const o = { id: c.id, type: c.type };
    for (const k of ['title', 'username', 'first_name', 'is_forum'])
        if (c[k] !== undefined) o[k] = c[k];
    return o;
}

// UTF-16 length, as entity offsets count; code points, as the text limit counts
const u16 = (s) => s.length;
const codePoints = (s) => [...s].length;

function reply(res, status, body, headers = {}) {
    const data = Buffer.from(JSON.stringify(body));
    res.writeHead(status, Object.assign({ 'Content-Type': 'application/json',
        'Content-Length': data.length }, headers));
    res.end(data);
}
function fail(code, description, parameters) {
    const e = new Error(description);
    e.tg = { ok: false, error_code: code, description };
    if (parameters) e.tg.parameters = parameters;
    throw e;
}
const bad = (what) => fail(400, 'Bad Request: ' + what);

// Parameters from the query, a form body or a JSON body; objects in the first two are
// JSON-serialized strings.
function parseParams(req, body, url) {
    const p = {};
    for (const [k, v] of url.searchParams) p[k] = v;
    const ct = (req.headers['content-type'] || '').split(';')[0].trim();
    if (body.length === 0) return { p, json: false };
    if (ct === 'application/json') {
        let obj;
        try { obj = JSON.parse(body.toString('utf8')); } catch (e) { bad("can't parse JSON request body"); }
        if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) bad('JSON body must be an object');
        return { p: Object.assign(p, obj), json: true };
    }
    if (ct === 'application/x-www-form-urlencoded') {
        for (const [k, v] of new URLSearchParams(body.toString('utf8'))) p[k] = v;
        return { p, json: false };
    }
    bad('unsupported Content-Type ' + ct);
}

// Typed parameter readers.
function int(p, name, required) {
    const v = p[name];
    if (v === undefined || v === null || v === '') {
        if (required) bad(`parameter "${name}" is required`);
        return undefined;
    }
    const n = typeof v === 'number' ? v : (/^-?\d+$/.test(String(v)) ? Number(v) : NaN);
    if (!Number.isSafeInteger(n)) bad(`field "${name}" must be of type Integer`);
    return n;
}
function str(p, name, required) {
    const v = p[name];
    if (v === undefined || v === null) {
        if (required) bad(`parameter "${name}" is required`);
        return undefined;
    }
    if (typeof v !== 'string') bad(`field "${name}" must be of type String`);
    return v;
}
function obj(p, name, json, kind) {
    let v = p[name];
    if (v === undefined || v === null) return undefined;
    if (!json || typeof v === 'string') {
        if (typeof v !== 'string') bad(`field "${name}" must be of type ${kind}`);
        try { v = JSON.parse(v); } catch (e) { bad(`can't parse ${name} JSON object`); }
    }
    if (kind === 'Array' ? !Array.isArray(v) : (typeof v !== 'object' || Array.isArray(v) || v === null))
        bad(`field "${name}" must be of type ${kind}`);
    return v;
}
function getChat(p) {
    const id = p.chat_id;
    if (id === undefined) bad('chat_id is empty');
    let c;
    if (typeof id === 'string' && id.startsWith('@'))
        c = [...chats.values()].find((x) => x.username === id.slice(1));
    else c = chats.get(int(p, 'chat_id', true));
    if (!c) bad('chat not found');
    return c;
}

// Entities: types, bounds in UTF-16 units, proper nesting, nothing inside pre/code.
function checkEntities(text, entities) {
    const len = u16(text);
    const list = entities.map((e) => {
        if (!e || typeof e !== 'object') bad("can't parse entities: entity must be an object");
        if (!ENTITY_TYPES.has(e.type)) bad(`can't parse entities: unsupported entity type "${e.type}"`);
        if (!Number.isSafeInteger(e.offset) || !Number.isSafeInteger(e.length) || e.offset < 0 || e.length <= 0)
            bad("can't parse entities: wrong entity offset or length");
        if (e.offset + e.length > len) bad("can't parse entities: entity beyond the end of the text");
        if (e.type === 'text_link' && !(typeof e.url === 'string' && /^(https?|tg):\/\/\S+$/.test(e.url)))
            bad("can't parse entities: wrong HTTP URL");
        if (e.type === 'pre' && e.language !== undefined && typeof e.language !== 'string')
            bad("can't parse entities: wrong language");
        return e;
    }).sort((a, b) => a.offset - b.offset || b.length - a.length);
    const open = [];
    for (const e of list) {
        while (open.length && open[open.length - 1].offset + open[open.length - 1].length <= e.offset) open.pop();
        const parent = open[open.length - 1];
        if (parent) {
            if (e.offset + e.length > parent.offset + parent.length) bad("can't parse entities: entities overlap");
            if (parent.type === 'pre' || parent.type === 'code') bad("can't parse entities: entity inside pre or code");
            if (/blockquote/.test(e.type) && open.some((o) => /blockquote/.test(o.type)))
                bad("can't parse entities: nested blockquotes");
        }
        open.push(e);
    }
}

// MarkdownV2: every reserved character outside entities must be escaped; returns the
// text with markup removed (enough to check the limit).
function parseMarkdownV2(src) {
    const reserved = '_*[]()~`>#+-=|{}.!';
    let out = '', i = 0, inCode = false, inPre = false;
    const stack = [];
    while (i < src.length) {
        const c = src[i];
        if (c === '\\') {
            if (i + 1 >= src.length) bad("can't parse entities: can't find end of escape sequence");
            out += src[i + 1]; i += 2; continue;
        }
        if (inCode || inPre) {
            if (src.startsWith('```', i) && inPre) { inPre = false; i += 3; continue; }
            if (c === '`' && inCode) { inCode = false; i += 1; continue; }
            out += c; i += 1; continue;
        }
        if (src.startsWith('```', i)) { inPre = true; i += 3; while (i < src.length && src[i] !== '\n') i++; i++; continue; }
        if (c === '`') { inCode = true; i += 1; continue; }
        const two = src.slice(i, i + 2);
        if (two === '__' || two === '||') {
            if (stack[stack.length - 1] === two) stack.pop(); else stack.push(two);
            i += 2; continue;
        }
        if (c === '*' || c === '_' || c === '~') {
            if (stack[stack.length - 1] === c) stack.pop(); else stack.push(c);
            i += 1; continue;
        }
        if (reserved.includes(c))
            bad(`can't parse entities: Character '${c}' is reserved and must be escaped with the preceding '\\'`);
        out += c; i += 1;
    }
    if (inCode || inPre || stack.length) bad("can't parse entities: can't find end of the entity");
    return out;
}

// The text a send/edit would show, after entity parsing.
function textOf(p, json) {
    const text = str(p, 'text', true);
    const mode = str(p, 'parse_mode');
    const entities = obj(p, 'entities', json, 'Array');
    let shown = text;
    if (mode !== undefined && entities !== undefined) bad("can't use parse_mode and entities together");
    if (mode === 'MarkdownV2') shown = parseMarkdownV2(text);
    else if (mode !== undefined && mode !== '') bad(`unsupported parse_mode "${mode}"`);
    if (entities) checkEntities(text, entities);
    if (rejectEntities > 0 && (entities || mode)) {
        rejectEntities -= 1;
        bad("can't parse entities: Can't find end of the entity starting at byte offset 0");
    }
    if (shown.trim().length === 0) bad('message text is empty');
    if (codePoints(shown) > MAX_TEXT) bad('message is too long');
    return { text: shown, entities: entities || [] };
}

function queueUpdate(type, payload) {
    const u = { update_id: nextUpdateId++, type, payload, returned: 0 };
    updates.push(u);
    flushPoll();
    deliverWebhook();
    return u.update_id;
}

function isAllowed(type) {
    if (allowedUpdates === null || allowedUpdates.length === 0)
        return !['chat_member', 'message_reaction', 'message_reaction_count'].includes(type);
    return allowedUpdates.includes(type);
}

function pending(limit) {
    return updates.filter((u) => u.update_id >= offset && isAllowed(u.type)).slice(0, limit);
}

function answerPoll(res, list) {
    for (const u of list) u.returned += 1;
    reply(res, 200, { ok: true, result: list.map((u) => ({ update_id: u.update_id, [u.type]: u.payload })) });
}

function flushPoll() {
    if (!poll) return;
    const list = pending(poll.limit);
    if (!list.length) return;
    const p = poll;
    poll = null;
    clearTimeout(p.timer);
    answerPoll(p.res, list);
}

// Webhook delivery (server WebhookActor): one Update per POST; updates of one chat in
// order, one at a time; other chats' updates in parallel up to max_connections. A 2xx
// confirms (deletes) the update; anything else is retried with doubling delays.
function queueOf(u) {
    const chat = u.payload.chat && u.payload.chat.id;
    return chat === undefined ? 'none' : String(chat);
}

function deliverWebhook() {
    if (!webhook) return;
    const busy = new Set(updates.filter((u) => u.inflight || u.retryAt > now()).map(queueOf));
    let running = updates.filter((u) => u.inflight).length;
    for (const u of updates) {
        if (running >= webhook.max_connections) break;
        if (!isAllowed(u.type)) continue;
        if (u.inflight || busy.has(queueOf(u))) { busy.add(queueOf(u)); continue; }
        busy.add(queueOf(u));
        running += 1;
        postUpdate(u);
    }
}

function postUpdate(u) {
    const hook = webhook;
    const serial = webhookSerial;
    const url = new URL(hook.url);
    const data = Buffer.from(JSON.stringify({ update_id: u.update_id, [u.type]: u.payload }));
    const headers = { 'Content-Type': 'application/json', 'Content-Length': data.length };
    if (hook.secret !== undefined) headers['X-Telegram-Bot-Api-Secret-Token'] = hook.secret;
    u.inflight = true;
    u.returned += 1;
    let done = false;
    const finish = (status, retryAfterS, error) => {
        if (done) return;
        done = true;
        u.inflight = false;
        if (serial !== webhookSerial) return deliverWebhook(); // the webhook changed meanwhile
        const lost = loseAnswers > 0 && status >= 200 && status < 300;
        const lostRetryMs = lost ? loseRetryMs : 0;
        if (lost) loseAnswers -= 1;
        deliveries.push({ update_id: u.update_id, status, t: now(), lost });
        if (status >= 200 && status < 300 && !lost) {
            const i = updates.indexOf(u);
            if (i >= 0) updates.splice(i, 1);
            u.failures = 0;
        } else {
            u.failures = (u.failures || 0) + 1;
            let delay = Math.min(opts.retryMs * 2 ** (u.failures - 1), opts.retryMaxMs);
            if (retryAfterS !== undefined) delay = Math.min(retryAfterS, 3600) * 1000;
            if (lostRetryMs) delay = lostRetryMs;
            u.retryAt = now() + delay;
            webhook.last_error_date = Math.floor(Date.now() / 1000);
            webhook.last_error_message = lost ? 'Read timeout expired' : error || `Wrong response from the webhook: ${status}`;
            setTimeout(deliverWebhook, delay + 5);
        }
        deliverWebhook();
    };
    const req = http.request({ host: url.hostname, port: url.port || 80, path: url.pathname + url.search,
        method: 'POST', headers, timeout: 10000 }, (res) => {
        res.resume();
        res.on('end', () => {
            const ra = Number(res.headers['retry-after']);
            finish(res.statusCode, Number.isFinite(ra) && ra >= 0 ? ra : undefined);
        });
        res.on('error', () => finish(0, undefined, 'Connection reset by peer'));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => finish(0, undefined, e.code === 'ECONNREFUSED' ? 'Connection refused' : 'Connection error'));
    req.end(data);
}

function stored(c, m) {
    // a message as it appears inside reply_to_message (no nested reply)
    const o = Object.assign({}, m);
    delete o.reply_to_message;
    return o;
}

function newMessage(c, from, fields) {
    const m = Object.assign({ message_id: c.next++, from, chat: chatInfo(c), date: Math.floor(Date.now() / 1000) }, fields);
    c.messages.set(m.message_id, m);
    return m;
}

// What a user posts: Telegram computes mention and command entities itself.
function userMessage(a) {
    const c = chats.get(a.chat);
    const from = USERS[a.user];
    if (!c || !from) throw new Error('unknown chat or user');
    const text = String(a.text);
    const entities = a.entities ? a.entities.slice() : [];
    if (!a.entities) {
        const cmd = /^\/[a-z0-9_]+(@[A-Za-z0-9_]+)?/.exec(text);
        if (cmd) entities.push({ type: 'bot_command', offset: 0, length: u16(cmd[0]) });
        const re = /@[A-Za-z0-9_]{5,32}/g;
        let m;
        while ((m = re.exec(text)))
            if (!(cmd && m.index < cmd[0].length)) entities.push({ type: 'mention', offset: u16(text.slice(0, m.index)), length: u16(m[0]) });
    }
    const fields = { text };
    if (entities.length) fields.entities = entities;
    let thread = a.thread;
    if (thread !== undefined) {
        const topic = c.topics.get(thread);
        if (!c.is_forum || !topic) throw new Error('no such topic');
        fields.message_thread_id = thread;
        fields.is_topic_message = true;
        // the implicit reply every topic message carries
        fields.reply_to_message = stored(c, c.messages.get(topic.service_id));
    }
    if (a.reply_to !== undefined) {
        const r = c.messages.get(a.reply_to);
        if (!r) throw new Error('no such message to reply to');
        fields.reply_to_message = stored(c, r);
        if (c.type === 'supergroup' && !c.is_forum && thread === undefined)
            fields.message_thread_id = r.message_thread_id || r.message_id;
    }
    const m = newMessage(c, from, fields);
    // privacy mode: in groups only commands, replies to the bot and mentions by entity
    // of a text_mention reach the bot
    let seen = true;
    if (opts.privacy && c.type !== 'private') {
        const replyToBot = fields.reply_to_message && fields.reply_to_message.from &&
            fields.reply_to_message.from.id === BOT.id && !fields.reply_to_message.forum_topic_created;
        const cmd = entities.some((e) => e.type === 'bot_command' && e.offset === 0);
        seen = replyToBot || cmd;
    }
    if (from.is_bot) seen = false; // bots never see other bots' messages
    return { message_id: m.message_id, update_id: seen ? queueUpdate('message', m) : null };
}

// A 429's window per method and chat: a request inside it is marked known_limited.
const limitedUntil = new Map();
let rateLimited = 0;

function checkRate(method, chat, rec) {
    const key = method.toLowerCase() + ' ' + chat;
    if ((limitedUntil.get(key) || -1) > now()) rec.known_limited = true;
    try {
        checkRateRules(method);
    } catch (e) {
        if (e.tg && e.tg.error_code === 429) {
            rateLimited += 1;
            limitedUntil.set(key, now() + e.tg.parameters.retry_after * 1000);
        }
        throw e;
    }
}

function checkRateRules(method) {
    const rl = ratelimits.find((r) => r.method.toLowerCase() === method.toLowerCase() && r.count > 0);
    if (rl) {
        rl.count -= 1;
        fail(429, `Too Many Requests: retry after ${rl.retry_after}`, { retry_after: rl.retry_after });
    }
    if (storm && /^(sendmessage|editmessagetext|setmessagereaction)$/.test(method.toLowerCase())) {
        storm.state = (storm.state * 1103515245 + 12345) % 2147483648;
        if (storm.state / 2147483648 < storm.p) {
            const ra = storm.min_s + (storm.state % (storm.max_s - storm.min_s + 1));
            storm.hits += 1;
            fail(429, `Too Many Requests: retry after ${ra}`, { retry_after: ra });
        }
    }
}

function threadFor(c, p) {
    const tid = int(p, 'message_thread_id');
    if (tid === undefined) return undefined;
    if (!c.is_forum) return undefined; // ignored outside forums
    if (tid === 1 || !c.topics.has(tid)) bad('message thread not found');
    return tid;
}

const methods = {
    getme: () => Object.assign({}, BOT, { can_join_groups: true,
        can_read_all_group_messages: !opts.privacy, supports_inline_queries: false }),
    setwebhook: (p, json) => {
        const url = str(p, 'url', true);
        const secret = str(p, 'secret_token');
        const au = obj(p, 'allowed_updates', json, 'Array');
        let maxc = int(p, 'max_connections');
        const drop = p.drop_pending_updates === true || p.drop_pending_updates === 'true';
        if (url === '') return methods.deletewebhook(p, json);
        let u;
        try { u = new URL(url); } catch (e) { bad('bad webhook: invalid webhook URL specified'); }
        if (u.protocol === 'http:' && !opts.local) bad('bad webhook: An HTTPS URL must be provided for webhook');
        if (u.protocol !== 'https:' && u.protocol !== 'http:') bad('bad webhook: invalid webhook URL specified');
        const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
        if (!opts.local && ![443, 80, 88, 8443].includes(port))
            bad('bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443');
        if (secret !== undefined) {
            if (secret.length > 256) bad('secret token is too long');
            if (!/^[A-Za-z0-9_-]+$/.test(secret)) bad('secret token contains unallowed characters');
        }
        maxc = maxc === undefined ? 40 : Math.min(Math.max(maxc, 1), 100);
        if (au) {
            if (!au.every((x) => typeof x === 'string')) bad('allowed_updates must be strings');
            allowedUpdates = au.filter((x) => UPDATE_TYPES.includes(x) || x === 'message_reaction_count');
        }
        if (drop) updates.length = 0;
        if (poll) { // the waiting getUpdates is cut off
            const old = poll;
            poll = null;
            clearTimeout(old.timer);
            reply(old.res, 409, { ok: false, error_code: 409, description: 'Conflict: terminated by setWebhook request' });
        }
        webhookSerial += 1;
        webhook = { url, secret, max_connections: maxc, allowed_updates: au };
        for (const u of updates) u.retryAt = 0; // a new webhook is tried at once
        setImmediate(deliverWebhook);
        return true;
    },
    deletewebhook: (p) => {
        if (p.drop_pending_updates === true || p.drop_pending_updates === 'true') updates.length = 0;
        webhookSerial += 1;
        webhook = null;
        for (const u of updates) u.retryAt = 0;
        return true;
    },
    getwebhookinfo: () => {
        const info = { url: webhook ? webhook.url : '', has_custom_certificate: false,
            pending_update_count: updates.filter((u) => isAllowed(u.type)).length };
        if (webhook) {
            info.max_connections = webhook.max_connections;
            if (webhook.allowed_updates) info.allowed_updates = webhook.allowed_updates;
            if (webhook.last_error_date) {
                info.last_error_date = webhook.last_error_date;
                info.last_error_message = webhook.last_error_message;
            }
        }
        return info;
    },
    getupdates: (p, json, res) => {
        if (webhook) fail(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
        const off = int(p, 'offset');
        let limit = int(p, 'limit');
        let timeout = int(p, 'timeout');
        const au = obj(p, 'allowed_updates', json, 'Array');
        if (au) {
            if (!au.every((x) => typeof x === 'string')) bad('allowed_updates must be strings');
            allowedUpdates = au.filter((x) => UPDATE_TYPES.includes(x) || x === 'message_reaction_count');
        }
        limit = limit === undefined ? 100 : Math.min(Math.max(limit, 1), 100);
        timeout = timeout === undefined ? 0 : Math.min(Math.max(timeout, 0), 50);
        if (off !== undefined) {
            if (off < 0) offset = Math.max(offset, (updates.length ? updates[updates.length - 1].update_id + 1 : 0) + off);
            else if (off > offset) offset = off; // confirms everything below
        }
        while (updates.length && updates[0].update_id < offset) updates.shift();
        polls += 1;
        if (poll) { // a second poller cuts the first off
            const old = poll;
            poll = null;
            clearTimeout(old.timer);
            reply(old.res, 409, { ok: false, error_code: 409,
                description: 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running' });
        }
        const list = pending(limit);
        if (list.length || timeout === 0) return list.map((u) => { u.returned += 1; return { update_id: u.update_id, [u.type]: u.payload }; });
        const entry = { res, limit };
        entry.timer = setTimeout(() => { if (poll === entry) { poll = null; answerPoll(res, []); } }, timeout * 1000);
        res.on('close', () => { if (poll === entry) { poll = null; clearTimeout(entry.timer); } });
        poll = entry;
        return undefined; // answered later
    },
    sendmessage: (p, json) => {
        const c = getChat(p);
        const { text, entities } = textOf(p, json);
        const tid = threadFor(c, p);
        const rp = obj(p, 'reply_parameters', json, 'Object');
        const fields = { text };
        if (entities.length) fields.entities = entities;
        if (tid !== undefined) { fields.message_thread_id = tid; fields.is_topic_message = true; }
        if (rp) {
            if (!Number.isSafeInteger(rp.message_id)) bad('field "message_id" must be of type Integer');
            const r = c.messages.get(rp.message_id);
            if (!r && !rp.allow_sending_without_reply) bad('message to be replied not found');
            if (r) fields.reply_to_message = stored(c, r);
        } else if (tid !== undefined) {
            fields.reply_to_message = stored(c, c.messages.get(c.topics.get(tid).service_id));
        }
        obj(p, 'link_preview_options', json, 'Object');
        return newMessage(c, BOT, fields);
    },
    editmessagetext: (p, json) => {
        const c = getChat(p);
        const id = int(p, 'message_id', true);
        const { text, entities } = textOf(p, json);
        const m = c.messages.get(id);
        if (!m) bad('message to edit not found');
        if (m.from.id !== BOT.id) bad("message can't be edited");
        obj(p, 'link_preview_options', json, 'Object');
        if (m.text === text && JSON.stringify(m.entities || []) === JSON.stringify(entities))
            bad('message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message');
        m.text = text;
        if (entities.length) m.entities = entities; else delete m.entities;
        m.edit_date = Math.floor(Date.now() / 1000);
        m.edits = (m.edits || 0) + 1;
        return m;
    },
    setmessagereaction: (p, json) => {
        const c = getChat(p);
        const id = int(p, 'message_id', true);
        const list = obj(p, 'reaction', json, 'Array') || [];
        const m = c.messages.get(id);
        if (!m) bad('message to react not found');
        if (list.length > 1) bad('REACTIONS_TOO_MANY');
        for (const r of list)
            if (!r || r.type !== 'emoji' || !ALLOWED_REACTIONS.has(r.emoji)) bad('REACTION_INVALID');
        m.bot_reaction = list.length ? list[0].emoji : null;
        m.reaction_log = (m.reaction_log || []).concat([m.bot_reaction]);
        return true;
    },
    sendchataction: (p) => {
        const c = getChat(p);
        const a = str(p, 'action', true);
        if (!ACTIONS.has(a)) bad('wrong parameter action in request');
        threadFor(c, p);
        return true;
    },
};

function tokenOk(tok) {
    return tok.includes(':') && !tok.includes('/') && tok.length <= 80 && tok[0] !== '0';
}

function botApi(req, res, url, body) {
    const m = /^\/bot([^/]*)\/([A-Za-z]*)$/.exec(url.pathname);
    const rec = { t: now(), method: m ? m[2] : url.pathname.replace(/bot[^/]*/, 'bot<token>'), params: null, status: 200, description: null };
    requests.push(rec);
    try {
        if (!m) fail(404, 'Not Found');
        if (!tokenOk(m[1])) fail(401, 'Unauthorized: invalid token specified');
        if (m[1] !== TOKEN) fail(401, 'Unauthorized');
        const fn = methods[m[2].toLowerCase()];
        if (!fn) fail(404, 'Not Found: method not found');
        const { p, json } = parseParams(req, body, url);
        rec.params = p;
        rec.json = json;
        checkRate(m[2], p.chat_id, rec);
        const result = fn(p, json, res);
        if (result !== undefined) reply(res, 200, { ok: true, result });
    } catch (e) {
        if (!e.tg) { e.tg = { ok: false, error_code: 500, description: 'Internal Server Error: ' + e.message }; }
        rec.status = e.tg.error_code;
        rec.description = e.tg.description;
        const headers = e.tg.parameters && e.tg.parameters.retry_after ? { 'Retry-After': String(e.tg.parameters.retry_after) } : {};
        reply(res, e.tg.error_code, e.tg, headers);
    }
}

function control(req, res, name, a) {
    try {
        if (name === 'message') return reply(res, 200, userMessage(a));
        if (name === 'topic') {
            const c = chats.get(a.chat);
            if (!c || !c.is_forum) throw new Error('not a forum');
            const svc = newMessage(c, a.user === BOT.id ? BOT : USERS[a.user || 111], { forum_topic_created: { name: a.name || 'topic', icon_color: 7322096 } });
            const tid = svc.message_id;
            svc.message_thread_id = tid;
            svc.is_topic_message = true;
            c.topics.set(tid, { name: a.name, service_id: svc.message_id });
            queueUpdate('message', svc);
            return reply(res, 200, { thread: tid });
        }
        if (name === 'reaction') {
            const c = chats.get(a.chat);
            const u = USERS[a.user];
            queueUpdate('message_reaction', { chat: chatInfo(c), message_id: a.message_id, user: u,
                date: Math.floor(Date.now() / 1000), old_reaction: [], new_reaction: [{ type: 'emoji', emoji: a.emoji }] });
            return reply(res, 200, {});
        }
        if (name === 'lose_answers') {
            loseAnswers = a.count || 1;
            loseRetryMs = a.retry_ms || 0;
            return reply(res, 200, {});
        }
        if (name === 'reject_entities') { rejectEntities = a.count || 1; return reply(res, 200, {}); }
        if (name === 'ratelimit' && a.clear) { ratelimits.length = 0; return reply(res, 200, {}); }
        if (name === 'ratelimit') { ratelimits.push({ method: a.method, count: a.count || 1, retry_after: a.retry_after || 1 }); return reply(res, 200, {}); }
        if (name === 'storm') {
            storm = a.p ? { p: a.p, state: a.seed || 1, min_s: a.min_s || 1, max_s: a.max_s || 2, hits: 0 } : null;
            return reply(res, 200, {});
        }
        if (name === 'state') {
            const out = {};
            for (const [id, c] of chats) out[id] = [...c.messages.values()];
            return reply(res, 200, { requests, chats: out, offset, polls, rate_limited: rateLimited,
                updates: updates.map((u) => ({ update_id: u.update_id, type: u.type, returned: u.returned })),
                waiting: poll !== null, deliveries,
                webhook: webhook && { url: webhook.url, max_connections: webhook.max_connections } });
        }
        reply(res, 404, { error: 'unknown control ' + name });
    } catch (e) {
        reply(res, 400, { error: e.message });
    }
}

// Topic 7 "work" in the forum, as if made long ago.
(function () {
    const c = chats.get(-1001000);
    c.next = 7;
    const svc = newMessage(c, USERS[111], { forum_topic_created: { name: 'work', icon_color: 7322096 } });
    svc.message_thread_id = 7;
    svc.is_topic_message = true;
    c.topics.set(7, { name: 'work', service_id: 7 });
    c.next = 100;
})();

const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
        const body = Buffer.concat(chunks);
        const url = new URL(req.url, 'http://127.0.0.1');
        let m;
        if ((m = /^\/_test\/([a-z_]+)$/.exec(url.pathname))) {
            let a = {};
            try { a = body.length ? JSON.parse(body.toString('utf8')) : {}; } catch (e) { return reply(res, 400, { error: 'bad json' }); }
            return control(req, res, m[1], a);
        }
        if (req.method !== 'GET' && req.method !== 'POST') return reply(res, 405, { ok: false, error_code: 405, description: 'Method Not Allowed' });
        botApi(req, res, url, body);
    });
});
server.keepAliveTimeout = 120000;
server.listen(opts.port, '127.0.0.1', () => {
    process.stdout.write(`listening ${server.address().port}\n`);
});
setTimeout(() => process.exit(0), opts.maxRuntimeS * 1000).unref();
process.on('SIGTERM', () => process.exit(0));
