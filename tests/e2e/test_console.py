"""`agent-broker console`: stdin lines in, streamed replies out, with the scripted
agent (and a preset whose agent is not installed)."""

import os

import e2e

SENDER = '<sender_context>{"schema":"agent-broker.sender.v1","sender_id":"e2e-user",' \
         '"sender_name":"e2e-user","display_name":"e2e-user","channel":"console",' \
         '"channel_id":"console","is_bot":false}</sender_context>'


class Console(e2e.WorldTest):

    def start(self, *flags, extra=""):
        cfg = self.world.write("config.toml", self.world.scripted_agent(*flags) + extra)
        return self.world.start("console", cfg)

    def prompts(self):
        return [m["params"]["prompt"] for m in e2e.agent_calls(self.world, "session/prompt")]

    def test_lines_become_prompts_with_sender_context_and_replies_stream(self):
        p = self.start()
        p.send_line("hello there")
        p.out.wait_for(r"You said: .*hello there")
        p.send_line("read it [[tool]]")
        m = p.out.wait_for(r"✅ `Read README\.md`\n+done")
        p.close_stdin()
        self.assertEqual(p.wait(), 0, p.err.text())
        out = p.out.text()
        # the last reply was fully out before the exit
        self.assertTrue(out.rstrip().endswith("done"), out)
        self.assertGreater(m.end(), out.index("hello there"))
        prompts = self.prompts()
        self.assertEqual(len(prompts), 2, prompts)
        # each prompt: the sender context block first, then the user's line
        self.assertEqual(prompts[0][0], {"type": "text", "text": SENDER})
        self.assertEqual(prompts[0][-1], {"type": "text", "text": "hello there"})
        self.assertEqual(prompts[1][-1]["text"], "read it [[tool]]")
        # one conversation, one session
        sessions = {m["params"]["sessionId"] for m in e2e.agent_calls(self.world, "session/prompt")}
        self.assertEqual(len(sessions), 1)
        self.assertEqual(len(e2e.agent_calls(self.world, "session/new")), 1)
        self.assertEqual(self.world.wait_no_agents(), [])

    def test_eof_right_after_a_line_still_prints_the_whole_reply(self):
        p = self.start()
        p.send_line("[[stream 12]]")
        p.close_stdin()
        self.assertEqual(p.wait(), 0, p.err.text())
        self.assertIn(" ".join("chunk%d" % i for i in range(1, 13)), p.out.text())

    def test_max_tokens_stop_is_shown(self):
        p = self.start()
        p.send_line("go on [[stop max_tokens]]")
        p.out.wait_for(r"You said: .*go on")
        p.out.wait_for(r"⚠️ Stopped: the agent reached its token limit \(max_tokens\)")
        p.close_stdin()
        self.assertEqual(p.wait(), 0, p.err.text())

    def test_crash_mid_turn_keeps_partial_text_and_next_line_starts_fresh(self):
        p = self.start()
        p.send_line("first [[echo-session]]")
        first = p.out.wait_for(r"session: (\S+)").group(1)
        p.send_line("now [[crash]]")
        m = p.out.wait_for(r"chunk1\s*\n+⚠️ The agent stopped unexpectedly \(exit 3\); the next "
                           r"message starts a fresh session")
        p.send_line("again [[echo-session]]")
        second = p.out.wait_for(r"session: (\S+)", start=m.end()).group(1)
        self.assertNotEqual(first, second)
        p.close_stdin()
        self.assertEqual(p.wait(), 0, p.err.text())
        self.assertEqual(len(e2e.agent_calls(self.world, "session/new")), 2)
        # the crash is explained in the log, with the agent's exit code
        self.assertRegex(p.err.text(), r"exit 3")

    def test_preset_codex_without_codex_installed_says_why_and_how_to_log_in(self):
        # no config at all: the preset decides; PATH is an empty directory
        empty = self.world.path("empty-bin")
        os.mkdir(empty)
        p = self.world.start("console", "--preset", "codex", env={"PATH": empty})
        p.send_line("hello")
        p.out.wait_for(r"⚠️ Failed to start agent: .+")
        p.out.wait_for(r"codex login --device-auth")
        p.close_stdin()
        self.assertEqual(p.wait(), 0, p.err.text())
        self.assertIn("codex", p.err.text())


if __name__ == "__main__":
    e2e.main()
