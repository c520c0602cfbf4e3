"""`agent-broker console` with `/attach PATH`: the file goes with the next line, copied
into the agent's working directory and passed as ACP blocks; a bad path is answered
without a prompt."""

import os

import e2e


class ConsoleAttach(e2e.WorldTest):

    def prompts(self):
        return [m["params"]["prompt"] for m in e2e.agent_calls(self.world, "session/prompt")]

    def test_attach_goes_with_the_next_line(self):
        src = self.world.write("report.csv", "a,b\n1,2\n")
        big = self.world.path("blob.pdf")
        with open(big, "wb") as f:
            f.write(b"%PDF-1.7\n" + os.urandom(300000))
        cfg = self.world.write("config.toml", self.world.scripted_agent("--embedded-context"))
        p = self.world.start("console", cfg)
        p.send_line("/attach " + src)
        p.out.wait_for(r"📎 .*report\.csv goes with your next message")
        p.send_line("/attach " + big)
        p.out.wait_for(r"📎 .*blob\.pdf goes with your next message")
        p.send_line("/attach /no/such/file")
        p.out.wait_for(r"📎 cannot attach /no/such/file")
        p.send_line("summarise these")
        p.out.wait_for(r"You said: .*summarise these")
        p.send_line("and now without files")
        p.out.wait_for(r"You said: .*and now without files")
        p.close_stdin()
        self.assertEqual(p.wait(), 0, p.err.text())
        prompts = self.prompts()
        self.assertEqual(len(prompts), 2, prompts)  # /attach lines are not prompts
        first = [b for b in prompts[0] if b["type"] != "text"]
        self.assertEqual([b["type"] for b in first], ["resource", "resource_link"], first)
        self.assertEqual(first[0]["resource"]["text"], "a,b\n1,2\n")
        self.assertEqual(first[1]["name"], "blob.pdf")
        self.assertEqual(first[1]["mimeType"], "application/pdf")
        saved = first[1]["uri"][len("file://"):]
        with open(saved, "rb") as a, open(big, "rb") as b:
            self.assertEqual(a.read(), b.read())
        self.assertTrue(saved.startswith(os.path.realpath(self.world.dir) + "/.chat-attachments/")
                        or saved.startswith(self.world.dir + "/.chat-attachments/"), saved)
        self.assertEqual([b["type"] for b in prompts[1]], ["text", "text"])


if __name__ == "__main__":
    e2e.main()
