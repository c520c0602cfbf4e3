"""The Grafana dashboard shipped with the chart (charts/agent-broker/dashboards/
agent-broker.json) shows what the brief asks for, and every metric its panels query
exists in a real /metrics scrape: `agent-broker run` connected to the fake Discord,
after one conversation with the scripted agent."""

import json
import os
import re
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "discord"))
import tools  # noqa: E402
import discord_world as dw  # noqa: E402
import e2e  # noqa: E402

DASHBOARD = os.path.join(tools.CHART, "dashboards", "agent-broker.json")
METRIC = re.compile(r"\bagent_broker_[a-zA-Z0-9_]+")
# What the panels must show, by the metric that shows it.
REQUIRED = {
    "messages": "agent_broker_messages_received_total",
    "turns by outcome": "agent_broker_turns_finished_total",
    "turn latency": "agent_broker_turn_duration_seconds_bucket",
    "first-reply latency": "agent_broker_first_reply_seconds_bucket",
    "queue length": "agent_broker_messages_queued",
    "sessions": "agent_broker_sessions",
    "agent processes": "agent_broker_agent_processes",
    "agent RSS": "agent_broker_agent_resident_memory_bytes",
    "rate-limit waits": "agent_broker_outbound_rate_limited_total",
    "reconnects": "agent_broker_plugin_reconnects_total",
}


def scrape(text):
    """A /metrics body as {sample name: [(labels text, value)]}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$", line)
        assert m, f"not a sample line: {line!r}"
        out.setdefault(m.group(1), []).append((m.group(2) or "", float(m.group(3))))
    return out


def dashboard_metrics(dash):
    """Every metric name the dashboard's panels and variables query."""
    names = set()
    for p in dash["panels"]:
        for t in p["targets"]:
            names |= set(METRIC.findall(t["expr"]))
    for v in dash["templating"]["list"]:
        names |= set(METRIC.findall(json.dumps(v.get("query", ""))))
    return names


class Dashboard(dw.DiscordTest):
    agent_flags = ("--tick", "20")

    def test_every_panel_metric_is_in_a_real_scrape(self):
        with open(DASHBOARD) as f:
            dash = json.load(f)
        for p in dash["panels"]:
            self.assertTrue(p["targets"], p["title"])
        used = dashboard_metrics(dash)
        for what, name in REQUIRED.items():
            self.assertIn(name, used, f"no panel shows {what}")

        m, _ = self.conversation("hello dashboard")
        code, body = e2e.http_get(self.health + "/metrics")[:2]
        self.assertEqual(code, 200)
        samples = scrape(body if isinstance(body, str) else body.decode())
        missing = sorted(n for n in used if n not in samples)
        self.assertEqual(missing, [], "panels query metrics /metrics does not have")
        # The new series carry the conversation.
        self.assertGreaterEqual(samples["agent_broker_turn_duration_seconds_count"][0][1], 1)
        self.assertGreaterEqual(samples["agent_broker_first_reply_seconds_count"][0][1], 1)
        inf = [v for lbl, v in samples["agent_broker_turn_duration_seconds_bucket"] if 'le="+Inf"' in lbl]
        self.assertEqual(inf, [samples["agent_broker_turn_duration_seconds_count"][0][1]])
        outcomes = {lbl: v for lbl, v in samples["agent_broker_turns_finished_total"]}
        self.assertGreaterEqual(outcomes['{outcome="ok"}'], 1)
        self.assertIn('{outcome="error"}', outcomes)
        self.assertIn('{outcome="cancelled"}', outcomes)
        self.assertGreater(samples["agent_broker_agent_resident_memory_bytes"][0][1], 1 << 20)
        self.assertEqual(samples["agent_broker_plugin_reconnects_total"][0][0], '{plugin="discord"}')
        self.stop()

    def test_the_chart_ships_the_same_dashboard(self):
        self.stop()
        helm = tools.Helm()
        with open(DASHBOARD) as f:
            dash = json.load(f)
        docs = helm.render("rel", {"discord": {"botToken": "t"}, "grafana": {"dashboard": {"enabled": True}}})
        (cm,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "rel-agent-broker-dashboard"]
        self.assertEqual(cm["metadata"]["labels"]["grafana_dashboard"], "1")
        self.assertEqual(json.loads(cm["data"]["agent-broker.json"]), dash)
        docs = helm.render("rel", {"discord": {"botToken": "t"}})
        self.assertEqual([d for d in docs if d["metadata"]["name"].endswith("-dashboard")], [])


if __name__ == "__main__":
    e2e.main()
