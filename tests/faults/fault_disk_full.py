"""Fault: the disk under the state directory fills up, then frees again.

Injected: the broker runs with fault_enospc.so preloaded (LD_PRELOAD; see
fault_enospc.c). While the flag file exists, every write, fsync and rename under
[state] dir fails with ENOSPC -- the session map (sessions.json) and the Discord
plugin's resume state alike -- as on a full filesystem. No root, no tmpfs.

Expected: with the disk full the daemon logs that it cannot write its state and keeps
answering (a new thread and a follow-up in an old one are both answered, once); the
state file on disk stays the last good one, whole and parseable, and no temporary
file is left behind; once space returns the daemon writes the current state by
itself (the thread opened while the disk was full is in sessions.json, without
waiting for more traffic), and later turns are recorded as usual."""

import json
import os

import fault_world as fw
from fault_world import dw, e2e

SHIM = os.environ.get("AB_FAULT_ENOSPC") or os.path.join(
    dw.BUILD, "tests", "faults", "fault_enospc.so")


class DiskFull(dw.DiscordTest):

    def start_broker(self):
        self.flag = self.world.path("disk-full.flag")
        os.makedirs(self.world.state, exist_ok=True)
        env = {"LD_PRELOAD": SHIM, "AB_ENOSPC_DIR": self.world.state,
               "AB_ENOSPC_FLAG": self.flag,
               "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
        broker = self.world.start("run", self.config, stdin=False, env=env)
        e2e.wait_until(lambda: self.readyz() == 200, what="/readyz 200")
        return broker

    def sessions_file(self):
        return os.path.join(self.world.state, "sessions.json")

    def read_state(self):
        """(raw bytes, parsed) of sessions.json; parsed is None when it does not parse."""
        try:
            with open(self.sessions_file(), "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            return None, None
        try:
            return raw, json.loads(raw)
        except ValueError:
            return raw, None

    def mentions_thread(self, tid):
        raw, doc = self.read_state()
        return doc is not None and any(tid in k for k in doc)

    def test_full_disk_keeps_answering_keeps_old_state_and_recovers(self):
        f = self.fake
        self.assertTrue(os.path.exists(SHIM), SHIM)
        _, t1 = self.conversation("before the disk fills d1")
        e2e.wait_until(lambda: self.mentions_thread(t1), what="thread 1 in sessions.json")
        good_raw, good = self.read_state()

        # the disk fills up
        open(self.flag, "w").close()
        err_at = len(self.broker.err.text())
        _, t2 = self.conversation("while the disk is full d2")
        fw.discord_wait_answer(self, t2, "while the disk is full d2")
        follow = f.message("follow-up while full d3", channel=t1, mention=False)
        fw.discord_wait_answer(self, t1, "follow-up while full d3")
        f.wait(lambda st: fw.discord_reacted(f, st, follow["id"], "🆗"), "🆗 on the follow-up")
        self.broker.err.wait_for(r"cannot write \S*sessions\.json: No space left on device",
                                 start=err_at)
        raw, doc = self.read_state()
        self.assertEqual(raw, good_raw)  # the last good file, untouched
        self.assertEqual(doc, good)
        self.assertFalse(self.mentions_thread(t2))
        leftovers = [n for n in os.listdir(self.world.state) if ".tmp." in n]
        self.assertEqual(leftovers, [])
        self.assertEqual(self.broker.popen.poll(), None)  # still running

        # space returns: the current state reaches the disk without more traffic
        os.unlink(self.flag)
        e2e.wait_until(lambda: self.mentions_thread(t2), timeout=3 * e2e.WAIT_S,
                       what="thread 2 in sessions.json after space returned; stderr:\n"
                       + self.broker.err.text()[-2000:])
        raw, doc = self.read_state()
        self.assertTrue(self.mentions_thread(t1) and self.mentions_thread(t2), doc)

        # and later turns are recorded as usual
        _, t3 = self.conversation("after the disk freed d4")
        e2e.wait_until(lambda: self.mentions_thread(t3), what="thread 3 in sessions.json")
        fw.settle(1)
        st = f.state()
        for tid, needle in ((t1, "before the disk fills d1"), (t2, "while the disk is full d2"),
                            (t1, "follow-up while full d3"), (t3, "after the disk freed d4")):
            self.assertEqual(len(fw.discord_posts_with(f, st, tid, needle)), 1,
                             needle)
        self.assertEqual([n for n in os.listdir(self.world.state) if ".tmp." in n], [])
        self.stop()


if __name__ == "__main__":
    e2e.main()
