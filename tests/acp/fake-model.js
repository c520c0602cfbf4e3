#!/usr/bin/env node
// fake-model.js: a model server on 127.0.0.1 speaking the streaming wire formats of
// OpenAI Responses, Anthropic Messages and Gemini, so real agents (codex-acp,
// claude-agent-acp, gemini --acp) run end to end offline. The scenario comes from a
// [[marker]] in the latest user input. See README.md and reference/acp.md §15.
'use strict';

const http = require('http');
const fs = require('fs');
const os = require('os');
const path = require('path');

const CANNED = ['Hello ', 'from the ', 'fake model.'];
const SLOW_DELTAS = 60;
const SLOW_GAP_MS = 500;
const MAX_BODY = 64 * 1024 * 1024;

// Print a usage error and exit 2.
function usageFail(msg) {
    process.stderr.write(`fake-model: ${msg}\nusage: fake-model.js [--port N] [--log FILE]\n`);
    process.exit(2);
}

// Parse --port and --log.
function parseArgs(argv) {
    const o = { port: 0, log: null };
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === '--port') {
            const v = argv[++i];
            if (v === undefined || !/^\d+$/.test(v) || Number(v) > 65535) usageFail('--port needs 0..65535');
            o.port = Number(v);
        } else if (argv[i] === '--log') {
            o.log = argv[++i];
            if (o.log === undefined) usageFail('--log needs a FILE');
        } else {
            usageFail(`unknown argument ${JSON.stringify(argv[i])}`);
        }
    }
    return o;
}

const opts = parseArgs(process.argv.slice(2));

// Append one JSON line describing a request to --log.
// A model call (@said: its user texts, oldest first) adds them and the time (ms since the
// epoch, fractional), so a benchmark can time a message to the model and see the history.
function logRequest(req, scenario, said) {
    if (!opts.log) return;
    const u = new URL(req.url, 'http://127.0.0.1');
    const entry = { method: req.method, path: u.pathname, query: u.search, scenario,
                    t: performance.timeOrigin + performance.now() };
    if (said) entry.said = said.map((x) => x.slice(-200));
    fs.appendFileSync(opts.log, JSON.stringify(entry) + '\n');
}

// ---------------------------------------------------------------- scenario choice

// Pick the scenario from the latest user text: tool-result follow-ups answer "tool done".
function scenarioPick(userText, isToolFollowUp, hasTools) {
    if (isToolFollowUp) return 'tool-done';
    if (/\[\[slow\]\]/.test(userText)) return 'slow';
    if (/\[\[tool\]\]/.test(userText) && hasTools) return 'tool';
    return 'text';
}

// The text deltas of a text scenario.
function scenarioDeltas(scenario) {
    if (scenario === 'tool-done') return ['tool ', 'done'];
    if (scenario === 'slow') return Array.from({ length: SLOW_DELTAS }, (_, i) => `tick${i + 1} `);
    return CANNED;
}

// Find the session working directory in the prompt text the agent sends to the model:
// "Working directory: /…" (claude: "Primary working directory:", in the first user
// message), or gemini's "Workspace Directories:** - /…" in its <session_context>.
function workdirGuess(text) {
    const m = /(?:Working directory|current working directory(?: is)?|working in the directory|Workspace Directories:\**)\s*:?\s*-?\s*(\/[^\s'"`<>]*)/i
        .exec(text);
    return m ? m[1].replace(/[.,;]+$/, '') : os.tmpdir();
}

// Collect the text of content blocks/parts of any vendor shape.
function textOf(content) {
    if (typeof content === 'string') return content;
    if (!Array.isArray(content)) return '';
    return content.map((b) => (b && typeof b.text === 'string' ? b.text : '')).join('\n');
}

// ---------------------------------------------------------------- streaming

// Stream deltas with write(), gap ms apart; stops when the client goes away.
function streamDeltas(res, deltas, gapMs, writeDelta, finish) {
    let i = 0;
    let timer = null;
    const step = () => {
        timer = null;
        if (res.destroyed) return;
        if (i < deltas.length) {
            writeDelta(deltas[i++]);
            timer = setTimeout(step, i < deltas.length ? gapMs : 0);
            return;
        }
        finish();
        res.end();
    };
    res.on('close', () => { if (timer) clearTimeout(timer); });
    step();
}

// Start an SSE response.
function sseStart(res) {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache',
                         connection: 'keep-alive' });
}

