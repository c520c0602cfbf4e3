"""Harness for the chat-teams tests: the loopback Bot Framework (fake-teams.js) and a
running `agent-broker run` with the real chat-teams plugin, its [ingress] listener the
fake POSTs signed activities to. Builds on tests/e2e/e2e.py (World, Proc, waits). Python
3 stdlib only; everything on 127.0.0.1."""

import json
import os
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))

import e2e  # noqa: E402

FAKE = os.path.join(HERE, "fake-teams.js")
APP_ID = "00000000-0000-4000-8000-00000000b07a"
APP_PASSWORD = "fake-teams-app-secret~1"
TENANT = "11111111-2222-4333-8444-555555555555"


class Fake:
    """One fake-teams.js process; `call` drives its /_test control channel."""

    def __init__(self, world, *flags):
        self.proc = world.helper(["node", FAKE, "--max-runtime-s", "300"] + list(flags),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("listening "):
            raise AssertionError("fake-teams did not start: %r %s" % (
                line, self.proc.stderr.read().decode()))
        self.port = int(line.split()[1])
        self.base = "http://127.0.0.1:%d" % self.port

    def call(self, name, **body):
        data = json.dumps(body).encode() if body else None
        req = urllib.request.Request(self.base + "/_test/" + name, data=data,
                                     method="POST" if data else "GET")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            return json.loads(e.read())

    def state(self):
        return self.call("state")

    def message(self, text, **kw):
        """A user posts @text (mentioning the bot unless mention=False); returns {status,
        id, conversation}."""
        return self.call("message", text=text, **kw)

    def posts(self, conversation):
        return [p for p in self.state()["posts"].get(conversation, []) if p["type"] == "message"]


CONFIG = """
[plugins]
chat = ["teams"]

[teams]
app_id = %(app)s
app_password = "${TEAMS_APP_PASSWORD}"
tenant_id = %(tenant)s
openid_url = %(openid)s
login_url = %(login)s
default_service_url = %(svc)s
key_refetch_ms = %(refetch)d
%(section)s

[ingress]
listen = "127.0.0.1:%(ingress)d"

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


class TeamsTest(e2e.WorldTest):
    """A fake Bot Framework and a broker running against it, ready (/readyz 200)."""

    agent_flags = ("--tick", "20")
    edit_ms = 300
    refetch_ms = 1000
    section = ""
    extra = ""  # more of the config, after the Teams tables
    broker_env = None  # extra environment of the broker

    def setUp(self):
        super().setUp()
        self.fake = Fake(self.world)
        self.port = e2e.free_port()
        self.ingress = e2e.free_port()
        self.config = self.world.write("config.toml", self.world.scripted_agent(*self.agent_flags)
                                       + CONFIG % {
            "app": e2e.toml_str(APP_ID), "tenant": e2e.toml_str(TENANT),
            "openid": e2e.toml_str(self.fake.base + "/openid"),
            "login": e2e.toml_str(self.fake.base),
            "svc": e2e.toml_str(self.fake.base + "/svc"),
            "refetch": self.refetch_ms, "section": self.section,
            "ingress": self.ingress, "health": self.port,
            "state": e2e.toml_str(self.world.state), "edit": self.edit_ms}
                                       + self.extra)
        self.fake.call("target", url="http://127.0.0.1:%d/api/messages" % self.ingress)
        self.broker = self.world.start("run", self.config, stdin=False,
                                       env=dict(self.broker_env or {},
                                                TEAMS_APP_PASSWORD=APP_PASSWORD))
        self.wait_ready_state(200)

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
        out = []
        for m in e2e.agent_calls(self.world, "session/prompt"):
            out.append("".join(b.get("text", "") for b in m["params"]["prompt"]
                               if b.get("type") == "text"))
        return out

    def final_reply(self, conversation, needle, timeout=e2e.WAIT_S):
        """Wait until a bot post in @conversation contains @needle; return it."""
        def found():
            for p in self.fake.posts(conversation):
                if needle in p["text"]:
                    return p
            return None
        return self.wait_until(found, "a reply containing %r in %s" % (needle, conversation),
                               timeout=timeout)

    def stop(self):
        self.broker.signal(15)
        self.assertEqual(self.broker.wait(), 0, self.broker.err.text()[-3000:])


def main():
    e2e.main()


__all__ = ["Fake", "TeamsTest", "APP_ID", "APP_PASSWORD", "main", "e2e", "time"]
