"""The agent runs arbitrary shell commands as the broker's own uid: it must not get the
platform token. `agent-broker run` against the loopback Discord (and Slack) with canary
tokens,
agent = token_hunter.py, which tries every route to the broker's secrets when
prompted. No platform canary may appear in its findings; no canary at all (the agent's
own API keys included) in the broker's logs (text and JSON), /metrics, state files or
any chat post. Each route must really have been tried and refused for the right
reason (EACCES/EPERM, not "not found")."""

import json
import os
import signal
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "discord"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "slack"))

import discord_world as dw  # noqa: E402
import e2e  # noqa: E402
import slack_world as sw  # noqa: E402

HUNTER = os.path.join(HERE, "token_hunter.py")
PREFIX = "canary-"
TAG = uuid.uuid4().hex[:12]
DISCORD = PREFIX + "discord-" + TAG + "-Zq81"  # the platform token
AGENT_KEY = PREFIX + "agentkey-" + TAG + "-Kx2"  # inherited by the agent (its own)
AGENT_CFG = PREFIX + "agentcfg-" + TAG + "-Mw7"  # [agent] env, from ${VAR}
AGENT_CANARIES = (AGENT_KEY, AGENT_CFG)
NOBODY = 65534

# Routes that must be closed to a process of the same uid, with the errno expected.
DENIED = {
    "parent-environ": ("EACCES",),
    "parent-task-environ": ("EACCES",),
    "parent-maps": ("EACCES",),
    "parent-mem": ("EACCES",),
    "parent-cwd": ("EACCES",),
    "parent-fd": ("EACCES",),
    "ptrace-seize": ("EPERM",),
    "process-vm-readv": ("EPERM",),
}



