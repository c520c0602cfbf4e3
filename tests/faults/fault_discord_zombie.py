"""Fault: the Discord gateway connection turns into a zombie (heartbeat ACKs lost).

Injected (fake-discord.js, heartbeat every 1 s), after a first conversation:
- zombie_deaf: the fake stops ACKing heartbeats and stops delivering dispatches (they
  wait in the session's log, as Discord keeps them for a resume) but still reads; a
  user's follow-up is posted in the thread during this outage;
- zombie: the fake stops ACKing but keeps delivering; the follow-up arrives on the
  dying connection just before the plugin gives up on it.

Expected: the plugin notices the missing ACK, drops the connection and resumes the
same session (no second Identify); the follow-up is answered exactly once (not lost
in the outage, not answered again when the resume replays what was missed), and a
later message still works."""

import fault_world as fw
from fault_world import dw, e2e


class DiscordZombie(dw.DiscordTest):

    def outage(self, kind, token):
        f = self.fake
        m, tid = self.conversation("before the outage " + token)
        before = f.state()["counts"]
        self.assertEqual(f.fault(kind), {"ok": True})
        during = f.message("during the outage %s" % token, channel=tid, mention=False)
        f.wait(lambda st: st["counts"]["resume"] > before["resume"] and st["connected"],
               "a resumed gateway session; broker stderr:\n" + self.broker.err.text()[-3000:])
        fw.discord_wait_answer(self, tid, "during the outage %s" % token)
        f.wait(lambda st: fw.discord_reacted(f, st, during["id"], "🆗"), "🆗 on the follow-up")
        after = f.message("after the outage %s" % token, channel=tid, mention=False)
        fw.discord_wait_answer(self, tid, "after the outage %s" % token)
        f.wait(lambda st: fw.discord_reacted(f, st, after["id"], "🆗"), "🆗 after the outage")
        fw.settle(2)
        st = f.state()
        for what in ("before", "during", "after"):
            posts = fw.discord_posts_with(f, st, tid, "%s the outage %s" % (what, token))
            self.assertEqual(len(posts), 1, (what, posts))
        self.assertEqual(st["counts"]["identify"], before["identify"])  # resumed, not re-identified
        prompts = [p for p in e2e.agent_calls(self.world, "session/prompt")
                   if "during the outage %s" % token in json_text(p)]
        self.assertEqual(len(prompts), 1, prompts)

    def test_deaf_zombie_resumes_and_the_missed_message_is_answered_once(self):
        self.outage("zombie_deaf", "zd1")
        self.stop()

    def test_zombie_that_still_delivers_is_answered_once_after_the_resume(self):
        self.outage("zombie", "zz1")
        self.stop()


def json_text(msg):
    """The text blocks of a session/prompt."""
    return "".join(b.get("text", "") for b in msg["params"]["prompt"] if b.get("type") == "text")


if __name__ == "__main__":
    e2e.main()
