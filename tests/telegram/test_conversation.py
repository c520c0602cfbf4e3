"""A conversation through the real chat-telegram plugin and the fake Bot API: a mention in
a group is answered as a reply to it (placeholder, paced editMessageText edits, final text),
status reactions from the emoji bots may set, follow-ups as replies to the bot, forum
topics as threads (the topic-creation reply is no reply to the bot), private chats only
with allow_dm, allow-lists, Markdown as entities, a long reply split at 4096."""

from telegram_world import (ALICE, BOB, BOT, FORUM, GROUP, TOPIC, TOKEN, TelegramTest, main,
                            time)


class Conversation(TelegramTest):
    edit_ms = 300
    agent_flags = ("--tick", "50")
    section = 'allow_dm = true\nallowed_users = ["111", "222"]'

    def test_mention_gets_a_reply_with_paced_edits_and_reactions(self):
        f = self.fake
        mid = f.message("@broker_bot count please [[stream 20]]")["message_id"]
        post = self.final_reply(GROUP, "chunk20", reply_to=mid)
        self.assertEqual(post["text"].split(), ["chunk%d" % n for n in range(1, 21)])
        self.assertEqual([m["message_id"] for m in f.bot_messages(GROUP)], [post["message_id"]])
        reqs = f.requests()
        sends = [r for r in reqs if r["method"] == "sendMessage"]
        self.assertEqual(sends[0]["params"]["reply_parameters"]["message_id"], mid)
        self.assertTrue(sends[0]["json"])
        self.assertNotIn("message_thread_id", sends[0]["params"])
        edits = [r for r in reqs if r["method"] == "editMessageText"]
        self.assertGreaterEqual(len(edits), 3, edits)
        live = [r for r in edits if r["status"] == 200][:-1]
        gaps = [b["t"] - a["t"] for a, b in zip(live, live[1:])]
        self.assertTrue(all(g >= 250 for g in gaps), gaps)
        # every request was accepted: no 400 anywhere
        self.assertEqual([r for r in f.requests() if r["status"] not in (200, 429)
                          and "not modified" not in (r["description"] or "")], [])
        # status reactions: only emoji a bot may set, ending in 👌 (the core's 🆗)
        self.wait_until(lambda: (f.message_by_id(GROUP, mid) or {}).get("bot_reaction") in ("👌", "😁"),
                        "the done reaction")
        log = f.message_by_id(GROUP, mid)["reaction_log"]
        self.assertEqual(log[0], "👀")
        # typing was shown while the agent worked
        self.assertTrue(any(r["params"]["action"] == "typing" and r["params"]["chat_id"] == GROUP
                            for r in f.requests("sendChatAction")))
        self.assertIn("count please [[stream 20]]", self.prompts()[0])
        self.assertNotIn("@broker_bot", self.prompts()[0])
        self.stop()

    def test_follow_up_as_a_reply_to_the_bot_and_silence_elsewhere(self):
        f = self.fake
        mid = f.message("@broker_bot first [[stream 2]]")["message_id"]
        post = self.final_reply(GROUP, "chunk2", reply_to=mid)
        f.message("and a follow-up [[stream 3]]", reply_to=post["message_id"])
        self.final_reply(GROUP, "chunk3", reply_to=mid)
        self.assertEqual(len(self.prompts()), 2)
        self.assertIn("and a follow-up", self.prompts()[1])
        # a reply to the bot's second answer is still the same conversation
        second = f.bot_messages(GROUP)[-1]
        f.message("third [[stream 4]]", reply_to=second["message_id"])
        self.final_reply(GROUP, "chunk4", reply_to=mid)
        # a message without mention or reply is not answered; a command for another bot neither
        f.message("nobody asked you")
        f.message("/start@other_bot hello")
        time.sleep(1.0)
        self.assertEqual(len(self.prompts()), 3)
        self.stop()

    def test_forum_topic_is_the_thread_and_topic_creation_is_no_reply(self):
        f = self.fake
        # a topic created by someone else: its messages "reply" to the service message
        f.message("just chatting", chat=FORUM, thread=TOPIC)
        mid = f.message("@broker_bot in the topic [[stream 2]]", chat=FORUM, thread=TOPIC)["message_id"]
        post = self.final_reply(FORUM, "chunk2", thread=TOPIC)
        self.assertEqual(post["message_thread_id"], TOPIC)
        send = [r for r in f.requests("sendMessage")][0]
        self.assertEqual(send["params"]["message_thread_id"], TOPIC)
        self.assertEqual(len(self.prompts()), 1)
        # a follow-up in the same topic without mention: the bot is involved there
        f.message("more please [[stream 3]]", chat=FORUM, thread=TOPIC)
        self.final_reply(FORUM, "chunk3", thread=TOPIC)
        self.assertEqual(len(self.prompts()), 2)
        self.assertNotEqual(mid, None)
        # a topic the bot created: every message there "replies" to the bot's service
        # message, which is no reply to the bot
        tid = f.call("topic", chat=FORUM, name="made by the bot", user=BOT)["thread"]
        f.message("talking among ourselves", chat=FORUM, thread=tid)
        time.sleep(1.0)
        self.assertEqual(len(self.prompts()), 2)
        self.stop()

    def test_private_chat_and_allow_lists(self):
        f = self.fake
        f.message("hello in private [[stream 2]]", chat=ALICE, user=ALICE)
        self.final_reply(ALICE, "chunk2")
        # a user outside allowed_users gets the deny reaction, no answer
        res = f.call("message", chat=GROUP, user=333, text="@broker_bot hi")  # a bot: unseen
        self.assertIsNone(res["update_id"])
        self.stop()

    def test_markdown_is_sent_as_entities(self):
        f = self.fake
        mid = f.message("@broker_bot **bold** and `code` and [docs](https://x.test/a?b=1) "
                        "with a dot. and 😀 emoji")["message_id"]
        post = self.final_reply(GROUP, "docs", reply_to=mid)
        text = post["text"]
        types = {e["type"] for e in post.get("entities", [])}
        self.assertIn("bold", types)
        self.assertIn("code", types)
        self.assertIn("text_link", types)
        self.assertNotIn("**", text)
        for e in post["entities"]:
            piece = text.encode("utf-16-le")[2 * e["offset"]:2 * (e["offset"] + e["length"])]
            piece = piece.decode("utf-16-le")
            if e["type"] == "bold":
                self.assertEqual(piece, "bold")
            if e["type"] == "text_link":
                self.assertEqual(piece, "docs")
        self.stop()

    def test_an_unparsable_answer_is_sent_again_as_plain_text(self):
        f = self.fake
        f.call("reject_entities", count=1000)
        mid = f.message("@broker_bot **bold** words")["message_id"]
        post = self.final_reply(GROUP, "bold words", reply_to=mid)
        self.assertNotIn("entities", post)
        refused = [r for r in f.requests() if "can't parse entities" in (r["description"] or "")]
        self.assertTrue(refused, "the fake refused nothing: the test proves nothing")
        self.stop()

    def test_a_broken_heart_from_the_user_cancels_the_turn(self):
        f = self.fake
        mid = f.message("@broker_bot long one [[slow 200]]")["message_id"]
        self.final_reply(GROUP, "chunk1", reply_to=mid)
        # users cannot react 🛑 in Telegram: 💔 stands for the core's cancel
        f.call("reaction", chat=GROUP, message_id=mid, user=ALICE, emoji="💔")
        self.final_reply(GROUP, "Cancelled", reply_to=mid)
        self.assertTrue(any(r["params"].get("allowed_updates") and "message_reaction" in
                            r["params"]["allowed_updates"] for r in f.requests("getUpdates")))
        self.stop()

    def test_long_reply_is_split_within_the_limit(self):
        f = self.fake
        mid = f.message("@broker_bot big [[big 9000]]")["message_id"]
        self.wait_until(lambda: sum(len(m["text"]) for m in f.bot_messages(GROUP, reply_to=mid))
                        >= 9000, "the whole reply")
        parts = f.bot_messages(GROUP, reply_to=mid)
        self.assertGreaterEqual(len(parts), 3)
        self.assertTrue(all(len(m["text"]) <= 4096 for m in parts))
        self.assertEqual("".join(m["text"] for m in parts).replace("\n", ""),
                         ("0123456789" * 900)[:9000])
        self.assertEqual([r for r in f.requests() if r["description"] and "too long" in r["description"]], [])
        self.stop()


class Denied(TelegramTest):
    section = 'allowed_users = ["222"]'

    def test_user_outside_allowed_users_gets_a_reaction_not_an_answer(self):
        f = self.fake
        mid = f.message("@broker_bot hi there")["message_id"]
        self.wait_until(lambda: (f.message_by_id(GROUP, mid) or {}).get("bot_reaction") == "🙊",
                        "the deny reaction")
        f.message("hello in private", chat=ALICE, user=ALICE)  # allow_dm is off
        time.sleep(1.0)
        self.assertEqual(self.prompts(), [])
        self.assertEqual(f.bot_messages(GROUP), [])
        self.assertEqual(f.bot_messages(ALICE), [])
        self.stop()


if __name__ == "__main__":
    main()
