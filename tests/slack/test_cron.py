"""A [[cron.jobs]] job on Slack: at its time the line "🕐 SENDER: MESSAGE" is posted in
the channel, the answer goes into the thread under it, and a reply in that thread (no
mention) continues the same agent session — the plugin names the thread's conversation
(ab_chat_ops.conversation_of: Slack keys a conversation "CHANNEL:THREAD_TS", not by the
post's id alone). The schedules' clock is moved with AGENT_BROKER_TEST_CRON_SHIFT_S (see
tests/discord/test_cron.py) so the job is due seconds after start."""

from slack_world import CHANNEL, SlackTest, main

import e2e  # noqa: E402 (slack_world puts tests/e2e on the path)

LEAD = 6


class Cron(SlackTest):
    agent_flags = ("--tick", "20")
    extra = e2e.cron_job(CHANNEL)

    def setUp(self):
        self.broker_env = {e2e.CRON_SHIFT_ENV: str(e2e.cron_shift(60 - LEAD))}
        super().setUp()

    def test_a_job_thread_on_slack_continues_its_session(self):
        f = self.fake

        def line():
            for m in f.bot_posts():
                if not m.get("thread_ts") and "standup-bot" in m["text"]:
                    return m
            return None
        post = self.wait_until(line, "the job's line", timeout=LEAD + e2e.WAIT_S)
        self.assertIn("🕐", post["text"])
        self.assertIn("summarise the day", post["text"])
        self.final_reply(post["ts"], "summarise the day")
        self.assertEqual(len(self.prompts()), 1)
        first = e2e.agent_calls(self.world, "session/prompt")[0]["params"]["sessionId"]
        # a reply in the job's thread, without a mention: the same conversation
        f.message("and tomorrow?", thread_ts=post["ts"])
        self.final_reply(post["ts"], "and tomorrow?")
        calls = e2e.agent_calls(self.world, "session/prompt")
        self.assertEqual(len(calls), 2, self.prompts())
        self.assertEqual(calls[1]["params"]["sessionId"], first)
        self.assertEqual(len(e2e.agent_calls(self.world, "session/new")), 1)
        self.stop()


if __name__ == "__main__":
    main()
