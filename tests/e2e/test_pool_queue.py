"""Every agent session busy: new conversations wait in a fair FIFO instead of being
refused ("pool exhausted"). 50 mentions at once with the default pool of 10 are all
answered; a wait past [pool] queue_notice_ms gets one line with its place in line; past
[pool] queue_max the conversation is refused with a line."""

import re

import e2e


class PoolQueue(e2e.RunWorldTest):

    agent_flags = ("--tick", "30")
    extra = "\n[pool]\nqueue_notice_ms = 300\n"

    def waiting(self):
        """The agent_broker_conversations_waiting gauge (-1 when absent)."""
        m = re.search(r"^agent_broker_conversations_waiting (\d+)", self.get("/metrics")[1],
                      re.M)
        return int(m.group(1)) if m else -1

    def stale(self, ids):
        """Messages of @ids still carrying 👀 or 🤔 (adds minus removes)."""
        on = {}
        for r in self.platform.records():
            if r["op"] in ("react", "unreact") and r["emoji"] in ("👀", "🤔"):
                key = (r["message"], r["emoji"])
                on[key] = on.get(key, 0) + (1 if r["op"] == "react" else -1)
        return sorted(m for (m, _), n in on.items() if n > 0 and m in ids)

    def test_fifty_mentions_with_ten_sessions_are_all_answered(self):
        p = self.platform
        ids = ["m%02d" % i for i in range(50)]
        for mid in ids:
            p.message(mid, "hello %s [[stream 8]]" % mid)
        e2e.wait_until(lambda: self.waiting() > 0, what="conversations waiting (/metrics)")
        e2e.wait_until(lambda: {r["message"] for r in p.records()
                                if r["op"] == "react" and r["emoji"] == "🆗"} >= set(ids),
                       timeout=240, what="all 50 answered")
        recs = p.records()
        sends = [r for r in recs if r["op"] == "send"]
        self.assertEqual([r["text"] for r in sends if "exhausted" in r["text"]
                          or "not answered" in r["text"]], [])
        # 👀 at once: the first pool's worth were accepted before any reply existed, so
        # nothing can overtake theirs; on a busy route a later message's 👀 may give way
        # to the final reactions of others and collapse into its newer state (🤔 or 🆗).
        # Either way nothing older than 🆗 is left on any message.
        self.assertLessEqual(set(ids[:10]), {r["message"] for r in recs if r["op"] == "react"
                                             and r["emoji"] == "👀"})
        e2e.wait_until(lambda: not self.stale(ids), what="no intermediate reaction left")
        notices = [r for r in sends if "in line" in r["text"]]
        self.assertGreater(len(notices), 0)
        per_thread = {}
        for r in notices:
            per_thread[r["thread"]] = per_thread.get(r["thread"], 0) + 1
        self.assertEqual(max(per_thread.values()), 1, per_thread)
        # fair: started in the order they arrived (sessions start concurrently, so a
        # prompt may reach its agent a few places early or late, never more than the
        # pool's width)
        prompts = [m["params"]["prompt"][-1]["text"] for m in
                   e2e.agent_calls(self.world, "session/prompt")]
        order = [t.split("hello ")[1][:3] for t in prompts if "hello m" in t]
        self.assertEqual(sorted(order), ids)
        self.assertEqual(set(order[:10]), set(ids[:10]))
        for place, mid in enumerate(order):
            self.assertLessEqual(abs(place - ids.index(mid)), 10, order)
        self.assertEqual(self.waiting(), 0)
        self.stop(timeout=60)


class PoolQueueBound(e2e.RunWorldTest):

    agent_flags = ("--tick", "50")
    extra = "\n[pool]\nmax_sessions = 1\nqueue_max = 1\n"

    def test_past_the_bound_the_conversation_is_refused_with_a_line(self):
        p = self.platform
        self.streaming_turn("a", "first [[slow 60]]")
        p.message("b", "second")
        p.message("c", "third")
        _, refused = p.wait_record(lambda r: r["op"] == "send" and r["thread"] == "c"
                                   and "busy" in r["text"])
        p.wait_record(lambda r: r["op"] == "react" and r["message"] == "b"
                      and r["emoji"] == "🆗", timeout=60)
        self.assertEqual([r for r in p.records() if r["op"] == "send" and r["thread"] == "b"
                          and "busy" in r["text"] and "not answered" in r["text"]], [])
        self.stop(timeout=60)


if __name__ == "__main__":
    e2e.main()
