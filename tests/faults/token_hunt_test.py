"""The agent runs arbitrary shell commands as the broker's own uid: it must not get the
platform token. `agent-broker run` against the loopback Discord with canary tokens,
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

import discord_world as dw  # noqa: E402
import e2e  # noqa: E402

HUNTER = os.path.join(HERE, "token_hunter.py")
PREFIX = "canary-"
TAG = uuid.uuid4().hex[:12]
DISCORD = PREFIX + "discord-" + TAG + "-Zq81"  # the platform token
AGENT_KEY = PREFIX + "agentkey-" + TAG + "-Kx2"  # inherited by the agent (its own)
AGENT_CFG = PREFIX + "agentcfg-" + TAG + "-Mw7"  # [agent] env, from ${VAR}
CANARIES = (DISCORD, AGENT_KEY, AGENT_CFG)
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


class TokenHunt(dw.DiscordTest):
    log_format = "text"

    def setUp(self):
        dw.TOKEN = DISCORD  # the fake accepts only this token
        self.token = "${DISCORD_BOT_TOKEN}"
        self.report = None
        self.extra = '[log]\nlevel = "debug"\nformat = "%s"\n' % self.log_format
        super().setUp()

    def agent_section(self):
        self.report = self.world.path("hunt-report.json")
        args = [HUNTER, "--pattern", PREFIX, "--report", self.report,
                "--state", os.path.join(self.world.state, "plugins", "discord")]
        return ('[agent]\ncommand = "python3"\nargs = [%s]\ninherit_env = ["HUNTER_API_KEY"]\n'
                'env = { HUNTER_CFG_TOKEN = "${HUNTER_CFG_TOKEN}" }\n'
                % ", ".join(e2e.toml_str(a) for a in args))

    def start_broker(self):
        # The config was written with the scripted agent: swap in the hunter.
        with open(self.config, encoding="utf-8") as f:
            text = f.read()
        start = text.index("[agent]")
        end = text.index("\n[", start + 1) + 1
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(text[:start] + self.agent_section() + text[end:])
        env = self.world.env({"DISCORD_BOT_TOKEN": DISCORD, "HUNTER_API_KEY": AGENT_KEY,
                              "HUNTER_CFG_TOKEN": AGENT_CFG})
        argv = e2e.broker_argv(["run", self.config])
        if os.geteuid() == 0:
            # root passes every permission check the broker relies on (and holds
            # CAP_SYS_PTRACE): run the broker, hence its agent, as nobody.
            for root, dirs, files in os.walk(self.world.dir):
                for n in [root] + [os.path.join(root, x) for x in dirs + files]:
                    os.chown(n, NOBODY, NOBODY)
            argv = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
                    "--clear-groups", "--"] + argv
        broker = e2e.Proc(argv, env, self.world.dir, False)
        self.world.procs.append(broker)
        e2e.wait_until(lambda: self.readyz() == 200, what="/readyz 200")
        return broker

    def hunt(self):
        m, tid = self.conversation("hunt for tokens")
        with open(self.report, encoding="utf-8") as f:
            return json.load(f), tid

    def assert_no_canary(self, where, text, canaries=CANARIES):
        for c in canaries:
            self.assertNotIn(c, text, "%s leaks %s" % (where, c))
            # half a canary counts: redaction must run before any cut
            self.assertNotIn(c[:len(c) // 2 + 4], text, "%s leaks half of %s" % (where, c))

    def check_everywhere(self, tid):
        st = self.fake.state()
        posts = json.dumps([r["body"] for r in st["requests"]] +
                           [m["content"] for m in st["messages"]], ensure_ascii=False)
        self.assert_no_canary("chat posts", posts)
        reply = "\n".join(m["content"] for m in self.fake.bot_messages(st, tid))
        self.assertIn("hunt report", reply)
        self.assertIn("own-environment os.environ: ok FOUND ***", reply)
        self.assert_no_canary("/metrics", e2e.http_get(self.health + "/metrics")[1])
        for root, _, files in os.walk(self.world.state):
            for n in files:
                with open(os.path.join(root, n), "rb") as f:
                    self.assert_no_canary("state file " + n, f.read().decode("utf-8", "replace"))
        return st

    def check_report(self, report):
        routes = report["routes"]
        if os.environ.get("TOKEN_HUNT_VERBOSE"):
            for r in routes:
                print(json.dumps(r), file=sys.stderr)
        self.assertTrue(routes)
        by = {}
        for r in routes:
            by.setdefault(r["route"], []).append(r)
            self.assertNotIn(DISCORD, r["found"], "the agent got the platform token: %r" % r)
        for name in ("own-environment", "parent-environ", "parent-cmdline", "parent-maps",
                     "parent-mem", "ptrace-seize", "inherited-fd", "parent-fd",
                     "parent-task-environ", "state-file", "core-dump", "parent-cwd",
                     "process-vm-readv", "config-file"):
            self.assertIn(name, by, "route %s was not tried" % name)
        for name, errnos in DENIED.items():
            for r in by[name]:
                self.assertEqual(r["outcome"], "denied", r)
                self.assertIn(r["errno"], errnos, r)
        # the hunt works: the agent's own key is in its own environment
        self.assertIn(AGENT_KEY, by["own-environment"][0]["found"])
        self.assertIn(AGENT_CFG, by["own-environment"][0]["found"])
        self.assertEqual(report["dumpable"], 1, "the agent itself stays dumpable")
        self.assertEqual(by["parent-cmdline"][0]["outcome"], "ok")
        self.assertEqual(by["inherited-fd"][0]["outcome"], "absent", by["inherited-fd"])
        self.assertTrue(any(r["outcome"] == "ok" for r in by["state-file"]), by["state-file"])
        self.assertEqual(by["core-dump"][0]["outcome"], "absent")
        # the config is readable by the same user (the token is not in it: ${VAR})
        self.assertEqual(by["config-file"][0]["outcome"], "ok", by["config-file"])

    def test_the_agent_cannot_get_the_token(self):
        report, tid = self.hunt()
        self.check_report(report)
        self.check_everywhere(tid)
        # A reload re-expands ${DISCORD_BOT_TOKEN} from the broker's own copy.
        self.broker.signal(signal.SIGHUP)
        self.broker.err.wait_for("configuration reloaded")
        report, tid = self.hunt()
        self.check_report(report)
        self.check_everywhere(tid)
        self.stop()
        log = self.broker.err.text()
        self.assert_no_canary("the log", log)
        self.assertNotIn("DISCORD_BOT_TOKEN is not set", log)
        self.assertNotIn("was not close-on-exec", log)


class TokenHuntJson(TokenHunt):
    log_format = "json"


if __name__ == "__main__":
    e2e.main()