// Write one SSE event; event name omitted for Gemini (data lines only).
function sseEvent(res, name, data) {
    res.write((name ? `event: ${name}\n` : '') + `data: ${JSON.stringify(data)}\n\n`);
}

// Send a JSON reply.
function sendJson(res, status, body) {
    const s = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) });
    res.end(s);
}

// ---------------------------------------------------------------- OpenAI Responses

// The latest user text and whether a function_call_output follows it.
function openaiInput(body) {
    const items = Array.isArray(body.input) ? body.input : [];
    let text = '';
    let followUp = false;
    const said = [];
    for (const it of items) {
        if (!it || typeof it !== 'object') continue;
        if (it.role === 'user') { text = textOf(it.content); followUp = false; said.push(text); }
        if (it.type === 'function_call_output') followUp = true;
    }
    if (typeof body.input === 'string') { text = body.input; said.push(text); }
    return { text, followUp, said };
}

// POST /v1/responses: stream a message or an exec_command function call.
function openaiResponses(req, res, body) {
    const { text, followUp, said } = openaiInput(body);
    const scenario = scenarioPick(text, followUp, Array.isArray(body.tools) && body.tools.length > 0);
    logRequest(req, scenario, said);
    const n = ++counter;
    const usage = { input_tokens: 10, input_tokens_details: null, output_tokens: 5,
                    output_tokens_details: null, total_tokens: 15 };
    sseStart(res);
    sseEvent(res, 'response.created', { type: 'response.created', response: { id: `resp_${n}` } });
    const completed = () => sseEvent(res, 'response.completed',
                                     { type: 'response.completed', response: { id: `resp_${n}`, usage } });
    if (scenario === 'tool') {
        const args = { cmd: 'touch x.txt', sandbox_permissions: 'require_escalated', justification: 'test' };
        sseEvent(res, 'response.output_item.done', { type: 'response.output_item.done', output_index: 0,
            item: { type: 'function_call', id: `fc_${n}`, call_id: `call_${n}`, name: 'exec_command',
                    arguments: JSON.stringify(args) } });
        completed();
        res.end();
        return;
    }
    const deltas = scenarioDeltas(scenario);
    const msgId = `msg_${n}`;
    sseEvent(res, 'response.output_item.added', { type: 'response.output_item.added', output_index: 0,
        item: { type: 'message', role: 'assistant', id: msgId, content: [] } });
    streamDeltas(res, deltas, scenario === 'slow' ? SLOW_GAP_MS : 0,
        (d) => sseEvent(res, 'response.output_text.delta', { type: 'response.output_text.delta', delta: d,
                                                             item_id: msgId, output_index: 0, content_index: 0 }),
        () => {
            sseEvent(res, 'response.output_item.done', { type: 'response.output_item.done', output_index: 0,
                item: { type: 'message', role: 'assistant', id: msgId,
                        content: [{ type: 'output_text', text: deltas.join(''), annotations: [] }] } });
            completed();
        });
}

// GET /v1/models: one model, in both the OpenAI list shape and codex's {models} shape.
function openaiModels(req, res) {
    logRequest(req, null);
    sendJson(res, 200, { object: 'list', data: [{ id: 'fake-model', object: 'model', created: 0, owned_by: 'fake' }],
                         models: [] });
}

// ---------------------------------------------------------------- Anthropic Messages

// The latest user text and whether the last user message carries a tool_result.
function anthropicInput(body) {
    const msgs = Array.isArray(body.messages) ? body.messages : [];
    const last = [...msgs].reverse().find((m) => m && m.role === 'user');
    const said = msgs.filter((m) => m && m.role === 'user').map((m) => textOf(m.content));
    if (!last) return { text: '', followUp: false, said };
    const blocks = Array.isArray(last.content) ? last.content : [];
    return { text: textOf(last.content), followUp: blocks.some((b) => b && b.type === 'tool_result'), said };
}

