"""chat-discord's REST calls against the loopback Discord, scheduled by the core: rate
limits are honoured (no request inside a 429 window, route or global; reactions of one
channel at least 250 ms apart; under a 429 storm nothing goes into a bucket known to be
exhausted and live edits stay fresh), a thread another bot opened first (160004) is
joined, and the fake itself refuses what Discord refuses."""

import json
import urllib.error
import urllib.request

import discord_world as dw
import e2e
from rate_props import check_edits, chunk_max


def calls(st, method, fragment):
    return [r for r in st["requests"] if r["method"] == method and fragment in r["path"]]


class RateLimits(dw.DiscordTest):
    agent_flags = ("--tick", "100")

    def test_a_429_on_edit_is_honoured(self):
        f = self.fake
        f.rate_limit("PATCH", r"^/channels/\d+/messages/\d+$", retry_after=1.5)
        m = f.message("stream please [[stream 30]]")
        tid = f.wait(lambda st: f.msg(st, m["id"])["thread"], "thread")
        f.wait(lambda st: dw.BOT_ID in f.msg(st, m["id"])["reactions"].get("🆗", []), "🆗")
        st = f.state()
        edits = calls(st, "PATCH", "/channels/%s/messages/" % tid)
        limited = [r for r in edits if r["status"] == 429]
        self.assertEqual(len(limited), 1, edits)
        after = [r for r in edits if r["t"] > limited[0]["t"]]
        self.assertTrue(after, "the edit was retried")
        self.assertGreaterEqual(after[0]["t"] - limited[0]["t"], 1500)
        self.assertEqual(st["counts"]["window_violations"], 0)
        self.assertIn("chunk30", f.bot_messages(st, tid)[0]["content"])
        self.assertIn("rate limited for 1500 ms", self.broker.err.text())
        self.stop()

    def test_a_global_429_pauses_every_route(self):
        f = self.fake
        f.rate_limit("POST", r"/threads$", retry_after=1.2, glob=True)
        m = f.message("global pause")
        tid = f.wait(lambda st: f.msg(st, m["id"])["thread"], "thread after the pause")
        f.wait(lambda st: dw.BOT_ID in f.msg(st, m["id"])["reactions"].get("🆗", []), "🆗")
        st = f.state()
        limited = [r for r in st["requests"] if r["status"] == 429]
        self.assertEqual(len(limited), 1)
        inside = [r for r in st["requests"]
                  if limited[0]["t"] < r["t"] < limited[0]["t"] + 1200]
        self.assertEqual(inside, [])
        self.assertEqual(st["counts"]["window_violations"], 0)
        self.assertTrue(f.bot_messages(st, tid))
        self.stop()

    def test_the_plugins_own_calls_wait_out_a_global_pause(self):
        """A channel lookup (GET /channels/<id>, the plugin's own call) asked for during a
        global 429 pause waits in the core's scheduler like every operation: nothing
        goes into a bucket the broker was told is exhausted, internal calls included."""
        f = self.fake
        tid = "1300000000000000301"
        f.call("POST", "/_test/channel", {"id": tid, "type": 11, "extra": {
            "parent_id": dw.CHANNEL, "owner_id": dw.ALICE, "name": "t-301",
            "thread_metadata": {"archived": False, "auto_archive_duration": 1440,
                                "locked": False}}})
        f.rate_limit("POST", r"/threads$", retry_after=2.5, glob=True)
        f.message("global pause")
        f.wait(lambda st: st["counts"]["rate_limited"] >= 1, "the global 429")
        f.message("and me", channel=tid)
        f.wait(lambda st: any("and me" in x["content"] for x in f.bot_messages(st, tid)),
               "the answer in the thread that needed a lookup")
        st = f.state()
        limited = [r for r in st["requests"] if r["status"] == 429]
        looked = calls(st, "GET", "/channels/%s" % tid)
        self.assertEqual(len(limited), 1, limited)
        self.assertTrue(looked, "no lookup")
        self.assertGreaterEqual(looked[0]["t"] - limited[0]["t"], 2500)
        into = [r for r in st["requests"] if r.get("known_exhausted")]
        self.assertEqual(into, [], "requests into a bucket known to be exhausted")
        self.assertEqual(st["counts"]["exhausted_violations"], 0)
        self.stop()

    def test_reactions_in_one_channel_are_250_ms_apart(self):
        f = self.fake
        m, _ = self.conversation("react a lot [[stream 10]]")
        st = f.state()
        times = [r["t"] for r in st["requests"] if "/reactions/" in r["path"]
                 and r["path"].startswith("/channels/%s/" % dw.CHANNEL)]
        self.assertGreaterEqual(len(times), 3)
        gaps = [b - a for a, b in zip(times, times[1:])]
        self.assertGreaterEqual(min(gaps), 250, gaps)
        self.assertEqual(st["counts"]["rate_limited"], 0)
        self.stop()


