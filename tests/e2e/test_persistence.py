"""Sessions survive a restart: with the same [state] dir and an agent that supports
session/load, the next message in a thread resumes its session, silently."""

import re

import e2e


class Persistence(e2e.RunWorldTest):

    @property
    def agent_flags(self):
        return ("--load", "--state", self.world.path("agent-state.json"))

    def test_restart_resumes_the_thread_with_session_load(self):
        p = self.platform
        p.message("m1", "remember me [[echo-session]]")
        _, rec = p.wait_record(lambda r: r["op"] == "edit" and "session:" in r["text"])
        session = re.search(r"session: (\S+)", rec["text"]).group(1)
        p.wait_record(lambda r: r["op"] == "react" and r["emoji"] == "🆗")
        self.stop()
        self.assertEqual(self.world.agent_pids(), [])
        self.assertEqual(len(e2e.agent_calls(self.world, "session/new")), 1)
        self.assertEqual(e2e.agent_calls(self.world, "session/load"), [])

        self.broker = self.start_broker()
        start = len(p.records())
        p.message("m2", "are you still there [[echo-session]]", thread="m1")
        _, reply = p.wait_record(lambda r: r["op"] == "send", start=start)
        self.assertEqual(reply["thread"], "m1")
        p.wait_record(lambda r: r["op"] == "react" and r["message"] == "m2"
                      and r["emoji"] == "🆗", start=start)
        # the same session, loaded by a new agent process; no new session
        loads = e2e.agent_calls(self.world, "session/load")
        self.assertEqual([m["params"]["sessionId"] for m in loads], [session])
        self.assertEqual(len(e2e.agent_calls(self.world, "session/new")), 1)
        prompts = e2e.agent_calls(self.world, "session/prompt")
        self.assertEqual(prompts[-1]["params"]["sessionId"], session)
        # silently: the reply is the agent's answer alone (no "Session expired", no
        # replayed history)
        self.assertEqual(p.final_text(reply["id"]).strip(), "session: " + session)
        self.assertEqual([r["text"] for r in p.records()[start:] if r["op"] == "send"], ["…"])
        self.stop()


if __name__ == "__main__":
    e2e.main()
