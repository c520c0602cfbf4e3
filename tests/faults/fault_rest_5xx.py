"""Fault: bursts of server errors (5xx) on every REST route, Discord and Slack.

Injected, once the broker is connected and before the user writes:
- Discord (fake-discord.js rest_5xx): on every route the conversation uses --
  open thread, post, edit, add and remove reaction -- the next requests answer 502,
  503 or 500. Most fail before anything happens; one post and one thread creation
  are carried out and only their answer is lost (a 502 after the fact), the case
  where a blind retry duplicates;
- Slack (fake-slack.js http_error): chat.postMessage, chat.update, reactions.add,
  reactions.remove answer HTTP 503 (an HTML body) before doing anything.

Expected: the core retries (no more than its attempt budget, each burst is shorter),
every reply still arrives, exactly once: Discord's retried post carries the same
nonce with enforce_nonce so the fake returns the message it already made; a thread
created behind a lost answer is joined (160004), not opened twice. The conversation
ends with the done reaction and a follow-up works."""

import unittest

import fault_world as fw
from fault_world import dw, e2e, sw


class DiscordServerErrors(dw.DiscordTest):
    agent_flags = ("--tick", "100")

    def arm(self, threads=False):
        f = self.fake
        armed = [
            # post: two plain failures, then one lost answer (the message exists)
            dict(method="POST", path=r"^/channels/\d+/messages$", status=500, count=2),
            dict(method="POST", path=r"^/channels/\d+/messages$", status=502, count=1, after=True),
            dict(method="PATCH", path=r"/messages/\d+$", status=503, count=2),
            dict(method="PUT", path="/reactions/", status=502, count=2),
            dict(method="DELETE", path="/reactions/", status=503, count=2),
        ]
        if threads:  # open_thread: one lost answer (the thread exists), then one plain 503
            armed[:0] = [dict(method="POST", path=r"/messages/\d+/threads$", status=502,
                              count=1, after=True),
                         dict(method="POST", path=r"/messages/\d+/threads$", status=503,
                              count=1)]
        for a in armed:
            self.assertEqual(f.fault("rest_5xx", **a), {"ok": True})
        return sum(a["count"] for a in armed)

    def test_replies_arrive_once_through_5xx_bursts(self):
        self.storm(threads=False)

    def test_a_thread_is_opened_once_through_5xx_bursts(self):
        self.storm(threads=True)

    def storm(self, threads):
        f = self.fake
        total = self.arm(threads)
        m = f.message("through the storm [[stream 6]]")
        tid = f.wait(lambda st: f.msg(st, m["id"])["thread"], "a thread from " + m["id"])
        fw.discord_wait_answer(self, tid, "chunk6")
        f.wait(lambda st: fw.discord_reacted(f, st, m["id"], "🆗"),
               "🆗 on the message; broker stderr:\n" + self.broker.err.text()[-3000:])
        follow = f.message("and a follow-up fx1", channel=tid, mention=False)
        fw.discord_wait_answer(self, tid, "and a follow-up fx1")
        f.wait(lambda st: fw.discord_reacted(f, st, follow["id"], "🆗"), "🆗 on the follow-up")
        fw.settle(2)
        st = f.state()
        faults = [r for r in st["requests"] if r.get("fault")]
        self.assertEqual(st["counts"].get("server_errors"), total, faults)
        # one thread, one reply per prompt, nothing posted twice
        threads = [c for c in st["channels"] if c.get("parent_id") == dw.CHANNEL
                   and c.get("owner_id") == dw.BOT_ID]
        self.assertEqual(len(threads), 1, threads)
        self.assertEqual(len(fw.discord_posts_with(f, st, tid, "chunk6")), 1)
        self.assertEqual(len(fw.discord_posts_with(f, st, tid, "and a follow-up fx1")), 1)
        bot = [x for x in st["messages"] if x["author_id"] == dw.BOT_ID]
        self.assertEqual(len(bot), 2, [x["content"][:60] for x in bot])
        nonces = [x["nonce"] for x in bot]
        self.assertEqual(len(set(nonces)), len(nonces), nonces)
        # the retried post with the lost answer reused its nonce
        posts = [r for r in st["requests"] if r["method"] == "POST"
                 and r["path"].endswith("/messages") and r["body"]]
        by_nonce = {}
        for r in posts:
            by_nonce.setdefault(r["body"].get("nonce"), []).append(r)
        retried = [rs for rs in by_nonce.values() if len(rs) > 1]
        self.assertTrue(retried, posts)
        for rs in retried:
            self.assertTrue(all(r["body"].get("enforce_nonce") for r in rs), rs)
        self.stop()


class SlackServerErrors(sw.SlackTest):
    agent_flags = ("--tick", "100")

    def test_replies_arrive_once_through_5xx_bursts(self):
        f = self.fake
        methods = {"chat.postMessage": 2, "chat.update": 2, "reactions.add": 2,
                   "reactions.remove": 2}
        for method, count in methods.items():
            self.assertTrue(f.call("http_error", method=method, status=503, count=count)["ok"])
        m = f.message("<@%s> through the storm [[stream 6]]" % sw.BOT)
        self.final_reply(m["ts"], "chunk6")
        self.wait_until(lambda: "ok" in f.reactions_on(m["ts"]), "ok on the message")
        follow = f.message("and a follow-up sx1", thread_ts=m["ts"])
        self.final_reply(m["ts"], "and a follow-up sx1")
        self.wait_until(lambda: "ok" in f.reactions_on(follow["ts"]), "ok on the follow-up")
        fw.settle(2)
        st = f.state()
        faults = [r for r in st["requests"] if r.get("fault")]
        self.assertEqual(len(faults), sum(methods.values()), faults)
        self.assertEqual(len(fw.slack_posts_with(f, m["ts"], "chunk6")), 1)
        self.assertEqual(len(fw.slack_posts_with(f, m["ts"], "and a follow-up sx1")), 1)
        self.assertEqual(len(f.bot_posts()), 2, [p["text"][:60] for p in f.bot_posts()])
        self.stop()


if __name__ == "__main__":
    e2e.main()
