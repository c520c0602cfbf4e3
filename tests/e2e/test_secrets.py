"""Secrets stay in the broker: platform tokens never reach the agent's environment or
the logs (even at trace level), and the agent gets only what [agent] env and
inherit_env name."""

import re

import e2e

CANARIES = {
    "DISCORD_BOT_TOKEN": "MTE5ODc2.canary-discord.Xq7Zr9",
    "SLACK_BOT_TOKEN": "xoxb-11112222-canary-slack-bot",
    "SLACK_APP_TOKEN": "xapp-1-A0CANARY-3333-canary-slack-app",
}

CHAT_SECTIONS = """
[discord]
bot_token = "${DISCORD_BOT_TOKEN}"
allowed_channels = ["123456789012345678"]

[slack]
bot_token = "${SLACK_BOT_TOKEN}"
app_token = "${SLACK_APP_TOKEN}"
"""

AGENT_ENV = """working_dir = %s
inherit_env = ["E2E_PASSED"]
env = { E2E_FROM_CONFIG = "config value", E2E_EXPANDED = "x-${E2E_SOURCE}-y" }
"""


class Secrets(e2e.WorldTest):

    def run_console(self, lines, log_level="info"):
        w = self.world
        cfg = w.write("config.toml", w.scripted_agent() + AGENT_ENV % e2e.toml_str(w.dir)
                      + CHAT_SECTIONS)
        env = dict(CANARIES, AGENT_BROKER_LOG=log_level, E2E_PASSED="passed value",
                   E2E_NOT_PASSED="must stay home", E2E_SOURCE="from broker env")
        p = w.start("console", cfg, env=env)
        for line, expect in lines:
            p.send_line(line)
            p.out.wait_for(expect)
        p.close_stdin()
        self.assertEqual(p.wait(), 0, p.err.text()[-3000:])
        return p

    def agent_env(self, out):
        """NAME=value pairs from the scripted agent's [[env]] reply."""
        pairs = {}
        for line in out.splitlines():
            name, eq, value = line.partition("=")
            if eq and name.isidentifier():
                pairs[name] = value
        return pairs

    def test_agent_environment_holds_only_what_is_named(self):
        p = self.run_console([("show env [[env]]", r"PATH=")])
        out = p.out.text()
        env = self.agent_env(out)
        for name, value in CANARIES.items():
            self.assertNotIn(value, out)
            self.assertNotIn(name, out)
        self.assertEqual(env.get("E2E_PASSED"), "passed value")
        self.assertNotIn("E2E_NOT_PASSED", env)
        self.assertNotIn("must stay home", out)
        self.assertEqual(env.get("E2E_FROM_CONFIG"), "config value")
        self.assertEqual(env.get("E2E_EXPANDED"), "x-from broker env-y")
        self.assertEqual(env.get("HOME"), self.world.home)
        # nothing else leaks from the broker's environment
        self.assertNotIn("AGENT_BROKER_LOG", env)
        self.assertNotIn("TMPDIR", env)

    def test_trace_logs_never_show_a_token(self):
        # the agent writes every token to its stderr, which the broker drains into
        # its log: each must come out redacted
        lines = [("[[stderr leaked %s here]] turn %d" % (v, i), r"You said: .*turn %d" % i)
                 for i, v in enumerate(CANARIES.values())]
        p = self.run_console(lines + [("[[env]]", r"PATH=")], log_level="trace")
        err = p.err.text()
        self.assertEqual(len(re.findall(r"stderr: leaked \*\*\* here", err)), 3, err)
        for value in CANARIES.values():
            self.assertNotIn(value, err)

if __name__ == "__main__":
    e2e.main()
