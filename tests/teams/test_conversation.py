"""A conversation through the real chat-teams plugin and the fake Bot Framework: a
mention in a channel is answered in its reply chain (one live activity PUT-edited at a
paced interval, then the final text, split at the plugin's size), the bot's mention is
not in the prompt, follow-ups in the chain, personal chats, allow-lists, a typing
activity, and a 429 storm ridden out by the core's scheduler honouring Retry-After."""

from teams_world import APP_PASSWORD, TeamsTest, main, time


class Conversation(TeamsTest):
    agent_flags = ("--tick", "50")
    section = "allow_dm = true"

    def test_mention_gets_a_reply_in_its_chain_with_paced_edits(self):
        f = self.fake
        sent = f.message("count please [[stream 20]]")
        self.assertEqual(sent["status"], 200)
        conv = sent["conversation"]
        post = self.final_reply(conv, "chunk20")
        posts = f.posts(conv)
        self.assertEqual([p["id"] for p in posts], [post["id"]])  # one live message
        self.assertEqual(post["text"].split(), ["chunk%d" % n for n in range(1, 21)])
        self.assertEqual(post["textFormat"], "markdown")
        self.assertGreaterEqual(post["edits"], 3, post)
        live = post["edit_times"][:-1]
        gaps = [b - a for a, b in zip(live, live[1:])]
        self.assertTrue(all(g >= 250 for g in gaps), gaps)  # edit_interval_ms 300
        # the prompt came without the bot's <at> mention
        self.assertIn("count please [[stream 20]]", self.prompts()[0])
        self.assertNotIn("<at>", self.prompts()[0])
        # a typing activity went to the same reply chain
        typing = [p for p in f.state()["posts"][conv] if p["type"] == "typing"]
        self.assertEqual(len(typing), 1)
        # every Connector call carried the token; no budget violated
        st = f.state()
        self.assertEqual(st["counts"]["violations"], 0)
        self.assertEqual(st["counts"]["token"], 1)  # cached until expiry
        self.assertTrue(all(r["status"] in (200, 201) for r in st["requests"]), st["requests"])
        self.stop()
        # neither the Connector token (eyJ…), an inbound JWT nor the app password is logged
        err = self.broker.err.text()
        self.assertNotIn("eyJ", err)
        self.assertNotIn(APP_PASSWORD, err)

    def test_long_answer_is_split_below_the_size_limit(self):
        f = self.fake
        sent = f.message("a lot [[big 45000]]")
        conv = sent["conversation"]
        self.wait_until(lambda: sum(len(p["text"]) for p in f.posts(conv)) >= 45000 and
                        len(f.posts(conv)) >= 3, "the whole answer in parts")
        posts = f.posts(conv)
        self.assertTrue(all(len(p["text"]) <= 20000 for p in posts), [len(p["text"]) for p in posts])
        self.assertEqual(f.state()["counts"]["too_big"], 0)
        self.stop()

    def test_follow_up_in_the_chain_and_a_personal_chat(self):
        f = self.fake
        sent = f.message("first [[stream 2]]")
        conv = sent["conversation"]
        self.final_reply(conv, "chunk2")
        f.message("and a follow-up [[stream 3]]", conversation=conv)
        self.final_reply(conv, "chunk3")
        self.assertEqual(len(self.prompts()), 2)
        self.assertIn("and a follow-up", self.prompts()[1])
        dm = f.message("in private [[stream 2]]", conversation_type="personal", mention=False)
        self.final_reply(dm["conversation"], "chunk2")
        self.assertEqual(len(self.prompts()), 3)
        self.stop()

    def test_429_storm_is_waited_out_by_the_core(self):
        f = self.fake
        sent = f.message("warm up [[stream 2]]")
        self.final_reply(sent["conversation"], "chunk2")
        f.call("ratelimit", count=4, retry_after=1)
        sent = f.message("now under fire [[stream 6]]")
        conv = sent["conversation"]
        self.final_reply(conv, "chunk6", timeout=60)
        st = f.state()
        self.assertEqual(st["counts"]["throttled"], 4)
        self.assertEqual(st["counts"]["violations"], 0)
        # after each 429, the next call to that conversation waited Retry-After (1 s):
        # the replies and the plugin's own typing call alike (scheduled by the core)
        reqs = [r for r in st["requests"] if r.get("conversation") == conv]
        self.assertIn("typing", [r["body"]["type"] for r in reqs])
        for a, b in zip(reqs, reqs[1:]):
            if a["status"] == 429:
                self.assertGreaterEqual(b["t"] - a["t"], 900, (a, b))
        self.stop()


class AllowLists(TeamsTest):
    section = 'allowed_teams = ["19:team-general@thread.tacv2"]\n' \
              'allowed_users = ["29:user-alice"]'

    def test_other_teams_and_users_are_not_answered(self):
        f = self.fake
        other_team = f.message("hello [[stream 1]]", team="19:team-other@thread.tacv2")
        other_user = f.message("hello [[stream 1]]", user="29:user-mallory")
        self.assertEqual(other_team["status"], 200)  # acknowledged, not answered
        self.assertEqual(other_user["status"], 200)
        ok = f.message("hello [[stream 1]]")
        self.final_reply(ok["conversation"], "chunk1")
        time.sleep(0.5)
        self.assertEqual(len(self.prompts()), 1, self.prompts())
        self.assertEqual(f.posts(other_team["conversation"]), [])
        self.stop()


if __name__ == "__main__":
    main()
