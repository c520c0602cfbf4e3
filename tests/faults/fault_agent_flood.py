"""Fault: an agent floods its stdout.

Injected, each in its own Discord thread, through the scripted agent:
- "[[long-line 104857600]]": one 100 MiB line (an agent_message_chunk padded with
  'x'), written 1 MiB at a time with no newline until the very end (over the 64 MiB
  line cap);
- "[[garbage 10000]]": 10 000 malformed lines: truncated and non-JSON text, binary
  bytes, wrong types, ids 1e400 / a 30-digit integer / a 10 000-character string,
  replies to ids never sent, 1 000 requests for unknown methods, unknown
  notifications, batch arrays, 5000-deep nesting.

Expected: the daemon survives with its RSS bounded (sampled from /proc: it never
buffers the whole line), each flooded turn ends visibly in the thread (an answer or
a failure line, and the done or error reaction, never silence), every agent->client
request of the garbage is answered (-32601), and the next message in the same thread
is answered exactly once.

ASan's quarantine is turned off for the broker here (quarantine_size_mb=0) so RSS
shows live memory rather than freed blocks ASan keeps on purpose."""

import json
import os

import fault_world as fw
from fault_world import dw, e2e

os.environ["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=0"

LINE = 100 * 1024 * 1024
MIB = 1024


class AgentFlood(dw.DiscordTest):
    agent_flags = ("--tick", "20")

    def turn_ends_visibly(self, text):
        """Mention the bot with @text; wait until the turn ended (done or error
        reaction); return (user message, thread id, the bot's posts in the thread)."""
        f = self.fake
        m = f.message(text)
        tid = f.wait(lambda st: f.msg(st, m["id"])["thread"], "a thread from " + m["id"],
                     timeout=3 * e2e.WAIT_S)
        f.wait(lambda st: fw.discord_reacted(f, st, m["id"], "🆗")
               or fw.discord_reacted(f, st, m["id"], "😱"),
               "the end of the flooded turn; broker stderr:\n" + self.broker.err.text()[-3000:],
               timeout=4 * e2e.WAIT_S)
        fw.settle(1)
        st = f.state()
        posts = [x["content"] for x in f.bot_messages(st, tid)]
        self.assertTrue(any("You said:" in p or "⚠️" in p for p in posts), posts)
        return m, tid, st

    def next_message_works(self, tid, token):
        f = self.fake
        n = f.message("and now %s" % token, channel=tid, mention=False)
        fw.discord_wait_answer(self, tid, "and now %s" % token)
        f.wait(lambda st: fw.discord_reacted(f, st, n["id"], "🆗"), "🆗 on the next message")
        fw.settle(1)
        st = f.state()
        self.assertEqual(len(fw.discord_posts_with(f, st, tid, "and now %s" % token)), 1)

    def test_a_100_mib_line_is_refused_without_buffering_it(self):
        pid = self.broker.pid
        base = fw.rss_kb(pid)
        sampler = fw.Sampler(pid, 0.1)
        m, tid, st = self.turn_ends_visibly("huge [[long-line %d]]" % LINE)
        got = sampler.stop()
        grew = got["rss_kb"][2] - base
        print("100 MiB line: RSS start %d KiB, max %d KiB (+%d KiB), end %d KiB; fds %s" % (
            base, got["rss_kb"][2], grew, got["rss_kb"][1], got["fds"]))
        # the line is never held whole: at most the 64 MiB cap plus one realloc in flight
        self.assertLess(grew, 100 * MIB, got)
        # no 100 MiB message reached the thread
        for x in self.fake.bot_messages(st, tid):
            self.assertLess(len(x["content"]), 2001)
        self.next_message_works(tid, "after-the-line")
        self.assertLess(fw.rss_kb(pid) - base, 80 * MIB)
        self.stop()

    def test_10000_malformed_lines_are_skipped_and_requests_answered(self):
        pid = self.broker.pid
        base = fw.rss_kb(pid)
        sampler = fw.Sampler(pid, 0.1)
        m, tid, st = self.turn_ends_visibly("garbage then an answer [[garbage 10000]]")
        got = sampler.stop()
        print("10000 malformed lines: RSS start %d KiB, max %d KiB, end %d KiB; fds %s" % (
            base, got["rss_kb"][2], got["rss_kb"][1], got["fds"]))
        self.assertLess(got["rss_kb"][2] - base, 64 * MIB, got)
        # the turn itself survived the garbage and answered
        self.assertEqual(len(fw.discord_posts_with(self.fake, st, tid,
                                                   "garbage then an answer")), 1)
        # every request for an unknown method got exactly one -32601 answer
        answers = {}
        for msg in e2e.agent_lines(self.world):
            mid = msg.get("id")
            if "method" not in msg and (isinstance(mid, str) and mid.startswith("garbage-")
                                        or isinstance(mid, int) and mid >= 900000):
                answers.setdefault(json.dumps(mid), []).append(msg)
        self.assertEqual(len(answers), 1000, sorted(answers)[:5])
        for mid, got_answers in answers.items():
            self.assertEqual(len(got_answers), 1, mid)
            self.assertEqual(got_answers[0]["error"]["code"], -32601, got_answers[0])
        self.next_message_works(tid, "after-the-garbage")
        self.stop()


if __name__ == "__main__":
    e2e.main()
