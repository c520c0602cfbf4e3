"""Several agents in one daemon: [agents.codex] next to [agent], three channels routed
by [[routes]] channel, by the "codex:" name prefix and to the default; a restart keeps
each conversation's agent (session/load on the same agent); `/agent NAME` hands a
thread to another agent for good; the MCP servers reach the
agent in session/new and session/load as its mcpCapabilities allow, and their secret
values stay out of the logs (trace level) and the chat."""

import json
import signal

import e2e

MCP_ENV_SECRET = "mcp-env-canary-4471"
MCP_HEADER_SECRET = "mcp-header-canary-9902"

CODEX = """
[agents.codex]
command = "node"
args = [%s]
max_sessions = 4

[[agents.codex.mcp_servers]]
name = "files"
command = "/usr/bin/mcp-files"
args = ["--root", "/srv"]
env = { FILES_TOKEN = "${E2E_MCP_ENV}" }

[[agents.codex.mcp_servers]]
name = "web"
type = "http"
url = "http://127.0.0.1:9/mcp"
headers = { Authorization = "Bearer ${E2E_MCP_HEADER}" }

[[agents.codex.mcp_servers]]
name = "events"
type = "sse"
url = "http://127.0.0.1:9/sse"

[[routes]]
channel = "chan-2"
agent = "codex"

[log]
level = "trace"
"""


