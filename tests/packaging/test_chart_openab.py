"""OpenAB 0.8's Helm values (charts/openab of openabdev/openab) render the same bots
through charts/agent-broker: the values files in openab/ are written in OpenAB's
documented shape (agents.<name>.{command, args, image, workingDir, env, envFrom,
secretEnv, discord, slack, pool, reactions, stt, cron, persistence}). Each bot runs the
agent its values name, in that agent's image, or the render fails saying why."""

import base64
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tools  # noqa: E402
from test_chart import PRESETS, chart_find, chart_one, chart_toml_value  # noqa: E402

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openab")
CHANNEL = "1234567890123456789"


class ChartOpenABTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.helm = tools.Helm()

    def render_file(self, name, release="openab", extra=None):
        """Render openab/@name (plus an @extra values dict); returns the documents."""
        rc, out, err = self.template_file(name, release, extra)
        self.assertEqual(rc, 0, f"{name}: {err}")
        docs = self.helm.documents(out)
        self.assertEqual(tools.tools_validate_k8s(docs, self.helm.scratch), [], name)
        return docs

    def template_file(self, name, release="openab", extra=None):
        args = ["template", release, tools.CHART, "-f", os.path.join(HERE, name)]
        if extra is not None:
            path = os.path.join(self.helm.scratch, f"extra-{len(os.listdir(self.helm.scratch))}.json")
            with open(path, "w") as f:
                json.dump(extra, f)
            args += ["-f", path]
        return self.helm.run(*args)

    def bot(self, docs, name, preset):
        """The Deployment, container, env and config of bot @name, checked to run @preset."""
        home, repo, command, args = PRESETS[preset]
        dep = chart_one(docs, "Deployment", name)
        c = dep["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual(c["name"], "agent-broker")
        self.assertEqual(c["image"], f"{repo}:0.1.0", name)
        self.assertEqual(c["args"], ["agent-broker", "run", "/etc/agent-broker/config.toml"])
        env = {e["name"]: e for e in c.get("env", [])}
        self.assertEqual(env["HOME"]["value"], home)
        config = chart_one(docs, "ConfigMap", name)["data"]["config.toml"]
        self.assertEqual(chart_toml_value(config, "agent", "preset"), f'"{preset}"')
        self.assertEqual(chart_toml_value(config, "agent", "command"), f'"{command}"')
        self.assertEqual(chart_toml_value(config, "agent", "args"), json.dumps(args, separators=(",", ":")))
        self.assertEqual(chart_toml_value(config, "agent", "working_dir"), f'"{home}"')
        return dep, c, env, config

    def secret_value(self, docs, env, var):
        ref = env[var]["valueFrom"]["secretKeyRef"]
        return base64.b64decode(chart_one(docs, "Secret", ref["name"])["data"][ref["key"]]).decode()

    def test_each_preset_runs_the_agent_it_names(self):
        for preset in PRESETS:
            with self.subTest(preset=preset):
                docs = self.render_file(f"{preset}.yaml")
                self.assertEqual([d["metadata"]["name"] for d in chart_find(docs, "Deployment")],
                                 [f"openab-agent-broker-{preset}"])
                dep, c, env, config = self.bot(docs, f"openab-agent-broker-{preset}", preset)
                self.assertEqual(chart_toml_value(config, "discord", "bot_token"), '"${DISCORD_BOT_TOKEN}"')
                self.assertEqual(chart_toml_value(config, "discord", "allowed_channels"), f'["{CHANNEL}"]')
                self.assertIn(f"MARKER-0{list(PRESETS).index(preset) + 1}",
                              self.secret_value(docs, env, "DISCORD_BOT_TOKEN"))
                self.assertIsNone(chart_toml_value(config, "slack", "bot_token"))
        # Values that reach the config and the volume unchanged.
        docs = self.render_file("claude.yaml")
        pvc = chart_one(docs, "PersistentVolumeClaim")
        self.assertEqual(pvc["spec"]["resources"]["requests"]["storage"], "2Gi")
        docs = self.render_file("gemini.yaml")
        _, _, env, config = self.bot(docs, "openab-agent-broker-gemini", "gemini")
        self.assertEqual(chart_toml_value(config, "agent", "env"), '{ "GEMINI_CLI_TRUST_WORKSPACE" = "true" }')
        self.assertEqual(env["GEMINI_CLI_TRUST_WORKSPACE"]["value"], "true")

    def test_command_alone_picks_the_agent(self):
        # The issue's case: a command and nothing else must not render kiro.
        for preset, (_, _, command, _) in PRESETS.items():
            with self.subTest(preset=preset):
                rc, out, err = self.helm.template("r", {"agents": {"bot": {
                    "command": command, "discord": {"botToken": "t"}}}})
                self.assertEqual(rc, 0, err)
                docs = self.helm.documents(out)
                self.assertEqual(tools.tools_validate_k8s(docs, self.helm.scratch), [])
                self.bot(docs, "r-agent-broker-bot", preset)
        # An image alone picks it too (OpenAB's or ours).
        for image, preset in (("ghcr.io/openabdev/openab-codex:0.8.2", "codex"),
                              ("ghcr.io/agent-broker/agent-broker-gemini", "gemini")):
            docs = self.helm.render("r", {"agents": {"bot": {"image": image, "discord": {"botToken": "t"}}}})
            self.bot(docs, "r-agent-broker-bot", preset)
        # A custom image (built FROM ours) is used as given, the preset from the command.
        docs = self.helm.render("r", {"agents": {"bot": {"image": "registry.example/team/claude-plus:7",
                                                         "command": "claude-agent-acp",
                                                         "discord": {"botToken": "t"}}}})
        (c,) = chart_one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
        self.assertEqual(c["image"], "registry.example/team/claude-plus:7")
        # OpenAB's global image stands for the preset's image, never runs.
        docs = self.helm.render("r", {"image": {"repository": "ghcr.io/openabdev/openab", "tag": "0.8.2"},
                                      "agents": {"kiro": {"command": "kiro-cli", "discord": {"botToken": "t"}}}})
        self.bot(docs, "r-agent-broker-kiro", "kiro")

    def test_two_bots_in_one_release(self):
        docs = self.render_file("two-bots.yaml")
        self.assertEqual(sorted(d["metadata"]["name"] for d in chart_find(docs, "Deployment")),
                         ["openab-agent-broker-claude", "openab-agent-broker-kiro"])
        _, _, kenv, kconf = self.bot(docs, "openab-agent-broker-kiro", "kiro")
        _, _, cenv, cconf = self.bot(docs, "openab-agent-broker-claude", "claude")
        self.assertEqual(self.secret_value(docs, kenv, "DISCORD_BOT_TOKEN"), "kiro-token-MARKER-05")
        self.assertEqual(self.secret_value(docs, cenv, "DISCORD_BOT_TOKEN"), "claude-token-MARKER-06")
        self.assertEqual(chart_toml_value(kconf, "discord", "allowed_channels"), '["1111111111111111111"]')
        self.assertEqual(chart_toml_value(cconf, "discord", "allowed_channels"), '["2222222222222222222"]')
        self.assertEqual(chart_toml_value(cconf, "discord", "allow_bot_messages"), '"mentions"')
        self.assertEqual(chart_toml_value(cconf, "discord", "trusted_bot_ids"), '["333333333333333333"]')
        self.assertEqual(len(chart_find(docs, "PersistentVolumeClaim")), 2)

    def test_slack_only(self):
        docs = self.render_file("slack-only.yaml")
        _, _, env, config = self.bot(docs, "openab-agent-broker-kiro", "kiro")
        self.assertNotIn("[discord]", config)
        self.assertNotIn("DISCORD_BOT_TOKEN", env)
        self.assertEqual(chart_toml_value(config, "slack", "allowed_channels"), '["C0123ABCD"]')
        self.assertEqual(chart_toml_value(config, "slack", "allow_user_messages"), '"multibot-mentions"')
        self.assertEqual(self.secret_value(docs, env, "SLACK_BOT_TOKEN"), "xoxb-slack-MARKER-07")
        self.assertEqual(self.secret_value(docs, env, "SLACK_APP_TOKEN"), "xapp-slack-MARKER-08")

    def test_secret_env(self):
        docs = self.render_file("secret-env.yaml")
        dep, c, env, config = self.bot(docs, "openab-agent-broker-codex", "codex")
        for var, key in (("OPENAI_API_KEY", "openai-api-key"), ("GH_TOKEN", "gh-token")):
            self.assertEqual(env[var]["valueFrom"]["secretKeyRef"], {"name": "openab-secrets", "key": key})
        self.assertEqual(chart_toml_value(config, "agent", "inherit_env"),
                         '["API_BASE_URL","OPENAI_API_KEY","GH_TOKEN"]')
        self.assertNotIn("openai-api-key", config)
        # The bot token comes from envFrom at run time: no chart Secret, no secretKeyRef.
        self.assertEqual(c["envFrom"], [{"secretRef": {"name": "codex-discord"}}])
        self.assertNotIn("DISCORD_BOT_TOKEN", env)
        self.assertEqual(chart_find(docs, "Secret"), [])
        # The token named in secretEnv is the bot's, never handed to the agent.
        docs = self.render_file("secret-env.yaml", extra={"agents": {"codex": {"envFrom": [], "secretEnv": [
            {"name": "DISCORD_BOT_TOKEN", "secretName": "bots", "secretKey": "codex"}]}}})
        _, c, env, config = self.bot(docs, "openab-agent-broker-codex", "codex")
        self.assertEqual(env["DISCORD_BOT_TOKEN"]["valueFrom"]["secretKeyRef"], {"name": "bots", "key": "codex"})
        self.assertNotIn("DISCORD_BOT_TOKEN", chart_toml_value(config, "agent", "inherit_env") or "")
        # A name also in env, an incomplete entry, and no token source at all fail.
        for extra, msg in (
                ({"agents": {"codex": {"env": {"OPENAI_API_KEY": "sk-clear"}}}}, "OPENAI_API_KEY is also in env"),
                ({"agents": {"codex": {"secretEnv": [{"name": "X", "secretName": "s"}]}}},
                 "needs name, secretName and secretKey"),
                ({"agents": {"codex": {"envFrom": []}}}, "discord.enabled needs its token")):
            with self.subTest(extra=extra):
                rc, _, err = self.template_file("secret-env.yaml", extra=extra)
                self.assertNotEqual(rc, 0)
                self.assertIn(msg, err)

    def test_what_cannot_be_honoured_fails(self):
        base = {"command": "kiro-cli", "discord": {"botToken": "t"}}
        cases = (
            ({"command": "opencode", "args": ["acp"]}, "agents.bot.command: \"opencode\" is not an agent"),
            ({"command": "cursor-agent"}, "\"cursor-agent\" is not an agent"),
            ({"command": None, "image": "ghcr.io/openabdev/openab-opencode:latest"}, "no agent-broker counterpart"),
            ({"command": "claude-agent-acp", "image": "ghcr.io/openabdev/openab-codex"},
             "runs claude but image"),
            ({"stt": {"enabled": True}}, "stt.enabled needs its key"),
            ({"gateway": {"enabled": True, "url": "ws://gw:8080/ws"}}, "gateway.enabled"),
            ({"cron": {"usercronEnabled": True}}, "no user cron file"),
            ({"cronjobs": [{"schedule": "0 9 * * *", "message": "hi"}]}, "channel (or threadId) are required"),
            ({"cronjobs": [{"schedule": "0 9 * * *", "channel": 1190000000000000001, "message": "hi"}]},
             "must be a string"),
            ({"discord": {"botToken": "t", "messageProcessingMode": "per-thread"}}, "messageProcessingMode"),
            ({"command": "claude-agent-acp", "workingDir": "/home/agent"}, "outside the claude image's home"),
        )
        for over, msg in cases:
            with self.subTest(over=over):
                entry = dict(base)
                entry.update(over)
                entry = {k: v for k, v in entry.items() if v is not None}
                rc, _, err = self.helm.template("r", {"agents": {"bot": entry}})
                self.assertNotEqual(rc, 0, over)
                self.assertIn(msg, err)
        # Off or default-valued, the same keys are accepted.
        docs = self.helm.render("r", {"agents": {"bot": dict(base, stt={"enabled": False}, gateway={"enabled": False},
                                                             cron={"usercronEnabled": False, "usercronPath": ""},
                                                             cronjobs=[], discord={
                                                                 "botToken": "t", "allowAllChannels": None,
                                                                 "messageProcessingMode": "per-message"})}})
        self.bot(docs, "r-agent-broker-bot", "kiro")

    def test_stt_reaches_the_config_with_its_key_in_a_secret(self):
        # OpenAB's stt block turns into [stt]; the key goes through the bot's Secret as
        # STT_API_KEY and never into the config or the agent's environment.
        docs = self.render_file("kiro.yaml", extra={"agents": {"kiro": {"stt": {
            "enabled": True, "apiKey": "gsk-MARKER-STT", "model": "whisper-1",
            "baseUrl": "http://stt.internal/v1", "echoTranscript": True}}}})
        _, _, env, config = self.bot(docs, "openab-agent-broker-kiro", "kiro")
        self.assertEqual(chart_toml_value(config, "stt", "enabled"), "true")
        self.assertEqual(chart_toml_value(config, "stt", "api_key"), '"${STT_API_KEY}"')
        self.assertEqual(chart_toml_value(config, "stt", "model"), '"whisper-1"')
        self.assertEqual(chart_toml_value(config, "stt", "base_url"), '"http://stt.internal/v1"')
        self.assertEqual(chart_toml_value(config, "stt", "echo_transcript"), "true")
        self.assertEqual(self.secret_value(docs, env, "STT_API_KEY"), "gsk-MARKER-STT")
        self.assertNotIn("gsk-MARKER-STT", config)
        self.assertNotIn("STT_API_KEY", chart_toml_value(config, "agent", "inherit_env") or "")
        # Off (kiro.yaml's own values): no [stt], no key.
        docs = self.render_file("kiro.yaml")
        _, _, env, config = self.bot(docs, "openab-agent-broker-kiro", "kiro")
        self.assertNotIn("[stt]", config)
        self.assertNotIn("STT_API_KEY", env)
        # The key from secretEnv at run time: passed to the daemon, not to the agent.
        docs = self.render_file("kiro.yaml", extra={"agents": {"kiro": {
            "stt": {"enabled": True, "apiKey": ""},
            "secretEnv": [{"name": "STT_API_KEY", "secretName": "stt", "secretKey": "groq"}]}}})
        _, _, env, config = self.bot(docs, "openab-agent-broker-kiro", "kiro")
        self.assertEqual(env["STT_API_KEY"]["valueFrom"]["secretKeyRef"], {"name": "stt", "key": "groq"})
        self.assertEqual(chart_toml_value(config, "stt", "api_key"), '"${STT_API_KEY}"')
        self.assertNotIn("STT_API_KEY", chart_toml_value(config, "agent", "inherit_env") or "")

    def test_cronjobs_become_scheduled_jobs_with_openabs_defaults(self):
        # OpenAB's cronjobs render [[cron.jobs]] with its defaults (discord, openab-cron,
        # UTC, enabled); check accepts what the chart wrote (chart-config-check runs it).
        docs = self.render_file("kiro.yaml", extra={"agents": {"kiro": {"cronjobs": [
            {"schedule": "0 9 * * MON-FRI", "channel": CHANNEL, "message": "standup"},
            {"schedule": "30 17 * * *", "threadId": "1190000000000000099", "message": "wrap up",
             "platform": "discord", "senderName": "eod", "timezone": "Europe/London",
             "enabled": False}]}}})
        _, _, _, config = self.bot(docs, "openab-agent-broker-kiro", "kiro")
        jobs = config.split("[[cron.jobs]]")[1:]
        self.assertEqual(len(jobs), 2, config)
        self.assertIn('schedule = "0 9 * * MON-FRI"', jobs[0])
        self.assertIn('channel = "%s"' % CHANNEL, jobs[0])
        self.assertIn('message = "standup"', jobs[0])
        self.assertIn('platform = "discord"', jobs[0])
        self.assertIn('sender_name = "openab-cron"', jobs[0])
        self.assertIn('timezone = "UTC"', jobs[0])
        self.assertIn("enabled = true", jobs[0])
        self.assertIn('thread_id = "1190000000000000099"', jobs[1])
        self.assertNotIn("channel =", jobs[1].split("[")[0])
        self.assertIn('sender_name = "eod"', jobs[1])
        self.assertIn('timezone = "Europe/London"', jobs[1])
        self.assertIn("enabled = false", jobs[1])
        # none: no table
        docs = self.render_file("kiro.yaml")
        _, _, _, config = self.bot(docs, "openab-agent-broker-kiro", "kiro")
        self.assertNotIn("cron", config)

    def test_openab_names_kept_with_name_override(self):
        # nameOverride: openab gives OpenAB's resource names (<release>-openab-<name>, or
        # <release>-<name> when the release holds "openab"); existingClaim keeps its volume.
        docs = self.render_file("two-bots.yaml", release="openab", extra={
            "nameOverride": "openab", "agents": {"claude": {"persistence": {"existingClaim": "openab-claude"}}}})
        self.assertEqual(sorted(d["metadata"]["name"] for d in chart_find(docs, "Deployment")),
                         ["openab-claude", "openab-kiro"])
        dep = chart_one(docs, "Deployment", "openab-claude")
        vols = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
        self.assertEqual(vols["home"]["persistentVolumeClaim"]["claimName"], "openab-claude")
        self.assertEqual(dep["metadata"]["labels"]["app.kubernetes.io/name"], "openab")
        docs = self.render_file("kiro.yaml", release="team", extra={"fullnameOverride": "bots"})
        self.assertEqual([d["metadata"]["name"] for d in chart_find(docs, "Deployment")], ["bots-kiro"])

    def test_openab_pod_extras_and_name_override(self):
        docs = self.helm.render("r", {"agents": {"bot": {
            "command": "codex-acp", "workingDir": "/home/node", "nameOverride": "codex-bot",
            "discord": {"botToken": "t"},
            "extraVolumes": [{"name": "cache", "emptyDir": {}}],
            "extraVolumeMounts": [{"name": "cache", "mountPath": "/home/node/.cache"}],
            "extraContainers": [{"name": "side", "image": "busybox:1"}],
            "extraInitContainers": [{"name": "init", "image": "busybox:1"}]}}})
        dep, c, _, _ = self.bot(docs, "codex-bot", "codex")
        pod = dep["spec"]["template"]["spec"]
        self.assertEqual([x["name"] for x in pod["containers"]], ["agent-broker", "side"])
        self.assertEqual([x["name"] for x in pod["initContainers"]], ["init"])
        self.assertIn({"name": "cache", "emptyDir": {}}, pod["volumes"])
        self.assertIn({"name": "cache", "mountPath": "/home/node/.cache"}, c["volumeMounts"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
