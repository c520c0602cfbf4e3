"""Fault: SIGTERM while three turns stream and a follow-up waits behind one of them.

Injected: SIGTERM with turns running in three threads and one message queued.
Asserted: the three replies finish whole (drain), the queued message's thread is told
it was not answered, the broker exits 0; after a restart on the same [state] dir no
message is reported as lost (the journal was cleared: every accepted message got its
answer or its line) and none is answered twice."""

import e2e

RESTART = "restarted while this message was being handled"


class SigtermThreeTurns(e2e.RunWorldTest):
    agent_flags = ("--tick", "60")
    extra = "\n[pool]\ndrain_timeout_s = 30\n"

    def test_three_running_turns_drain_and_the_queued_one_is_told(self):
        p = self.platform
        replies = [self.streaming_turn(mid, "[[slow 25]]") for mid in ("a", "b", "c")]
        p.message("q", "behind a", thread="a")
        p.wait_record(lambda r: r["op"] == "react" and r["message"] == "q"
                      and r["emoji"] == "👀")
        self.stop()
        whole = " ".join("chunk%d" % n for n in range(1, 26))
        for reply in replies:
            self.assertEqual(p.final_text(reply["id"]).strip(), whole)
        told = [r for r in p.records() if r["op"] == "send" and r["thread"] == "a"
                and "were not answered" in r["text"]]
        self.assertEqual(len(told), 1)
        self.assertEqual(e2e.agent_calls(self.world, "session/prompt")[-1]["params"]
                         ["prompt"][-1]["text"].count("behind a"), 0)

        start = len(p.records())
        self.broker = self.start_broker()
        p.message("d", "after the restart")
        p.wait_record(lambda r: r["op"] == "react" and r["message"] == "d"
                      and r["emoji"] == "🆗", start=start)
        after = p.records()[start:]
        self.assertEqual([r for r in after if r["op"] == "send" and RESTART in r["text"]], [])
        self.assertEqual([r for r in after if r["op"] == "react"
                          and r["message"] in ("a", "b", "c", "q")], [])
        self.stop()


if __name__ == "__main__":
    e2e.main()
