#!/usr/bin/env node
// fake-teams.js: a loopback Bot Framework for the chat-teams tests, written from
// /work/shared/reference/teams.md (§2-§8), independently of the plugin.
//
//   node fake-teams.js [--max-runtime-s 600] [--expires-in 3600]
//
// Prints "listening PORT" once ready. What it serves (base http://127.0.0.1:PORT):
//   GET  /openid                              OpenID metadata (issuer, jwks_uri)
//   GET  /keys                                the JWKS (RSA keys, endorsements ["msteams"])
//   POST /<tenant>/oauth2/v2.0/token          client credentials → a bearer token
//   POST /svc/v3/conversations/<conv>/activities[/<id>]   create / reply (201 {id})
//   PUT  /svc/v3/conversations/<conv>/activities/<id>     update (200 {id})
// Connector calls are checked as the service does: a token this fake issued and not
// expired (401), JSON activity shape (400), the bot's own activity to update (404),
// message size counted in UTF-16 (413 MessageSizeTooBig over 100 KB), attachments (an
// Adaptive Card: type AdaptiveCard, a version Teams renders (≤ 1.5), actions of known
// types with titles, Action.Submit data an object or a string: else 400), per-conversation
// budget 7 per second (429 Throttled with Retry-After, counted as a violation).
// The test drives it through /_test/… (JSON in, JSON out):
//   POST /_test/target   {url}                  where activities are POSTed (the daemon)
//   POST /_test/message  {text, user?, conversation_type?: personal|channel|groupChat,
//                         conversation?, team?, channel?, mention?: bool, token?: ok|none|
//                         forged|expired|wrong_audience|wrong_service_url|unknown_kid|
//                         wrong_issuer, service_url?}
//        → {status, id, conversation}: the daemon's HTTP status for the signed POST
//   POST /_test/click    {conversation, reply_to, data, shape: message|invoke, user?, team?,
//                         channel?, conversation_type?}  a click on a card's Action.Submit:
//        `message` = a message activity with `value` = data (classic clients), `invoke` =
//        an adaptiveCard/action invoke with value.action.data (Universal Actions); both
//        with replyToId = the card's activity. → {status, body}: the daemon's answer
//   POST /_test/rotate   {drop_old?: bool}      a new signing key (old one kept unless drop_old)
//   POST /_test/ratelimit {count, retry_after}  the next count Connector calls get 429
//   GET  /_test/state    requests, posts (bot activities by conversation), counts
'use strict';

const http = require('http');
const crypto = require('crypto');

const opts = { maxRuntimeS: 600, expiresIn: 3600 };
for (let i = 2; i < process.argv.length; i += 2) {
    const key = process.argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    const val = Number(process.argv[i + 1]);
    if (!(key in opts) || !Number.isFinite(val)) {
        process.stderr.write(`fake-teams: bad option ${process.argv[i]}\n`);
        process.exit(2);
    }
    opts[key] = val;
}

const APP_ID = '00000000-0000-4000-8000-00000000b07a';
const APP_PASSWORD = 'fake-teams-app-secret~1';
const TENANT = '11111111-2222-4333-8444-555555555555';
const ISSUER = 'https://api.botframework.com';
const BOT = '28:' + APP_ID;
const TEAM = '19:team-general@thread.tacv2';
const CHANNEL = '19:channel-dev@thread.tacv2';
const MAX_BYTES = 100 * 1024;           // teams.md §7, UTF-16 ×2
const BUDGET = { limit: 7, window: 1000 }; // per bot per conversation, teams.md §8

const started = Date.now();
const now = () => Date.now() - started;
let port = 0;
let target = null;
let nextId = 1700000000000;
const keys = [];         // {kid, privateKey, jwk}
let signer = null;
const tokens = new Map(); // access_token → expires (ms epoch)
const requests = [];
const posts = new Map();  // conversation → [{id, type, text, replyToId, t, edits}]
const sends = new Map();  // conversation → [t...] for the budget
const counts = { openid: 0, jwks: 0, token: 0, violations: 0, throttled: 0, too_big: 0 };
let forced429 = null;     // {count, retry_after}

