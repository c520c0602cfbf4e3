"""Harness for the chat-slack tests: the loopback Slack fake (fake-slack.js) and a
running `agent-broker run` with the real chat-slack plugin pointed at it. Builds on
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

FAKE = os.path.join(HERE, "fake-slack.js")
BOT_TOKEN = "xoxb-fake-bot-token"
APP_TOKEN = "xapp-fake-app-token"
BOT = "U0BOT"
CHANNEL = "C100"


class Fake:
    """One fake-slack.js process; `call` drives its /_test control channel."""

    def __init__(self, world, *flags):
        self.proc = world.helper(["node", FAKE, "--max-runtime-s", "300"] + list(flags),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("listening "):
            raise AssertionError("fake-slack did not start: %r %s" % (
                line, self.proc.stderr.read().decode()))
        self.port = int(line.split()[1])
        self.base = "http://127.0.0.1:%d" % self.port

    def call(self, name, **body):
        """POST /_test/@name with @body (GET when empty); the JSON answer."""
        data = json.dumps(body).encode() if body else None
        req = urllib.request.Request(self.base + "/_test/" + name, data=data,
                                     method="POST" if data else "GET")
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            return json.loads(e.read())

    def state(self):
        return self.call("state")

    def requests(self, method):
        return [r for r in self.state()["requests"] if r["method"] == method]

    def message(self, text, user="U1", channel=CHANNEL, thread_ts=None):
        """A user posts @text; returns {ts, envelopes}."""
        body = {"channel": channel, "user": user, "text": text}
        if thread_ts:
            body["thread_ts"] = thread_ts
        return self.call("message", **body)

    def bot_posts(self, thread_ts=None):
        """Messages the bot posted (optionally in thread @thread_ts), oldest first."""
        return [m for m in self.state()["messages"] if m["user"] == BOT and
                (thread_ts is None or m.get("thread_ts") == thread_ts)]

    def reactions_on(self, ts):
        """The reaction names the bot holds now on message @ts."""
        for m in self.state()["messages"]:
            if m["ts"] == ts:
                return {name for name, users in m["reactions"].items() if BOT in users}
        return set()

    def live_connections(self):
        return [c for c in self.state()["connections"] if c["closed_t"] is None]


CONFIG = """
[plugins]
chat = ["slack"]

[slack]
bot_token = %(bot)s
app_token = %(app)s
api_base = %(api)s
idle_timeout_ms = %(idle)d
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


class SlackTest(e2e.WorldTest):
    """A fake Slack and a broker running against it, ready (/readyz 200)."""

    agent_flags = ("--tick", "20")
    fake_flags = ("--ack-timeout-ms", "1500", "--ping-ms", "1000", "--grace-ms", "3000")
    idle_ms = 60000
    edit_ms = 100
    section = ""
    extra = ""  # more of the config, after the Slack tables
    broker_env = None  # extra environment of the broker
    wait_ready = True

    def setUp(self):
        super().setUp()
        self.fake = Fake(self.world, *self.fake_flags)
        self.prepare(self.fake)
        self.port = e2e.free_port()
        self.config = self.world.write("config.toml", self.world.scripted_agent(*self.agent_flags)
                                       + CONFIG % {
            "bot": e2e.toml_str(BOT_TOKEN), "app": e2e.toml_str(APP_TOKEN),
            "api": e2e.toml_str(self.fake.base + "/api"), "idle": self.idle_ms,
            "section": self.section, "health": self.port,
            "state": e2e.toml_str(self.world.state), "edit": self.edit_ms}
                                       + self.extra)
        self.broker = self.world.start("run", self.config, stdin=False, env=self.broker_env)
        if self.wait_ready:
            self.wait_ready_state(200)

    def prepare(self, fake):
        """Script @fake before the broker starts (override)."""

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

    def final_reply(self, thread_ts, needle, timeout=e2e.WAIT_S):
        """Wait until a bot post in @thread_ts contains @needle; return that post."""
        def found():
            for m in self.fake.bot_posts(thread_ts):
                if needle in m["text"]:
                    return m
            return None
        return self.wait_until(found, "a reply containing %r in thread %s" % (needle, thread_ts),
                               timeout=timeout)

    def stop(self):
        self.broker.signal(15)
        self.assertEqual(self.broker.wait(), 0, self.broker.err.text()[-3000:])


def main():
    e2e.main()


__all__ = ["Fake", "SlackTest", "BOT", "CHANNEL", "main", "e2e", "time"]
