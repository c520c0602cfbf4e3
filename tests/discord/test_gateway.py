"""The gateway connection of chat-discord against the loopback Discord: reconnects
resume (never re-identify) and get the missed events replayed, zombies and half-open
sockets are detected by the heartbeat ACK rule, fatal close codes stop `run` with exit
1 and a clear line, /readyz follows the connection, a restart resumes the session."""

import signal
import time

import discord_world as dw
import e2e


def frames(st, direction, op=None):
    return [f for f in st["frames"] if f["dir"] == direction and (op is None or f["op"] == op)]


class Reconnects(dw.DiscordTest):

    def missed_message_is_answered(self, fault, **kw):
        """Cause @fault, post a message while the bot is away, expect Resume on the
        resume URL, the message replayed and answered, and no second Identify."""
        f = self.fake
        f.fault(fault, **kw)
        m = f.message("did you miss me?")
        f.wait(lambda st: st["counts"]["resume"] >= 1 and st["connected"], "a resumed session")
        f.wait(lambda st: dw.BOT_ID in f.msg(st, m["id"])["reactions"].get("🆗", []),
               "the missed message answered")
        st = f.state()
        self.assertEqual(st["counts"]["identify"], 1)
        resumes = frames(st, "in", 6)
        self.assertGreaterEqual(len(resumes), 1)
        self.assertEqual(resumes[0]["d"]["session_id"], st["session"])
        opened = {x["conn"]: x["path"] for x in frames(st, "open")}
        self.assertTrue(opened[resumes[0]["conn"]].startswith("/resume/?v=10&encoding=json"),
                        opened)
        self.assertTrue(any("did you miss me?" in x["content"]
                            for x in f.bot_messages(st, m["id"])), f.bot_messages(st, m["id"]))
        return st

    def test_op7_reconnect_resumes_and_replays(self):
        st = self.missed_message_is_answered("reconnect")
        self.assertTrue(any(x["op"] == 7 for x in frames(st, "out")))
        self.stop()

    def test_dropped_socket_resumes_and_replays(self):
        self.missed_message_is_answered("drop")
        self.stop()

    def test_resumable_invalid_session_resumes(self):
        self.missed_message_is_answered("invalid_session", resumable=True)
        self.stop()

    def test_zombie_connection_is_detected_and_resumed(self):
        f = self.fake
        f.fault("zombie")
        t0 = time.monotonic()
        f.wait(lambda st: st["counts"]["resume"] >= 1 and st["connected"], "resume", timeout=15)
        # two heartbeat intervals (1 s) without an ACK, then a close that keeps the session
        self.assertLess(time.monotonic() - t0, 8)
        st = f.state()
        closes = [x for x in frames(st, "closed") if x["conn"] == 1]
        self.assertEqual(len(closes), 1)
        self.assertNotIn(closes[0]["code"], (1000, 1001))
        self.assertEqual(st["counts"]["identify"], 1)
        self.stop()

    def test_half_open_socket_is_detected_and_missed_events_replayed(self):
        self.missed_message_is_answered("half_open")
        self.stop()

    def test_server_heartbeat_request_is_answered_at_once(self):
        f = self.fake
        before = len(frames(f.state(), "in", 1))
        f.fault("heartbeat_request")
        f.wait(lambda st: len(frames(st, "in", 1)) > before, "a heartbeat", timeout=0.9)
        self.stop()


class NewSessions(dw.DiscordTest):

    def new_session_after(self, fault, **kw):
        f = self.fake
        f.fault(fault, **kw)
        f.wait(lambda st: st["counts"]["identify"] == 2 and st["connected"], "a new session")
        m = f.message("still there?")
        f.wait(lambda st: dw.BOT_ID in f.msg(st, m["id"])["reactions"].get("🆗", []), "answer")

    def test_invalid_session_not_resumable_identifies(self):
        self.new_session_after("invalid_session", resumable=False)
        self.stop()

    def test_close_4009_identifies(self):
        self.new_session_after("close", code=4009)
        self.stop()

    def test_close_4007_identifies(self):
        self.new_session_after("close", code=4007)
        self.stop()


