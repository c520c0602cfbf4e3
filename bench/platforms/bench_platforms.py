"""Teams against Discord, same run, same machine, same scripted agent: the daemon's RSS
once connected and idle (VmRSS from /proc after a settle), and the latency from a user's
message to its `session/prompt` reaching the agent, for follow-ups in one conversation
(the agent session already open, so no spawn is timed). The message is timed from the
test's call to the fake (which then signs/dispatches it) to the prompt line appearing
in the scripted agent's log (polled every 0.5 ms, while the call runs in a thread): the
same path on both sides — one control call, the fake's delivery (Teams: RS256-signed
HTTPS-less POST to [ingress]; Discord: a gateway frame), the daemon, the agent's stdin.

    python3 bench/platforms/bench_platforms.py [TURNS]    (needs a built build-test)
Prints "name value" lines."""

import os
import statistics
import sys
import threading
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "teams"))
sys.path.insert(0, os.path.join(ROOT, "tests", "discord"))
os.environ.setdefault("AB_SOURCE_ROOT", ROOT)
os.environ.setdefault("AGENT_BROKER_BIN", os.path.join(ROOT, "build-test", "core", "agent-broker"))

import discord_world as dw  # noqa: E402
import teams_world as tw  # noqa: E402
import e2e  # noqa: E402

TURNS = int(sys.argv[1]) if len(sys.argv) > 1 else 20


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def prompt_count(world):
    try:
        with open(world.agent_log(), "rb") as f:
            return f.read().count(b'"session/prompt"')
    except FileNotFoundError:
        return 0


def timed(world, send):
    """Seconds from send() to one more session/prompt in the agent log."""
    n = prompt_count(world)
    sender = threading.Thread(target=send)  # Teams' call returns only after the daemon's 200
    t0 = time.perf_counter()
    sender.start()
    while prompt_count(world) <= n:
        if time.perf_counter() - t0 > 30:
            raise AssertionError("no prompt")
        time.sleep(0.0005)
    t = time.perf_counter() - t0
    sender.join()
    return t


class TeamsBench(tw.TeamsTest):
    agent_flags = ("--tick", "5")

    def runTest(self):
        time.sleep(1.0)
        out = {"rss_kb": rss_kb(self.broker.pid)}
        first = self.fake.message("hello [[stream 1]]")
        conv = first["conversation"]
        self.final_reply(conv, "chunk1")
        lat = []
        for i in range(TURNS):
            lat.append(timed(self.world, lambda: self.fake.message("again %d [[stream 1]]" % i,
                                                                   conversation=conv)))
            self.wait_until(lambda: len([p for p in self.fake.posts(conv)
                                         if "chunk1" in p["text"]]) >= i + 2, "reply")
        out["lat"] = lat
        out["rss_after_kb"] = rss_kb(self.broker.pid)
        RESULTS["teams"] = out
        self.stop()


class DiscordBench(dw.DiscordTest):
    agent_flags = ("--tick", "5")

    def runTest(self):
        f = self.fake
        time.sleep(1.0)
        out = {"rss_kb": rss_kb(self.broker.pid)}
        m = f.message("hello [[stream 1]]")
        tid = f.wait(lambda st: f.msg(st, m["id"])["thread"], "thread")
        f.wait(lambda st: any("chunk1" in x.get("content", "") for x in f.bot_messages(st, tid)),
               "first reply")
        lat = []
        for i in range(TURNS):
            lat.append(timed(self.world, lambda: f.message("again %d [[stream 1]]" % i,
                                                           channel=tid, mention=False)))
            f.wait(lambda st: len([x for x in f.bot_messages(st, tid)
                                   if "chunk1" in x.get("content", "")]) >= i + 2, "reply")
        out["lat"] = lat
        out["rss_after_kb"] = rss_kb(self.broker.pid)
        RESULTS["discord"] = out
        self.stop()


RESULTS = {}

if __name__ == "__main__":
    suite = unittest.TestSuite([DiscordBench(), TeamsBench(), DiscordBench(), TeamsBench()])
    res = unittest.TextTestRunner(verbosity=0).run(suite)
    for name, r in sorted(RESULTS.items()):
        lat = sorted(r["lat"])
        print("%s_rss_connected_kb %d" % (name, r["rss_kb"]))
        print("%s_rss_after_turns_kb %d" % (name, r["rss_after_kb"]))
        print("%s_prompt_latency_ms_p50 %.2f" % (name, 1000 * statistics.median(lat)))
        print("%s_prompt_latency_ms_p90 %.2f" % (name, 1000 * lat[int(0.9 * (len(lat) - 1))]))
    sys.exit(0 if res.wasSuccessful() else 1)
