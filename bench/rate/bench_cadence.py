"""Benchmark: live-edit cadence of a long streamed reply against edit_interval_ms, and
requests sent into a platform bucket known to be exhausted, through the real broker and
plugins against the loopback fakes (tests/discord/fake-discord.js, tests/slack/
fake-slack.js). The agent streams one chunk every 100 ms for 20 s; edit_interval_ms is
500, so the configured cadence is 120 edits per minute.

  open:    the fake's ordinary limits (50 per second per route)
  bucket:  Discord's real message bucket, 5 per 5 s shared by posting and editing
  storm:   that bucket plus random 429s with real headers on every route (30 %), and the
           plugin's own calls made during it: Discord looks up three channels it never
           saw (GET /channels/<id>), Slack reconnects (apps.connections.open), both
           under the same storm

Prints "KEY value" lines: <platform>_<scenario>_edits_per_min, _cadence_per_min, _ratio,
_exhausted (requests of any kind, the plugin's own included, into a bucket known to be
exhausted: must be 0), _min_gap_ms, and for storms _internal (the plugin's own calls
made) and _internal_429 (how many of them met a 429).
Usage: AGENT_BROKER_BIN=… AB_BUILD_ROOT=… python3 bench_cadence.py discord|slack [SCENARIO]"""

import os
import sys
import time
import unittest

ROOT = os.environ.get("AB_SOURCE_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "discord"))
sys.path.insert(0, os.path.join(ROOT, "tests", "slack"))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

import discord_world as dw  # noqa: E402
import slack_world as sw  # noqa: E402
from rate_props import chunk_max  # noqa: E402

INTERVAL_MS = 500
CHUNKS = 200  # at 100 ms: 20 s of streaming
dw.CONFIG = dw.CONFIG.replace("edit_interval_ms = 300", "edit_interval_ms = %d" % INTERVAL_MS)


def report(name, edits, t_of, exhausted):
    """Print the cadence of the accepted live edits (the final one excluded)."""
    live = edits[:-1]
    span = t_of(live[-1]) - t_of(live[0])
    per_min = (len(live) - 1) * 60000.0 / span if span > 0 else 0.0
    cadence = 60000.0 / INTERVAL_MS
    gaps = [t_of(b) - t_of(a) for a, b in zip(live, live[1:])]
    print("%s_edits_per_min %.1f" % (name, per_min))
    print("%s_cadence_per_min %.1f" % (name, cadence))
    print("%s_ratio %.3f" % (name, per_min / cadence))
    print("%s_exhausted %d" % (name, exhausted))
    print("%s_min_gap_ms %.0f" % (name, min(gaps) if gaps else 0))
    sys.stdout.flush()


def report_internal(name, own):
    """Print how many of the plugin's own calls were made, and met a 429."""
    print("%s_internal %d" % (name, len(own)))
    print("%s_internal_429 %d" % (name, len([r for r in own if r["status"] == 429])))
    sys.stdout.flush()


class Discord(dw.DiscordTest):
    agent_flags = ("--tick", "100")

    def run_scenario(self, name, internal=False, **storm):
        f = self.fake
        if storm:
            f.storm(**storm)
        m = f.message("bench [[stream %d]]" % CHUNKS)
        unknown = []
        if internal:  # channels the gateway never described: each needs a lookup
            f.wait(lambda st: f.msg(st, m["id"])["thread"], "thread", timeout=60)
            for i in range(3):
                tid = "13000000000000009%02d" % i
                f.call("POST", "/_test/channel", {"id": tid, "type": 11, "extra": {
                    "parent_id": dw.CHANNEL, "owner_id": dw.ALICE, "name": "u" + str(i),
                    "thread_metadata": {"archived": False, "auto_archive_duration": 1440,
                                        "locked": False}}})
                f.message("chatter %d" % i, channel=tid, mention=False)
                unknown.append("/channels/" + tid)
                time.sleep(2)
        f.wait(lambda st: dw.BOT_ID in f.msg(st, m["id"])["reactions"].get("🆗", []),
               "🆗", timeout=90)
        if internal:
            f.wait(lambda st: all(any(r["path"] == p and r["status"] == 200
                                      for r in st["requests"]) for p in unknown),
                   "every lookup answered", timeout=90)
        st = f.state()
        tid = f.msg(st, m["id"])["thread"]
        live = f.bot_messages(st, tid)[0]
        edits = [r for r in st["requests"] if r["method"] == "PATCH" and r["status"] == 200
                 and r["path"].endswith("/messages/%s" % live["id"])]
        self.assertEqual(chunk_max(edits[-1]["body"]["content"]), CHUNKS)
        report("discord_" + name, edits, lambda r: r["t"],
               len([r for r in st["requests"] if r.get("known_exhausted")]))
        if internal:
            own = [r for r in st["requests"] if r["method"] == "GET" and r["path"] in unknown]
            report_internal("discord_" + name, own)
        self.stop()

    def test_1_open(self):
        self.run_scenario("open")

    def test_2_bucket(self):
        self.run_scenario("bucket", limit=5, window_ms=5000)

    def test_3_storm(self):
        self.run_scenario("storm", internal=True, limit=5, window_ms=5000, p=0.3, seed=3,
                          global_every=9)


class Slack(sw.SlackTest):
    agent_flags = ("--tick", "100")
    edit_ms = INTERVAL_MS

    def run_scenario(self, name, internal=False, **storm):
        f = self.fake
        if storm:
            f.call("storm", **storm)
        ts = f.message("<@%s> bench [[stream %d]]" % (sw.BOT, CHUNKS))["ts"]
        if internal:  # a reconnect mid-stream: apps.connections.open under the storm,
            time.sleep(5)  # its first answer a 429 for sure
            f.call("ratelimit", method="apps.connections.open", retry_after=2, count=1)
            f.call("disconnect", reason="refresh_requested")
        post = self.final_reply(ts, "chunk%d" % CHUNKS, timeout=90)
        self.wait_until(lambda: "ok" in f.reactions_on(ts), "the ok reaction", timeout=60)
        st = f.state()
        edits = [r for r in st["requests"] if r["method"] == "chat.update" and r["status"] == 200
                 and r["error"] is None and r["args"].get("ts") == post["ts"]]
        report("slack_" + name, edits, lambda r: r["t"],
               len([r for r in st["requests"] if r.get("known_exhausted")]))
        if internal:
            report_internal("slack_" + name, [r for r in st["requests"] if r["method"] in (
                "auth.test", "apps.connections.open")])
        self.stop()

    def test_1_open(self):
        self.run_scenario("open")

    def test_3_storm(self):
        self.run_scenario("storm", internal=True, p=0.3, seed=5, min_s=1, max_s=2,
                          methods=".")


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "discord"
    case = Discord if which == "discord" else Slack
    if len(sys.argv) > 2:  # one scenario: open, bucket or storm
        suite = unittest.TestSuite([case(n) for n in unittest.defaultTestLoader.getTestCaseNames(
            case) if n.endswith("_" + sys.argv[2])])
    else:
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(case)
    ok = unittest.TextTestRunner(stream=sys.stderr, verbosity=1).run(suite).wasSuccessful()
    sys.exit(0 if ok else 1)
