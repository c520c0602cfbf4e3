"""Memory follows activity: three Discord threads are answered, their sessions are
suspended after [pool] idle_suspend_s (no agent process is left), and a follow-up in
each thread starts a process that resumes that thread's own session with session/load:
the same session id, its history intact, and nothing said about it in the thread."""

import re

import discord_world as dw
import e2e


def metric(text, name):
    """The sum of the samples of @name (any labels, e.g. agent="default") in Prometheus
    text @text, or None when there is none."""
    vals = re.findall(r"^%s(?:\{[^}]*\})? (\S+)$" % re.escape(name), text, re.M)
    return sum(float(v) for v in vals) if vals else None


class IdleSuspension(dw.DiscordTest):

    @property
    def agent_flags(self):
        return ("--tick", "20", "--load", "--state", self.world.path("agent-state.json"))

    extra = "\n[pool]\nidle_suspend_s = 1\n"

    def metrics(self):
        return e2e.http_get(self.health + "/metrics")[1]

    def answered(self, tid, mid, needle):
        """Wait for a bot message in thread @tid containing @needle and the 🆗 on @mid;
        returns the text of that message."""
        f = self.fake
        f.wait(lambda st: dw.BOT_ID in f.msg(st, mid)["reactions"].get("🆗", []),
               "🆗 on " + mid)
        texts = [x["content"] for x in f.bot_messages(f.state(), tid) if needle in x["content"]]
        self.assertTrue(texts, "no answer with %r in %s" % (needle, tid))
        return texts[-1]

    def test_idle_threads_lose_their_process_and_resume_their_own_session(self):
        f = self.fake
        threads = {}
        for word in ("walnut", "pebble", "cobalt"):
            m, tid = self.conversation("remember %s [[echo-session]]" % word)
            text = self.answered(tid, m["id"], "session:")
            threads[word] = (tid, re.search(r"session: (\S+)", text).group(1))
        sessions = {sid for _, sid in threads.values()}
        self.assertEqual(len(sessions), 3)
        self.assertEqual(len(e2e.agent_calls(self.world, "session/new")), 3)

        # idle: every session suspended, no agent process left, the broker still up
        e2e.wait_until(lambda: not self.world.agent_pids(), timeout=e2e.WAIT_S,
                       what="no agent process after idle_suspend_s")
        e2e.wait_until(lambda: metric(self.metrics(), "agent_broker_sessions_suspended") == 3,
                       what="3 suspended sessions in /metrics")
        text = self.metrics()
        self.assertEqual(metric(text, "agent_broker_sessions_live"), 0)
        self.assertEqual(metric(text, "agent_broker_agent_processes"), 0)
        self.assertEqual(metric(text, "agent_broker_sessions_idle_suspended_total"), 3)
        self.assertEqual(self.readyz(), 200)

        # a follow-up in each thread resumes that thread's session, silently
        before = {tid: len(f.bot_messages(f.state(), tid)) for tid, _ in threads.values()}
        for word, (tid, sid) in threads.items():
            m = f.message("what did I ask? [[echo-session]] [[echo-history]]", channel=tid,
                          mention=False)
            text = self.answered(tid, m["id"], "history:")
            self.assertIn("session: " + sid, text)
            self.assertIn("history: 1 turns: remember %s" % word, text)
        loads = e2e.agent_calls(self.world, "session/load")
        self.assertEqual(sorted(x["params"]["sessionId"] for x in loads), sorted(sessions))
        self.assertEqual(len(e2e.agent_calls(self.world, "session/new")), 3)
        prompts = e2e.agent_calls(self.world, "session/prompt")
        self.assertEqual(sorted(p["params"]["sessionId"] for p in prompts[3:]), sorted(sessions))
        st = f.state()
        for tid, _ in threads.values():
            new = f.bot_messages(st, tid)[before[tid]:]
            self.assertEqual(len(new), 1, new)  # the answer alone: no "session expired"
            self.assertNotIn("expired", new[0]["content"].lower())
        self.assertEqual(metric(self.metrics(), "agent_broker_sessions_resumed_total"), 3)
        self.stop()


if __name__ == "__main__":
    e2e.main()
