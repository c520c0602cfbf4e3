"""Native commands on Discord: the core's commands registered as application commands at
READY, an invocation acknowledged with a deferred response within Discord's 3 s and
answered by editing it; the same policy as messages; an expired interaction token is
not the bot token being rejected."""

import discord_world as dw
import e2e


class NativeCommands(dw.DiscordTest):
    discord_extra = 'allowed_users = ["%s"]\n' % dw.ALICE

    def interactions(self):
        return self.fake.call("GET", "/_test/interactions")

    def run_command(self, name, channel=dw.CHANNEL, **kw):
        """A user runs /@name; wait until its deferred response is edited; return it."""
        f = self.fake
        iid = f.call("POST", "/_test/interaction", dict(name=name, channel_id=channel, **kw))["id"]

        def answered(_st):
            for it in self.interactions()["interactions"]:
                if it["id"] == iid and it["edits"] > 0:
                    return it
            return None
        return f.wait(answered, "the answer to /" + name)

    def test_commands_are_registered_and_answered_through_the_interaction(self):
        f = self.fake
        cmds = e2e.wait_until(lambda: self.interactions()["commands"], what="registration")
        by_name = {c["name"]: c for c in cmds}
        self.assertEqual(set(by_name), {"cancel", "reset", "status", "usage", "model", "mode",
                                        "agent", "help"})
        self.assertEqual(by_name["model"]["options"][0]["name"], "name")
        self.assertNotIn("options", by_name["reset"])
        m, tid = self.conversation("hello there")
        before = len(f.bot_messages(f.state(), tid))
        it = self.run_command("status", channel=tid)
        self.assertEqual(it["responded"], 5)  # deferred first, within the deadline
        self.assertFalse(it["late"])
        self.assertIn("Session: `sess-", it["original"])
        # answered in the interaction, not as a post in the thread
        self.assertEqual(len(f.bot_messages(f.state(), tid)), before)
        it = self.run_command("model", channel=tid, value="smart")
        self.assertIn("Model is now `smart`", it["original"])
        self.assertEqual([c["params"]["modelId"]
                          for c in e2e.agent_calls(self.world, "session/set_model")], ["smart"])
        # a command in the channel has no conversation of its own
        it = self.run_command("status")
        self.assertIn("Session: none yet", it["original"])
        # the agent never saw a command
        self.assertEqual(len(e2e.agent_calls(self.world, "session/prompt")), 1)
        self.stop()

    def test_a_user_who_is_not_allowed_is_refused_in_the_interaction(self):
        it = self.run_command("reset", user={"id": "1000000000000000077", "username": "eve"})
        self.assertIn("🚫 You are not allowed", it["original"])
        self.stop()


class ApprovalButtons(dw.DiscordTest):
    extra = '\n[permissions]\nmode = "ask"\ntimeout_s = 60\napprovers = ["%s"]\n' % dw.ALICE

    def test_a_question_offers_buttons_and_an_approvers_click_decides(self):
        f = self.fake
        m = f.message("write it [[permission]]")
        tid = f.wait(lambda st: f.msg(st, m["id"])["thread"], "a thread")

        def question(st):
            for x in f.bot_messages(st, tid):
                if x["content"].startswith("🔐") and x["components"]:
                    return x
            return None
        q = f.wait(question, "the question with buttons")
        ids = [b["custom_id"] for b in q["components"][0]["components"]]
        self.assertEqual(len(ids), 3)
        allow = [i for i in ids if i.endswith("✅")][0]
        # someone who is not an approver clicks: acknowledged, decides nothing
        eve = f.call("POST", "/_test/click", dict(message_id=q["id"], custom_id=allow,
                                                  user={"id": "1000000000000000077"}))["id"]
        f.wait(lambda st: [x for x in f.call("GET", "/_test/interactions")["interactions"]
                           if x["id"] == eve and x["responded"] == 6], "the click acknowledged")
        e2e.time.sleep(0.5)
        self.assertFalse([x for x in e2e.agent_lines(self.world)
                          if '"selected"' in str(x.get("result"))])
        f.call("POST", "/_test/click", dict(message_id=q["id"], custom_id=allow))
        f.wait(lambda st: "→ ✅ allowed once by %s" % dw.ALICE in f.msg(st, q["id"])["content"]
               and f.msg(st, q["id"])["components"] == [], "the question edited, buttons gone")
        f.wait(lambda st: any("permission granted: opt-once" in x["content"]
                              for x in f.bot_messages(st, tid)), "the agent allowed")
        self.stop()


class ExpiredInteraction(dw.DiscordTest):
    # the fake's interaction tokens are dead at once: every answer with one comes too late
    # (a 1 ms life was not short enough: the daemon can answer within the same millisecond)
    fake_options = ("--interaction_ttl", "0")

    def test_an_expired_interaction_token_does_not_kill_the_bot_token(self):
        f = self.fake
        e2e.wait_until(lambda: f.call("GET", "/_test/interactions")["commands"],
                       what="registration")
        f.call("POST", "/_test/interaction", dict(name="help", channel_id=dw.CHANNEL))

        def refused(st):
            return [r for r in st["requests"] if r["path"].startswith("/webhooks/")
                    and r["status"] == 401]
        f.wait(refused, "the edit refused with 401")
        # the token never reaches the log, and the bot keeps working
        self.assertNotRegex(self.broker.err.text(), r"aW50ZXJhY3Rpb246[0-9a-f]")
        self.conversation("still there?")
        self.assertNotIn("rejected the bot token", self.broker.err.text())
        self.stop()


if __name__ == "__main__":
    e2e.main()
