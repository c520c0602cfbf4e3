"""Fault: the Slack Socket Mode connection goes silent.

Injected (fake-slack.js, server pings every 1 s): after a first conversation the
newest socket stops carrying anything in either direction -- no events, no pings, no
pongs, no close -- while TCP stays up ("halfopen"). [slack] idle_timeout_ms = 3000.

Expected: the plugin declares the socket dead no sooner than idle_timeout_ms after
its last frame and not much later, opens a new one (apps.connections.open again)
and closes the silent one; a message sent once the new socket is up is answered
exactly once, in its thread; /readyz is 200 again."""

import fault_world as fw
from fault_world import e2e, sw

IDLE_MS = 3000


class SlackSilent(sw.SlackTest):
    idle_ms = IDLE_MS

    def test_a_silent_socket_is_replaced_and_the_next_message_answered_once(self):
        f = self.fake
        first = f.message("<@%s> before the silence" % sw.BOT)
        self.final_reply(first["ts"], "You said:")
        conns = f.state()["connections"]
        self.assertEqual(len([c for c in conns if c["closed_t"] is None]), 1, conns)
        old = f.call("fault", mode="halfopen")
        self.assertTrue(old["ok"], old)
        silent_since = f.state()["frames"][-1]["t"]  # fake's clock (ms)

        def replaced():
            st = f.state()
            new = [c for c in st["connections"] if c["id"] > old["conn"]
                   and c["hello_t"] is not None and c["closed_t"] is None]
            gone = [c for c in st["connections"] if c["id"] == old["conn"]
                    and c["closed_t"] is not None]
            return new and gone and (new[0], gone[0])
        new, gone = self.wait_until(replaced, "a new socket and the silent one closed")
        # not before the idle timeout (the last frame was at or before silent_since)
        self.assertGreaterEqual(new["open_t"] - silent_since, IDLE_MS - 1100, (new, silent_since))
        self.assertLess(new["open_t"] - silent_since, IDLE_MS + 10 * 1000 * e2e.SLOW)
        self.wait_ready_state(200)

        second = f.message("<@%s> after the silence sx1" % sw.BOT)
        self.final_reply(second["ts"], "after the silence sx1")
        self.wait_until(lambda: "ok" in f.reactions_on(second["ts"]), "ok on the message")
        fw.settle(2)
        self.assertEqual(len(fw.slack_posts_with(f, second["ts"], "after the silence sx1")), 1)
        self.assertEqual(len(fw.slack_posts_with(f, first["ts"], "before the silence")), 1)
        st = f.state()
        self.assertEqual(st["dropped"], [])  # nothing was sent into the void
        prompts = [p for p in self.prompts() if "after the silence sx1" in p]
        self.assertEqual(len(prompts), 1, prompts)
        self.stop()


if __name__ == "__main__":
    e2e.main()