function b64url(buf) {
    return Buffer.from(buf).toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

function newKey() {
    const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = publicKey.export({ format: 'jwk' });
    const kid = 'kid-' + crypto.randomBytes(6).toString('hex');
    const k = { kid, privateKey, jwk: { kty: 'RSA', use: 'sig', kid, n: jwk.n, e: jwk.e, endorsements: ['msteams'] } };
    keys.push(k);
    signer = k;
    return k;
}

function jwt(claims, key, alg = 'RS256') {
    const head = b64url(JSON.stringify({ alg, kid: key.kid, typ: 'JWT', x5t: key.kid }));
    const body = b64url(JSON.stringify(claims));
    const sig = crypto.sign('sha256', Buffer.from(head + '.' + body), key.privateKey);
    return head + '.' + body + '.' + b64url(sig);
}

function send(res, status, body, headers = {}) {
    const data = body === undefined ? '' : (typeof body === 'string' ? body : JSON.stringify(body));
    res.writeHead(status, Object.assign({ 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) }, headers));
    res.end(data);
}

function readBody(req) {
    return new Promise((resolve) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => resolve(Buffer.concat(chunks).toString()));
    });
}

function serviceUrl() { return `http://127.0.0.1:${port}/svc/`; }

// The size Teams counts: UTF-16 code units × 2 of the text.
function teamsSize(text) { return Buffer.byteLength(text, 'utf16le'); }

function connectorError(res, status, code, message, headers) {
    send(res, status, { error: { code, message } }, Object.assign({ 'X-Correlating-OperationId': crypto.randomUUID() }, headers || {}));
}

const CARD_ACTIONS = ['Action.Submit', 'Action.OpenUrl', 'Action.ShowCard', 'Action.ToggleVisibility', 'Action.Execute'];

// Why @atts is not an attachment list Teams accepts (null when it is): the Attachment
// shape (contentType, content) and, for an Adaptive Card, the card itself.
function attachmentsError(atts) {
    if (atts === undefined) return null;
    if (!Array.isArray(atts)) return 'attachments must be an array';
    for (const a of atts) {
        if (!a || typeof a !== 'object' || typeof a.contentType !== 'string') return 'attachment contentType expected';
        if (a.contentType !== 'application/vnd.microsoft.card.adaptive') continue;
        const c = a.content;
        if (!c || typeof c !== 'object' || c.type !== 'AdaptiveCard') return 'content.type AdaptiveCard expected';
        if (typeof c.version !== 'string' || !/^1\.[0-5]$/.test(c.version)) return 'card version ' + c.version + ' not rendered';
        if (c.body !== undefined && !Array.isArray(c.body)) return 'card body must be an array';
        if (c.actions !== undefined && !Array.isArray(c.actions)) return 'card actions must be an array';
        for (const act of c.actions || []) {
            if (!act || !CARD_ACTIONS.includes(act.type)) return 'unknown action type ' + (act && act.type);
            if (act.type === 'Action.Execute' && c.version !== '1.5') return 'Action.Execute needs version 1.5';
            if (typeof act.title !== 'string' || !act.title) return 'action title expected';
            if (act.type === 'Action.Submit' && act.data !== undefined && (act.data === null || !['object', 'string'].includes(typeof act.data) || Array.isArray(act.data)))
                return 'Action.Submit data must be an object or a string';
        }
    }
    return null;
}

