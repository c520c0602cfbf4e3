"""Restarts with chat-telegram: the getUpdates offset is saved through the state service
only once the core holds an update, and the next poll confirms it. Messages posted while
the broker is down are answered after it starts again, each once; nothing answered before
the restart is answered again; a kill -9 mid-turn gets the core's one restart line."""

import signal

from telegram_world import GROUP, TelegramTest, main, time

RESTART = "restarted while this message was being handled"


class Restart(TelegramTest):
    agent_flags = ("--tick", "50")

    def test_stop_then_messages_while_down_are_answered_once(self):
        f = self.fake
        first = f.message("@broker_bot before [[stream 2]]")
        self.final_reply(GROUP, "chunk2", reply_to=first["message_id"])
        # the next poll confirmed the update: the fake deleted it
        self.wait_until(lambda: f.state()["offset"] > first["update_id"], "the offset confirmed")
        self.stop()
        a = f.message("@broker_bot while down one [[stream 3]]")
        b = f.message("@broker_bot while down two [[stream 4]]")
        self.start_broker()
        self.final_reply(GROUP, "chunk3", reply_to=a["message_id"])
        self.final_reply(GROUP, "chunk4", reply_to=b["message_id"])
        time.sleep(1.0)
        prompts = self.prompts()
        self.assertEqual(len(prompts), 3, prompts)
        self.assertEqual(len(f.bot_messages(GROUP, reply_to=first["message_id"])), 1)
        self.assertEqual(len(f.bot_messages(GROUP, reply_to=a["message_id"])), 1)
        # every update went out once: none was fetched again after the restart
        st = f.state()
        self.assertGreater(st["offset"], b["update_id"])
        self.stop()

    def test_an_unconfirmed_update_is_not_fetched_again_after_a_restart(self):
        f = self.fake
        first = f.message("@broker_bot one [[stream 2]]")
        self.final_reply(GROUP, "chunk2", reply_to=first["message_id"])
        self.wait_until(lambda: f.state()["offset"] > first["update_id"], "the offset confirmed")
        # from now on every poll fails: Telegram never hears the next confirmation
        f.call("ratelimit", method="getUpdates", count=100000, retry_after=1)
        b = f.message("@broker_bot two [[stream 3]]")  # the waiting poll brings it
        self.final_reply(GROUP, "chunk3", reply_to=b["message_id"])
        self.wait_until(lambda: [r for r in f.requests("getUpdates") if r["status"] == 429],
                        "a refused poll")
        self.assertLessEqual(f.state()["offset"], b["update_id"])
        self.broker.signal(signal.SIGKILL)
        self.broker.wait()
        f.call("ratelimit", clear=True)
        self.start_broker()
        self.wait_until(lambda: f.state()["offset"] > b["update_id"], "the saved offset confirmed")
        time.sleep(0.5)
        st = f.state()
        self.assertEqual([u for u in st["updates"] if u["update_id"] == b["update_id"]], [])
        got = [r for r in st["requests"] if r["method"] == "getUpdates" and r["status"] == 200]
        self.assertTrue(all((r["params"] or {}).get("offset", 0) > b["update_id"] or
                            r["t"] < [x for x in st["requests"] if x["method"] == "getUpdates"
                                      and x["status"] == 429][0]["t"] for r in got), got)
        self.assertEqual(len(self.prompts()), 2, self.prompts())
        self.stop()

    def test_reply_chain_survives_a_restart(self):
        f = self.fake
        mid = f.message("@broker_bot start [[stream 2]]")["message_id"]
        post = self.final_reply(GROUP, "chunk2", reply_to=mid)
        self.stop()
        self.start_broker()
        # a reply to the bot's answer from before the restart: the same conversation,
        # answered in the same chain (under the user's first message)
        f.message("again [[stream 3]]", reply_to=post["message_id"])
        self.final_reply(GROUP, "chunk3", reply_to=mid)
        self.stop()

    def test_kill9_mid_turn_then_restart_tells_the_thread_once(self):
        f = self.fake
        sent = f.message("@broker_bot long one [[slow 100]]")
        self.final_reply(GROUP, "chunk1", reply_to=sent["message_id"])
        self.wait_until(lambda: f.state()["offset"] > sent["update_id"], "the offset confirmed")
        self.broker.signal(signal.SIGKILL)
        self.broker.wait()
        self.start_broker()
        self.final_reply(GROUP, RESTART, reply_to=sent["message_id"])
        time.sleep(1.0)
        self.assertEqual(len(self.prompts()), 1, self.prompts())
        lines = [m for m in f.bot_messages(GROUP) if RESTART in m["text"]]
        self.assertEqual(len(lines), 1)
        self.stop()


if __name__ == "__main__":
    main()
