"""Users steer a running turn with reactions on the platform: 🛑 cancels it, and in
[permissions] mode = "ask" the agent's question is posted and answered with ✅ / ❌."""

import e2e


class CancelReaction(e2e.RunWorldTest):
    agent_flags = ("--tick", "200")
    section_extra = 'allowed_users = ["u1"]\n'

    def test_stop_reaction_by_an_allowed_user_cancels_the_turn(self):
        p = self.platform
        reply = self.streaming_turn("m1", "[[slow 100]]")
        # someone not allowed cannot stop it
        p.command(op="reaction", channel="m1", conversation="m1", message=reply["id"],
                  user="intruder", emoji="🛑")
        p.command(op="reaction", channel="m1", conversation="m1", message=reply["id"],
                  user="u1", emoji="🛑")
        p.wait_record(lambda r: r["op"] == "edit" and r["id"] == reply["id"]
                      and "🛑 Cancelled." in r["text"])
        self.assertNotIn("chunk100", p.final_text(reply["id"]))
        self.assertEqual(len(e2e.agent_calls(self.world, "session/cancel")), 1)
        self.assertIn("reaction from intruder ignored", self.broker.err.text())
        self.stop()


class AskPermission(e2e.RunWorldTest):
    extra = '\n[permissions]\nmode = "ask"\ntimeout_s = 60\n'

    def ask(self, mid):
        """Post a [[permission]] prompt; return the question message record."""
        p = self.platform
        start = len(p.records())
        p.message(mid, "write it [[permission]]")
        _, q = p.wait_record(lambda r: r["op"] == "send" and r["text"].startswith("🔐"),
                             start=start)
        self.assertIn("Write x.txt", q["text"])

        def offered():
            return {r["emoji"] for r in p.records()[start:]
                    if r["op"] == "react" and r["message"] == q["id"]}
        e2e.wait_until(lambda: {"✅", "♾️", "❌"} <= offered(),
                       what="answer reactions on the question")
        return q

    def answer(self, q, emoji, user="u1"):
        self.platform.command(op="reaction", channel=q["thread"], conversation=q["thread"],
                              message=q["id"], user=user, emoji=emoji)

    def test_allow_once_and_reject_reach_the_agent(self):
        p = self.platform
        q = self.ask("m1")
        self.answer(q, "✅")
        p.wait_record(lambda r: r["op"] == "edit" and "permission granted: opt-once" in r["text"])
        start = len(p.records())
        q = self.ask("m2")
        self.answer(q, "❌")
        p.wait_record(lambda r: r["op"] == "edit" and "permission rejected: opt-reject"
                      in r["text"], start=start)
        self.stop()



class Approvers(AskPermission):
    extra = '\n[permissions]\nmode = "ask"\ntimeout_s = 60\napprovers = ["boss"]\n'

    def test_only_approvers_decide_and_the_question_shows_who_decided(self):
        p = self.platform
        q = self.ask("m1")
        self.answer(q, "✅", user="u1")  # allowed to talk, not to approve
        e2e.time.sleep(0.5)
        self.assertFalse([m for m in e2e.agent_lines(self.world)
                          if '"selected"' in str(m.get("result"))])
        self.answer(q, "♾️", user="boss")
        p.wait_record(lambda r: r["op"] == "edit" and "permission granted: opt-always" in r["text"])
        p.wait_record(lambda r: r["op"] == "edit" and r["id"] == q["id"]
                      and "→ ♾️ allowed always by boss" in r["text"])
        self.assertIn("answer from u1 ignored: not an approver", self.broker.err.text())
        self.stop()

    # the inherited test answers as u1, who is no approver here
    test_allow_once_and_reject_reach_the_agent = None


class AskTimeout(AskPermission):
    extra = '\n[permissions]\nmode = "ask"\ntimeout_s = 1\n'

    def test_no_answer_rejects_and_the_question_says_so(self):
        p = self.platform
        q = self.ask("m1")
        p.wait_record(lambda r: r["op"] == "edit" and r["id"] == q["id"]
                      and "→ ❌ rejected (no answer in time)" in r["text"])
        p.wait_record(lambda r: r["op"] == "edit" and "permission rejected: opt-reject"
                      in r["text"])
        self.stop()

    # the inherited test needs a long timeout
    test_allow_once_and_reject_reach_the_agent = None


if __name__ == "__main__":
    e2e.main()
