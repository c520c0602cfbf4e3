"""chat-telegram under Telegram's 429s, scheduled by the core: parameters.retry_after is
reported to the core (the plugin never waits or retries itself): the final reply waits out
a long retry_after, and under a 429 storm on sendMessage / editMessageText /
setMessageReaction nothing goes to a method and chat inside its 429 window (nor the
plugin's own typing calls), the live
message never shows an older render and the reply is complete."""

import os

from telegram_world import GROUP, TelegramTest, main
from rate_props import check_edits, chunk_max


class LongRetryAfter(TelegramTest):
    agent_flags = ("--tick", "50")
    edit_ms = 300

    def test_the_final_reply_waits_out_a_6_s_retry_after(self):
        f = self.fake
        f.call("ratelimit", method="editMessageText", retry_after=6, count=1)
        mid = f.message("@broker_bot slow lane [[stream 1]]")["message_id"]
        post = self.final_reply(GROUP, "chunk1", timeout=45, reply_to=mid)
        edits = f.requests("editMessageText")
        limited = [r for r in edits if r["status"] == 429]
        self.assertEqual(len(limited), 1, edits)
        after = [r for r in edits if r["t"] > limited[0]["t"]]
        self.assertTrue(after, "editMessageText was never tried again")
        self.assertGreaterEqual(after[0]["t"] - limited[0]["t"], 6000)
        self.assertEqual([r for r in f.requests() if r.get("known_limited")], [])
        self.assertEqual(post["text"].split(), ["chunk1"])
        self.stop()


class OwnCalls(TelegramTest):
    agent_flags = ("--tick", "100")
    edit_ms = 5000  # a group's 20 edits a minute must not hold the final back

    def test_typing_waits_out_its_429_in_the_core_scheduler(self):
        f = self.fake
        f.call("ratelimit", method="sendChatAction", retry_after=6, count=1)
        mid = f.message("@broker_bot think a while [[stream 120]]")["message_id"]
        self.final_reply(GROUP, "chunk120", timeout=60, reply_to=mid)
        actions = f.requests("sendChatAction")
        limited = [r for r in actions if r["status"] == 429]
        self.assertEqual(len(limited), 1, actions)
        after = [r for r in actions if r["t"] > limited[0]["t"]]
        self.assertTrue(after, "sendChatAction was never sent again")
        self.assertGreaterEqual(after[0]["t"] - limited[0]["t"], 6000, actions)
        self.assertEqual([r for r in f.requests() if r.get("known_limited")], [])
        self.stop()


class Storm(TelegramTest):
    agent_flags = ("--tick", "100")
    edit_ms = 300

    def test_a_429_storm_never_hits_a_limited_route_and_edits_stay_fresh(self):
        f = self.fake
        f.call("storm", p=0.3, seed=11, min_s=1, max_s=2)
        mid = f.message("@broker_bot storm please [[stream 40]]")["message_id"]
        post = self.final_reply(GROUP, "chunk40", timeout=120, reply_to=mid)
        st = f.state()
        if os.environ.get("STORM_DEBUG"):
            for r in st["requests"]:
                print(r["t"], r["method"], r["status"], r.get("known_limited"),
                      chunk_max((r.get("params") or {}).get("text")))
        self.assertGreaterEqual(st["rate_limited"], 3, "the storm did not happen")
        into = [r for r in st["requests"] if r.get("known_limited")]
        self.assertEqual(into, [], "requests into a route known to be rate limited")
        edits = [r for r in st["requests"] if r["method"] == "editMessageText"
                 and r["status"] == 200 and r["params"].get("message_id") == post["message_id"]]
        check_edits(self, edits, 300, lambda r: r["params"]["text"], lambda r: r["t"])
        self.assertEqual(post["text"].split(), ["chunk%d" % n for n in range(1, 41)])
        self.stop()


if __name__ == "__main__":
    main()
