"""Chat commands (/cancel, /reset, /status, /usage, /model, /mode, /help): answered by
the core, never prompted to the agent; model and mode switches go through the ACP
methods the agent advertised; usage from the agent is kept and shown."""

import re

import e2e


class ConsoleCommands(e2e.WorldTest):

    def start(self, *flags, extra=""):
        cfg = self.world.write("config.toml", self.world.scripted_agent(*flags) + extra)
        return self.world.start("console", cfg)

    def prompt_texts(self):
        return [m["params"]["prompt"][-1]["text"]
                for m in e2e.agent_calls(self.world, "session/prompt")]

    def finish(self, p):
        p.close_stdin()
        self.assertEqual(p.wait(), 0, p.err.text())

    def test_commands_are_answered_and_never_prompted(self):
        p = self.start()
        p.send_line("/help")
        p.out.wait_for(r"`/reset` — end this conversation's session")
        p.send_line("/bogus now")
        p.out.wait_for(r"Unknown command `/bogus` \(not sent to the agent\); `/help` lists")
        p.send_line("/status")
        p.out.wait_for(r"Session: none yet")
        # a path is not a command: it is a prompt like any other line
        p.send_line("/etc/hosts looks odd")
        p.out.wait_for(r"You said: .*/etc/hosts looks odd")
        self.finish(p)
        self.assertEqual(self.prompt_texts(), ["/etc/hosts looks odd"])

    def test_model_and_mode_list_what_the_agent_advertised_and_switch_through_acp(self):
        p = self.start()
        p.send_line("hello")
        p.out.wait_for(r"You said: .*hello")
        p.send_line("/model")
        p.out.wait_for(r"▶ `fast` — Fast \(current\)\n• `smart` — Smart")
        p.send_line("/model Smart")
        p.out.wait_for(r"✅ Model is now `smart`\.")
        p.send_line("/mode plan")
        p.out.wait_for(r"✅ Mode is now `plan`\.")
        p.send_line("/mode yolo")
        p.out.wait_for(r"Unknown mode `yolo`; `/mode` lists them\.")
        p.send_line("/status")
        m = p.out.wait_for(r"Model: smart\nMode: plan")
        p.send_line("after [[echo-session]]")
        p.out.wait_for(r"session: ", start=m.end())
        self.finish(p)
        sid = e2e.agent_calls(self.world, "session/new")
        self.assertEqual(len(sid), 1)
        models = e2e.agent_calls(self.world, "session/set_model")
        modes = e2e.agent_calls(self.world, "session/set_mode")
        self.assertEqual([m["params"]["modelId"] for m in models], ["smart"])
        self.assertEqual([m["params"]["modeId"] for m in modes], ["plan"])
        self.assertEqual(self.prompt_texts(), ["hello", "after [[echo-session]]"])

    def test_config_options_are_preferred_when_advertised(self):
        p = self.start("--config-options")
        p.send_line("hello")
        p.out.wait_for(r"You said: .*hello")
        p.send_line("/mode plan")
        p.out.wait_for(r"✅ Mode is now `plan`\.")
        p.send_line("/model")
        p.out.wait_for(r"▶ `fast` — Fast \(current\)")
        self.finish(p)
        calls = e2e.agent_calls(self.world, "session/set_config_option")
        self.assertEqual([c["params"] for c in calls],
                         [{"sessionId": calls[0]["params"]["sessionId"], "configId": "mode",
                           "value": "plan"}])
        self.assertEqual(e2e.agent_calls(self.world, "session/set_mode"), [])

    def test_nothing_is_offered_that_the_agent_did_not_advertise(self):
        p = self.start("--no-models", "--no-modes")
        p.send_line("/model")
        p.out.wait_for(r"No live session here yet: send a message first, then /model\.")
        p.send_line("hello")
        p.out.wait_for(r"You said: .*hello")
        p.send_line("/model fast")
        p.out.wait_for(r"The agent offers no model to choose from\.")
        p.send_line("/mode")
        p.out.wait_for(r"The agent offers no mode to choose from\.")
        self.finish(p)
        self.assertEqual(e2e.agent_calls(self.world, "session/set_model"), [])

    def test_reset_ends_the_session_and_the_next_message_starts_fresh(self):
        p = self.start()
        p.send_line("one [[echo-session]]")
        first = p.out.wait_for(r"session: (\S+)").group(1)
        p.send_line("/reset")
        m = p.out.wait_for(r"🔄 Session reset; the next message starts a fresh session\.")
        p.send_line("two [[echo-session]]")
        second = p.out.wait_for(r"session: (\S+)", start=m.end()).group(1)
        self.assertNotEqual(first, second)
        # no "session expired" line: the user asked for it
        self.assertNotIn("Session expired", p.out.text())
        self.finish(p)
        self.assertEqual(len(e2e.agent_calls(self.world, "session/new")), 2)

    def test_cancel_and_reset_during_a_turn(self):
        p = self.start("--tick", "100")
        p.send_line("one [[slow 200]] [[echo-session]]")
        first = p.out.wait_for(r"session: (\S+)").group(1)
        p.out.wait_for(r"chunk2 ")
        p.send_line("/cancel")
        m = p.out.wait_for(r"🛑 Cancelled\.")
        p.send_line("two [[slow 200]] [[echo-session]]")
        p.out.wait_for(r"session: " + re.escape(first), start=m.end())
        p.send_line("/reset")
        m = p.out.wait_for(r"🔄 Stopping the running reply; the session ends with it")
        p.out.wait_for(r"🛑 Cancelled\.", start=m.end())
        p.send_line("three [[echo-session]]")
        third = p.out.wait_for(r"session: (\S+)", start=m.end()).group(1)
        self.assertNotEqual(first, third)
        self.finish(p)
        self.assertEqual(len(e2e.agent_calls(self.world, "session/cancel")), 2)
        self.assertNotIn("chunk200", p.out.text())

    def test_usage_is_kept_shown_and_footed(self):
        p = self.start("--usage", extra="\n[stream]\nusage_footer = true\n")
        p.send_line("one")
        p.out.wait_for(r"📊 100 in · 20 out tokens · 0\.0125 USD · context 120/200000")
        p.send_line("two")
        p.out.wait_for(r"📊 100 in · 20 out tokens · 0\.0125 USD · context 240/200000")
        p.send_line("/usage")
        p.out.wait_for(r"This conversation: 200 in · 40 out tokens · 0\.0250 USD · "
                       r"context 240/200000 \(2 turns\)")
        p.send_line("/status")
        p.out.wait_for(r"Usage: 200 in · 40 out tokens · 0\.0250 USD")
        self.finish(p)

    def test_no_footer_unless_asked(self):
        p = self.start("--usage")
        p.send_line("one")
        p.out.wait_for(r"You said: .*one")
        p.send_line("/usage")
        p.out.wait_for(r"This conversation: 100 in · 20 out tokens")
        self.finish(p)
        self.assertNotIn("📊", p.out.text())


