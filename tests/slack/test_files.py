"""Files in through chat-slack: files on a message are fetched from url_private_download
with the bot token (never sent elsewhere, never shown to the agent), passed to the agent
as ACP blocks; a 200 with an HTML login page (no files:read) is an error, named in the
thread, not a file."""

import os

import slack_world as sw
from slack_world import e2e


def file_blocks(world):
    calls = e2e.agent_calls(world, "session/prompt")
    return [b for b in calls[-1]["params"]["prompt"] if b["type"] != "text"] if calls else []


class Files(sw.SlackTest):
    agent_flags = ("--tick", "20", "--embedded-context")

    def test_files_are_fetched_with_the_token_and_passed(self):
        f = self.fake
        msg = f.call("message", channel=sw.CHANNEL, user="U1",
                     text="<@U0BOT> read this please", files=[
                         {"name": "build.log", "mimetype": "text/plain", "text": "error: x\n"},
                         {"name": "data.bin", "mimetype": "application/octet-stream",
                          "gen_bytes": 2048},
                     ])
        self.final_reply(msg["ts"], "read this please")
        blocks = file_blocks(self.world)
        res = [b for b in blocks if b["type"] == "resource"]
        self.assertEqual([b["resource"]["text"] for b in res], ["error: x\n"])
        st = f.state()
        gets = st["file_gets"]
        # data.bin's type (octet-stream) is not allowed by default: fetched only the log
        self.assertEqual(len(gets), 1, gets)
        self.assertTrue(gets[0]["auth"] and not gets[0]["html"], gets)
        line = [m["text"] for m in f.bot_posts(msg["ts"]) if "Not passed" in m["text"]]
        self.assertEqual(len(line), 1, line)
        self.assertIn("data.bin (type not allowed)", line[0])
        # the token is nowhere the agent can see: not in its prompts, not in saved files
        with open(self.world.agent_log(), encoding="utf-8") as fh:
            self.assertNotIn(sw.BOT_TOKEN, fh.read())
        self.assertNotIn(sw.BOT_TOKEN, self.broker.err.text())
        self.stop()

    def test_login_page_is_an_error_not_a_file(self):
        f = self.fake
        f.call("files_scope", granted=False)
        msg = f.call("message", channel=sw.CHANNEL, user="U1", text="<@U0BOT> see file",
                     files=[{"name": "notes.txt", "mimetype": "text/plain", "text": "hello"}])
        post = self.final_reply(msg["ts"], "Not passed")
        self.assertIn("notes.txt (the platform sent a login page, not the file)", post["text"])
        self.final_reply(msg["ts"], "see file")
        self.assertEqual(file_blocks(self.world), [])
        d = os.path.join(self.world.dir, ".chat-attachments", msg["ts"])
        self.assertEqual(os.listdir(d) if os.path.isdir(d) else [], [])
        self.assertIn("files:read", self.broker.err.text())
        self.stop()


if __name__ == "__main__":
    sw.main()
