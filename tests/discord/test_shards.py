"""Discord sharding: three daemons run as shards 0, 1 and 2 of one bot against the fake
Discord, which routes each guild's events to shard (guild_id >> 22) % 3 and direct
messages to shard 0, requires Identify's `shard` and holds Identifies to
session_start_limit.max_concurrency (1 here: one per 5 s). Every message is answered
exactly once, by the shard that owns its guild."""

import json
import os
import signal

import discord_world as dw
import e2e

SHARDS = 3
GUILDS = 6
DIRECT_MESSAGES = 1 << 12


def guild_channel(k):
    """The text channel of the fake's guild @k."""
    return dw.CHANNEL if k == 0 else str(1200000000000001000 + k)


class Shards(e2e.WorldTest):

    def setUp(self):
        super().setUp()
        self.fake = dw.Fake(self.world, args=("--shards", str(SHARDS), "--guilds", str(GUILDS),
                                              "--max_concurrency", "1"))
        self.brokers, self.health = [], []
        for k in range(SHARDS):
            self.brokers.append(self.start_shard(k, SHARDS))

    def start_shard(self, shard_id, shard_count, name=None):
        port = e2e.free_port()
        self.health.append("http://127.0.0.1:%d" % port)
        channels = ", ".join(e2e.toml_str(guild_channel(k)) for k in range(GUILDS))
        config = self.world.write((name or "shard-%d" % shard_id) + ".toml", self.world.scripted_agent(
            "--tick", "20") + dw.CONFIG % dict(
                token=e2e.toml_str(dw.TOKEN), api=e2e.toml_str(self.fake.base + "/api/v10"),
                gw=e2e.toml_str("ws://127.0.0.1:%d/gateway" % self.fake.port),
                channel=channels,
                discord_extra="shard_id = %d\nshard_count = %d\n" % (shard_id, shard_count),
                health=port, state=e2e.toml_str(self.world.path("state-%s" % (name or shard_id))),
                extra=""))
        return self.world.start("run", config, stdin=False)

    def readyz(self, url):
        try:
            return e2e.http_get(url + "/readyz")[0]
        except OSError:
            return 0

    def evidence(self, st, m, tid):
        """What the fake saw of message @m and its thread @tid, and the owning daemon's log."""
        reqs = [(r["method"], r["path"], r["status"], json.dumps(r.get("body"))[:160])
                for r in st["requests"] if m["id"] in r["path"] or tid in r["path"]]
        logs = "\n".join(b.err.text()[-3000:] for b in self.brokers)
        return "requests: %r\nlogs:\n%s" % (reqs, logs)

    def test_three_shards_answer_every_message_once(self):
        f = self.fake
        # max_concurrency 1: the three identify in turn, 5 s or more apart (a 21 s cycle).
        e2e.wait_until(lambda: all(self.readyz(h) == 200 for h in self.health), timeout=90,
                       what="the three shards ready")
        st = f.state()
        self.assertEqual(st["counts"]["identify_too_fast"], 0)
        self.assertEqual(st["counts"]["identify"], SHARDS)
        idents = [x["d"] for x in st["frames"] if x["dir"] == "in" and x["op"] == 2]
        self.assertEqual(sorted(tuple(d["shard"]) for d in idents), [(k, SHARDS) for k in range(SHARDS)])
        for d in idents:  # direct messages come to shard 0 only: the others do not ask
            self.assertEqual(bool(d["intents"] & DIRECT_MESSAGES), d["shard"][0] == 0, d)
        self.assertEqual(sorted(st["shards"]), [str(k) for k in range(SHARDS)])
        guilds = st["guilds"]
        owner = {guild_channel(k): (int(g) >> 22) % SHARDS for k, g in enumerate(guilds)}
        self.assertEqual(set(owner.values()), set(range(SHARDS)))  # every shard has work

        sent = [f.message("question for guild %d" % k, channel=guild_channel(k)) for k in range(GUILDS)]
        dm = f.message("a direct message", dm=True, mention=False)
        for m in sent:
            f.wait(lambda st, m=m: dw.BOT_ID in f.msg(st, m["id"])["reactions"].get("🆗", []),
                   "🆗 on " + m["id"])
        st = f.state()
        for m in sent:
            with self.subTest(channel=m["channel_id"]):
                got = [x for x in st["frames"] if x["dir"] == "out" and x.get("mid") == m["id"]]
                self.assertEqual([x["shard"] for x in got], [owner[m["channel_id"]]])
                tid = f.msg(st, m["id"])["thread"]
                self.assertTrue(tid)
                replies = f.bot_messages(st, tid)
                self.assertEqual(len(replies), 1, self.evidence(st, m, tid))
                threads = [r for r in st["requests"] if r["method"] == "POST"
                           and r["path"].endswith("/messages/%s/threads" % m["id"])]
                self.assertEqual(len(threads), 1, threads)
        got = [x for x in st["frames"] if x["dir"] == "out" and x.get("mid") == dm["id"]]
        self.assertEqual([x["shard"] for x in got], [0])

        for b in self.brokers:
            b.signal(signal.SIGTERM)
            self.assertEqual(b.wait(), 0, b.err.text()[-2000:])

    def test_a_saved_session_of_another_shard_is_not_resumed(self):
        f = self.fake
        e2e.wait_until(lambda: all(self.readyz(h) == 200 for h in self.health), timeout=90,
                       what="the three shards ready")
        for b in self.brokers:
            b.signal(signal.SIGTERM)
            self.assertEqual(b.wait(), 0, b.err.text()[-2000:])
        # Shard 0's state dir, started as shard 1: it must identify as shard 1, not
        # resume shard 0's session (Discord would send it shard 0's guilds).
        before = f.state()["counts"]
        config = self.world.path("shard-0.toml")
        with open(config) as fh:
            text = fh.read().replace("shard_id = 0\n", "shard_id = 1\n")
        moved = self.world.write("moved.toml", text)
        b = self.world.start("run", moved, stdin=False)
        b.err.wait_for("belongs to another shard", timeout=30)
        e2e.wait_until(lambda: self.readyz(self.health[0]) == 200, timeout=90, what="shard 1 ready")
        st = f.state()
        self.assertEqual(st["counts"]["resume"], before["resume"])
        # At least one new Identify (a second one when the fake's identify pacing sent op 9
        # on a loaded machine), and every new one as shard 1.
        new = st["counts"]["identify"] - before["identify"]
        self.assertGreaterEqual(new, 1)
        idents = [x["d"]["shard"] for x in st["frames"] if x["dir"] == "in" and x["op"] == 2]
        self.assertEqual(idents[-new:], [[1, SHARDS]] * new)
        b.signal(signal.SIGTERM)
        self.assertEqual(b.wait(), 0, b.err.text()[-2000:])

    def test_a_shard_id_outside_the_count_is_refused(self):
        for b in self.brokers:
            b.signal(signal.SIGTERM)
            b.wait()
        bad = self.start_shard(3, 3, name="bad")
        rc = bad.wait()
        self.assertNotEqual(rc, 0)
        self.assertIn("shard_id 3 is not below shard_count 3", bad.err.text())


if __name__ == "__main__":
    e2e.main()
