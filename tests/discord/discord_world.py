"""The chat-discord tests' world: tests/e2e/e2e.py's harness (scratch dir, broker
process, scripted ACP agent, cleanup by process group) plus the loopback Discord fake
(fake-discord.js) and a broker configured to talk to it. Python 3 stdlib only."""

import json
import os
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))

import e2e  # noqa: E402  (the shared harness)

FAKE = os.path.join(HERE, "fake-discord.js")
BUILD = os.environ.get("AB_BUILD_ROOT") or os.path.join(e2e.ROOT, "build")
TOKEN = "fake-bot-token-123456"
BOT_ID = "1000000000000000001"
ALICE = "1000000000000000002"
CHANNEL = "1200000000000000001"
OTHER_CHANNEL = "1200000000000000002"
HUMAN_THREAD = "1300000000000000100"


def vm_kb(pid, key):
    """A /proc/PID/status size (VmRSS, VmHWM) in KiB."""
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class Fake:
    """One fake-discord.js process and its control channel."""

    def __init__(self, world, heartbeat_ms=1000, args=()):
        env = dict(os.environ)
        env["NODE_PATH"] = os.path.join(e2e.ROOT, "tests", "node_modules")
        self.proc = world.helper(["node", FAKE, "--token", TOKEN, "--heartbeat",
                                  str(heartbeat_ms), "--lifetime", "300", *args],
                                 stdout=__import__("subprocess").PIPE, env=env)
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError("fake-discord.js did not start")
        self.port = json.loads(line)["port"]
        self.base = "http://127.0.0.1:%d" % self.port

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"null")

    def state(self):
        return self.call("GET", "/_test/state")

    def message(self, content, channel=CHANNEL, mention=True, **kw):
        """A human posts @content (mentioning the bot when @mention); returns the message."""
        body = dict(channel_id=channel, content=(("<@%s> " % BOT_ID) if mention else "")
                    + content, mentions=[BOT_ID] if mention else [], **kw)
        return self.call("POST", "/_test/message", body)

    def react(self, message_id, emoji, user=ALICE):
        return self.call("POST", "/_test/reaction",
                         dict(message_id=message_id, emoji=emoji, user_id=user))

    def fault(self, kind, **kw):
        return self.call("POST", "/_test/fault", dict(kind=kind, **kw))

    def rate_limit(self, method, path, retry_after, count=1, glob=False, multipart=False):
        """429 the next @count requests matching (@multipart: uploads only)."""
        return self.call("POST", "/_test/ratelimit", {"method": method, "path": path,
                                                      "retry_after": retry_after,
                                                      "count": count, "global": glob,
                                                      "multipart": multipart})

    def storm(self, **kw):
        """A 429 storm (limit, window_ms, p, seed, global_every); storm() ends it."""
        return self.call("POST", "/_test/storm", kw)

    def wait(self, pred, what, timeout=e2e.WAIT_S):
        """Poll the fake's state until @pred(state) is true; return its value."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.state()
            v = pred(st)
            if v:
                return v
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for %s; requests:\n%s\nframes:\n%s" % (
                    what, "\n".join(json.dumps(r, ensure_ascii=False)
                                    for r in st["requests"][-25:]),
                    "\n".join(json.dumps(f) for f in st["frames"][-25:])))
            time.sleep(0.1)

    def bot_messages(self, st, channel):
        return [m for m in st["messages"] if m["channel_id"] == channel
                and m["author_id"] == BOT_ID]

    def msg(self, st, mid):
        for m in st["messages"]:
            if m["id"] == mid:
                return m
        return None


CONFIG = """
[plugins]
chat = ["discord"]

[discord]
bot_token = %(token)s
api_base = %(api)s
gateway_url = %(gw)s
allowed_channels = [%(channel)s]
%(discord_extra)s

[health]
listen = "127.0.0.1:%(health)d"

[state]
dir = %(state)s

[stream]
edit_interval_ms = 300

[reactions.timing]
debounce_ms = 50
done_hold_ms = 100
%(extra)s
"""


class DiscordTest(e2e.WorldTest):
    """A fake Discord and `agent-broker run` connected to it (/readyz 200)."""

    agent_flags = ("--tick", "20")
    agent_extra = ""
    discord_extra = ""
    extra = ""
    heartbeat_ms = 1000
    fake_options = ()
    token = TOKEN
    wait_ready = True

    def setUp(self):
        super().setUp()
        self.fake = Fake(self.world, self.heartbeat_ms, args=self.fake_options)
        self.port = e2e.free_port()
        self.health = "http://127.0.0.1:%d" % self.port
        self.config = self.world.write("config.toml", self.world.scripted_agent(
            *self.agent_flags) + self.agent_extra + CONFIG % dict(
                token=e2e.toml_str(self.token),
                api=e2e.toml_str(self.fake.base + "/api/v10"),
                gw=e2e.toml_str("ws://127.0.0.1:%d/gateway" % self.fake.port),
                channel=e2e.toml_str(CHANNEL), discord_extra=self.discord_extra,
                health=self.port, state=e2e.toml_str(self.world.state), extra=self.extra))
        self.broker = self.start_broker()

    def start_broker(self):
        broker = self.world.start("run", self.config, stdin=False)
        if self.wait_ready:
            e2e.wait_until(lambda: self.readyz() == 200, what="/readyz 200")
        return broker

    def readyz(self):
        try:
            return e2e.http_get(self.health + "/readyz")[0]
        except OSError:
            return 0

    def stop(self):
        import signal
        self.broker.signal(signal.SIGTERM)
        rc = self.broker.wait()
        if rc != 0 and os.environ.get("AB_DISCORD_ERR_FILE"):
            with open(os.environ["AB_DISCORD_ERR_FILE"], "w") as f:
                f.write(self.broker.err.text())
        self.assertEqual(rc, 0, self.broker.err.text()[-3000:])

    def conversation(self, text, **kw):
        """Mention the bot with @text; wait for its thread and the final answer in it
        (the 🆗 reaction on the user's message). Returns (user message, thread id)."""
        f = self.fake
        m = f.message(text, **kw)
        tid = f.wait(lambda st: f.msg(st, m["id"])["thread"], "a thread from " + m["id"])
        f.wait(lambda st: "🆗" in f.msg(st, m["id"])["reactions"]
               and BOT_ID in f.msg(st, m["id"])["reactions"]["🆗"], "🆗 on " + m["id"])
        return m, tid
