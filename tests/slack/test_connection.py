"""The Socket Mode connection of the real chat-slack plugin against the fake Slack:
refresh_requested opens the new socket before the old one closes and loses nothing,
a half-open socket is found by the idle timeout and replaced, /readyz follows the
connection, a rejected app token stops `run` with exit 1, and a 429 on chat.update
holds every chat.update for Retry-After."""

from slack_world import BOT, SlackTest, e2e, main, time


class Refresh(SlackTest):
    def test_refresh_requested_overlaps_sockets_and_loses_no_event(self):
        f = self.fake
        old = f.live_connections()[0]["id"]
        f.call("disconnect", reason="refresh_requested")
        # an event right away: it must land on a socket that is open
        ts = f.message("<@%s> still there? [[stream 2]]" % BOT)["ts"]
        self.wait_until(lambda: any(c["id"] != old and c["hello_t"] is not None
                                    for c in f.live_connections()), "a replacement socket")
        self.wait_until(lambda: all(c["id"] != old for c in f.live_connections()),
                        "the old socket closed")
        self.final_reply(ts, "chunk2")
        st = f.state()
        conns = {c["id"]: c for c in st["connections"]}
        new = max(conns)
        self.assertGreater(new, old)
        # the plugin closed the old socket itself, after the new one said hello
        self.assertLess(conns[new]["hello_t"], conns[old]["closed_t"])
        self.assertLess(conns[old]["closed_t"] - conns[new]["hello_t"], 2000)
        self.assertEqual(st["dropped"], [])
        self.assertEqual(self.readyz(), 200)
        # one apps.connections.open per socket, each with the app token
        opens = f.requests("apps.connections.open")
        self.assertEqual(len(opens), 2)
        self.assertTrue(all(r["token"] == "app" for r in opens))
        self.stop()


class HalfOpen(SlackTest):
    idle_ms = 2000

    def test_half_open_socket_is_detected_and_replaced(self):
        f = self.fake
        old = f.live_connections()[0]["id"]
        f.call("fault", mode="halfopen")
        t0 = time.monotonic()
        self.wait_until(lambda: any(c["id"] > old and c["hello_t"] is not None
                                    for c in f.state()["connections"]), "a new socket",
                        timeout=15)
        self.assertLess(time.monotonic() - t0, 8)
        # the plugin pinged the silent peer before giving up on it
        self.assertGreaterEqual(f.state()["connections"][0]["pings_in"], 1)
        self.wait_ready_state(200)
        ts = f.message("<@%s> after the outage [[stream 2]]" % BOT)["ts"]
        self.final_reply(ts, "chunk2")
        self.stop()


class AbruptClose(SlackTest):
    def test_readyz_follows_the_connection(self):
        f = self.fake
        # no replacement may connect for a while: every open fails
        f.call("open_error", error="internal_error", count=3)
        f.call("fault", mode="abrupt")
        self.wait_ready_state(503)
        # backoff: 1 s ceiling, then 2, then 4; the fourth open succeeds
        self.wait_ready_state(200, timeout=20)
        self.assertEqual([r["error"] for r in f.requests("apps.connections.open")][-4:],
                         ["internal_error"] * 3 + [None])
        self.stop()


class ReadyAtHello(SlackTest):
    """/readyz turns 200 at `hello`, not at a later ping/pong: with a 10-minute server
    ping interval nothing but the hello can have made it ready."""
    fake_flags = ("--ack-timeout-ms", "1500", "--ping-ms", "600000", "--grace-ms", "3000")
    idle_ms = 900000
    wait_ready = False

    def test_readyz_is_200_right_after_hello(self):
        f = self.fake
        self.wait_until(lambda: any(c["hello_t"] is not None for c in f.state()["connections"]),
                        "a socket that said hello", timeout=30)
        t0 = time.monotonic()
        self.wait_ready_state(200, timeout=10)
        self.assertLess(time.monotonic() - t0, 10)
        self.stop()


class InvalidAppToken(SlackTest):
    wait_ready = False

    def prepare(self, fake):
        fake.call("open_error", error="invalid_auth")

    def test_invalid_auth_stops_run_with_exit_1_and_a_clear_line(self):
        self.assertEqual(self.broker.wait(), 1, self.broker.err.text()[-3000:])
        err = self.broker.err.text()
        self.assertIn("Slack refused the app token (invalid_auth)", err)
        self.assertIn("app_token", err)
        self.assertNotIn("xapp-fake-app-token", err)
        # it asked once and gave up: no retry loop against a dead token
        self.assertEqual(len(self.fake.requests("apps.connections.open")), 1)


class RateLimit(SlackTest):
    edit_ms = 100
    agent_flags = ("--tick", "100")

    def test_429_on_chat_update_holds_every_update_for_retry_after(self):
        f = self.fake
        f.call("ratelimit", method="chat.update", retry_after=2, count=1)
        ts = f.message("<@%s> slowly [[stream 30]]" % BOT)["ts"]
        self.final_reply(ts, "chunk30")
        updates = f.requests("chat.update")
        limited = [r for r in updates if r["status"] == 429]
        self.assertEqual(len(limited), 1, updates)
        after = [r["t"] for r in updates if r["t"] > limited[0]["t"]]
        self.assertTrue(after, updates)
        # nothing inside the 2 s window
        self.assertGreaterEqual(after[0] - limited[0]["t"], 2000 - 50, updates)
        self.stop()


if __name__ == "__main__":
    main()