// POST /v1/messages: stream text or a Write tool_use.
function anthropicMessages(req, res, body) {
    const { text, followUp, said } = anthropicInput(body);
    const scenario = scenarioPick(text, followUp, Array.isArray(body.tools) && body.tools.length > 0);
    logRequest(req, scenario, said);
    const n = ++counter;
    if (body.stream !== true) {
        const deltas = scenarioDeltas(scenario === 'tool' ? 'text' : scenario);
        return sendJson(res, 200, { id: `msg_${n}`, type: 'message', role: 'assistant', model: 'claude-fake',
            content: [{ type: 'text', text: deltas.join('') }], stop_reason: 'end_turn', stop_sequence: null,
            usage: { input_tokens: 10, output_tokens: 5 } });
    }
    sseStart(res);
    sseEvent(res, 'message_start', { type: 'message_start', message: { id: `msg_${n}`, type: 'message',
        role: 'assistant', model: 'claude-fake', content: [], stop_reason: null, stop_sequence: null,
        usage: { input_tokens: 10, output_tokens: 1 } } });
    const stop = (reason) => {
        sseEvent(res, 'content_block_stop', { type: 'content_block_stop', index: 0 });
        sseEvent(res, 'message_delta', { type: 'message_delta', delta: { stop_reason: reason, stop_sequence: null },
                                         usage: { output_tokens: 5 } });
        sseEvent(res, 'message_stop', { type: 'message_stop' });
    };
    if (scenario === 'tool') {
        const sys = typeof body.system === 'string' ? body.system : textOf(body.system);
        const all = (body.messages || []).map((m) => (m ? textOf(m.content) : '')).join('\n');
        const input = { file_path: path.join(workdirGuess(sys + '\n' + all), 'x.txt'), content: 'hi\n' };
        sseEvent(res, 'content_block_start', { type: 'content_block_start', index: 0,
            content_block: { type: 'tool_use', id: `toolu_${n}`, name: 'Write', input: {} } });
        sseEvent(res, 'content_block_delta', { type: 'content_block_delta', index: 0,
            delta: { type: 'input_json_delta', partial_json: JSON.stringify(input) } });
        stop('tool_use');
        res.end();
        return;
    }
    sseEvent(res, 'content_block_start', { type: 'content_block_start', index: 0,
                                           content_block: { type: 'text', text: '' } });
    streamDeltas(res, scenarioDeltas(scenario), scenario === 'slow' ? SLOW_GAP_MS : 0,
        (d) => sseEvent(res, 'content_block_delta', { type: 'content_block_delta', index: 0,
                                                      delta: { type: 'text_delta', text: d } }),
        () => stop('end_turn'));
}

// POST /v1/messages/count_tokens: a rough count.
function anthropicCountTokens(req, res, body) {
    logRequest(req, null);
    sendJson(res, 200, { input_tokens: Math.max(1, Math.ceil(JSON.stringify(body).length / 4)) });
}

// ---------------------------------------------------------------- Gemini

// The latest user text and whether the last user turn carries a functionResponse.
function geminiInput(body) {
    const contents = Array.isArray(body.contents) ? body.contents : [];
    const last = [...contents].reverse().find((c) => c && c.role === 'user');
    const said = contents.filter((c) => c && c.role === 'user' && Array.isArray(c.parts))
        .map((c) => textOf(c.parts));
    if (!last || !Array.isArray(last.parts)) return { text: '', followUp: false, said };
    return { text: textOf(last.parts), followUp: last.parts.some((p) => p && p.functionResponse), said };
}

// A Gemini candidate chunk.
function geminiChunk(parts, finish) {
    const c = { candidates: [{ content: { role: 'model', parts }, index: 0 }] };
    if (finish) {
        c.candidates[0].finishReason = 'STOP';
        c.usageMetadata = { promptTokenCount: 10, candidatesTokenCount: 5, totalTokenCount: 15 };
    }
    return c;
}

