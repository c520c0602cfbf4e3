"""Approval buttons through the real chat-teams plugin and the fake Bot Framework: with
[permissions] mode "ask", the agent's permission question is posted with an Adaptive
Card (one Action.Submit per choice, validated by the fake as Teams does); a click in
either shape Teams delivers (a `message` with `value`, an `adaptiveCard/action` invoke
answered with the invoke response body) decides as the clicker's reaction would; the
question is edited to show the decision without the card; a click by someone who is
not an approver decides nothing."""

import json

from teams_world import TeamsTest, e2e, main, time

ALICE = "29:user-alice"
EVE = "29:user-eve"
CARD = "application/vnd.microsoft.card.adaptive"


class Approvals(TeamsTest):
    section = ('allow_dm = true\n\n[permissions]\nmode = "ask"\ntimeout_s = 60\n'
               'approvers = ["%s"]\n' % ALICE)

    def question(self, conv):
        """Wait for the permission question in @conv; return it with its card's choices."""
        def found():
            for p in self.fake.posts(conv):
                if p["text"].startswith("🔐") and p["attachments"]:
                    return p
            return None
        q = self.wait_until(found, "the question with a card in %s" % conv)
        self.assertEqual(len(q["attachments"]), 1, q)
        att = q["attachments"][0]
        self.assertEqual(att["contentType"], CARD)
        card = att["content"]
        self.assertEqual(card["type"], "AdaptiveCard")
        self.assertLessEqual(float(card["version"]), 1.4)
        self.assertTrue(all(a["type"] == "Action.Submit" for a in card["actions"]), card)
        choices = [a["data"]["agentBrokerChoice"] for a in card["actions"]]
        self.assertEqual(len(choices), 3, card)
        return q, {c: {"agentBrokerChoice": c} for c in choices}

    def decided(self):
        return [x for x in e2e.agent_lines(self.world) if '"selected"' in str(x.get("result"))]

    def wait_edited(self, conv, q, mark):
        def edited():
            p = [x for x in self.fake.posts(conv) if x["id"] == q["id"]][0]
            return p if mark in p["text"] and p["attachments"] == [] else None
        return self.wait_until(edited, "the question edited to %r, its card gone" % mark)

    def test_an_invoke_click_by_an_approver_decides_and_others_are_ignored(self):
        f = self.fake
        sent = f.message("write it [[permission]]")
        conv = sent["conversation"]
        q, data = self.question(conv)
        allow = [d for c, d in data.items() if c == "✅"][0]
        # someone who is not an approver clicks (both shapes): answered, decides nothing
        r = f.call("click", conversation=conv, reply_to=q["id"], data=allow, shape="invoke",
                   user=EVE)
        self.assertEqual(r["status"], 200, r)
        self.assertEqual(json.loads(r["body"])["statusCode"], 200, r)
        r = f.call("click", conversation=conv, reply_to=q["id"], data=allow, shape="message",
                   user=EVE)
        self.assertEqual(r["status"], 200, r)
        time.sleep(0.5)
        self.assertFalse(self.decided())
        self.assertFalse([p for p in f.posts(conv) if p["text"].startswith("→")])
        # an invoke that is not one of our choices gets the invoke error body
        r = f.call("click", conversation=conv, reply_to=q["id"], data={"verb": "x"},
                   shape="invoke")
        self.assertEqual(r["status"], 200, r)
        body = json.loads(r["body"])
        self.assertEqual((body["statusCode"], body["type"]),
                         (400, "application/vnd.microsoft.error"), body)
        self.assertFalse(self.decided())
        # the approver's click decides: the tool runs, the question shows who decided
        r = f.call("click", conversation=conv, reply_to=q["id"], data=allow, shape="invoke")
        self.assertEqual(r["status"], 200, r)
        body = json.loads(r["body"])
        self.assertEqual((body["statusCode"], body["type"]),
                         (200, "application/vnd.microsoft.activity.message"), body)
        self.wait_edited(conv, q, "→ ✅ allowed once by %s" % ALICE)
        self.final_reply(conv, "permission granted: opt-once")
        self.stop()

    def test_a_message_click_decides_in_a_personal_chat(self):
        f = self.fake
        sent = f.message("write it [[permission]]", conversation_type="personal")
        conv = sent["conversation"]
        q, data = self.question(conv)
        r = f.call("click", conversation=conv, reply_to=q["id"], data=data["❌"],
                   shape="message", conversation_type="personal")
        self.assertEqual(r["status"], 200, r)
        self.wait_edited(conv, q, "→ ❌")
        self.final_reply(conv, "permission rejected")
        # the click was not taken for a message: one prompt only
        self.assertEqual(len(self.prompts()), 1, self.prompts())
        self.stop()


if __name__ == "__main__":
    main()
