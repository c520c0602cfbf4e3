"""Voice through chat-discord: a voice message is transcribed by an OpenAI-compatible
/audio/transcriptions endpoint ([stt]; a fake one here) and prompted as text; with
echo_transcript the transcript is posted in the thread; the [stt] api_key is a secret."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import discord_world as dw
import e2e

KEY = "sk-stt-test-secret-0123456789"
SAID = "please run the unit tests"
OGG = b"OggS\x00\x02" + bytes(200)


class FakeStt(BaseHTTPRequestHandler):
    """POST /v1/audio/transcriptions: a multipart form with file and model, the bearer
    key required; answers {"text": SAID}."""
    seen = []

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ctype = self.headers.get("Content-Type", "")
        rec = {"path": self.path, "auth": self.headers.get("Authorization") == "Bearer " + KEY,
               "multipart": ctype.startswith("multipart/form-data"),
               "model": None, "file_bytes": None, "filename": None}
        if rec["multipart"] and "boundary=" in ctype:
            delim = b"--" + ctype.split("boundary=", 1)[1].strip().strip('"').encode()
            for part in raw.split(delim)[1:-1]:
                head, _, body = part.partition(b"\r\n\r\n")
                body = body[:-2]  # the CRLF before the next delimiter
                if b'name="model"' in head:
                    rec["model"] = body.decode()
                if b'name="file"' in head:
                    rec["file_bytes"] = body
                    rec["filename"] = head.split(b'filename="', 1)[1].split(b'"', 1)[0].decode()
        FakeStt.seen.append(rec)
        ok = (self.path == "/v1/audio/transcriptions" and rec["auth"] and rec["model"] and
              rec["file_bytes"])
        out = json.dumps({"text": SAID} if ok else {"error": {"message": "bad request"}}).encode()
        self.send_response(200 if ok else 400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *a):
        pass


class Voice(dw.DiscordTest):

    def setUp(self):
        FakeStt.seen = []
        self.stt = ThreadingHTTPServer(("127.0.0.1", 0), FakeStt)
        threading.Thread(target=self.stt.serve_forever, daemon=True).start()
        self.extra = ("\n[stt]\nenabled = true\napi_key = %s\nmodel = \"whisper-1\"\n"
                      "base_url = %s\necho_transcript = true\n" % (
                          e2e.toml_str(KEY),
                          e2e.toml_str("http://127.0.0.1:%d/v1" % self.stt.server_port)))
        super().setUp()

    def tearDown(self):
        self.stt.shutdown()
        self.stt.server_close()
        super().tearDown()

    def test_voice_message_is_transcribed_and_prompted_as_text(self):
        f = self.fake
        m, tid = self.conversation("", voice=True, attachments=[
            dict(filename="voice-message.ogg", content_type="audio/ogg",
                 data_b64=__import__("base64").b64encode(OGG).decode(), duration_secs=2)])
        self.assertEqual(len(FakeStt.seen), 1, FakeStt.seen)
        rec = FakeStt.seen[0]
        self.assertTrue(rec["auth"], rec)
        self.assertEqual(rec["model"], "whisper-1")
        self.assertEqual(rec["file_bytes"], OGG)
        self.assertEqual(rec["filename"], "voice-message.ogg")
        prompt = e2e.agent_calls(self.world, "session/prompt")[-1]["params"]["prompt"]
        texts = [b["text"] for b in prompt if b["type"] == "text"]
        self.assertIn("[voice transcript]\n" + SAID, texts[-1])
        st = f.state()
        self.assertTrue(any(x["content"] == "🎙️ " + SAID for x in f.bot_messages(st, tid)),
                        [x["content"] for x in f.bot_messages(st, tid)])
        # the key never reaches the agent or the log
        with open(self.world.agent_log(), encoding="utf-8") as fh:
            self.assertNotIn(KEY, fh.read())
        self.assertNotIn(KEY, self.broker.err.text())
        self.stop()


if __name__ == "__main__":
    e2e.main()