function handleConnector(req, res, body, parts) {
    // parts: ['v3','conversations', conv, 'activities', id?]
    const entry = { t: now(), method: req.method, path: req.url, conversation: null, body: null, status: 0 };
    requests.push(entry);
    const finish = (status) => { entry.status = status; };
    const auth = req.headers.authorization || '';
    const m = /^Bearer (.+)$/.exec(auth);
    if (!m || !tokens.has(m[1]) || tokens.get(m[1]) < Date.now()) {
        finish(401);
        return connectorError(res, 401, 'Unauthorized', 'Authorization has been denied for this request.');
    }
    if (parts[0] !== 'v3' || parts[1] !== 'conversations' || parts.length < 4 || parts[3] !== 'activities') {
        finish(404);
        return connectorError(res, 404, 'NotFound', 'no such route');
    }
    let conv;
    try { conv = decodeURIComponent(parts[2]); } catch (e) { finish(400); return connectorError(res, 400, 'BadSyntax', 'bad id'); }
    entry.conversation = conv;
    const id = parts[4] !== undefined ? decodeURIComponent(parts[4]) : null;
    let act;
    try { act = JSON.parse(body); } catch (e) { act = null; }
    entry.body = act;
    if (!act || typeof act !== 'object' || typeof act.type !== 'string') {
        finish(400);
        return connectorError(res, 400, 'BadSyntax', 'Activity expected');
    }
    if (forced429 && forced429.count > 0) {
        forced429.count--;
        counts.throttled++;
        finish(429);
        return connectorError(res, 429, 'Throttled', 'API calls quota exceeded', { 'Retry-After': String(forced429.retry_after) });
    }
    // the per-conversation budget: a client that ignores it gets 429 like on Teams
    const times = (sends.get(conv) || []).filter((t) => t > now() - BUDGET.window);
    if (times.length >= BUDGET.limit) {
        counts.violations++;
        counts.throttled++;
        finish(429);
        sends.set(conv, times);
        return connectorError(res, 429, 'Throttled', 'API calls quota exceeded', { 'Retry-After': '1' });
    }
    times.push(now());
    sends.set(conv, times);
    if (act.type === 'message') {
        if (typeof act.text !== 'string') { finish(400); return connectorError(res, 400, 'BadSyntax', 'text expected'); }
        if (teamsSize(act.text) > MAX_BYTES) {
            counts.too_big++;
            finish(413);
            return connectorError(res, 413, 'MessageSizeTooBig', 'Message size too large');
        }
        if (act.textFormat !== undefined && !['plain', 'markdown', 'xml', 'extendedmarkdown'].includes(act.textFormat)) {
            finish(400);
            return connectorError(res, 400, 'BadSyntax', 'textFormat');
        }
        const bad = attachmentsError(act.attachments);
        if (bad) { finish(400); return connectorError(res, 400, 'BadSyntax', bad); }
    } else if (act.type !== 'typing') {
        finish(400);
        return connectorError(res, 400, 'BadSyntax', 'unsupported activity type');
    }
    const list = posts.get(conv) || [];
    posts.set(conv, list);
    if (req.method === 'PUT') {
        const p = id && list.find((x) => x.id === id);
        if (!p) { finish(404); return connectorError(res, 404, 'ActivityNotFound', 'no such activity'); }
        if (act.type !== 'message') { finish(400); return connectorError(res, 400, 'BadSyntax', 'message expected'); }
        p.text = act.text;
        p.attachments = act.attachments || []; // an update replaces the whole activity
        p.edits++;
        p.edit_times.push(now());
        finish(200);
        return send(res, 200, { id: p.id });
    }
    if (req.method !== 'POST') { finish(405); return connectorError(res, 405, 'MethodNotAllowed', req.method); }
    if (act.type === 'typing') {
        list.push({ id: null, type: 'typing', t: now() });
        finish(200);
        return send(res, 200, {});
    }
    const newId = String(nextId++);
    list.push({ id: newId, type: 'message', text: act.text, textFormat: act.textFormat || 'plain', replyToId: id || act.replyToId || null, attachments: act.attachments || [], t: now(), edits: 0, edit_times: [] });
    finish(201);
    return send(res, 201, { id: newId });
}

