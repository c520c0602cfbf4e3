"""Loopback WebSocket server for the core's WebSocket client tests (Debian's
python3-websockets, 10.x). Prints its port on the first line of stdout, then serves
until killed. The path picks the behaviour:
  /echo       answers "echo:<text>"; "big:N" gets N bytes back in 64 KiB fragments
  /close4004  closes at once with 4004 "Authentication failed."
  /drop       sends "hello", then drops TCP without a close frame
  /deaf       sends "hello", then stops reading (pings go unanswered)
  /quiet      sends "hello", then says nothing (pings are answered)
  /log        sends the event log as JSON (what earlier connections did), then closes
With AB_TEST_TLS_CERT and AB_TEST_TLS_KEY in the environment (PEM files), it speaks
wss:// with that certificate.
"""
import asyncio
import json
import os
import ssl
import sys

import websockets

events = []


def fragments(n, size=65536):
    sent = 0
    i = 0
    while sent < n:
        k = min(size, n - sent)
        yield "".join(chr(ord("a") + (i + j) % 26) for j in range(k))
        sent += k
        i += k


async def handler(ws, path):
    events.append({"path": path, "event": "open", "host": ws.request_headers.get("Host")})
    try:
        if path == "/echo":
            async for msg in ws:
                events.append({"path": path, "event": "message", "len": len(msg)})
                if isinstance(msg, str) and msg.startswith("big:"):
                    await ws.send(fragments(int(msg[4:])))
                else:
                    await ws.send("echo:" + msg)
        elif path == "/close4004":
            await ws.close(4004, "Authentication failed.")
        elif path == "/drop":
            await ws.send("hello")
            await asyncio.sleep(0.1)
            ws.transport.abort()
        elif path == "/deaf":
            await ws.send("hello")
            ws.transport.pause_reading()
            await asyncio.sleep(60)
        elif path == "/quiet":
            await ws.send("hello")
            async for _ in ws:
                pass
        elif path == "/log":
            await ws.send(json.dumps(events))
            await ws.close(1000, "done")
    except websockets.ConnectionClosed:
        pass
    finally:
        if path != "/log":
            events.append({"path": path, "event": "close", "code": ws.close_code,
                           "reason": ws.close_reason})


async def main():
    tls = None
    if os.environ.get("AB_TEST_TLS_CERT"):
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(os.environ["AB_TEST_TLS_CERT"], os.environ["AB_TEST_TLS_KEY"])
    async with websockets.serve(handler, "127.0.0.1", 0, ping_interval=None,
                                max_size=None, ssl=tls) as server:
        port = server.sockets[0].getsockname()[1]
        print(port, flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
