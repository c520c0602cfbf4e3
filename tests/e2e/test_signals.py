"""Signals: SIGTERM drains running turns (or cancels them after drain_timeout_s and
says so), kills every agent process group and exits 0; SIGHUP reloads the
allowlists without dropping the platform connection."""

import os
import re
import signal
import time

import e2e


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open("/proc/%d/stat" % pid) as f:
        return f.read().split(") ")[-1][0] != "Z"


class SigtermDrains(e2e.RunWorldTest):
    agent_flags = ("--tick", "100")
    extra = "\n[pool]\ndrain_timeout_s = 30\n"

    def test_running_turn_finishes_then_every_agent_group_is_gone(self):
        p = self.platform
        p.message("m1", "[[grandchild]]")
        _, rec = p.wait_record(lambda r: r["op"] == "edit" and "grandchild:" in r["text"])
        grandchild = int(re.search(r"grandchild: (\d+)", rec["text"]).group(1))
        self.assertTrue(alive(grandchild))
        p.wait_record(lambda r: r["op"] == "react" and r["emoji"] == "🆗")
        first = self.streaming_turn("m2", "[[slow 20]]", thread="m1")
        self.stop()
        self.assertEqual(p.final_text(first["id"]).strip(),
                         " ".join("chunk%d" % n for n in range(1, 21)))
        self.assertFalse(alive(grandchild), "the agent's grandchild outlived the broker")
        self.assertEqual(self.world.agent_pids(), [])
        self.assertEqual(p.records()[-1]["op"], "closed")


class SigtermCancelsAfterDrainTimeout(e2e.RunWorldTest):
    agent_flags = ("--tick", "200")
    extra = "\n[pool]\ndrain_timeout_s = 1\n"

    def test_long_turn_is_cancelled_and_the_thread_told(self):
        p = self.platform
        first = self.streaming_turn("m1", "[[slow 100]]")
        # a follow-up waiting behind the running turn
        p.message("m2", "waiting", thread="m1")
        p.wait_record(lambda r: r["op"] == "react" and r["message"] == "m2")
        t0 = time.monotonic()
        self.stop(timeout=20 * e2e.SLOW)
        self.assertLess(time.monotonic() - t0, 15 * e2e.SLOW)
        texts = [r["text"] for r in p.records() if r["op"] in ("send", "edit")]
        final = p.final_text(first["id"])
        self.assertIn("chunk1 ", final)
        self.assertNotIn("chunk100", final)
        self.assertRegex(final, r"⚠️ agent-broker is shutting down; this turn was stopped")
        self.assertTrue(any("were not answered" in t for t in texts), texts)
        self.assertEqual(self.world.agent_pids(), [])


class SighupReloads(e2e.RunWorldTest):
    section_extra = 'allowed_users = ["u1", "u2"]\n'

    def test_removed_user_is_denied_and_the_plugin_stays_connected(self):
        p = self.platform
        p.message("m1", "hello from u2", user="u2")
        p.wait_record(lambda r: r["op"] == "edit" and "hello from u2" in r["text"])
        with open(self.config, encoding="utf-8") as f:
            text = f.read()
        self.assertIn('"u1", "u2"', text)
        self.world.write("config.toml", text.replace('"u1", "u2"', '"u1"'))
        self.broker.signal(signal.SIGHUP)
        self.broker.err.wait_for(r"SIGHUP: configuration reloaded")
        start = len(p.records())
        p.message("m2", "u2 again", user="u2")
        _, deny = p.wait_record(lambda r: r["op"] == "react" and r["message"] == "m2",
                                start=start)
        self.assertEqual(deny["emoji"], "🚫")
        p.message("m3", "hello from u1", user="u1")
        p.wait_record(lambda r: r["op"] == "edit" and "hello from u1" in r["text"], start=start)
        recs = p.records()[start:]
        # u2 got the 🚫 and nothing else: no thread, no reply
        self.assertEqual([r for r in recs if r.get("message") == "m2" or r.get("thread") == "m2"],
                         [deny])
        self.assertNotIn("u2 again", "".join(r.get("text", "") for r in recs))
        # one connection all along, and still ready
        self.assertEqual([r["op"] for r in p.records()].count("started"), 1)
        self.assertNotIn("closed", [r["op"] for r in p.records()])
        self.assertIsNone(self.broker.popen.poll())
        self.assertEqual(self.get("/readyz")[0], 200)
        self.stop()


class SighupWithoutTheSection(e2e.RunWorldTest):
    """A reload whose config no longer has the running platform's section keeps that
    platform's allowlist (its defaults would admit everyone) and says so."""
    section_extra = 'allowed_users = ["u1"]\n'

    def test_missing_section_keeps_the_old_policy(self):
        p = self.platform
        with open(self.config, encoding="utf-8") as f:
            text = f.read()
        head, sep, rest = text.partition("[e2e]\n")
        self.assertTrue(sep, text)
        # Drop the [e2e] table (up to the next section) and the plugin's listing.
        body = rest[rest.index("\n[") + 1:] if "\n[" in rest else ""
        fresh = head.replace('chat = ["e2e"]', "chat = []") + body
        self.assertNotIn("[e2e]", fresh)
        self.world.write("config.toml", fresh)
        self.broker.signal(signal.SIGHUP)
        self.broker.err.wait_for(r"SIGHUP: configuration reloaded")
        start = len(p.records())
        p.message("m2", "u2 after the reload", user="u2")
        _, deny = p.wait_record(lambda r: r["op"] == "react" and r["message"] == "m2",
                                start=start)
        self.assertEqual(deny["emoji"], "🚫")
        p.message("m3", "hello from u1", user="u1")
        p.wait_record(lambda r: r["op"] == "edit" and "hello from u1" in r["text"], start=start)
        recs = p.records()[start:]
        self.assertNotIn("u2 after the reload", "".join(r.get("text", "") for r in recs))
        self.assertIn("[e2e] is no longer in", self.broker.err.text())
        self.stop()


if __name__ == "__main__":
    e2e.main()
