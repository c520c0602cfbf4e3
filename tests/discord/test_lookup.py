"""A message in a channel the gateway never described needs GET /channels/{id}, a call
of the plugin's own that the core schedules (http_scheduled): a 429 is waited out and
the lookup sent again; a lookup that still fails (5xx after the core's retries) must
not lose the message in silence: the core tells the user in that channel.
Channel facts learned are kept in [state] dir, so messages replayed after a restart
need no lookups (the 429 storm of an empty cache)."""

import signal

import discord_world as dw
import e2e

THREAD_A = "1300000000000000201"
THREAD_B = "1300000000000000202"


def thread(fake, tid):
    fake.call("POST", "/_test/channel", {"id": tid, "type": 11, "extra": {
        "parent_id": dw.CHANNEL, "owner_id": dw.ALICE, "name": "t-" + tid[-3:],
        "thread_metadata": {"archived": False, "auto_archive_duration": 1440,
                            "locked": False}}})


def lookups(st, tid):
    return [r for r in st["requests"] if r["method"] == "GET" and r["path"] == "/channels/" + tid]


class Lookup(dw.DiscordTest):

    def test_a_lookup_that_meets_a_429_waits_and_is_answered(self):
        f = self.fake
        thread(f, THREAD_A)
        f.rate_limit("GET", "^/channels/%s$" % THREAD_A, 0.8)
        f.message("are you there", channel=THREAD_A)
        f.wait(lambda st: any("are you there" in x["content"]
                              for x in f.bot_messages(st, THREAD_A)), "the answer in the thread")
        # the lookup is the plugin's own call, scheduled by the core: sent again once the
        # 429's wait is over, never inside it
        st = f.state()
        asked = lookups(st, THREAD_A)
        self.assertEqual([r["status"] for r in asked[:2]], [429, 200], asked)
        self.assertGreaterEqual(asked[1]["t"] - asked[0]["t"], 800)
        self.assertEqual(st["counts"]["exhausted_violations"], 0)
        self.assertFalse(any("not answered" in x["content"] for x in f.bot_messages(st, THREAD_A)))
        self.stop()

    def test_a_lookup_that_fails_with_a_5xx_ends_in_a_visible_line(self):
        f = self.fake
        thread(f, THREAD_B)
        f.fault("rest_5xx", method="GET", path="^/channels/%s$" % THREAD_B, status=502,
                count=100)
        f.message("hello?", channel=THREAD_B)
        f.wait(lambda st: any("not answered" in x["content"]
                              for x in f.bot_messages(st, THREAD_B)), "a line in the thread")
        self.assertEqual(len(f.bot_messages(f.state(), THREAD_B)), 1)
        self.stop()

    def test_channel_facts_survive_a_restart(self):
        f = self.fake
        thread(f, THREAD_A)
        f.message("first", channel=THREAD_A)
        f.wait(lambda st: any("first" in x["content"]
                              for x in f.bot_messages(st, THREAD_A)), "first answer")
        self.stop()
        # every lookup of that thread would fail now: the saved facts must do
        f.fault("rest_5xx", method="GET", path="^/channels/%s$" % THREAD_A, status=503,
                count=100)
        before = len(lookups(f.state(), THREAD_A))
        self.broker = self.start_broker()
        f.message("second", channel=THREAD_A)
        f.wait(lambda st: any("second" in x["content"]
                              for x in f.bot_messages(st, THREAD_A)), "second answer")
        self.assertEqual(len(lookups(f.state(), THREAD_A)), before)
        self.stop()


if __name__ == "__main__":
    e2e.main()
