"""Fault: the agent hangs mid-turn.

Injected: the scripted agent (started with --ignore-term, so SIGTERM alone cannot stop
it) gets the prompt "[[hang]]": it never answers, sends nothing and ignores
session/cancel. A follow-up is queued behind it in the same Discord thread.
[pool] watchdog_s = 3.

Expected, as the user sees it in the thread: the watchdog sends session/cancel, then
kills the agent's process group (TERM, then KILL after the grace); the hung turn ends
with one visible failure line and the error reaction; the queued follow-up is then
answered, exactly once, by a fresh agent; the hung turn is not answered twice."""

import fault_world as fw
from fault_world import dw, e2e


class AgentHang(dw.DiscordTest):
    agent_flags = ("--tick", "20", "--ignore-term")
    extra = "\n[pool]\nwatchdog_s = 3\n"

    def test_watchdog_cancels_then_kills_and_the_queue_moves_on(self):
        f = self.fake
        m = f.message("first question [[hang]]")
        tid = f.wait(lambda st: f.msg(st, m["id"])["thread"], "a thread from " + m["id"])
        e2e.wait_until(lambda: e2e.agent_calls(self.world, "session/prompt"),
                       what="the prompt reached the agent")
        hung = self.world.agent_pids()
        self.assertTrue(hung, "no agent process while the turn hangs")
        follow = f.message("second question q2", channel=tid, mention=False)

        st = fw.discord_wait_answer(self, tid, "made no progress")
        st = fw.discord_wait_answer(self, tid, "second question q2")
        f.wait(lambda st: fw.discord_reacted(f, st, follow["id"], "🆗"), "🆗 on the follow-up")
        fw.settle(1.5)
        st = f.state()

        # one failure line, one answer to the follow-up, nothing for the hung prompt
        self.assertEqual(len(fw.discord_posts_with(f, st, tid, "made no progress")), 1)
        self.assertEqual(len(fw.discord_posts_with(f, st, tid, "second question q2")), 1)
        self.assertEqual(fw.discord_posts_with(f, st, tid, "first question"), [])
        self.assertTrue(fw.discord_reacted(f, st, m["id"], "😱"), f.msg(st, m["id"]))
        # cancel first, then the kill: the hung process group is gone although it
        # ignored SIGTERM
        self.assertGreaterEqual(len(e2e.agent_calls(self.world, "session/cancel")), 1)
        self.assertEqual([p for p in hung if fw.alive(p)], [])
        err = self.broker.err.text()
        self.assertIn("cancelling", err)
        self.assertIn("killing it", err)
        self.assertLess(err.index("cancelling"), err.index("killing it"))
        # the follow-up was sent to a new agent process
        prompts = e2e.agent_calls(self.world, "session/prompt")
        self.assertEqual(len(prompts), 2, prompts)
        self.stop()


if __name__ == "__main__":
    e2e.main()
