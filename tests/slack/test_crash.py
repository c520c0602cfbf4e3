"""kill -9 of the broker while a Slack message is being answered: the envelope was acked
only once the core had recorded the message, so after a restart its thread gets one
line saying it was not answered; a redelivery of that envelope by Slack is acked and
not answered again."""

import signal
import time

import slack_world as sw

RESTART = "restarted while this message was being handled"


class Crash(sw.SlackTest):
    agent_flags = ("--tick", "100")

    def test_kill9_mid_turn_then_restart_tells_the_thread_once(self):
        f = self.fake
        sent = f.message("<@%s> long one [[slow 100]]" % sw.BOT)
        self.final_reply(sent["ts"], "chunk1")
        # acked once the journal has the message (the turn does not wait for that)
        self.wait_until(lambda: all(e["acks"] == 1 for e in f.state()["envelopes"]),
                        "every envelope acked once")
        self.broker.signal(signal.SIGKILL)
        self.broker.wait()
        self.broker = self.world.start("run", self.config, stdin=False)
        self.wait_ready_state(200)
        self.final_reply(sent["ts"], RESTART)
        for env in sent["envelopes"]:
            f.call("redeliver", envelope_id=env)
        self.wait_until(lambda: all(e["acks"] == e["attempts"] for e in f.state()["envelopes"]),
                        "every delivery acked")
        time.sleep(0.5)
        self.assertEqual(len(self.prompts()), 1, self.prompts())
        lines = [m for m in f.bot_posts(sent["ts"]) if RESTART in m["text"]]
        self.assertEqual(len(lines), 1)
        self.stop()


if __name__ == "__main__":
    sw.main()