class PlatformCommands(e2e.RunWorldTest):
    section_extra = 'allowed_users = ["u1"]\n'
    agent_flags = ("--tick", "20", "--usage")

    def sends_after(self, start, thread):
        return [r["text"] for r in self.platform.records()[start:]
                if r["op"] == "send" and r.get("thread") == thread]

    def test_commands_act_on_the_thread_they_are_typed_in_and_only_for_allowed_users(self):
        p = self.platform
        p.message("m1", "hello", thread="t1")
        p.wait_record(lambda r: r["op"] in ("send", "edit") and "You said" in r.get("text", ""))
        start = len(p.records())
        p.message("m2", "/status", thread="t1")
        p.wait_record(lambda r: r["op"] == "send" and r.get("thread") == "t1"
                      and "Session: `sess-" in r["text"], start=start)
        p.message("m3", "/status", thread="t2")
        p.wait_record(lambda r: r["op"] == "send" and r.get("thread") == "t2"
                      and "Session: none yet" in r["text"], start=start)
        # someone not allowed: refused like a message, the session is untouched
        p.message("m4", "/reset", thread="t1", user="intruder")
        p.wait_record(lambda r: r["op"] == "react" and r["message"] == "m4", start=start)
        p.message("m5", "/bogus", thread="t1")
        p.wait_record(lambda r: r["op"] == "send" and "Unknown command `/bogus`" in r["text"],
                      start=start)
        self.assertFalse(any("Session reset" in t for t in self.sends_after(start, "t1")))
        self.assertEqual(len(e2e.agent_calls(self.world, "session/prompt")), 1)
        # usage reaches /metrics, by agent, once the turn has ended (the /status above may
        # answer while it still runs)
        tokens = 'agent_broker_agent_tokens_total{agent="default",direction="input"} 100'
        body = e2e.wait_until(lambda: (lambda b: b if tokens in b else None)(self.get("/metrics")[1]),
                              what="usage in /metrics")
        self.assertIn('agent_broker_agent_tokens_total{agent="default",direction="input"} 100', body)
        self.assertIn('agent_broker_agent_cost_total{agent="default",currency="USD"} 0.0125', body)
        self.assertRegex(body, r"agent_broker_commands_total 3\b")
        self.stop()


if __name__ == "__main__":
    e2e.main()
