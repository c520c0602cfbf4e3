"""A conversation through the real chat-slack plugin and the fake Slack: a mention is
answered in its thread (placeholder, paced chat.update edits, final text), status
reactions by name, follow-ups without mention, the app_mention/message twin and
redelivered envelopes handled once, Markdown sent as mrkdwn."""

from slack_world import BOT, CHANNEL, SlackTest, main, time


class Conversation(SlackTest):
    edit_ms = 300
    agent_flags = ("--tick", "50")

    def test_mention_gets_a_threaded_reply_with_paced_edits_and_reactions(self):
        f = self.fake
        sent = f.message("<@%s> count please [[stream 20]]" % BOT)
        ts = sent["ts"]
        post = self.final_reply(ts, "chunk20")
        # one reply in the thread of the mention, edited live
        posts = f.bot_posts(ts)
        self.assertEqual([p["ts"] for p in posts], [post["ts"]])
        self.assertEqual(post["text"].split(), ["chunk%d" % n for n in range(1, 21)])
        st = f.state()
        first = [r for r in st["requests"] if r["method"] == "chat.postMessage"][0]
        self.assertEqual(first["args"]["thread_ts"], ts)
        self.assertEqual(first["args"]["channel"], CHANNEL)
        self.assertEqual(first["args"]["text"], "…")
        self.assertEqual(first["content_type"], "application/x-www-form-urlencoded")
        self.assertEqual(first["token"], "bot")
        updates = [r for r in st["requests"] if r["method"] == "chat.update"]
        self.assertGreaterEqual(len(updates), 3, updates)
        # live edits: at most one per edit_interval_ms (300 ms; 50 ms slack for timer
        # jitter); the final text is not held back
        live = updates[:-1]
        gaps = [b["t"] - a["t"] for a, b in zip(live, live[1:])]
        self.assertTrue(gaps, updates)
        self.assertTrue(all(g >= 250 for g in gaps), gaps)
        # reactions by name on the user's message: eyes first, ok at the end
        self.wait_until(lambda: "ok" in f.reactions_on(ts), "the ok reaction")
        names = [r["args"]["name"] for r in st["requests"] + f.state()["requests"]
                 if r["method"] == "reactions.add"]
        self.assertEqual(names[0], "eyes")
        self.assertIn("ok", names)
        self.assertTrue(all(r["error"] is None for r in f.state()["requests"]
                            if r["method"].startswith("reactions.")),
                        [r for r in f.state()["requests"] if r["error"]])
        # the prompt reached the agent without the mention
        self.assertIn("count please [[stream 20]]", self.prompts()[0])
        self.assertNotIn("<@%s>" % BOT, self.prompts()[0])
        self.stop()

    def test_follow_up_in_the_thread_needs_no_mention_and_own_posts_are_ignored(self):
        f = self.fake
        ts = f.message("<@%s> first [[stream 2]]" % BOT)["ts"]
        self.final_reply(ts, "chunk2")
        f.message("and a follow-up [[stream 3]]", thread_ts=ts)
        self.final_reply(ts, "chunk3")
        self.assertEqual(len(self.prompts()), 2)
        self.assertIn("and a follow-up", self.prompts()[1])
        # a message elsewhere without a mention is not answered
        f.message("nobody asked you")
        time.sleep(0.5)
        self.assertEqual(len(self.prompts()), 2)
        self.assertEqual(len(f.bot_posts(ts)), 2)
        self.stop()

    def test_mention_twin_and_redelivery_make_one_turn_and_every_envelope_is_acked(self):
        f = self.fake
        sent = f.message("<@%s> once only [[stream 2]]" % BOT)
        self.assertEqual(len(sent["envelopes"]), 2)  # app_mention + message
        self.final_reply(sent["ts"], "chunk2")
        for env in sent["envelopes"]:
            f.call("redeliver", envelope_id=env)
        self.wait_until(lambda: all(e["acks"] == e["attempts"] for e in f.state()["envelopes"]),
                        "every delivery acked")
        time.sleep(0.5)
        self.assertEqual(len(self.prompts()), 1, self.prompts())
        self.assertEqual(len(f.bot_posts(sent["ts"])), 1)
        st = f.state()
        # the ack is the first frame the plugin sends after each delivery
        for env in st["envelopes"]:
            self.assertGreaterEqual(env["acks"], 1, env)
        self.assertTrue(all(e["attempts"] >= 1 for e in st["envelopes"]))
        acks = [fr for fr in st["frames"] if fr["dir"] == "in"]
        self.assertTrue(all(set(fr["data"]) == {"envelope_id"} for fr in acks), acks)
        self.stop()

    def test_markdown_is_sent_as_escaped_mrkdwn_and_slack_escapes_are_undone(self):
        f = self.fake
        # Slack sends & < > escaped; the agent must see them plain, and echoes them
        ts = f.message("<@%s> **bold** a &lt; b &amp;&amp; c &gt; d [docs](https://x.test/a?b=1) `x<y`"
                       % BOT)["ts"]
        self.wait_until(lambda: self.prompts() and "a < b && c > d" in self.prompts()[-1],
                        "the unescaped prompt")
        # the reply streams in edits: wait for its end, not its first chunk
        post = self.final_reply(ts, "`x&lt;y`")
        # escaped inside code too: Slack decodes entities there as well
        self.assertIn("*bold* a &lt; b &amp;&amp; c &gt; d <https://x.test/a?b=1|docs> `x&lt;y`",
                      post["text"])
        self.stop()


if __name__ == "__main__":
    main()
