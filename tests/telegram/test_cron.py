"""A [[cron.jobs]] job in a Telegram group: at its time the line "🕐 SENDER: MESSAGE" is
posted in the group, the answer replies to it, and a reply to the line or to the answer
(no mention) continues the same agent session — the plugin names the reply chain rooted
at the core's own post (ab_chat_ops.conversation_of). The schedules' clock is moved with
AGENT_BROKER_TEST_CRON_SHIFT_S (see tests/discord/test_cron.py)."""

from telegram_world import GROUP, TelegramTest, main

import e2e  # noqa: E402 (telegram_world puts tests/e2e on the path)

LEAD = 6


class Cron(TelegramTest):
    agent_flags = ("--tick", "20")
    extra = e2e.cron_job(str(GROUP))

    def start_broker(self, env=None):
        super().start_broker(env={e2e.CRON_SHIFT_ENV: str(e2e.cron_shift(60 - LEAD))})

    def test_a_job_reply_chain_in_a_group_continues_its_session(self):
        f = self.fake

        def line():
            for m in f.bot_messages(GROUP):
                if "standup-bot" in m.get("text", "") and not m.get("reply_to_message"):
                    return m
            return None
        post = self.wait_until(line, "the job's line", timeout=LEAD + e2e.WAIT_S)
        self.assertIn("🕐", post["text"])
        root = post["message_id"]
        answer = self.final_reply(GROUP, "summarise the day", reply_to=root)
        first = e2e.agent_calls(self.world, "session/prompt")[0]["params"]["sessionId"]
        # a reply to the bot's answer, no mention: the job's conversation
        f.message("and tomorrow?", reply_to=answer["message_id"])
        self.final_reply(GROUP, "and tomorrow?", reply_to=root)
        calls = e2e.agent_calls(self.world, "session/prompt")
        self.assertEqual(len(calls), 2, self.prompts())
        self.assertEqual(calls[1]["params"]["sessionId"], first)
        self.stop()


if __name__ == "__main__":
    main()
