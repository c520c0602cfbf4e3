"""A conversation through chat-discord against the loopback Discord: a mention opens a
thread named from the prompt, status reactions follow the turn, the reply is a
placeholder edited into the answer, follow-ups in the thread need no mention."""

import discord_world as dw
import e2e


class Conversation(dw.DiscordTest):
    agent_flags = ("--tick", "100")
    # [[env]] prints the agent's environment: this variable makes it a long reply
    # with a fenced code block of ~4500 characters (multi-byte characters included).
    agent_extra = "env = { A_BLOCK = %s }\n" % e2e.toml_str(
        "\n```python\n" + "".join("line_%04d = %d  # ünïcödé\n" % (i, i) for i in range(160))
        + "```\nafter the block")

    def test_mention_opens_a_thread_and_the_reply_streams_into_it(self):
        f = self.fake
        m, tid = self.conversation("please review the parser [[stream 20]]")
        st = f.state()
        self.assertEqual(tid, m["id"])  # a thread from a message takes its id
        thread = [c for c in st["channels"] if c["id"] == tid][0]
        self.assertTrue(thread["name"].startswith("please review the parser"), thread["name"])
        self.assertEqual(thread["thread_metadata"]["auto_archive_duration"], 1440)
        # one live message in the thread: posted, edited, ending in the agent's answer
        replies = f.bot_messages(st, tid)
        self.assertEqual(len(replies), 1, replies)
        self.assertIn("chunk1 chunk2", replies[0]["content"])
        self.assertIn("chunk20", replies[0]["content"])
        self.assertGreaterEqual(replies[0]["edits"], 1)
        self.assertEqual(replies[0]["allowed_mentions"], {"parse": []})
        self.assertTrue(replies[0]["nonce"])
        # status reactions: 👀 then 🤔 then 🆗, each change removing the previous one
        reacts = [(r["method"], r["path"].split("/reactions/")[1].split("/")[0])
                  for r in st["requests"] if "/reactions/" in r["path"]]
        self.assertIn(("PUT", "%F0%9F%91%80"), reacts)
        self.assertIn(("PUT", "%F0%9F%A4%94"), reacts)
        self.assertIn(("PUT", "%F0%9F%86%97"), reacts)
        self.assertLess(reacts.index(("PUT", "%F0%9F%91%80")),
                        reacts.index(("PUT", "%F0%9F%86%97")))
        self.assertNotIn(dw.BOT_ID, f.msg(st, m["id"])["reactions"].get("👀", []))
        # every REST call carried the token, the User-Agent and JSON bodies
        for r in st["requests"]:
            self.assertTrue(r["auth"], r)
            self.assertTrue(r["ua"].startswith("DiscordBot ("), r)
            if r["body"] is not None:
                self.assertTrue(r["ct"].startswith("application/json"), r)
        self.assertEqual(st["counts"]["identify"], 1)
        self.assertEqual(st["counts"]["window_violations"], 0)
        self.stop()

    def test_follow_up_in_the_thread_needs_no_mention(self):
        f = self.fake
        m, tid = self.conversation("first question")
        f2 = f.message("and a follow-up", channel=tid, mention=False)
        f.wait(lambda st: any("and a follow-up" in x["content"]
                              for x in f.bot_messages(st, tid)), "the follow-up's answer")
        f.wait(lambda st: dw.BOT_ID in f.msg(st, f2["id"])["reactions"].get("🆗", []),
               "🆗 on the follow-up")
        # a message without mention at top level is not answered
        quiet = f.message("just chatting", mention=False)
        e2e.time.sleep(1.5)
        st = f.state()
        self.assertIsNone(f.msg(st, quiet["id"])["thread"])
        self.assertEqual(f.msg(st, quiet["id"])["reactions"], {})
        self.stop()

    def test_a_thread_the_bot_is_not_in_is_ignored_without_mention(self):
        f = self.fake
        m = f.message("talking among humans", channel=dw.HUMAN_THREAD, mention=False)
        e2e.time.sleep(1.5)
        st = f.state()
        self.assertEqual(f.bot_messages(st, dw.HUMAN_THREAD), [])
        self.assertEqual(f.msg(st, m["id"])["reactions"], {})
        # a mention there answers in that thread
        m2 = f.message("now you", channel=dw.HUMAN_THREAD)
        f.wait(lambda st: any("now you" in x["content"]
                              for x in f.bot_messages(st, dw.HUMAN_THREAD)), "answer in thread")
        self.assertIsNone(f.msg(f.state(), m2["id"])["thread"])
        self.stop()

    def test_long_reply_is_split_at_2000_characters_with_fences_balanced(self):
        f = self.fake
        m = f.message("show me [[env]]")
        tid = f.wait(lambda st: f.msg(st, m["id"])["thread"], "thread")
        f.wait(lambda st: dw.BOT_ID in f.msg(st, m["id"])["reactions"].get("🆗", []), "🆗")
        st = f.state()
        parts = [x["content"] for x in f.bot_messages(st, tid)]
        self.assertGreaterEqual(len(parts), 3, parts)
        for p in parts:
            self.assertLessEqual(len(p), 2000)
            self.assertEqual(p.count("```") % 2, 0, p[-200:])
        joined = "".join(parts)
        self.assertIn("line_0000", joined)
        self.assertIn("line_0159", joined)
        self.assertIn("PATH=", parts[-1])  # the text after the block comes last
        self.stop()


class Allowlist(dw.DiscordTest):
    discord_extra = 'allowed_users = ["%s"]\n' % dw.ALICE

    def test_a_user_outside_allowed_users_gets_a_no_entry_reaction(self):
        f = self.fake
        m = f.message("let me in", author={"id": "1000000000000000077", "username": "mallory"})
        f.wait(lambda st: dw.BOT_ID in f.msg(st, m["id"])["reactions"].get("🚫", []), "🚫")
        e2e.time.sleep(1)
        st = f.state()
        self.assertIsNone(f.msg(st, m["id"])["thread"])
        self.assertEqual([x for x in st["messages"] if x["author_id"] == dw.BOT_ID], [])
        self.stop()


class Cancel(dw.DiscordTest):
    agent_flags = ("--tick", "200")

    def test_stop_reaction_cancels_the_turn(self):
        f = self.fake
        m = f.message("count slowly [[slow 100]]")
        tid = f.wait(lambda st: f.msg(st, m["id"])["thread"], "thread")
        reply = f.wait(lambda st: [x for x in f.bot_messages(st, tid)
                                   if "chunk2 " in x["content"]], "streaming reply")[0]
        f.react(reply["id"], "🛑")
        f.wait(lambda st: "Cancelled" in f.msg(st, reply["id"])["content"], "cancelled reply")
        self.assertNotIn("chunk100", f.msg(f.state(), reply["id"])["content"])
        self.assertEqual(len(e2e.agent_calls(self.world, "session/cancel")), 1)
        self.stop()


if __name__ == "__main__":
    e2e.main()