class Identify(dw.DiscordTest):

    def test_identify_carries_token_intents_and_properties(self):
        st = self.fake.state()
        ident = frames(st, "in", 2)
        self.assertEqual(len(ident), 1)
        # GUILDS | GUILD_MESSAGES | GUILD_MESSAGE_REACTIONS | DIRECT_MESSAGES | MESSAGE_CONTENT
        self.assertEqual(ident[0]["d"]["intents"], 1 | 512 | 1024 | 4096 | 32768)
        self.assertEqual(ident[0]["d"]["properties"]["browser"], "agent-broker")
        # heartbeats carry the last sequence number
        beats = [x["d"] for x in frames(st, "in", 1)]
        self.assertTrue(all(b is None or isinstance(b, int) for b in beats))
        self.assertNotIn(dw.TOKEN, self.broker.err.text())  # the token is redacted
        self.stop()

    def test_restart_resumes_the_saved_session(self):
        f = self.fake
        self.stop()
        m = f.message("while you were restarting")
        self.broker = self.start_broker()
        f.wait(lambda st: dw.BOT_ID in f.msg(st, m["id"])["reactions"].get("🆗", []),
               "the message sent during the restart answered")
        st = f.state()
        self.assertEqual(st["counts"]["identify"], 1)
        self.assertEqual(st["counts"]["resume"], 1)
        self.stop()


class Readiness(dw.DiscordTest):

    def test_readyz_follows_the_connection(self):
        f = self.fake
        self.assertEqual(self.readyz(), 200)
        f.fault("refuse", ms=6000)
        f.fault("drop")
        t0 = time.monotonic()
        e2e.wait_until(lambda: self.readyz() == 503, timeout=10, what="/readyz 503")
        self.assertLess(time.monotonic() - t0, 10)
        e2e.wait_until(lambda: self.readyz() == 200, timeout=30, what="/readyz 200 again")
        st = f.state()
        self.assertGreaterEqual(len(frames(st, "refused")), 1)
        self.assertEqual(st["counts"]["identify"], 1)
        self.stop()


class ReadyAtReady(dw.DiscordTest):
    """/readyz turns 200 at READY, not at the first heartbeat ACK: with a 10-minute
    heartbeat interval the first beat (jittered over the interval) is almost surely
    minutes away, so waiting for an ACK would stall a rollout."""

    heartbeat_ms = 600000
    wait_ready = False

    def test_readyz_is_200_right_after_ready(self):
        f = self.fake
        f.wait(lambda st: st["counts"]["identify"] >= 1, "an Identify", timeout=30)
        t0 = time.monotonic()
        e2e.wait_until(lambda: self.readyz() == 200, timeout=10, what="/readyz 200 after READY")
        self.assertLess(time.monotonic() - t0, 10)
        self.stop()


class Fatal(dw.DiscordTest):

    def fatal_close(self, code, words):
        self.fake.fault("close", code=code)
        rc = self.broker.wait(60)
        err = self.broker.err.text()
        self.assertEqual(rc, 1, err[-3000:])
        self.assertIn(words, err)
        self.assertIn("no chat platform can stay connected", err)
        st = self.fake.state()
        self.assertEqual(st["counts"]["identify"], 1)  # it did not retry
        self.assertEqual(st["counts"]["resume"], 0)

    def test_4004_exits_1_with_a_clear_line(self):
        self.fatal_close(4004, "4004 (authentication failed)")

    def test_4014_exits_1_naming_the_intent(self):
        self.fatal_close(4014, "enable MESSAGE CONTENT INTENT")


class BadToken(dw.DiscordTest):
    token = "not-the-token"
    wait_ready = False

    def test_bad_token_at_identify_exits_1(self):
        rc = self.broker.wait(60)
        err = self.broker.err.text()
        self.assertEqual(rc, 1, err[-3000:])
        self.assertIn("4004", err)
        self.assertNotIn("not-the-token", err)


if __name__ == "__main__":
    e2e.main()
