"""Loopback HTTP/1.1 server for the core's HTTP client tests (stdlib only).

Prints its port on the first line of stdout, then serves until killed:
  /echo          any method: JSON {method, path, headers (lower-case names), body}
  /connections   JSON {connections: TCP connections accepted so far}
  /slow?ms=N     answers after N ms
  /hang          never answers
  /ratelimit     429 with Retry-After and X-RateLimit-* headers (?retry=, ?reset= override
                 the Retry-After and X-RateLimit-Reset-After values)
  /big?bytes=N   N bytes of 'x'
  /limited?key=K&n=N&retry=S   the first N requests of key K: 429 with Retry-After S;
                 then 200 "ok" (the body of every answer says the request's number)
  /window?remaining=R&reset=S  200 with X-RateLimit-Remaining R, -Reset-After S and
                 X-RateLimit-Bucket "win"
  /chunked?n=N&size=S  200, Transfer-Encoding: chunked: N chunks of S bytes ('a', 'b', …)
  /cut           200 announcing 1000 bytes, sends 10, closes the connection
  /form          a multipart/form-data POST: JSON {parts: [{name, filename, type, size,
                 sha256}]} of what arrived
With AB_TEST_TLS_CERT and AB_TEST_TLS_KEY in the environment (PEM files), it speaks
HTTPS with that certificate.
"""
import hashlib
import json
import os
import ssl
import sys
from email import policy
from email.parser import BytesParser
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

connections = 0
lock = threading.Lock()
limited = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        global connections
        with lock:
            connections += 1
        super().setup()

    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if url.path == "/echo":
            doc = {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace"),
            }
            self.reply(200, json.dumps(doc), [("Content-Type", "application/json"),
                                              ("X-Echo", "yes")])
        elif url.path == "/connections":
            with lock:
                n = connections
            self.reply(200, json.dumps({"connections": n}))
        elif url.path == "/slow":
            time.sleep(int(query["ms"][0]) / 1000.0)
            self.reply(200, "slow")
        elif url.path == "/hang":
            time.sleep(60)
        elif url.path == "/ratelimit":
            self.reply(429, json.dumps({"message": "You are being rate limited.",
                                        "retry_after": 2.5, "global": True}),
                       [("Retry-After", query.get("retry", ["3"])[0]),
                        ("X-RateLimit-Limit", "5"), ("X-RateLimit-Remaining", "0"),
                        ("X-RateLimit-Reset-After", query.get("reset", ["2.5"])[0]),
                        ("X-RateLimit-Bucket", "abc123"), ("X-RateLimit-Global", "true"),
                        ("X-RateLimit-Scope", "global")])
        elif url.path == "/limited":
            key = query.get("key", [""])[0]
            with lock:
                limited[key] = limited.get(key, 0) + 1
                n = limited[key]
            if n <= int(query.get("n", ["1"])[0]):
                self.reply(429, "429 #%d" % n, [("Retry-After", query.get("retry", ["1"])[0]),
                                                 ("X-RateLimit-Remaining", "0")])
            else:
                self.reply(200, "ok #%d" % n)
        elif url.path == "/window":
            self.reply(200, "window", [
                ("X-RateLimit-Remaining", query.get("remaining", ["0"])[0]),
                ("X-RateLimit-Reset-After", query.get("reset", ["1"])[0]),
                ("X-RateLimit-Bucket", "win")])
        elif url.path == "/chunked":
            n, size = int(query["n"][0]), int(query["size"][0])
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("X-Chunks", str(n))
            self.end_headers()
            for i in range(n):
                data = bytes([ord("a") + i % 26]) * size
                self.wfile.write(b"%x;ext=1\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
            self.wfile.write(b"0\r\nX-Trailer: t\r\n\r\n")
        elif url.path == "/cut":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            self.close_connection = True
        elif url.path == "/form":
            ctype = self.headers.get("Content-Type", "")
            msg = BytesParser(policy=policy.HTTP).parsebytes(
                b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
            parts = []
            for part in msg.iter_parts():
                data = part.get_payload(decode=True)
                parts.append({"name": part.get_param("name", header="content-disposition"),
                              "filename": part.get_filename(),
                              "type": part.get("Content-Type"), "size": len(data),
                              "sha256": hashlib.sha256(data).hexdigest()})
            self.reply(200, json.dumps({"length": length, "parts": parts}))
        elif url.path == "/big":
            self.reply(200, b"x" * int(query["bytes"][0]))
        else:
            self.reply(404, "no such path")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if os.environ.get("AB_TEST_TLS_CERT"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.environ["AB_TEST_TLS_CERT"], os.environ["AB_TEST_TLS_KEY"])
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
