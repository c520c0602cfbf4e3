"""Fault: the agent hangs mid-turn and ignores session/cancel.

Injected: [[hang]] (no reply, no update, cancel ignored) with [pool]
turn_idle_timeout_s = 2 and a follow-up queued behind it.
Asserted: the watchdog cancels, then kills the agent's process group; the thread is told
the turn timed out (😱 on the message); the follow-up queued behind it then runs on a
fresh process and is answered; nothing is answered twice."""

import time

import e2e


class AgentHang(e2e.RunWorldTest):
    agent_flags = ("--tick", "20")
    extra = "\n[pool]\nturn_idle_timeout_s = 2\n"

    def test_watchdog_stops_the_hung_turn_and_the_queue_proceeds(self):
        p = self.platform
        p.message("h", "stuck [[hang]] [[pid]]")
        p.wait_record(lambda r: r["op"] == "react" and r["message"] == "h"
                      and r["emoji"] == "🤔")
        hung = set(self.world.agent_pids())
        self.assertTrue(hung)
        p.message("f", "after the hang", thread="h")
        p.wait_record(lambda r: r["op"] == "react" and r["message"] == "f"
                      and r["emoji"] == "👀")
        t0 = time.monotonic()
        _, told = p.wait_record(lambda r: r["op"] in ("send", "edit")
                                and "turn timed out" in r["text"], timeout=30)
        self.assertGreaterEqual(time.monotonic() - t0, 1.0)
        p.wait_record(lambda r: r["op"] == "react" and r["message"] == "h"
                      and r["emoji"] == "😱")
        self.assertTrue(e2e.agent_calls(self.world, "session/cancel"))
        e2e.wait_until(lambda: not (hung & set(self.world.agent_pids())),
                       what="the hung agent's group gone")
        # the follow-up runs next, on a fresh process
        p.wait_record(lambda r: r["op"] == "react" and r["message"] == "f"
                      and r["emoji"] == "🆗", timeout=30)
        prompts = [m["params"]["prompt"][-1]["text"] for m in
                   e2e.agent_calls(self.world, "session/prompt")]
        self.assertEqual(sum("after the hang" in t for t in prompts), 1)
        self.assertEqual(sum("stuck" in t for t in prompts), 1)
        self.stop()


if __name__ == "__main__":
    e2e.main()
