"""Every config.toml the chart renders passes `agent-broker check` (with stub agent
commands on PATH): the chart can never ship a config the binary rejects.

Exits 77 (meson: SKIP) only while the binary has no `check` command yet."""

import glob
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tools  # noqa: E402

BIN = os.environ.get("AGENT_BROKER_BIN", os.path.join(tools.BUILD_ROOT, "core", "agent-broker"))
AGENT_COMMANDS = ["kiro-cli", "claude-agent-acp", "codex-acp", "gemini"]
# Shaped like real tokens: check may reject placeholders such as "x" or "undefined".
TOKENS = {
    "DISCORD_BOT_TOKEN": "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GhJkLm.aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789ab",
    "SLACK_BOT_TOKEN": "xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "SLACK_APP_TOKEN": "xapp-1-A0123ABCDEF-1234567890123-0123456789abcdef0123456789abcdef",
    "TELEGRAM_BOT_TOKEN": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0",
    "TELEGRAM_WEBHOOK_SECRET": "0123456789abcdef0123456789abcdef",
}
CHANNEL = "1234567890123456789"


def config_check_available():
    """Whether the binary implements `check`: on a missing file it names the file."""
    probe = "/nonexistent/agent-broker-probe.toml"
    try:
        p = subprocess.run([BIN, "check", probe], capture_output=True, text=True, timeout=30)
    except OSError:
        return False
    return "agent-broker-probe.toml" in p.stdout + p.stderr


class ChartConfigTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.helm = tools.Helm()
        cls.tmp = tempfile.mkdtemp(prefix="ab-chart-config-")
        stubs = os.path.join(cls.tmp, "bin")
        os.makedirs(stubs)
        for name in AGENT_COMMANDS:
            path = os.path.join(stubs, name)
            with open(path, "w") as f:
                f.write("#!/bin/sh\nexit 0\n")
            os.chmod(path, 0o755)
        plugin_dirs = sorted(glob.glob(os.path.join(tools.BUILD_ROOT, "plugins", "*")))
        cls.env = {**os.environ, **TOKENS, "PATH": stubs + os.pathsep + os.environ.get("PATH", ""),
                   "HOME": cls.tmp, "AGENT_BROKER_PLUGIN_PATH": os.pathsep.join(plugin_dirs)}

    def configs(self, release, values):
        """The config.toml of every bot the chart renders for @values: name -> text."""
        docs = self.helm.render(release, values)
        return {(d["metadata"]["name"] + "/" + k): v for d in docs if d["kind"] == "ConfigMap"
                for k, v in d["data"].items() if k.endswith(".toml")}

    def check(self, name, text):
        """Run `agent-broker check` on @text; returns the completed process."""
        path = os.path.join(self.tmp, name.replace("/", "_") + ".toml")
        with open(path, "w") as f:
            f.write(text)
        return subprocess.run([BIN, "check", path], capture_output=True, text=True, timeout=60, env=self.env)

    def test_every_rendered_config_passes_check(self):
        cases = {}
        for preset in ("kiro", "claude", "codex", "gemini"):
            cases.update(self.configs(f"p-{preset}", {
                "agent": {"preset": preset, "env": {"TZ": "UTC"}, "inheritEnv": ["LANG"]},
                "discord": {"enabled": True, "botToken": "t", "allowedChannels": [CHANNEL],
                            "allowAllUsers": True, "allowedRoleIds": ["42"]},
                "reactions": {"emojis": {"done": "✅"}, "timing": {"debounceMs": 500}},
            }))
        cases.update(self.configs("team", {"existingSecret": "s", "agents": {
            "d": {"discord": {"enabled": True}, "permissions": {"mode": "ask"}},
            "s": {"agent": {"preset": "gemini"}, "discord": {"enabled": False},
                  "slack": {"enabled": True, "allowedChannels": ["C0123ABCD"]},
                  "log": {"format": "json"}},
        }}))
        # OpenAB 0.8's values files (tests/packaging/openab): every bot they describe.
        openab = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openab")
        for name in sorted(os.listdir(openab)):
            rc, out, err = self.helm.run("template", "o-" + name[:-5], tools.CHART, "-f", os.path.join(openab, name))
            self.assertEqual(rc, 0, err)
            cases.update({d["metadata"]["name"]: d["data"]["config.toml"]
                          for d in self.helm.documents(out) if d["kind"] == "ConfigMap"})
        # A bot in three Discord shards: one file per shard.
        cases.update(self.configs("sh", {"discord": {"enabled": True, "botToken": "t", "shards": 3}}))
        # Telegram, long polling and webhook mode ([ingress] listen and the webhook keys).
        cases.update(self.configs("tg", {"existingSecret": "s", "discord": {"enabled": False}, "agents": {
            "poll": {"telegram": {"enabled": True, "allowedChannels": ["-1001234567890"]}},
            "hook": {"telegram": {"enabled": True, "webhook": {"url": "https://bot.example.com/telegram/webhook"}}},
        }}))
        self.assertIn("webhook_url", cases["tg-agent-broker-hook/config.toml"])
        # OpenAB's cronjobs: [[cron.jobs]] that check accepts (zone, expression, channel).
        cases.update(self.configs("cr", {"agents": {"cron": {
            "command": "kiro-cli", "discord": {"botToken": "t", "allowedChannels": [CHANNEL]},
            "cronjobs": [{"schedule": "0 9 * * MON-FRI", "channel": CHANNEL, "message": "standup",
                          "timezone": "Europe/London"}]}}}))
        self.assertIn("[[cron.jobs]]", cases["cr-agent-broker-cron/config.toml"])
        self.assertEqual(len(cases), 6 + 8 + 3 + 2 + 1)
        for name, text in sorted(cases.items()):
            with self.subTest(bot=name):
                p = self.check(name, text)
                self.assertEqual(p.returncode, 0, f"agent-broker check rejects the chart's config:\n{p.stderr}\n{text}")
                # A misspelt key is only a warning to check: the chart writes none.
                self.assertNotIn("unknown key", p.stderr, text)

    def test_check_rejects_a_broken_config(self):
        # The control: check does judge these files, so a pass above means something.
        (text,) = self.configs("ctl", {"discord": {"enabled": True, "botToken": "t"}}).values()
        self.assertIn("max_sessions = 10\n", text)
        p = self.check("broken", text.replace("max_sessions = 10\n", 'max_sessions = "ten"\n'))
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("broken.toml:", p.stderr)
        self.assertIn("max_sessions", p.stderr)


if __name__ == "__main__":
    if not config_check_available():
        print(f"SKIP: {BIN} has no `check` command yet", file=sys.stderr)
        sys.exit(77)
    unittest.main(verbosity=2)