async function handleToken(req, res, body) {
    counts.token++;
    const f = new URLSearchParams(body);
    const ok = req.headers['content-type'] && req.headers['content-type'].startsWith('application/x-www-form-urlencoded') &&
        f.get('grant_type') === 'client_credentials' && f.get('client_id') === APP_ID &&
        f.get('scope') === 'https://api.botframework.com/.default';
    requests.push({ t: now(), method: 'POST', path: req.url, token_request: true, status: 0 });
    if (!ok) { requests[requests.length - 1].status = 400; return send(res, 400, { error: 'invalid_request' }); }
    if (f.get('client_secret') !== APP_PASSWORD) { requests[requests.length - 1].status = 401; return send(res, 401, { error: 'invalid_client' }); }
    const tok = 'eyJ' + crypto.randomBytes(24).toString('hex');
    tokens.set(tok, Date.now() + opts.expiresIn * 1000);
    requests[requests.length - 1].status = 200;
    send(res, 200, { token_type: 'Bearer', expires_in: opts.expiresIn, ext_expires_in: opts.expiresIn, access_token: tok });
}

// POST one signed activity to the daemon; resolves with its HTTP status (and, with
// @withBody, {status, body}).
function deliver(activity, token, withBody = false) {
    return new Promise((resolve) => {
        const data = JSON.stringify(activity);
        const u = new URL(target);
        const headers = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) };
        if (token !== null) headers.Authorization = 'Bearer ' + token;
        const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers, timeout: 20000 }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
                const text = Buffer.concat(chunks).toString();
                resolve(withBody ? { status: res.statusCode, body: text } : res.statusCode);
            });
        });
        req.on('error', (e) => resolve(withBody ? { status: 'error: ' + e.message } : 'error: ' + e.message));
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.end(data);
    });
}

async function testMessage(b) {
    const type = b.conversation_type || 'channel';
    const id = String(nextId++);
    const user = b.user || '29:user-alice';
    let conv = b.conversation;
    if (!conv) conv = type === 'channel' ? `${b.channel || CHANNEL};messageid=${id}` : (type === 'personal' ? 'a:personal-' + user : '19:group@thread.v2');
    const text = b.mention === false ? b.text : `<at>Broker</at> ${b.text}`;
    const activity = {
        type: 'message', id, timestamp: new Date().toISOString(), serviceUrl: b.service_url || serviceUrl(),
        channelId: 'msteams', from: { id: user, name: 'Alice', aadObjectId: 'aad-' + user },
        conversation: { conversationType: type, id: conv, tenantId: TENANT, isGroup: type !== 'personal' },
        recipient: { id: BOT, name: 'Broker' }, textFormat: 'plain', text,
        attachments: [{ contentType: 'text/html', content: `<div>${text}</div>` }],
        entities: b.mention === false ? [] : [{ type: 'mention', mentioned: { id: BOT, name: 'Broker' }, text: '<at>Broker</at>' }],
        channelData: { tenant: { id: TENANT } }, locale: 'en-US',
    };
    if (type === 'channel') activity.channelData = { tenant: { id: TENANT }, team: { id: b.team || TEAM }, channel: { id: b.channel || CHANNEL } };
    const status = await deliver(activity, sign(activity, b.token));
    return { status, id, conversation: conv };
}

// The Authorization token for @activity as the Bot Framework signs it, or spoiled as
// @how asks (see /_test/message).
function sign(activity, how) {
    const nowS = Math.floor(Date.now() / 1000);
    const claims = { iss: ISSUER, aud: APP_ID, exp: nowS + 3600, nbf: nowS - 10, serviceurl: activity.serviceUrl };
    let token;
    switch (how || 'ok') {
    case 'none': token = null; break;
    case 'forged': {
        const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
        token = jwt(claims, { kid: signer.kid, privateKey }); // a known kid, another key
        break;
    }
    case 'expired': token = jwt(Object.assign({}, claims, { exp: nowS - 3600, nbf: nowS - 7200 }), signer); break;
    case 'wrong_audience': token = jwt(Object.assign({}, claims, { aud: 'someone-else' }), signer); break;
    case 'wrong_issuer': token = jwt(Object.assign({}, claims, { iss: 'https://sts.windows.net/x/' }), signer); break;
    case 'wrong_service_url': token = jwt(Object.assign({}, claims, { serviceurl: 'https://evil.example/' }), signer); break;
    case 'unknown_kid': {
        const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
        token = jwt(claims, { kid: 'kid-nobody', privateKey });
        break;
    }
    default: token = jwt(claims, signer);
    }
    return token;
}

