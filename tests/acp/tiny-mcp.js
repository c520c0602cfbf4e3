#!/usr/bin/env node
// tiny-mcp.js: the smallest MCP server a real agent can list: MCP over stdio
// (newline-delimited JSON-RPC 2.0) with one tool, tiny_echo. Every line it receives is
// appended to --log FILE, so a test sees that the agent started it and listed its tools.
// Usage: node tests/acp/tiny-mcp.js --log FILE
'use strict';

const fs = require('fs');
const readline = require('readline');

const logIndex = process.argv.indexOf('--log');
const logFile = logIndex > 0 ? process.argv[logIndex + 1] : null;

// Write one JSON-RPC message on stdout.
function send(msg) {
    process.stdout.write(JSON.stringify(msg) + '\n');
}

const TOOL = {
    name: 'tiny_echo',
    description: 'Echo the given text back (agent-broker test server)',
    inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
};

// The answer to request @msg, or undefined for a notification.
function answer(msg) {
    switch (msg.method) {
    case 'initialize':
        return {
            protocolVersion: (msg.params && msg.params.protocolVersion) || '2025-06-18',
            capabilities: { tools: { listChanged: false } },
            serverInfo: { name: 'tiny-mcp', version: '1.0.0' },
        };
    case 'ping': return {};
    case 'tools/list': return { tools: [TOOL] };
    case 'tools/call': {
        const text = msg.params && msg.params.arguments ? String(msg.params.arguments.text) : '';
        return { content: [{ type: 'text', text: `echo: ${text}` }], isError: false };
    }
    default: return null;
    }
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
    if (logFile) fs.appendFileSync(logFile, line + '\n');
    let msg;
    try {
        msg = JSON.parse(line);
    } catch (e) {
        return;
    }
    if (!msg || typeof msg !== 'object' || msg.id === undefined || typeof msg.method !== 'string')
        return; // notifications and responses need no answer
    const result = answer(msg);
    if (result === null)
        send({ jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: `Method not found: ${msg.method}` } });
    else
        send({ jsonrpc: '2.0', id: msg.id, result });
});
process.stdin.on('end', () => process.exit(0));
