"""Fault: kill -9 of the daemon while turns run and a message waits behind one.

Injected: three messages accepted (the platform was told "ack": the core had recorded
them), two turns streaming and one follow-up queued behind the first; then SIGKILL
of agent-broker, and a restart with the same [state] dir.
Asserted: every accepted message gets, after the restart, exactly one visible line
("restarted while this message was being handled; send it again") in its thread and 😱
on it; a replay of an accepted or answered message by the platform is not answered
again; a new message is answered normally."""

import signal

import e2e

RESTART = "restarted while this message was being handled"


class Kill9MidTurn(e2e.RunWorldTest):

    agent_flags = ("--tick", "100")

    def acked(self, mid, start=0):
        return self.platform.wait_record(
            lambda r: r["op"] == "ack" and r["acked"] == mid, start=start)[1]

    def test_kill9_with_turns_running_and_queued(self):
        p = self.platform
        # answered before the crash: must not be answered again when replayed
        p.message("d", "before the crash")
        self.assertEqual(self.acked("d")["status"], "0")
        p.wait_record(lambda r: r["op"] == "react" and r["message"] == "d"
                      and r["emoji"] == "🆗")

        self.streaming_turn("a", "long one [[slow 400]]")
        self.streaming_turn("c", "second stream [[slow 400]]")
        p.message("b", "follow-up while a runs", thread="a")
        for mid in ("a", "b", "c"):
            self.assertEqual(self.acked(mid)["status"], "0")
        p.wait_record(lambda r: r["op"] == "react" and r["message"] == "b"
                      and r["emoji"] == "👀")

        self.broker.signal(signal.SIGKILL)
        self.broker.wait()
        start = len(p.records())
        self.broker = self.start_broker()

        lines = {}
        for mid, thread in (("a", "a"), ("b", "a"), ("c", "c")):
            p.wait_record(lambda r, mid=mid: r["op"] == "react" and r["message"] == mid
                          and r["emoji"] == "😱", start=start)
        e2e.wait_until(lambda: sum(1 for r in p.records()[start:] if r["op"] == "send"
                                   and RESTART in r["text"]) >= 3, what="three restart lines")
        for r in p.records()[start:]:
            if r["op"] == "send" and RESTART in r["text"]:
                lines[r["thread"]] = lines.get(r["thread"], 0) + 1
        self.assertEqual(lines, {"a": 2, "c": 1})

        # the platform replays what it delivered before the crash: nothing is answered twice
        mark = len(p.records())
        p.message("a", "long one [[slow 400]]")
        p.message("b", "follow-up while a runs", thread="a")
        p.message("d", "before the crash")
        p.message("e", "after the restart")
        p.wait_record(lambda r: r["op"] == "react" and r["message"] == "e"
                      and r["emoji"] == "🆗", start=mark)
        after = p.records()[mark:]
        self.assertEqual([r for r in after if r["op"] == "react" and r["message"] in "abd"], [])
        self.assertEqual([r for r in after if r["op"] == "send" and RESTART in r["text"]], [])
        prompts = [m["params"]["prompt"][-1]["text"] for m in
                   e2e.agent_calls(self.world, "session/prompt")]
        self.assertEqual(sum("before the crash" in t for t in prompts), 1)
        self.assertEqual(sum("long one" in t for t in prompts), 1)
        self.stop()


if __name__ == "__main__":
    e2e.main()
