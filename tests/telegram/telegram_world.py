"""Harness for the chat-telegram tests: the loopback Bot API fake (fake-telegram.js) and a
running `agent-broker run` with the real chat-telegram plugin pointed at it. Builds on
tests/e2e/e2e.py (World, Proc, waits). Python 3 stdlib only; everything on 127.0.0.1."""

import json
import os
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))

import e2e  # noqa: E402

FAKE = os.path.join(HERE, "fake-telegram.js")
TOKEN = "999000:AAFakeTokenForTestsOnly_abcdefghijklmno"
BOT = 999000
ALICE, BOB = 111, 222
GROUP, FORUM, TOPIC = -4001, -1001000, 7


class Fake:
    """One fake-telegram.js process; `call` drives its /_test control channel."""

    def __init__(self, world, *flags):
        self.proc = world.helper(["node", FAKE, "--max-runtime-s", "300"] + list(flags),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("listening "):
            raise AssertionError("fake-telegram did not start: %r %s" % (
                line, self.proc.stderr.read().decode()))
        self.port = int(line.split()[1])
        self.base = "http://127.0.0.1:%d" % self.port

    def call(self, control, **body):
        """POST /_test/@control with @body (GET when empty); the JSON answer."""
        data = json.dumps(body).encode() if body else None
        req = urllib.request.Request(self.base + "/_test/" + control, data=data,
                                     method="POST" if data else "GET")
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            return json.loads(e.read())

    def state(self):
        return self.call("state")

    def requests(self, method=None):
        return [r for r in self.state()["requests"] if method is None or r["method"] == method]

    def message(self, text, chat=GROUP, user=ALICE, **kw):
        """A user posts @text; returns {message_id, update_id}."""
        return self.call("message", chat=chat, user=user, text=text, **kw)

    def messages(self, chat):
        return self.state()["chats"][str(chat)]

    def bot_messages(self, chat, reply_to=None, thread=None):
        """Messages the bot posted in @chat (replying to @reply_to, in topic @thread)."""
        out = []
        for m in self.messages(chat):
            if m["from"]["id"] != BOT:
                continue
            if reply_to is not None and (m.get("reply_to_message") or {}).get("message_id") != reply_to:
                continue
            if thread is not None and m.get("message_thread_id") != thread:
                continue
            out.append(m)
        return out

    def message_by_id(self, chat, mid):
        for m in self.messages(chat):
            if m["message_id"] == mid:
                return m
        return None


CONFIG = """
[plugins]
chat = ["telegram"]

[telegram]
bot_token = %(token)s
api_base = %(api)s
poll_timeout_s = %(poll)d
%(section)s

[health]
listen = "127.0.0.1:%(health)d"

[state]
dir = %(state)s

[stream]
edit_interval_ms = %(edit)d

[reactions.timing]
debounce_ms = 50
done_hold_ms = 100
"""


class TelegramTest(e2e.WorldTest):
    """A fake Telegram and a broker running against it, ready (/readyz 200)."""

    agent_flags = ("--tick", "20")
    fake_flags = ()
    poll_s = 2
    edit_ms = 100
    section = ""
    extra = ""  # more of the config, after the Telegram tables
    wait_ready = True

    def setUp(self):
        super().setUp()
        self.fake = Fake(self.world, *self.fake_flags)
        self.port = e2e.free_port()
        self.write_config(self.section)
        self.start_broker()

    def write_config(self, section):
        """(Re)write config.toml with @section in [telegram]."""
        self.config = self.world.write("config.toml", self.world.scripted_agent(*self.agent_flags)
                                       + CONFIG % {
            "token": e2e.toml_str(TOKEN), "api": e2e.toml_str(self.fake.base),
            "poll": self.poll_s, "section": section, "health": self.port,
            "state": e2e.toml_str(self.world.state), "edit": self.edit_ms}
                                       + self.extra)

    def start_broker(self, env=None):
        self.broker = self.world.start("run", self.config, stdin=False, env=env)
        if self.wait_ready:
            self.wait_ready_state(200)
            # the first getUpdates is out: messages posted from now on are picked up
            self.wait_until(lambda: self.fake.state()["waiting"], "the first long poll")

    def readyz(self):
        try:
            return e2e.http_get("http://127.0.0.1:%d/readyz" % self.port)[0]
        except OSError:
            return 0

    def wait_ready_state(self, status, timeout=e2e.WAIT_S):
        e2e.wait_until(lambda: self.readyz() == status, timeout=timeout,
                       what="/readyz %d; stderr:\n%s" % (status, self.broker.err.text()[-3000:]))

    def wait_until(self, fn, what, timeout=e2e.WAIT_S):
        return e2e.wait_until(fn, timeout=timeout, what=what + "; broker stderr:\n"
                              + self.broker.err.text()[-3000:])

    def prompts(self):
        """The prompt texts the agent received, in order."""
        out = []
        for m in e2e.agent_calls(self.world, "session/prompt"):
            out.append("".join(b.get("text", "") for b in m["params"]["prompt"]
                               if b.get("type") == "text"))
        return out

    def final_reply(self, chat, needle, timeout=e2e.WAIT_S, **kw):
        """Wait until a bot message in @chat contains @needle; return it."""
        def found():
            for m in self.fake.bot_messages(chat, **kw):
                if needle in m.get("text", ""):
                    return m
            return None
        return self.wait_until(found, "a reply containing %r in %s" % (needle, chat),
                               timeout=timeout)

    def stop(self):
        self.broker.signal(15)
        self.assertEqual(self.broker.wait(), 0, self.broker.err.text()[-3000:])


def main():
    e2e.main()


__all__ = ["Fake", "TelegramTest", "BOT", "ALICE", "BOB", "GROUP", "FORUM", "TOPIC", "TOKEN",
           "main", "e2e", "time"]
