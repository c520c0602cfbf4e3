"""helm lint and helm template of charts/agent-broker for every preset and for an
`agents` map with two bots, with assertions on the rendered manifests."""

import base64
import os
import re
import sys
import unittest
from hashlib import sha256

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tools  # noqa: E402

PRESETS = {
    # preset: (home, image repository, agent command, agent args)
    "kiro": ("/home/agent", "ghcr.io/agent-broker/agent-broker", "kiro-cli", ["acp", "--trust-all-tools"]),
    "claude": ("/home/node", "ghcr.io/agent-broker/agent-broker-claude", "claude-agent-acp", []),
    "codex": ("/home/node", "ghcr.io/agent-broker/agent-broker-codex", "codex-acp", []),
    "gemini": ("/home/node", "ghcr.io/agent-broker/agent-broker-gemini", "gemini", ["--acp"]),
}
DISCORD_TOKEN = "discord-token-MARKER-7f3a"
SLACK_BOT = "xoxb-slack-MARKER-19c2"
SLACK_APP = "xapp-slack-MARKER-88d0"
CHANNEL = "1234567890123456789"  # more digits than a float64 keeps


def chart_values(preset, **extra):
    """Values for one Discord bot of @preset, merged with @extra."""
    v = {"agent": {"preset": preset}, "discord": {"enabled": True, "botToken": DISCORD_TOKEN,
                                                 "allowedChannels": [CHANNEL]}}
    v.update(extra)
    return v


def chart_find(docs, kind, name=None):
    """The documents of @kind (named @name when given)."""
    return [d for d in docs if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name)]


def chart_one(docs, kind, name=None):
    """The single document of @kind (and @name)."""
    found = chart_find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {len(found)}"
    return found[0]


def chart_toml_value(config, section, key):
    """The raw value text of `key = ...` inside [section] of a rendered config.toml."""
    current = None
    for line in config.splitlines():
        m = re.match(r"^\[([a-z_.]+)\]\s*$", line)
        if m:
            current = m.group(1)
        elif current == section:
            m = re.match(r"^" + re.escape(key) + r" = (.*)$", line)
            if m:
                return m.group(1)
    return None


class ChartTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.helm = tools.Helm()

    def assertBot(self, docs, name, preset):
        """Everything one bot's manifests must hold for @preset."""
        home, repo, command, args = PRESETS[preset]
        dep = chart_one(docs, "Deployment", name)
        pod = dep["spec"]["template"]["spec"]
        (c,) = pod["containers"]

        # Pod and container security contexts.
        psc = pod["securityContext"]
        self.assertIs(psc["runAsNonRoot"], True)
        self.assertEqual((psc["runAsUser"], psc["runAsGroup"], psc["fsGroup"]), (1000, 1000, 1000))
        self.assertEqual(psc["seccompProfile"], {"type": "RuntimeDefault"})
        csc = c["securityContext"]
        self.assertIs(csc["allowPrivilegeEscalation"], False)
        self.assertIs(csc["readOnlyRootFilesystem"], True)
        self.assertEqual(csc["capabilities"]["drop"], ["ALL"])
        self.assertIs(pod["automountServiceAccountToken"], False)

        # Image and command: tini stays PID 1, so only args are set.
        self.assertTrue(c["image"].startswith(repo + ":"), c["image"])
        self.assertNotIn("command", c)
        self.assertEqual(c["args"], ["agent-broker", "run", "/etc/agent-broker/config.toml"])
        self.assertEqual(dep["spec"]["strategy"], {"type": "Recreate"})
        self.assertEqual(dep["spec"]["replicas"], 1)

        # One home everywhere: HOME, the volume mount, the working dirs.
        env = {e["name"]: e for e in c["env"]}
        self.assertEqual(env["HOME"]["value"], home)
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        self.assertEqual(mounts[home]["name"], "home")
        self.assertEqual(c["workingDir"], home)
        vols = {v["name"]: v for v in pod["volumes"]}
        self.assertEqual(vols["tmp"], {"name": "tmp", "emptyDir": {}})
        self.assertEqual(mounts["/tmp"]["name"], "tmp")
        claim = vols["home"]["persistentVolumeClaim"]["claimName"]
        pvc = chart_one(docs, "PersistentVolumeClaim", claim)
        self.assertEqual(pvc["metadata"]["annotations"]["helm.sh/resource-policy"], "keep")

        # Probes reach the health port the config listens on.
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        self.assertEqual(c["livenessProbe"]["httpGet"], {"path": "/healthz", "port": "health"})
        self.assertEqual(c["readinessProbe"]["httpGet"], {"path": "/readyz", "port": "health"})
        self.assertEqual(ports["health"], 9464)
        self.assertEqual(chart_find(docs, "Service"), [])

        # The config: preset's agent, home, health listen, state on the volume, tokens as ${VAR}.
        cm = chart_one(docs, "ConfigMap", vols["config"]["configMap"]["name"])
        config = cm["data"]["config.toml"]
        self.assertEqual(mounts["/etc/agent-broker"]["name"], "config")
        self.assertEqual(chart_toml_value(config, "agent", "preset"), f'"{preset}"')
        self.assertEqual(chart_toml_value(config, "agent", "command"), f'"{command}"')
        self.assertEqual(chart_toml_value(config, "agent", "args"), "[" + ",".join(f'"{a}"' for a in args) + "]")
        self.assertEqual(chart_toml_value(config, "agent", "working_dir"), f'"{home}"')
        self.assertEqual(chart_toml_value(config, "health", "listen"), '"0.0.0.0:9464"')
        self.assertEqual(chart_toml_value(config, "state", "dir"), f'"{home}/.agent-broker"')
        ann = dep["spec"]["template"]["metadata"]["annotations"]
        self.assertRegex(ann["checksum/config"], r"^[0-9a-f]{64}$")
        return dep, c, env, cm, config

    def assertTokensInSecretOnly(self, docs, env, tokens):
        """Each of @tokens (ENV name -> value) reaches the container only through a Secret."""
        for var, value in tokens.items():
            ref = env[var]["valueFrom"]["secretKeyRef"]
            self.assertNotIn("value", env[var])
            secret = chart_one(docs, "Secret", ref["name"])
            self.assertEqual(base64.b64decode(secret["data"][ref["key"]]).decode(), value)
        for kind in ("ConfigMap", "Deployment", "PersistentVolumeClaim"):
            for d in chart_find(docs, kind):
                text = repr(d)
                for value in tokens.values():
                    self.assertNotIn(value, text, f"token leaked into {kind} {d['metadata']['name']}")

    def test_lint_every_preset_and_agents_map(self):
        for preset in PRESETS:
            with self.subTest(preset=preset):
                rc, out, err = self.helm.run("lint", "--strict", tools.CHART, "--set", f"agent.preset={preset}",
                                             "--set", "discord.enabled=true", "--set", "discord.botToken=t")
                self.assertEqual(rc, 0, out + err)
                self.assertIn("0 chart(s) failed", out)
        rc, out, err = self.helm.run("lint", "--strict", tools.CHART, "--set", "existingSecret=s",
                                     "--set", "agents.a.discord.enabled=true",
                                     "--set", "agents.b.agent.preset=codex", "--set", "agents.b.slack.enabled=true")
        self.assertEqual(rc, 0, out + err)

    def test_each_preset_renders_a_locked_down_bot(self):
        for preset in PRESETS:
            with self.subTest(preset=preset):
                docs = self.helm.render("rel", chart_values(preset))
                self.assertEqual(len(chart_find(docs, "Deployment")), 1)
                dep, c, env, cm, config = self.assertBot(docs, "rel-agent-broker", preset)
                self.assertTokensInSecretOnly(docs, env, {"DISCORD_BOT_TOKEN": DISCORD_TOKEN})
                self.assertEqual(chart_toml_value(config, "discord", "bot_token"), '"${DISCORD_BOT_TOKEN}"')
                self.assertEqual(chart_toml_value(config, "discord", "allowed_channels"), f'["{CHANNEL}"]')
                self.assertIsNone(chart_toml_value(config, "slack", "bot_token"))

    def test_slack_tokens_and_existing_secret(self):
        docs = self.helm.render("rel", {"discord": {"enabled": False},
                                        "slack": {"enabled": True, "botToken": SLACK_BOT, "appToken": SLACK_APP,
                                                  "allowedChannels": ["C0123ABCD"]}})
        _, _, env, _, config = self.assertBot(docs, "rel-agent-broker", "kiro")
        self.assertTokensInSecretOnly(docs, env, {"SLACK_BOT_TOKEN": SLACK_BOT, "SLACK_APP_TOKEN": SLACK_APP})
        self.assertEqual(chart_toml_value(config, "slack", "app_token"), '"${SLACK_APP_TOKEN}"')
        self.assertNotIn("DISCORD_BOT_TOKEN", env)

        docs = self.helm.render("rel", {"existingSecret": "mine", "discord": {"enabled": True}})
        self.assertEqual(chart_find(docs, "Secret"), [])
        (c,) = chart_one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
        ref = {e["name"]: e for e in c["env"]}["DISCORD_BOT_TOKEN"]["valueFrom"]["secretKeyRef"]
        self.assertEqual(ref, {"name": "mine", "key": "DISCORD_BOT_TOKEN"})

        rc, _, err = self.helm.template("rel", {"discord": {"enabled": True}})
        self.assertNotEqual(rc, 0)
        self.assertIn("discord.enabled needs its token: discord.botToken, existingSecret", err)

    def test_teams_exposes_the_ingress_port_only_when_enabled(self):
        app = "00000000-0000-4000-8000-00000000b07a"
        docs = self.helm.render("rel", {"discord": {"enabled": False},
                                        "teams": {"enabled": True, "appId": app,
                                                  "appPassword": "teams-secret~x",
                                                  "tenantId": "tenant-1"}})
        (c,) = chart_one(docs, "Deployment", "rel-agent-broker")["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in c["env"]}
        self.assertTokensInSecretOnly(docs, env, {"TEAMS_APP_PASSWORD": "teams-secret~x"})
        (config,) = [d["data"]["config.toml"] for d in chart_find(docs, "ConfigMap")
                     if "config.toml" in d.get("data", {})]
        self.assertEqual(chart_toml_value(config, "teams", "app_id"), f'"{app}"')
        self.assertEqual(chart_toml_value(config, "teams", "app_password"), '"${TEAMS_APP_PASSWORD}"')
        self.assertEqual(chart_toml_value(config, "teams", "tenant_id"), '"tenant-1"')
        self.assertEqual(chart_toml_value(config, "ingress", "listen"), '"0.0.0.0:3978"')
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        self.assertEqual(ports["ingress"], 3978)
        (svc,) = chart_find(docs, "Service")
        self.assertEqual(svc["metadata"]["name"], "rel-agent-broker-ingress")
        self.assertEqual(svc["spec"]["ports"][0]["targetPort"], "ingress")
        # Discord only: no ingress port, no Service, no [ingress]
        docs = self.helm.render("rel", chart_values("kiro"))
        (c,) = chart_one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
        self.assertNotIn("ingress", {p["name"] for p in c["ports"]})
        self.assertEqual(chart_find(docs, "Service"), [])
        rc, _, err = self.helm.template("rel", {"discord": {"enabled": False},
                                                "teams": {"enabled": True, "appId": app}})
        self.assertNotEqual(rc, 0)
        self.assertIn("teams.appPassword", err)

    def test_telegram_webhook_opens_the_ingress_listener(self):
        token, secret, url = "123456:tg-token-MARKER-5e1b", "tg-hook-MARKER_9c4d", "https://bot.example.com/tg"
        telegram = {"enabled": True, "botToken": token, "allowedChannels": ["-1001234567890"],
                    "webhook": {"url": url, "secret": secret, "path": "/tg/hook"}}
        docs = self.helm.render("rel", {"discord": {"enabled": False}, "telegram": telegram,
                                        "agent": {"inheritEnv": ["LANG"]}})
        dep = chart_one(docs, "Deployment", "rel-agent-broker")
        (c,) = dep["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in c["env"]}
        config = chart_one(docs, "ConfigMap", "rel-agent-broker")["data"]["config.toml"]
        self.assertTokensInSecretOnly(docs, env, {"TELEGRAM_BOT_TOKEN": token, "TELEGRAM_WEBHOOK_SECRET": secret})
        self.assertEqual(chart_toml_value(config, "telegram", "bot_token"), '"${TELEGRAM_BOT_TOKEN}"')
        self.assertEqual(chart_toml_value(config, "telegram", "webhook_url"), f'"{url}"')
        self.assertEqual(chart_toml_value(config, "telegram", "webhook_secret"), '"${TELEGRAM_WEBHOOK_SECRET}"')
        self.assertEqual(chart_toml_value(config, "telegram", "webhook_path"), '"/tg/hook"')
        self.assertEqual(chart_toml_value(config, "telegram", "webhook_check_s"), "60")
        self.assertEqual(chart_toml_value(config, "ingress", "listen"), '"0.0.0.0:3978"')
        # The secret is the daemon's only: never inherited by the agent (nor from secretEnv,
        # whose other names the agent does inherit).
        self.assertEqual(chart_toml_value(config, "agent", "inherit_env"), '["LANG"]')
        sdocs = self.helm.render("rel", chart_values("kiro", secretEnv=[
            {"name": n, "secretName": "s", "secretKey": n} for n in ("TELEGRAM_WEBHOOK_SECRET", "MY_API_KEY")]))
        sconfig = chart_one(sdocs, "ConfigMap")["data"]["config.toml"]
        self.assertEqual(chart_toml_value(sconfig, "agent", "inherit_env"), '["MY_API_KEY"]')
        self.assertIsNone(chart_toml_value(config, "teams", "app_id"))
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        self.assertEqual(ports, {"health": 9464, "ingress": 3978})
        (svc,) = chart_find(docs, "Service")
        self.assertEqual(svc["metadata"]["name"], "rel-agent-broker-ingress")
        self.assertEqual(svc["spec"]["ports"], [{"name": "ingress", "port": 3978, "targetPort": "ingress",
                                                 "protocol": "TCP"}])
        self.assertEqual(svc["spec"]["selector"], dep["spec"]["selector"]["matchLabels"])
        (rule,) = chart_one(docs, "NetworkPolicy")["spec"]["ingress"]
        self.assertEqual(rule["ports"], [{"protocol": "TCP", "port": 9464}, {"protocol": "TCP", "port": 3978}])
        # Another webhook secret restarts the pod; the path defaults to the plugin's.
        ann = dep["spec"]["template"]["metadata"]["annotations"]
        other = self.helm.render("rel", {"discord": {"enabled": False},
                                         "telegram": {**telegram, "webhook": {"url": url, "secret": "x" + secret,
                                                                              "checkS": 0}}})
        odep = chart_one(other, "Deployment")
        self.assertNotEqual(odep["spec"]["template"]["metadata"]["annotations"]["checksum/secret"],
                            ann["checksum/secret"])
        oconfig = chart_one(other, "ConfigMap")["data"]["config.toml"]
        self.assertEqual(chart_toml_value(oconfig, "telegram", "webhook_path"), '"/telegram/webhook"')
        self.assertEqual(chart_toml_value(oconfig, "telegram", "webhook_check_s"), "0")

        # existingSecret: the secret comes from it, no Secret is made.
        docs = self.helm.render("rel", {"discord": {"enabled": False}, "existingSecret": "mine",
                                        "telegram": {"enabled": True, "webhook": {"url": url}}})
        self.assertEqual(chart_find(docs, "Secret"), [])
        (c,) = chart_one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
        ref = {e["name"]: e for e in c["env"]}["TELEGRAM_WEBHOOK_SECRET"]["valueFrom"]["secretKeyRef"]
        self.assertEqual(ref, {"name": "mine", "key": "TELEGRAM_WEBHOOK_SECRET"})

        # Long polling (no url; a secret alone changes nothing): no webhook keys, no
        # [ingress], no ingress port, Service or policy port; the checksum as before.
        for hook in ({}, {"secret": secret}):
            with self.subTest(webhook=hook):
                docs = self.helm.render("rel", {"discord": {"enabled": False},
                                                "telegram": {"enabled": True, "botToken": token, "webhook": hook}})
                dep, c, env, _, config = self.assertBot(docs, "rel-agent-broker", "kiro")
                self.assertTokensInSecretOnly(docs, env, {"TELEGRAM_BOT_TOKEN": token})
                self.assertNotIn("TELEGRAM_WEBHOOK_SECRET", env)
                self.assertNotIn("TELEGRAM_WEBHOOK_SECRET", chart_one(docs, "Secret")["data"])
                self.assertEqual(chart_toml_value(config, "telegram", "bot_token"), '"${TELEGRAM_BOT_TOKEN}"')
                for key in ("webhook_url", "webhook_secret", "webhook_path"):
                    self.assertIsNone(chart_toml_value(config, "telegram", key))
                self.assertNotIn("[ingress]", config)
                self.assertEqual([p["name"] for p in c["ports"]], ["health"])
                (rule,) = chart_one(docs, "NetworkPolicy")["spec"]["ingress"]
                self.assertEqual(rule["ports"], [{"protocol": "TCP", "port": 9464}])
                self.assertEqual(dep["spec"]["template"]["metadata"]["annotations"]["checksum/secret"],
                                 sha256(f"rel-agent-broker-tokens||||{token}".encode()).hexdigest())

        # What the plugin would refuse at start fails the render, naming the value.
        for hook, where in (({"url": url}, "telegram.webhook.url needs telegram.webhook.secret"),
                            ({"url": url, "secret": "has space"}, "telegram.webhook.secret must be 1-256"),
                            ({"url": url, "secret": "s" * 257}, "telegram.webhook.secret must be 1-256"),
                            ({"url": "http://bot.example.com/tg", "secret": secret}, "telegram.webhook.url"),
                            ({"url": url, "secret": secret, "path": "tg"}, "telegram.webhook.path")):
            with self.subTest(webhook=hook):
                rc, _, err = self.helm.template("rel", {"discord": {"enabled": False},
                                                        "telegram": {"enabled": True, "botToken": token,
                                                                     "webhook": hook}})
                self.assertNotEqual(rc, 0)
                self.assertIn(where, err)

    def test_agents_map_with_two_bots(self):
        values = {
            "discord": {"botToken": DISCORD_TOKEN},
            "agents": {
                "kiro": {"discord": {"enabled": True, "allowedChannels": [CHANNEL]}},
                "claude": {"agent": {"preset": "claude"}, "reactions": {"enabled": False},
                           "slack": {"enabled": True, "botToken": SLACK_BOT, "appToken": SLACK_APP}},
                "spare": {"enabled": False, "agent": {"preset": "gemini"}},
            },
        }
        docs = self.helm.render("team", values)
        deps = sorted(d["metadata"]["name"] for d in chart_find(docs, "Deployment"))
        self.assertEqual(deps, ["team-agent-broker-claude", "team-agent-broker-kiro"])
        _, _, kenv, _, kconf = self.assertBot(docs, "team-agent-broker-kiro", "kiro")
        _, _, cenv, _, cconf = self.assertBot(docs, "team-agent-broker-claude", "claude")
        self.assertTokensInSecretOnly(docs, kenv, {"DISCORD_BOT_TOKEN": DISCORD_TOKEN})
        self.assertTokensInSecretOnly(docs, cenv, {"SLACK_BOT_TOKEN": SLACK_BOT, "SLACK_APP_TOKEN": SLACK_APP})
        # A false in an entry overrides the top-level true (Helm's merge would drop it).
        self.assertEqual(chart_toml_value(kconf, "reactions", "enabled"), "true")
        self.assertEqual(chart_toml_value(cconf, "reactions", "enabled"), "false")
        # Every bot owns its resources and selects only its own pod.
        for kind in ("ConfigMap", "Secret", "PersistentVolumeClaim"):
            self.assertEqual(len({d["metadata"]["name"] for d in chart_find(docs, kind)}), 2, kind)
        selectors = [tuple(sorted(d["spec"]["selector"]["matchLabels"].items()))
                     for d in chart_find(docs, "Deployment")]
        self.assertEqual(len(set(selectors)), 2)

    def test_float_mangled_ids_fail_the_render(self):
        # An unquoted id in a values file: YAML makes it a float64.
        path = os.path.join(self.helm.scratch, "float.yaml")
        with open(path, "w") as f:
            f.write(f"discord:\n  enabled: true\n  botToken: t\n  allowedChannels: [{CHANNEL}]\n")
        rc, _, err = self.helm.run("template", "rel", tools.CHART, "-f", path)
        self.assertNotEqual(rc, 0)
        self.assertIn("discord.allowedChannels[0]", err)
        self.assertIn("1.2345678901234568e+18", err)
        # An id already mangled into a string, in another list and platform.
        for values in ({"discord": {"enabled": True, "botToken": "t", "allowedUsers": ["1.2e+18"]}},
                       {"discord": {"enabled": False},
                        "slack": {"enabled": True, "botToken": "b", "appToken": "a", "trustedBotIds": [1.5e18]}}):
            rc, _, err = self.helm.template("rel", values)
            self.assertNotEqual(rc, 0, values)
            self.assertRegex(err, r"(allowedUsers|trustedBotIds)\[0\]")
        # --set-string keeps every digit.
        docs = self.helm.render("rel", sets=["discord.enabled=true", "discord.botToken=t"],
                                set_strings=[f"discord.allowedChannels[0]={CHANNEL}"])
        config = chart_one(docs, "ConfigMap")["data"]["config.toml"]
        self.assertEqual(chart_toml_value(config, "discord", "allowed_channels"), f'["{CHANNEL}"]')

    def test_values_cannot_inject_config(self):
        evil = 'x"\n[agent]\ncommand = "sh'
        docs = self.helm.render("rel", chart_values("kiro", agent={"preset": "kiro", "env": {"NOTE": evil}},
                                                    log={"level": "debug", "format": "json"}))
        config = chart_one(docs, "ConfigMap")["data"]["config.toml"]
        self.assertEqual(config.splitlines().count("[agent]"), 1)
        self.assertEqual(chart_toml_value(config, "agent", "command"), '"kiro-cli"')
        self.assertIn('env = { "NOTE" = "x\\"\\n[agent]\\ncommand = \\"sh" }', config)
        self.assertEqual(chart_toml_value(config, "log", "format"), '"json"')
        for bad, where in (({"pool": {"maxSessions": "ten"}}, "pool.maxSessions"),
                           ({"reactions": {"enabled": "false"}}, "reactions.enabled"),
                           ({"agent": {"preset": "vim"}}, "agent.preset")):
            v = chart_values("kiro")
            v.update(bad)
            if "agent" in bad:
                v["agent"] = bad["agent"]
            rc, _, err = self.helm.template("rel", v)
            self.assertNotEqual(rc, 0, bad)
            self.assertIn(where, err)

    def test_agents_md_metrics_and_checksum(self):
        docs = self.helm.render("rel", chart_values("gemini", agentsMd="# Be brief\n",
                                                    metrics={"prometheusScrape": True}))
        dep = chart_one(docs, "Deployment")
        (c,) = dep["spec"]["template"]["spec"]["containers"]
        md = {m["mountPath"]: m for m in c["volumeMounts"] if m.get("subPath")}
        self.assertEqual(sorted(md), ["/home/node/AGENTS.md", "/home/node/CLAUDE.md", "/home/node/GEMINI.md"])
        self.assertEqual({m["subPath"] for m in md.values()}, {"AGENTS.md"})
        self.assertEqual(chart_one(docs, "ConfigMap")["data"]["AGENTS.md"], "# Be brief\n")
        ann = dep["spec"]["template"]["metadata"]["annotations"]
        self.assertEqual((ann["prometheus.io/scrape"], ann["prometheus.io/port"], ann["prometheus.io/path"]),
                         ("true", "9464", "/metrics"))

        plain = self.helm.render("rel", chart_values("gemini"))
        pann = chart_one(plain, "Deployment")["spec"]["template"]["metadata"]["annotations"]
        self.assertNotIn("prometheus.io/scrape", pann)
        self.assertNotEqual(pann["checksum/config"], ann["checksum/config"])
        changed = self.helm.render("rel", chart_values("gemini", pool={"maxSessions": 3}))
        cann = chart_one(changed, "Deployment")["spec"]["template"]["metadata"]["annotations"]
        self.assertNotEqual(cann["checksum/config"], pann["checksum/config"])

    def test_notes_give_each_bot_its_first_login(self):
        logins = {"kiro": "-- kiro-cli login --use-device-flow", "claude": "-- claude\n",
                  "codex": "-- codex login --device-auth", "gemini": "-- gemini\n"}
        for preset, login in logins.items():
            with self.subTest(preset=preset):
                rc, out, err = self.helm.run("install", "rel", tools.CHART, "--dry-run=client", "--namespace", "bots",
                                             "--set", f"agent.preset={preset}", "--set", "discord.enabled=true",
                                             "--set", "discord.botToken=t")
                self.assertEqual(rc, 0, err)
                notes = out[out.index("NOTES:"):]
                self.assertIn(f"kubectl exec -it -n bots deploy/rel-agent-broker {login}", notes)
                self.assertIn(f"kept on the volume over {PRESETS[preset][0]}", notes)

    def test_persistence_off_uses_empty_dir(self):
        docs = self.helm.render("rel", chart_values("codex", persistence={"enabled": False}))
        self.assertEqual(chart_find(docs, "PersistentVolumeClaim"), [])
        vols = {v["name"]: v for v in chart_one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]}
        self.assertEqual(vols["home"]["emptyDir"], {})

    def test_network_policy_limits_the_health_port(self):
        # Default: one policy per bot, selecting exactly that bot's pod, ingress to the
        # health port only, from the release's namespace.
        values = {"discord": {"botToken": DISCORD_TOKEN},
                  "agents": {"a": {"discord": {"enabled": True}},
                             "b": {"discord": {"enabled": True}, "health": {"port": 9999}}}}
        docs = self.helm.render("team", values)
        pols = {d["metadata"]["name"]: d for d in chart_find(docs, "NetworkPolicy")}
        self.assertEqual(sorted(pols), ["team-agent-broker-a", "team-agent-broker-b"])
        for bot, port in (("a", 9464), ("b", 9999)):
            spec = pols[f"team-agent-broker-{bot}"]["spec"]
            dep = chart_one(docs, "Deployment", f"team-agent-broker-{bot}")
            self.assertEqual(spec["podSelector"]["matchLabels"], dep["spec"]["selector"]["matchLabels"])
            self.assertEqual(spec["policyTypes"], ["Ingress", "Egress"])
            # Egress: DNS and HTTPS only.
            self.assertEqual(spec["egress"], [
                {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
                {"ports": [{"protocol": "TCP", "port": 443}]}])
            (rule,) = spec["ingress"]
            self.assertEqual(rule["ports"], [{"protocol": "TCP", "port": port}])
            self.assertEqual(rule["from"], [{"podSelector": {}}])
            (c,) = dep["spec"]["template"]["spec"]["containers"]
            self.assertEqual([p["containerPort"] for p in c["ports"]], [port])

        # Namespaces by name and labels, node CIDRs for probes; the same namespace off.
        docs = self.helm.render("rel", chart_values("kiro", networkPolicy={
            "allowSameNamespace": False, "allowedNamespaces": ["monitoring"],
            "namespaceSelector": {"team": "obs"}, "ipBlocks": ["10.0.0.0/16"]}))
        (rule,) = chart_one(docs, "NetworkPolicy")["spec"]["ingress"]
        self.assertEqual(rule["from"], [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}},
            {"namespaceSelector": {"matchLabels": {"team": "obs"}}},
            {"ipBlock": {"cidr": "10.0.0.0/16"}},
        ])

        # Values cannot inject YAML through a namespace name.
        docs = self.helm.render("rel", chart_values("kiro", networkPolicy={
            "allowedNamespaces": ["x\n  - ipBlock: {cidr: 0.0.0.0/0}"]}))
        (rule,) = chart_one(docs, "NetworkPolicy")["spec"]["ingress"]
        self.assertEqual(len(rule["from"]), 2)
        self.assertNotIn("ipBlock", rule["from"][1])

        # Egress: more ports and rules, or left open.
        docs = self.helm.render("rel", chart_values("kiro", networkPolicy={"egress": {
            "ports": [443, 22], "extra": [{"to": [{"ipBlock": {"cidr": "10.1.2.3/32"}}]}]}}))
        spec = chart_one(docs, "NetworkPolicy")["spec"]
        self.assertEqual(spec["egress"][1:], [
            {"ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 22}]},
            {"to": [{"ipBlock": {"cidr": "10.1.2.3/32"}}]}])
        docs = self.helm.render("rel", chart_values("kiro", networkPolicy={"egress": {"enabled": False}}))
        spec = chart_one(docs, "NetworkPolicy")["spec"]
        self.assertEqual(spec["policyTypes"], ["Ingress"])
        self.assertNotIn("egress", spec)
        rc, _, err = self.helm.template("rel", chart_values("kiro", networkPolicy={"egress": {"ports": ["443\n- x"]}}))
        self.assertNotEqual(rc, 0)
        self.assertIn("networkPolicy.egress.ports[0]", err)

        # Off: no policy; on with no source at all: the render fails, naming the bot.
        docs = self.helm.render("rel", chart_values("kiro", networkPolicy={"enabled": False}))
        self.assertEqual(chart_find(docs, "NetworkPolicy"), [])
        rc, _, err = self.helm.template("rel", chart_values("kiro", networkPolicy={"allowSameNamespace": False}))
        self.assertNotEqual(rc, 0)
        self.assertIn("admits no source", err)

    def test_disruption_budget_pod_monitor_and_resources(self):
        values = {"discord": {"botToken": DISCORD_TOKEN},
                  "agents": {"a": {}, "s": {"discord": {"shards": 3}}}}
        docs = self.helm.render("team", values)
        for bot in ("a", "s"):
            pdb = chart_one(docs, "PodDisruptionBudget", f"team-agent-broker-{bot}")
            self.assertEqual(pdb["spec"]["maxUnavailable"], 1)
            kind = "StatefulSet" if bot == "s" else "Deployment"
            workload = chart_one(docs, kind, f"team-agent-broker-{bot}")
            self.assertEqual(pdb["spec"]["selector"]["matchLabels"], workload["spec"]["selector"]["matchLabels"])
            (c,) = workload["spec"]["template"]["spec"]["containers"]
            self.assertEqual(c["resources"], {"requests": {"cpu": "50m", "memory": "64Mi"}})
        self.assertEqual(chart_find(docs, "PodMonitor"), [])
        docs = self.helm.render("rel", chart_values("codex", podDisruptionBudget={"enabled": False},
                                                    metrics={"podMonitor": {"enabled": True, "interval": "15s",
                                                                            "labels": {"release": "prom"}}}))
        self.assertEqual(chart_find(docs, "PodDisruptionBudget"), [])
        pm = chart_one(docs, "PodMonitor")
        self.assertEqual(pm["apiVersion"], "monitoring.coreos.com/v1")
        self.assertEqual(pm["metadata"]["labels"]["release"], "prom")
        self.assertEqual(pm["spec"]["podMetricsEndpoints"], [{"port": "health", "path": "/metrics", "interval": "15s"}])
        self.assertEqual(pm["spec"]["selector"]["matchLabels"],
                         chart_one(docs, "Deployment")["spec"]["selector"]["matchLabels"])

    def test_discord_shards_render_a_statefulset(self):
        docs = self.helm.render("rel", chart_values("claude", discord={
            "enabled": True, "botToken": DISCORD_TOKEN, "allowedChannels": [CHANNEL], "shards": 3}))
        self.assertEqual(chart_find(docs, "Deployment"), [])
        self.assertEqual(chart_find(docs, "PersistentVolumeClaim"), [])
        sts = chart_one(docs, "StatefulSet", "rel-agent-broker")
        spec = sts["spec"]
        self.assertEqual((spec["replicas"], spec["serviceName"], spec["podManagementPolicy"]),
                         (3, "rel-agent-broker", "Parallel"))
        svc = chart_one(docs, "Service", "rel-agent-broker")
        self.assertEqual(svc["spec"]["clusterIP"], "None")
        self.assertEqual(svc["spec"]["selector"], spec["selector"]["matchLabels"])
        pod = spec["template"]["spec"]
        (c,) = pod["containers"]
        # Pod N (named <StatefulSet>-N) runs the config file of shard N.
        self.assertEqual(c["args"], ["agent-broker", "run", "/etc/agent-broker/$(POD_NAME).toml"])
        env = {e["name"]: e for e in c["env"]}
        self.assertEqual(env["POD_NAME"]["valueFrom"], {"fieldRef": {"fieldPath": "metadata.name"}})
        data = chart_one(docs, "ConfigMap", "rel-agent-broker")["data"]
        self.assertEqual(sorted(data), [f"rel-agent-broker-{k}.toml" for k in range(3)])
        for k in range(3):
            config = data[f"rel-agent-broker-{k}.toml"]
            self.assertEqual(chart_toml_value(config, "discord", "shard_id"), str(k))
            self.assertEqual(chart_toml_value(config, "discord", "shard_count"), "3")
            self.assertEqual(chart_toml_value(config, "agent", "command"), '"claude-agent-acp"')
        # Each shard its own volume over the home.
        (tmpl,) = spec["volumeClaimTemplates"]
        self.assertEqual(tmpl["metadata"]["name"], "home")
        self.assertEqual(tmpl["spec"]["resources"]["requests"]["storage"], "5Gi")
        self.assertNotIn("home", [v["name"] for v in pod["volumes"]])
        self.assertIn({"name": "home", "mountPath": "/home/node"}, c["volumeMounts"])
        self.assertTokensInSecretOnly(docs, env, {"DISCORD_BOT_TOKEN": DISCORD_TOKEN})
        # One shard: the Deployment as always, no shard keys.
        docs = self.helm.render("rel", chart_values("kiro", discord={"enabled": True, "botToken": "t", "shards": 1}))
        config = chart_one(docs, "ConfigMap")["data"]["config.toml"]
        self.assertIsNone(chart_toml_value(config, "discord", "shard_id"))
        chart_one(docs, "Deployment")
        # What shards cannot do fails, saying why.
        for extra, msg in (({"slack": {"enabled": True, "botToken": "b", "appToken": "a"}}, "every shard would answer"),
                           ({"teams": {"enabled": True, "appId": "a", "appPassword": "p"}},
                            "discord.shards 2 with teams.enabled: every shard would answer every Teams message"),
                           ({"telegram": {"enabled": True, "botToken": "1:t"}},
                            "discord.shards 2 with telegram.enabled: every shard would answer every Telegram message"),
                           ({"persistence": {"existingClaim": "mine"}}, "cannot share persistence.existingClaim"),
                           ({"discord": {"enabled": True, "botToken": "t", "shards": 0}}, "from 1 to 1024"),
                           ({"discord": {"enabled": True, "botToken": "t", "shards": 2.5}}, "whole number")):
            with self.subTest(extra=extra):
                v = chart_values("kiro", discord={"enabled": True, "botToken": "t", "shards": 2})
                v.update(extra)
                rc, _, err = self.helm.template("rel", v)
                self.assertNotEqual(rc, 0)
                self.assertIn(msg, err)


if __name__ == "__main__":
    print(f"helm: {tools.tools_helm()}", file=sys.stderr)
    unittest.main(verbosity=2)