// A click on an Action.Submit of the card @b.reply_to, in the shape @b.shape.
async function testClick(b) {
    const type = b.conversation_type || 'channel';
    const user = b.user || '29:user-alice';
    const activity = {
        id: String(nextId++), timestamp: new Date().toISOString(), serviceUrl: b.service_url || serviceUrl(),
        channelId: 'msteams', from: { id: user, name: user.replace(/^29:user-/, ''), aadObjectId: 'aad-' + user },
        conversation: { conversationType: type, id: b.conversation, tenantId: TENANT, isGroup: type !== 'personal' },
        recipient: { id: BOT, name: 'Broker' }, replyToId: b.reply_to,
        channelData: { tenant: { id: TENANT } }, locale: 'en-US',
    };
    if (type === 'channel') activity.channelData = { tenant: { id: TENANT }, team: { id: b.team || TEAM }, channel: { id: b.channel || CHANNEL } };
    if (b.shape === 'invoke') {
        Object.assign(activity, { type: 'invoke', name: 'adaptiveCard/action',
            value: { action: { type: 'Action.Submit', data: b.data }, trigger: 'manual' } });
    } else {
        Object.assign(activity, { type: 'message', text: '', value: b.data });
    }
    return deliver(activity, sign(activity, b.token), true);
}

function state() {
    const p = {};
    for (const [k, v] of posts) p[k] = v;
    return { requests, posts: p, counts, keys: keys.map((k) => k.kid), signer: signer.kid, bot: BOT, app_id: APP_ID };
}

const server = http.createServer(async (req, res) => {
    const body = await readBody(req);
    const url = new URL(req.url, 'http://x');
    const parts = url.pathname.split('/').filter((s) => s.length);
    try {
        if (req.method === 'GET' && url.pathname === '/openid') {
            counts.openid++;
            return send(res, 200, { issuer: ISSUER, authorization_endpoint: 'https://invalid.example/', jwks_uri: `http://127.0.0.1:${port}/keys`, id_token_signing_alg_values_supported: ['RS256'], token_endpoint_auth_methods_supported: ['private_key_jwt'] });
        }
        if (req.method === 'GET' && url.pathname === '/keys') {
            counts.jwks++;
            return send(res, 200, { keys: keys.map((k) => k.jwk) });
        }
        if (req.method === 'POST' && parts.length === 4 && parts[1] === 'oauth2' && parts[3] === 'token') return handleToken(req, res, body);
        if (parts[0] === 'svc') return handleConnector(req, res, body, parts.slice(1));
        if (parts[0] === '_test') {
            const b = body ? JSON.parse(body) : {};
            switch (parts[1]) {
            case 'target': target = b.url; return send(res, 200, { ok: true });
            case 'message': return send(res, 200, await testMessage(b));
            case 'click': return send(res, 200, await testClick(b));
            case 'rotate': {
                const old = signer;
                newKey();
                if (b.drop_old) keys.splice(keys.indexOf(old), 1);
                return send(res, 200, { kid: signer.kid });
            }
            case 'ratelimit': forced429 = { count: b.count || 1, retry_after: b.retry_after || 1 }; return send(res, 200, { ok: true });
            case 'state': return send(res, 200, state());
            default: return send(res, 404, { error: 'no such test command' });
            }
        }
        send(res, 404, { error: 'not found' });
    } catch (e) {
        send(res, 500, { error: String(e && e.stack || e) });
    }
});

newKey();
server.listen(0, '127.0.0.1', () => {
    port = server.address().port;
    process.stdout.write(`listening ${port}\n`);
});
setTimeout(() => process.exit(0), opts.maxRuntimeS * 1000).unref();