// POST /v1beta/models/<m>:streamGenerateContent|:generateContent.
function gemini(req, res, body, streaming) {
    const { text, followUp, said } = geminiInput(body);
    const hasTools = Array.isArray(body.tools) && body.tools.some((t) => t && t.functionDeclarations);
    const scenario = scenarioPick(text, followUp, hasTools);
    logRequest(req, scenario, said);
    const sys = body.systemInstruction ? textOf(body.systemInstruction.parts) : '';
    const all = (body.contents || []).map((c) => (c ? textOf(c.parts) : '')).join('\n');
    const toolPart = { functionCall: { name: 'write_file',
        args: { file_path: path.join(workdirGuess(sys + '\n' + all), 'x.txt'), content: 'hi\n' } } };
    if (!streaming) {
        const gc = body.generationConfig || {};
        /* the model router asks for JSON: give it a harmless verdict */
        const wantsJson = gc.responseMimeType === 'application/json' || gc.responseJsonSchema || gc.responseSchema;
        const out = wantsJson ? JSON.stringify({ complexity_reasoning: 'simple', complexity_score: 1 })
            : scenarioDeltas(scenario === 'tool' ? 'text' : scenario).join('');
        return sendJson(res, 200, geminiChunk(scenario === 'tool' && !wantsJson ? [toolPart] : [{ text: out }], true));
    }
    sseStart(res);
    if (scenario === 'tool') {
        sseEvent(res, null, geminiChunk([toolPart], true));
        res.end();
        return;
    }
    const deltas = scenarioDeltas(scenario);
    let sent = 0;
    streamDeltas(res, deltas, scenario === 'slow' ? SLOW_GAP_MS : 0,
        (d) => sseEvent(res, null, geminiChunk([{ text: d }], ++sent === deltas.length)),
        () => {});
}

// ---------------------------------------------------------------- server

let counter = 0;

// Read a JSON request body (bounded); resolves null for an empty body.
function readJson(req) {
    return new Promise((resolve, reject) => {
        const parts = [];
        let size = 0;
        req.on('data', (d) => {
            size += d.length;
            if (size > MAX_BODY) { reject(new Error('body too large')); req.destroy(); return; }
            parts.push(d);
        });
        req.on('end', () => {
            const s = Buffer.concat(parts).toString('utf8');
            if (s.trim() === '') return resolve({});
            try { resolve(JSON.parse(s)); } catch (e) { reject(new Error(`body is not JSON: ${e.message}`)); }
        });
        req.on('error', reject);
    });
}

// Route one request.
async function handle(req, res) {
    const u = new URL(req.url, 'http://127.0.0.1');
    const p = u.pathname;
    if (req.method === 'GET' && (p === '/v1/models' || p === '/models')) return openaiModels(req, res);
    if (req.method !== 'POST') {
        logRequest(req, null);
        return sendJson(res, 404, { error: { message: `no route for ${req.method} ${p}`, type: 'not_found' } });
    }
    let body;
    try {
        body = await readJson(req);
    } catch (e) {
        logRequest(req, null);
        return sendJson(res, 400, { error: { message: e.message, type: 'invalid_request_error' } });
    }
    if (p === '/v1/responses' || p === '/responses') return openaiResponses(req, res, body);
    if (p === '/v1/messages/count_tokens') return anthropicCountTokens(req, res, body);
    if (p === '/v1/messages') return anthropicMessages(req, res, body);
    const g = /^\/v1beta\/models\/[^/:]+:(streamGenerateContent|generateContent)$/.exec(p);
    if (g) return gemini(req, res, body, g[1] === 'streamGenerateContent');
    logRequest(req, null);
    sendJson(res, 404, { error: { message: `no route for POST ${p}`, type: 'not_found' } });
}

const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
        process.stderr.write(`fake-model: ${e.stack}\n`);
        if (!res.headersSent) sendJson(res, 500, { error: { message: e.message } });
        else res.destroy();
    });
});
server.on('error', (e) => {
    process.stderr.write(`fake-model: cannot listen: ${e.message}\n`);
    process.exit(1);
});
server.listen(opts.port, '127.0.0.1', () => {
    process.stdout.write(`listening ${server.address().port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => {
        server.closeAllConnections();
        server.close();
        process.exit(0);
    });
}
