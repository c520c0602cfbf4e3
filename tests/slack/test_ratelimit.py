"""chat-slack under Slack's rate limits, scheduled by the core: a final reply survives a
Retry-After longer than the old ~8 s give-up (nothing is sent for the method inside the
window), and under a 429 storm on every chat method nothing goes into a method known to
be rate limited and the live message never shows an older render."""

import os

from slack_world import BOT, SlackTest, main
from rate_props import check_edits, chunk_max


class LongRetryAfter(SlackTest):
    agent_flags = ("--tick", "50")
    edit_ms = 300

    def test_the_final_reply_waits_out_a_10_s_retry_after(self):
        f = self.fake
        f.call("ratelimit", method="chat.update", retry_after=10, count=1)
        ts = f.message("<@%s> slow lane [[stream 1]]" % BOT)["ts"]
        post = self.final_reply(ts, "chunk1", timeout=45)
        self.wait_until(lambda: "ok" in f.reactions_on(ts), "the ok reaction", timeout=30)
        st = f.state()
        updates = [r for r in st["requests"] if r["method"] == "chat.update"]
        limited = [r for r in updates if r["status"] == 429]
        self.assertEqual(len(limited), 1, updates)
        # the request Slack refused was the final reply itself
        self.assertEqual(limited[0]["args"]["text"].split(), ["chunk1"], updates)
        self.assertEqual(post["text"].split(), ["chunk1"])
        after = [r for r in updates if r["t"] > limited[0]["t"]]
        self.assertTrue(after, "chat.update was never tried again")
        self.assertGreaterEqual(after[0]["t"] - limited[0]["t"], 10000)
        self.assertEqual(st["counts"]["exhausted_violations"], 0)
        self.assertNotIn("failed", self.broker.err.text())
        self.stop()


class OwnCalls(SlackTest):
    """The plugin's own calls (auth.test, apps.connections.open) are scheduled by the
    core like its operations: a 429 is waited out before the method is called again."""

    def prepare(self, fake):
        fake.call("ratelimit", method="auth.test", retry_after=3, count=1)
        fake.call("ratelimit", method="apps.connections.open", retry_after=2, count=1)

    def test_sign_in_and_connect_wait_out_their_429s(self):
        st = self.fake.state()
        for method, wait in (("auth.test", 3000), ("apps.connections.open", 2000)):
            reqs = [r for r in st["requests"] if r["method"] == method]
            self.assertEqual([r["status"] for r in reqs[:2]], [429, 200], reqs)
            self.assertGreaterEqual(reqs[1]["t"] - reqs[0]["t"], wait, method)
        into = [r for r in st["requests"] if r.get("known_exhausted")]
        self.assertEqual(into, [], "requests into a method known to be rate limited")
        self.assertEqual(st["counts"]["exhausted_violations"], 0)
        self.stop()


class Storm(SlackTest):
    agent_flags = ("--tick", "100")
    edit_ms = 300

    def test_a_429_storm_never_hits_a_limited_method_and_edits_stay_fresh(self):
        f = self.fake
        f.call("storm", p=0.3, seed=11, min_s=1, max_s=2, methods=".")
        ts = f.message("<@%s> storm please [[stream 50]]" % BOT)["ts"]
        # the plugin's own call under the same storm: a reconnect meets a 429
        f.call("ratelimit", method="apps.connections.open", retry_after=2, count=1)
        f.call("disconnect", reason="refresh_requested")
        post = self.final_reply(ts, "chunk50", timeout=90)
        self.wait_until(lambda: "ok" in f.reactions_on(ts), "the ok reaction", timeout=60)
        st = f.state()
        if os.environ.get("STORM_DEBUG"):
            for r in st["requests"]:
                print(r["t"], r["method"], r["status"], r.get("known_exhausted"),
                      chunk_max((r.get("args") or {}).get("text")))
        self.assertGreaterEqual(st["counts"]["rate_limited"], 3, "the storm did not happen")
        into = [r for r in st["requests"] if r.get("known_exhausted")]
        timeline = [(r["t"], r["status"], r.get("error")) for r in st["requests"]
                    if into and r["method"] == into[0]["method"]]
        self.assertEqual(into, [], "requests into a method known to be rate limited; that "
                         "method's requests (t, status, error): %r\n%s" % (
                             timeline, self.broker.err.text()[-3000:]))
        opens = [r["status"] for r in st["requests"] if r["method"] == "apps.connections.open"]
        self.assertIn(429, opens)
        self.assertEqual(opens[-1], 200)
        edits = [r for r in st["requests"] if r["method"] == "chat.update"
                 and r["status"] == 200 and r["error"] is None
                 and r["args"].get("ts") == post["ts"]]
        check_edits(self, edits, 300, lambda r: r["args"]["text"], lambda r: r["t"])
        self.stop()


if __name__ == "__main__":
    main()
