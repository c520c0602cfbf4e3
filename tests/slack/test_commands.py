"""Slack slash commands over Socket Mode: the envelope is acknowledged, the command goes
through the core's policy and is answered (ephemeral) at its response_url; only the
configured command and core command names are taken; the agent never sees them."""

from slack_world import CHANNEL, SlackTest, e2e, main


class SlashCommands(SlackTest):
    section = 'allowed_users = ["U1"]\n'

    def slash(self, command, text="", user="U1"):
        """Run @command @text; wait for the answer at its response_url; return its body."""
        f = self.fake
        sid = f.call("slash", channel=CHANNEL, user=user, command=command, text=text)["id"]

        def answered():
            for s in f.state()["slash"]:
                if s["id"] == sid and s["posts"]:
                    return s["posts"][0]
            return None
        post = self.wait_until(answered, "the answer to %s %s" % (command, text))
        self.assertEqual(post["status"], 200, post)
        return post["body"]

    def test_the_configured_command_runs_core_commands_and_answers_ephemerally(self):
        body = self.slash("/agent-broker", "help")
        self.assertEqual(body["response_type"], "ephemeral")
        self.assertIn("/reset", body["text"])
        body = self.slash("/agent-broker", "status")
        self.assertIn("Session: none yet", body["text"])
        body = self.slash("/usage")
        self.assertIn("This conversation:", body["text"])
        body = self.slash("/agent-broker", "frobnicate")
        self.assertIn("Unknown command", body["text"])
        # refused for someone not allowed, in the same place
        body = self.slash("/agent-broker", "reset", user="U2")
        self.assertIn("not allowed", body["text"])
        # every envelope acknowledged, none redelivered
        st = self.fake.state()
        slash_envs = [e for e in st["envelopes"] if e["type"] == "slash_commands"]
        self.assertEqual(len(slash_envs), 5)
        self.assertTrue(all(e["acks"] == 1 and e["attempts"] == 1 for e in slash_envs),
                        slash_envs)
        self.assertEqual(e2e.agent_calls(self.world, "session/prompt"), [])
        self.stop()


class ExpiredResponseUrl(SlackTest):
    # response_urls expire after 1 ms here: every answer is refused
    fake_flags = SlackTest.fake_flags + ("--response-ttl-ms", "1")

    def test_an_expired_or_foreign_response_url_is_survived_and_the_bot_goes_on(self):
        f = self.fake
        sid = f.call("slash", channel=CHANNEL, user="U1", command="/agent-broker",
                     text="help")["id"]
        self.wait_until(lambda: [p for s in f.state()["slash"] if s["id"] == sid
                                 for p in s["posts"] if p["status"] == 404],
                        "the refused answer")
        self.wait_until(lambda: "slash command answer refused" in self.broker.err.text(),
                        "the refusal logged")
        # a response_url naming another host is never called
        f.call("slash", channel=CHANNEL, user="U1", command="/agent-broker", text="help",
               response_url="http://127.0.0.2:9/commands/x")
        self.wait_until(lambda: "response_url on an unexpected host" in self.broker.err.text(),
                        "the foreign URL refused")
        sent = f.message("<@U0BOT> still there?")
        self.final_reply(sent["ts"], "still there?")
        self.stop()


class ApprovalButtons(SlackTest):
    section = 'allowed_users = ["U1", "U2"]\n\n[permissions]\nmode = "ask"\ntimeout_s = 60\n'

    def test_a_question_offers_buttons_and_a_click_decides(self):
        f = self.fake
        sent = f.message("<@U0BOT> write it [[permission]]")

        def question():
            for m in f.bot_posts(sent["ts"]):
                if m["text"].startswith("🔐") and m.get("blocks"):
                    return m
            return None
        q = self.wait_until(question, "the question with buttons")
        buttons = [e for b in q["blocks"] if b["type"] == "actions" for e in b["elements"]]
        self.assertEqual([b["value"] for b in buttons], ["✅", "♾️", "❌"])
        f.call("click", channel=CHANNEL, ts=q["ts"], user="U2", action_id=buttons[2]["action_id"])
        self.wait_until(lambda: [m for m in f.bot_posts(sent["ts"]) if m["ts"] == q["ts"]
                                 and "rejected by U2" in m["text"] and not m.get("blocks")],
                        "the question edited, buttons gone")
        self.final_reply(sent["ts"], "permission rejected: opt-reject")
        envs = [e for e in f.state()["envelopes"] if e["type"] == "interactive"]
        self.assertEqual([e["acks"] for e in envs], [1])
        self.stop()


if __name__ == "__main__":
    main()