def lines_of(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


class Agents(e2e.RunWorldTest):

    @property
    def agent_flags(self):
        return ("--tick", "5", "--load", "--state", self.world.path("default-state.json"))

    @property
    def extra(self):
        w = self.world
        args = [e2e.SCRIPTED_AGENT, "--log", w.path("codex.log"), "--tick", "5", "--load",
                "--state", w.path("codex-state.json"), "--mcp", "http", "--log-mcp"]
        return CODEX % ", ".join(e2e.toml_str(a) for a in args)

    def start_broker(self):
        broker = self.world.start("run", self.config, stdin=False,
                                  env={"E2E_MCP_ENV": MCP_ENV_SECRET,
                                       "E2E_MCP_HEADER": MCP_HEADER_SECRET})
        e2e.wait_until(lambda: self.get("/readyz")[0] == 200, what="/readyz 200")
        return broker

    def prompts(self, log):
        """(sessionId, text) of every session/prompt agent @log received."""
        out = []
        for m in lines_of(log):
            if m.get("method") == "session/prompt":
                p = m["params"]
                out.append((p["sessionId"], p["prompt"][-1]["text"]))
        return out

    def calls(self, log, method):
        return [m for m in lines_of(log) if m.get("method") == method]

    def turn(self, mid, text, **kw):
        """Deliver a message and wait for its 🆗."""
        p = self.platform
        p.message(mid, text, **kw)
        p.wait_record(lambda r: r["op"] == "react" and r["message"] == mid
                      and r["emoji"] == "🆗")

    def test_routing_restart_and_mcp(self):
        w = self.world
        default_log, codex_log = w.agent_log(), w.path("codex.log")
        self.turn("m1", "hello default", channel="chan-1")
        self.turn("m2", "hello routed channel", channel="chan-2")
        self.turn("m3", "codex: hello by prefix", channel="chan-3")
        self.turn("m4", "plain in chan-3", channel="chan-3")
        # routing: channel route, prefix (cut), default
        self.assertEqual([t for _, t in self.prompts(codex_log)],
                         ["hello routed channel", "hello by prefix"])
        self.assertEqual([t for _, t in self.prompts(default_log)],
                         ["hello default", "plain in chan-3"])
        # MCP: stdio and http reach codex (it advertises http), sse is left out and said
        news = self.calls(codex_log, "session/new")
        self.assertEqual(len(news), 2)
        servers = news[0]["params"]["mcpServers"]
        self.assertEqual([s["name"] for s in servers], ["files", "web"])
        self.assertEqual(servers[0], {"name": "files", "command": "/usr/bin/mcp-files",
                                      "args": ["--root", "/srv"],
                                      "env": [{"name": "FILES_TOKEN", "value": MCP_ENV_SECRET}]})
        self.assertEqual(servers[1], {"type": "http", "name": "web",
                                      "url": "http://127.0.0.1:9/mcp",
                                      "headers": [{"name": "Authorization",
                                                   "value": "Bearer " + MCP_HEADER_SECRET}]})
        self.assertEqual(self.calls(default_log, "session/new")[0]["params"]["mcpServers"], [])
        self.broker.err.wait_for(r'codex: the agent does not support MCP over sse')
        # metrics carry the agent's name
        status, body = self.get("/metrics")
        self.assertEqual(status, 200)
        self.assertIn('agent_broker_turns_total{agent="codex"} 2', body)
        self.assertIn('agent_broker_turns_total{agent="default"} 2', body)
        codex_sessions = {s for s, _ in self.prompts(codex_log)}

        self.stop()
        first = self.broker
        self.broker = self.start_broker()
        # a follow-up in each thread, without prefix, after the restart: same agent,
        # same session (session/load, with the MCP servers again)
        for mid, thread in (("m5", "m1"), ("m6", "m2"), ("m7", "m3"), ("m8", "m4")):
            self.turn(mid, "again in " + thread, thread=thread,
                      channel={"m1": "chan-1", "m2": "chan-2"}.get(thread, "chan-3"))
        codex = self.prompts(codex_log)
        self.assertEqual([t for _, t in codex[2:]], ["again in m2", "again in m3"])
        self.assertEqual({s for s, _ in codex[2:]}, codex_sessions)
        self.assertEqual([t for _, t in self.prompts(default_log)[2:]],
                         ["again in m1", "again in m4"])
        loads = self.calls(codex_log, "session/load")
        self.assertEqual(len(loads), 2)
        self.assertEqual([s["name"] for s in loads[0]["params"]["mcpServers"]], ["files", "web"])
        self.assertEqual(len(self.calls(codex_log, "session/new")), 2)  # nothing new
        self.stop()
        # the secrets: in the agent's params only, never in the logs or the chat
        logs = first.err.text() + self.broker.err.text()
        self.assertIn('stderr: scripted-agent', logs)  # the agent's own line was logged
        self.assertIn('mcp: [{"name":"files"', logs)
        self.assertIn('"value":"***"', logs)
        for secret in (MCP_ENV_SECRET, MCP_HEADER_SECRET):
            self.assertNotIn(secret, logs)
            self.assertNotIn(secret, json.dumps(self.platform.records()))

    def test_agent_command_hands_a_thread_to_another_agent_for_good(self):
        w = self.world
        p = self.platform
        default_log, codex_log = w.agent_log(), w.path("codex.log")
        self.turn("m1", "hello default", channel="chan-1")
        start = len(p.records())
        p.message("c1", "/agent", thread="m1", channel="chan-1")
        p.wait_record(lambda r: r["op"] == "send" and r.get("thread") == "m1"
                      and "Agents: `default` (this conversation), `codex`" in r["text"],
                      start=start)
        p.message("c2", "/agent nobody", thread="m1", channel="chan-1")
        p.wait_record(lambda r: r["op"] == "send" and "No agent is called `nobody`" in r["text"],
                      start=start)
        p.message("c3", "/agent codex", thread="m1", channel="chan-1")
        p.wait_record(lambda r: r["op"] == "send" and r.get("thread") == "m1"
                      and "now talks to agent `codex`" in r["text"], start=start)
        self.turn("m2", "after the switch", thread="m1", channel="chan-1")
        self.assertEqual([t for _, t in self.prompts(codex_log)], ["after the switch"])
        self.assertEqual([t for _, t in self.prompts(default_log)], ["hello default"])
        status = len(p.records())
        p.message("c4", "/status", thread="m1", channel="chan-1")
        p.wait_record(lambda r: r["op"] == "send" and "Agent: codex" in r["text"], start=status)
        # the switch outlives a restart: the thread stays with codex, in its session
        codex_session = self.prompts(codex_log)[0][0]
        self.stop()
        self.broker = self.start_broker()
        self.turn("m3", "after the restart", thread="m1", channel="chan-1")
        self.assertEqual(self.prompts(codex_log)[-1], (codex_session, "after the restart"))
        self.assertEqual(len(self.prompts(default_log)), 1)
        self.stop()

    def test_reload_says_agents_and_routes_need_a_restart(self):
        with open(self.config, "a", encoding="utf-8") as f:
            f.write('\n[[routes]]\nchannel = "chan-9"\nagent = "codex"\n')
        self.broker.signal(signal.SIGHUP)
        self.broker.err.wait_for(r"SIGHUP: the agents or \[\[routes\]\] of .* changed; they "
                                 r"apply after a restart")
        self.broker.err.wait_for(r"SIGHUP: configuration reloaded")
        self.turn("m1", "still the default", channel="chan-9")
        self.assertEqual([t for _, t in self.prompts(self.world.agent_log())],
                         ["still the default"])
        self.stop()


class AgentsCli(e2e.WorldTest):
    """`console --agent NAME` and `check` with several agents."""

    def two_agents(self, routes=""):
        w = self.world
        codex = [e2e.SCRIPTED_AGENT, "--log", w.path("codex.log")]
        return w.write("config.toml", w.scripted_agent() + "\n[agents.codex]\ncommand = \"node\"\n"
                       "args = [%s]\n" % ", ".join(e2e.toml_str(a) for a in codex) + routes)

    def test_console_talks_to_the_named_agent(self):
        w = self.world
        cfg = self.two_agents()
        p = w.start("console", cfg, "--agent", "codex")
        p.send_line("hello codex")
        p.out.wait_for(r"You said: .*hello codex")
        p.close_stdin()
        self.assertEqual(p.wait(), 0, p.err.text()[-3000:])
        self.assertEqual([m["params"]["prompt"][-1]["text"] for m in lines_of(w.path("codex.log"))
                          if m.get("method") == "session/prompt"], ["hello codex"])
        self.assertEqual(e2e.agent_calls(w, "session/prompt"), [])
        code, _, err = w.run("console", cfg, "--agent", "nobody")
        self.assertEqual(code, 2, err)
        self.assertIn("--agent nobody", err)

    def test_check_names_unknown_agents_in_routes_with_file_and_line(self):
        cfg = self.two_agents('\n[[routes]]\nchannel = "C1"\nagent = "codx"\n')
        code, _, err = self.world.run("check", cfg)
        self.assertEqual(code, 2, err)
        with open(cfg, encoding="utf-8") as f:
            line = f.read().splitlines().index("[[routes]]") + 1
        self.assertIn("config.toml:%d: routes.agent: unknown agent \"codx\"" % line, err)
        self.assertIn("default, codex", err)

    def test_readyz_names_an_agent_whose_command_is_missing(self):
        w = self.world
        platform = e2e.Platform(w)
        port = e2e.free_port()
        cfg = e2e.run_config(w, platform, port, extra='\n[agents.ghost]\n'
                             'command = "no-such-agent-command-e2e"\n')
        broker = w.start("run", cfg, stdin=False)
        base = "http://127.0.0.1:%d" % port

        def readyz():
            try:
                return e2e.http_get(base + "/readyz")
            except OSError:
                return 0, ""
        e2e.wait_until(lambda: readyz()[0] == 503 and "agent ghost" in readyz()[1],
                       what="/readyz 503 naming agent ghost")
        status, body = readyz()
        self.assertIn('agent ghost: command "no-such-agent-command-e2e" not found on PATH', body)
        self.assertNotIn("agent default", body)
        broker.signal(signal.SIGTERM)
        self.assertEqual(broker.wait(e2e.WAIT_S), 0, broker.err.text()[-3000:])


if __name__ == "__main__":
    e2e.main()
