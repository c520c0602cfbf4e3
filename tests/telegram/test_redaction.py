"""The bot token is in the path of every Bot API URL: no log line, at any level, ever
shows it — not the host's request traces (which print URLs), not connection errors, not
the Bot API's error answers — and a reply that quotes it reaches the chat redacted."""

import re

from telegram_world import GROUP, TOKEN, TelegramTest, e2e, main

SECRET = TOKEN.split(":", 1)[1]


class Traced(TelegramTest):
    agent_flags = ("--tick", "20")

    def start_broker(self, env=None):
        super().start_broker(env={"AGENT_BROKER_LOG": "trace"})

    def test_trace_logs_and_errors_never_show_the_token(self):
        f = self.fake
        f.call("ratelimit", method="sendMessage", retry_after=1, count=1)
        mid = f.message("@broker_bot hello [[stream 2]]")["message_id"]
        self.final_reply(GROUP, "chunk2", reply_to=mid)
        # the agent quotes the token back: the chat gets it redacted
        f.message("@broker_bot the token is %s" % TOKEN)
        self.wait_until(lambda: any("token is" in m["text"] for m in f.bot_messages(GROUP)),
                        "the echo")
        self.stop()
        err = self.broker.err.text()
        self.assertIn("/bot", err, "no request URL was traced: the test proves nothing")
        self.assertNotIn(SECRET, err)
        self.assertFalse(re.search(r"\d+:[A-Za-z0-9_-]{30,}", err), "a token-shaped run in the log")
        for m in f.bot_messages(GROUP):
            self.assertNotIn(SECRET, m["text"])


class Unreachable(e2e.WorldTest):
    def test_connection_errors_never_show_the_token(self):
        port = e2e.free_port()  # nothing listens there
        config = self.world.write("config.toml", self.world.scripted_agent() + """
[plugins]
chat = ["telegram"]

[telegram]
bot_token = %s
api_base = "http://127.0.0.1:%d"

[health]
listen = "127.0.0.1:%d"

[state]
dir = %s
""" % (e2e.toml_str(TOKEN), port, e2e.free_port(), e2e.toml_str(self.world.state)))
        broker = self.world.start("run", config, stdin=False, env={"AGENT_BROKER_LOG": "trace"})
        broker.err.wait_for("getMe")
        broker.err.wait_for("getMe.*(failed|refused|connect)", timeout=e2e.WAIT_S)
        broker.signal(15)
        broker.wait()
        err = broker.err.text()
        self.assertNotIn(SECRET, err)
        self.assertIn("127.0.0.1", err)


if __name__ == "__main__":
    main()
