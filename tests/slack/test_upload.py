"""Files out through chat-slack: the agent's outbox files are posted into the thread
with the three-step external upload (files.getUploadURLExternal → POST to upload_url
without the token → files.completeUploadExternal with thread_ts); files.upload is
never called."""

import hashlib
import json

import slack_world as sw
from slack_world import e2e


class Upload(sw.SlackTest):
    section = "\n[attachments]\noutbox = true\n"

    def test_outbox_files_go_up_in_three_steps(self):
        f = self.fake
        msg = f.message("<@U0BOT> make a report [[outbox report.md 3000]] [[outbox data.csv 10]]")
        st = self.wait_until(lambda: (lambda st: len(st["uploads"]) == 2 and st)(f.state()),
                             "two completed uploads")
        names = sorted(u["name"] for u in st["uploads"])
        self.assertEqual(names, ["data.csv", "report.md"])
        methods = [r["method"] for r in st["requests"]]
        self.assertNotIn("files.upload", methods)
        self.assertEqual(methods.count("files.getUploadURLExternal"), 2)
        self.assertEqual(methods.count("files.completeUploadExternal"), 1)
        done = [r for r in st["requests"] if r["method"] == "files.completeUploadExternal"][0]
        self.assertEqual(done["error"], None, done)
        self.assertEqual(done["args"]["channel_id"], sw.CHANNEL)
        self.assertEqual(done["args"]["thread_ts"], msg["ts"])
        self.assertEqual(len(json.loads(done["args"]["files"])), 2)
        # the bytes went to upload_url without the bot token, as a multipart form
        self.assertTrue(all(p["status"] == 200 and not p["auth"] and p["multipart"]
                            for p in st["upload_posts"]), st["upload_posts"])
        unit = b"report.md "
        want = (unit * 400)[:3000]
        rep = [u for u in st["uploads"] if u["name"] == "report.md"][0]
        self.assertEqual(rep["sha256"], hashlib.sha256(want).hexdigest())
        # the share message is in the thread
        shared = [m for m in st["messages"] if m.get("uploaded")]
        self.assertEqual(len(shared), 1)
        self.assertEqual(shared[0].get("thread_ts"), msg["ts"])
        self.stop()


if __name__ == "__main__":
    sw.main()