class Storm(dw.DiscordTest):
    """Under 429 storms on every route (Discord's 5-per-5 s message bucket shared by
    posting and editing, random 429s of every scope), nothing goes into a bucket the
    broker was told is exhausted — operations and the plugin's own channel lookups —
    and the live message never shows an older render."""
    agent_flags = ("--tick", "100")

    def test_a_429_storm_never_hits_an_exhausted_bucket_and_edits_stay_fresh(self):
        f = self.fake
        f.storm(limit=5, window_ms=5000, p=0.3, seed=7, global_every=7)
        m = f.message("storm please [[stream 60]]")
        tid = f.wait(lambda st: f.msg(st, m["id"])["thread"], "thread", timeout=60)
        # the plugin's own calls under the same storm: channels it never saw need a lookup
        unknown = []
        for i in range(2):
            other = "13000000000000008%02d" % i
            f.call("POST", "/_test/channel", {"id": other, "type": 11, "extra": {
                "parent_id": dw.CHANNEL, "owner_id": dw.ALICE, "name": "s" + str(i),
                "thread_metadata": {"archived": False, "auto_archive_duration": 1440,
                                    "locked": False}}})
            f.message("chatter", channel=other, mention=False)
            unknown.append("/channels/" + other)
        f.wait(lambda st: dw.BOT_ID in f.msg(st, m["id"])["reactions"].get("🆗", []),
               "🆗 after the final reply", timeout=120)
        # a second turn in the thread: its routes are known by now (post and edit share
        # the thread's bucket)
        f2 = f.message("again [[stream 20]]", channel=tid, mention=False)
        f.wait(lambda st: dw.BOT_ID in f.msg(st, f2["id"])["reactions"].get("🆗", []),
               "🆗 after the second reply", timeout=120)
        st = f.state()
        import os
        if os.environ.get("STORM_DEBUG"):
            for r in st["requests"]:
                print(r["t"], r["method"], r["path"], r["status"], r.get("bucket"),
                      r.get("remaining_before"), r.get("known_exhausted"),
                      chunk_max((r.get("body") or {}).get("content")))
        self.assertGreaterEqual(st["counts"]["rate_limited"], 3, "the storm did not happen")
        f.wait(lambda st: all(any(r["path"] == p and r["status"] == 200 for r in st["requests"])
                              for p in unknown), "every lookup answered", timeout=60)
        st = f.state()
        into = [r for r in st["requests"] if r.get("known_exhausted")]
        self.assertEqual(into, [], "requests into a bucket known to be exhausted")
        self.assertEqual(st["counts"]["exhausted_violations"], 0)
        self.assertEqual(st["counts"]["window_violations"], 0)
        counts = []
        for i, live in enumerate(f.bot_messages(st, tid)[:2]):
            edits = [r for r in st["requests"] if r["method"] == "PATCH" and r["status"] == 200
                     and r["path"].endswith("/messages/%s" % live["id"])]
            counts.append(len(edits))
            if i > 0 and len(edits) < 2:
                continue  # the short second reply may fit in one edit on a loaded machine
            check_edits(self, edits, 300, lambda r: r["body"]["content"], lambda r: r["t"])
        self.assertGreaterEqual(counts[0], 4, "too few edits to judge the first reply")
        self.stop()