class Hunt:
    """The hunt, whatever the platform: the broker runs the hunter as its agent, with
    @platform_tokens (canaries) in its environment and the agent's own keys."""

    log_format = "text"
    platform_tokens = ()  # (env name, value) of the platform's tokens
    has_state_files = True  # the platform keeps state (Discord: its gateway session)

    def canaries(self):
        return tuple(v for _, v in self.platform_tokens) + AGENT_CANARIES

    def agent_section(self):
        self.report = self.world.path("hunt-report.json")
        args = [HUNTER, "--report", self.report, "--state", self.world.state]
        for p in {PREFIX} | {v[:5] for _, v in self.platform_tokens}:
            args += ["--pattern", p]
        return ('[agent]\ncommand = "python3"\nargs = [%s]\ninherit_env = ["HUNTER_API_KEY"]\n'
                'env = { HUNTER_CFG_TOKEN = "${HUNTER_CFG_TOKEN}" }\n'
                % ", ".join(e2e.toml_str(a) for a in args))

    def log_section(self):
        return '[log]\nlevel = "debug"\nformat = "%s"\n' % self.log_format

    def start_hunted(self, config):
        """Start `run @config` with the canaries in its environment; as nobody when the
        test runs as root (root passes every permission check the broker relies on and
        holds CAP_SYS_PTRACE)."""
        env = dict(self.platform_tokens)
        env.update({"HUNTER_API_KEY": AGENT_KEY, "HUNTER_CFG_TOKEN": AGENT_CFG})
        env = self.world.env(env)
        argv = e2e.broker_argv(["run", config])
        if os.geteuid() == 0:
            for root, dirs, files in os.walk(self.world.dir):
                for n in [root] + [os.path.join(root, x) for x in dirs + files]:
                    os.chown(n, NOBODY, NOBODY)
            argv = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
                    "--clear-groups", "--"] + argv
        broker = e2e.Proc(argv, env, self.world.dir, False)
        self.world.procs.append(broker)
        return broker

    def report_of_hunt(self):
        with open(self.report, encoding="utf-8") as f:
            return json.load(f)

    def assert_no_canary(self, where, text, canaries=None):
        for c in canaries or self.canaries():
            self.assertNotIn(c, text, "%s leaks %s" % (where, c))
            # half a canary counts: redaction must run before any cut
            self.assertNotIn(c[:len(c) // 2 + 4], text, "%s leaks half of %s" % (where, c))

    def check_outside(self, posts, reply, metrics):
        """No canary in chat posts, /metrics or state files; the reply got through
        redacted."""
        self.assert_no_canary("chat posts", posts)
        self.assertIn("hunt report", reply)
        self.assertIn("own-environment os.environ: ok FOUND ***", reply)
        self.assert_no_canary("/metrics", metrics)
        for root, _, files in os.walk(self.world.state):
            for n in files:
                with open(os.path.join(root, n), "rb") as f:
                    self.assert_no_canary("state file " + n, f.read().decode("utf-8", "replace"))

    def check_report(self, report):
        routes = report["routes"]
        if os.environ.get("TOKEN_HUNT_VERBOSE"):
            for r in routes:
                print(json.dumps(r), file=sys.stderr)
        self.assertTrue(routes)
        by = {}
        for r in routes:
            by.setdefault(r["route"], []).append(r)
            for _, token in self.platform_tokens:
                self.assertNotIn(token, r["found"], "the agent got a platform token: %r" % r)
        for name in ("own-environment", "parent-environ", "parent-cmdline", "parent-maps",
                     "parent-mem", "ptrace-seize", "inherited-fd", "parent-fd",
                     "parent-task-environ", "state-dir", "core-dump", "parent-cwd",
                     "process-vm-readv", "config-file"):
            self.assertIn(name, by, "route %s was not tried" % name)
        for name, errnos in DENIED.items():
            for r in by[name]:
                self.assertEqual(r["outcome"], "denied", r)
                self.assertIn(r["errno"], errnos, r)
        # the hunt works: the agent's own keys are in its own environment
        self.assertIn(AGENT_KEY, by["own-environment"][0]["found"])
        self.assertIn(AGENT_CFG, by["own-environment"][0]["found"])
        self.assertEqual(report["dumpable"], 1, "the agent itself stays dumpable")
        self.assertEqual(by["parent-cmdline"][0]["outcome"], "ok")
        self.assertEqual(by["inherited-fd"][0]["outcome"], "absent", by["inherited-fd"])
        self.assertEqual(by["state-dir"][0]["outcome"], "ok", by["state-dir"])
        if self.has_state_files:
            self.assertTrue(any(r["outcome"] == "ok" for r in by.get("state-file", [])), by)
        self.assertEqual(by["core-dump"][0]["outcome"], "absent")
        # the config is readable by the same user (the token is not in it: ${VAR})
        self.assertEqual(by["config-file"][0]["outcome"], "ok", by["config-file"])

    def check_log(self):
        log = self.broker.err.text()
        self.assert_no_canary("the log", log)
        self.assertNotIn("is not set", log)
        self.assertNotIn("was not close-on-exec", log)


class TokenHunt(Hunt, dw.DiscordTest):
    platform_tokens = (("DISCORD_BOT_TOKEN", DISCORD),)

    def setUp(self):
        dw.TOKEN = DISCORD  # the fake accepts only this token
        self.token = "${DISCORD_BOT_TOKEN}"
        self.extra = self.log_section()
        super().setUp()

    def start_broker(self):
        # The config was written with the scripted agent: swap in the hunter.
        with open(self.config, encoding="utf-8") as f:
            text = f.read()
        start = text.index("[agent]")
        end = text.index("\n[", start + 1) + 1
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(text[:start] + self.agent_section() + text[end:])
        broker = self.start_hunted(self.config)
        e2e.wait_until(lambda: self.readyz() == 200, what="/readyz 200")
        return broker

    def hunt(self):
        _, tid = self.conversation("hunt for tokens")
        report = self.report_of_hunt()
        self.check_report(report)
        st = self.fake.state()
        posts = json.dumps([r["body"] for r in st["requests"]] +
                           [m["content"] for m in st["messages"]], ensure_ascii=False)
        reply = "\n".join(m["content"] for m in self.fake.bot_messages(st, tid))
        self.check_outside(posts, reply, e2e.http_get(self.health + "/metrics")[1])

    def test_the_agent_cannot_get_the_token(self):
        self.hunt()
        # A reload re-expands ${DISCORD_BOT_TOKEN} from the broker's own copy.
        self.broker.signal(signal.SIGHUP)
        self.broker.err.wait_for("configuration reloaded")
        self.hunt()
        self.stop()
        self.check_log()


class TokenHuntJson(TokenHunt):
    log_format = "json"


class TokenHuntSlack(Hunt, sw.SlackTest):
    # fake-slack.js accepts only its own tokens: they are the canaries here
    platform_tokens = (("SLACK_BOT_TOKEN", sw.BOT_TOKEN), ("SLACK_APP_TOKEN", sw.APP_TOKEN))
    has_state_files = False  # chat-slack keeps none; the session map may not be out yet

    def setUp(self):
        e2e.WorldTest.setUp(self)
        self.fake = sw.Fake(self.world, *self.fake_flags)
        self.port = e2e.free_port()
        self.config = self.world.write("config.toml", self.agent_section() + sw.CONFIG % {
            "bot": e2e.toml_str("${SLACK_BOT_TOKEN}"), "app": e2e.toml_str("${SLACK_APP_TOKEN}"),
            "api": e2e.toml_str(self.fake.base + "/api"), "idle": self.idle_ms,
            "section": "", "health": self.port, "state": e2e.toml_str(self.world.state),
            "edit": self.edit_ms} + self.log_section())
        self.broker = self.start_hunted(self.config)
        self.wait_ready_state(200)

    def test_the_agent_cannot_get_the_tokens(self):
        ts = self.fake.message("<@%s> hunt for tokens" % sw.BOT)["ts"]
        reply = self.final_reply(ts, "core-dump")["text"]
        self.check_report(self.report_of_hunt())
        st = self.fake.state()
        self.check_outside(json.dumps([r.get("args") for r in st["requests"]] +
                                      [m["text"] for m in st["messages"]], ensure_ascii=False),
                           reply, e2e.http_get("http://127.0.0.1:%d/metrics" % self.port)[1])
        self.stop()
        self.check_log()


if __name__ == "__main__":
    e2e.main()
