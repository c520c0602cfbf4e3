"""Fault: the agent closes its stdin after a turn but keeps running (or dies between
turns).

Injected: [[close-stdin]] makes the scripted agent stop reading after its reply; the
next message in the thread, and a message in a second thread on the same process, must
not fail at once or hang: a fresh agent process is started (with session/load, since
the agent supports it) and the messages are answered."""

import os
import re
import signal
import time

import e2e


class AgentStdinClosed(e2e.RunWorldTest):

    @property
    def agent_flags(self):
        return ("--tick", "10", "--load", "--state", self.world.path("agent-state.json"))

    def test_next_message_gets_a_fresh_process_and_its_session_back(self):
        p = self.platform
        p.message("m1", "first [[echo-session]] [[pid]] [[close-stdin]]")
        _, rec = p.wait_record(lambda r: r["op"] == "react" and r["message"] == "m1"
                               and r["emoji"] == "🆗")
        first = "\n".join(r["text"] for r in p.records() if r["op"] in ("send", "edit")
                          and r.get("thread") in ("m1", None))
        session = re.search(r"session: (\S+)", first).group(1)
        pid = re.search(r"pid: (\d+)", first).group(1)

        start = len(p.records())
        p.message("m2", "second [[echo-session]] [[pid]]", thread="m1")
        _, done = p.wait_record(lambda r: r["op"] == "react" and r["message"] == "m2"
                                and r["emoji"] in ("🆗", "😱"), start=start, timeout=20)
        self.assertEqual(done["emoji"], "🆗")
        texts = "\n".join(r["text"] for r in p.records()[start:] if r["op"] in ("send", "edit"))
        self.assertIn("session: " + session, texts)  # the same session, loaded
        self.assertNotIn("pid: " + pid, texts)  # by a fresh process
        self.assertNotIn("⚠️", texts)
        loads = e2e.agent_calls(self.world, "session/load")
        self.assertEqual([m["params"]["sessionId"] for m in loads], [session])
        self.stop()

    def test_agent_killed_between_turns_is_replaced(self):
        p = self.platform
        p.message("m1", "first [[echo-session]] [[pid]]")
        p.wait_record(lambda r: r["op"] == "react" and r["message"] == "m1"
                      and r["emoji"] == "🆗")
        first = "\n".join(r["text"] for r in p.records() if r["op"] in ("send", "edit"))
        session = re.search(r"session: (\S+)", first).group(1)
        pid = int(re.search(r"pid: (\d+)", first).group(1))
        os.kill(pid, signal.SIGKILL)
        e2e.wait_until(lambda: pid not in self.world.agent_pids(), what="the agent gone")
        time.sleep(0.2)

        start = len(p.records())
        p.message("m2", "second [[echo-session]] [[pid]]", thread="m1")
        _, done = p.wait_record(lambda r: r["op"] == "react" and r["message"] == "m2"
                                and r["emoji"] in ("🆗", "😱"), start=start, timeout=20)
        self.assertEqual(done["emoji"], "🆗")
        texts = "\n".join(r["text"] for r in p.records()[start:] if r["op"] in ("send", "edit"))
        self.assertIn("session: " + session, texts)
        self.assertNotIn("⚠️", texts)
        self.stop()


if __name__ == "__main__":
    e2e.main()