class ThreadRace(dw.DiscordTest):

    def test_an_existing_thread_is_joined_after_160004(self):
        f = self.fake
        m = f.message("race me", thread_by_other=True)
        f.wait(lambda st: any("race me" in x["content"] for x in f.bot_messages(st, m["id"])),
               "the answer in the existing thread")
        st = f.state()
        made = calls(st, "POST", "/messages/%s/threads" % m["id"])
        self.assertEqual([r["status"] for r in made], [400])
        self.assertEqual(len(calls(st, "GET", "/channels/%s/messages/%s" % (dw.CHANNEL, m["id"]))),
                         1)
        self.assertIn("already existed", self.broker.err.text())
        self.stop()


class FakeRefuses(dw.DiscordTest):
    """The fake must refuse what Discord refuses, or the plugin's tests prove nothing."""

    def api(self, method, path, body=None, token=dw.TOKEN, ctype="application/json",
            ua="DiscordBot (https://example.org, 1.0)"):
        data = body.encode() if isinstance(body, str) else (
            json.dumps(body).encode() if body is not None else None)
        h = {"User-Agent": ua, "Authorization": "Bot " + token}
        if ctype:
            h["Content-Type"] = ctype
        req = urllib.request.Request(self.fake.base + "/api/v10" + path, data=data,
                                     method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"null"), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null"), dict(e.headers)

    def test_limits_and_errors(self):
        post = "/channels/%s/messages" % dw.CHANNEL
        st, body, h = self.api("POST", post, {"content": "x" * 2001})
        self.assertEqual((st, body["code"]), (400, 50035))
        self.assertIn("X-RateLimit-Bucket", h)
        st, body, _ = self.api("POST", post, {"content": "é" * 2000, "nonce": "n1",
                                              "enforce_nonce": True})
        self.assertEqual(st, 200)
        st, again, _ = self.api("POST", post, {"content": "other", "nonce": "n1",
                                               "enforce_nonce": True})
        self.assertEqual(again["id"], body["id"])  # nonce: the earlier message
        st, _, _ = self.api("POST", post, {"content": "hi"}, token="wrong")
        self.assertEqual(st, 401)
        st, b, _ = self.api("POST", post, '{"content":"hi"}', ctype="text/plain")
        self.assertEqual((st, b["code"]), (400, 50035))
        st, _, _ = self.api("GET", "/channels/%s" % dw.CHANNEL, ua="curl/8")
        self.assertEqual(st, 403)
        react = "/channels/%s/messages/%s/reactions/%%s/@me" % (dw.CHANNEL, body["id"])
        st, b, _ = self.api("PUT", react % "eyes")
        self.assertEqual((st, b["code"]), (400, 10014))
        e2e.time.sleep(0.3)
        st, b, _ = self.api("PUT", react % "%F0%9F%91%80")
        self.assertEqual(st, 204)
        st, b, h = self.api("PUT", react % "%F0%9F%91%A8%E2%80%8D%F0%9F%92%BB")
        self.assertEqual((st, h.get("X-RateLimit-Scope")), (429, "user"))
        self.assertLess(b["retry_after"], 0.25)
        e2e.time.sleep(0.3)
        st, b, _ = self.api("PUT", react % "%F0%9F%91%A8%E2%80%8D%F0%9F%92%BB")
        self.assertEqual(st, 204)  # the ZWJ sequence is one emoji
        st, b, _ = self.api("POST", "/channels/%s/messages/%s/threads" % (dw.CHANNEL, body["id"]),
                            {"name": "t", "auto_archive_duration": 1440})
        self.assertEqual(st, 201)
        self.assertEqual(b["id"], body["id"])
        st, b, _ = self.api("POST", "/channels/%s/messages/%s/threads" % (dw.CHANNEL, body["id"]),
                            {"name": "t"})
        self.assertEqual((st, b["code"]), (400, 160004))
        self.assertGreaterEqual(self.fake.state()["counts"]["invalid_requests"], 3)
        self.stop()


if __name__ == "__main__":
    e2e.main()
