"""A [[cron.jobs]] job in a Teams channel: at its time the line "🕐 SENDER: MESSAGE" is
posted in the channel (a new post), the answer goes into that post's reply chain, and a
reply in the chain (no mention) continues the same agent session — the plugin names the
chain "CHANNEL;messageid=ROOT" (ab_chat_ops.conversation_of) and, having no threads to
open, that chain is where the core answers. The schedules' clock is moved with
AGENT_BROKER_TEST_CRON_SHIFT_S (see tests/discord/test_cron.py)."""

from teams_world import TeamsTest, main

import e2e  # noqa: E402 (teams_world puts tests/e2e on the path)

CHANNEL = "19:channel-dev@thread.tacv2"
LEAD = 6


class Cron(TeamsTest):
    agent_flags = ("--tick", "20")

    extra = e2e.cron_job(CHANNEL)

    def setUp(self):
        self.broker_env = {e2e.CRON_SHIFT_ENV: str(e2e.cron_shift(60 - LEAD))}
        super().setUp()

    def test_a_job_reply_chain_in_a_channel_continues_its_session(self):
        f = self.fake
        line = self.wait_until(lambda: next((p for p in f.posts(CHANNEL)
                                             if "standup-bot" in p["text"]), None),
                               "the job's line", timeout=LEAD + e2e.WAIT_S)
        self.assertIn("🕐", line["text"])
        chain = "%s;messageid=%s" % (CHANNEL, line["id"])
        self.final_reply(chain, "summarise the day")
        self.assertEqual(len(f.posts(CHANNEL)), 1)  # the answer is in the chain, not beside
        first = e2e.agent_calls(self.world, "session/prompt")[0]["params"]["sessionId"]
        f.message("and tomorrow?", conversation=chain, mention=False)
        self.final_reply(chain, "and tomorrow?")
        calls = e2e.agent_calls(self.world, "session/prompt")
        self.assertEqual(len(calls), 2, self.prompts())
        self.assertEqual(calls[1]["params"]["sessionId"], first)
        self.stop()


if __name__ == "__main__":
    main()
