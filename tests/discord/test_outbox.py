"""Files out through chat-discord: files the agent writes into the conversation's
outbox (named in its sender context) are posted to the thread when the turn ends, as
a multipart Create Message (payload_json + files[n], validated like Discord); what is
over the platform's limit is named in the thread."""

import hashlib
import json
import os
import time

import discord_world as dw
import e2e



def content_of(name, size):
    """What the scripted agent's [[outbox NAME BYTES]] writes."""
    unit = (name + " ").encode()
    block = (unit * ((1 << 20) // len(unit) + 1))[:1 << 20]
    out = b""
    while len(out) < size:
        out += block[:size - len(out)]
    return out


class Outbox(dw.DiscordTest):
    extra = "\n[attachments]\noutbox = true\n"

    def uploads(self, st, tid):
        return [m for m in self.fake.bot_messages(st, tid) if m.get("attachments")]

    def test_files_left_in_the_outbox_are_posted(self):
        f = self.fake
        m, tid = self.conversation(
            "make files [[outbox report.txt 2000]] [[outbox big.bin 11000000]]")
        st = f.wait(lambda st: self.uploads(st, tid) and any(
            "Not posted" in x["content"] for x in f.bot_messages(st, tid)) and st,
            "the upload and the not-posted line")
        ups = self.uploads(st, tid)
        self.assertEqual(len(ups), 1, ups)
        att = ups[0]["attachments"]
        self.assertEqual([a["filename"] for a in att], ["report.txt"])
        self.assertEqual(att[0]["size"], 2000)
        self.assertEqual(att[0]["sha256"],
                         hashlib.sha256(content_of("report.txt", 2000)).hexdigest())
        line = [x["content"] for x in f.bot_messages(st, tid) if "Not posted" in x["content"]]
        self.assertEqual(line, ["📎 Not posted: big.bin (too big for the platform)"])
        req = [r for r in st["requests"] if r.get("multipart")]
        self.assertEqual(len(req), 1, req)
        self.assertTrue(req[0]["auth"] and req[0]["status"] == 200, req[0])
        self.assertEqual(req[0]["body"]["attachments"], [{"id": 0, "filename": "report.txt"}])
        self.assertEqual(req[0]["body"]["allowed_mentions"], {"parse": []})
        # the agent was told where its outbox is
        prompt = e2e.agent_calls(self.world, "session/prompt")[0]["params"]["prompt"]
        ctx = json.loads(prompt[0]["text"][len("<sender_context>"):-len("</sender_context>")])
        self.assertTrue(ctx["outbox_dir"].endswith("/.chat-outbox/discord_" + m["id"]) or
                        "/.chat-outbox/" in ctx["outbox_dir"], ctx)
        # posted files leave the outbox (a next turn does not post them again)
        self.assertNotIn("report.txt", os.listdir(ctx["outbox_dir"]))
        self.stop()

    def test_a_file_swapped_for_a_link_after_the_move_posts_what_was_opened(self):
        """The agent swaps the moved file (in .sent/) for a link to a canary file the
        moment it lands there: the upload carries the file the daemon checked, never
        what the link leads to. The first upload attempt is answered 429, so the one that
        goes through starts well after the swap (a fixed order, not a race)."""
        f = self.fake
        f.rate_limit("POST", r"/messages$", retry_after=0.5, multipart=True)
        m, tid = self.conversation("make a file [[outbox-swap report.txt 3000]]")
        st = f.wait(lambda st: self.uploads(st, tid) and st, "the upload")
        prompt = e2e.agent_calls(self.world, "session/prompt")[0]["params"]["prompt"]
        ctx = json.loads(prompt[0]["text"][len("<sender_context>"):-len("</sender_context>")])
        sent = os.path.join(ctx["outbox_dir"], ".sent", "report.txt")
        e2e.wait_until(lambda: os.path.islink(sent), what="the swap")  # the race was run
        att = [a for u in self.uploads(st, tid) for a in u["attachments"]]
        canary = hashlib.sha256(content_of("CANARY", 3000)).hexdigest()  # same size
        self.assertNotIn(canary, [a["sha256"] for a in att])
        self.assertEqual([(a["filename"], a["sha256"]) for a in att],
                         [("report.txt",
                           hashlib.sha256(content_of("report.txt", 3000)).hexdigest())])
        self.stop()

    def test_an_outbox_that_is_a_link_is_not_read(self):
        """The agent replaces its outbox with a link to another directory: nothing there
        is posted (from the daemon's side such a link could lead to /proc/self/...)."""
        f = self.fake
        m, tid = self.conversation("[[outbox-link secret.txt]]")
        st = f.wait(lambda st: (self.uploads(st, tid) or
                                "cannot read the outbox" in self.broker.err.text()) and st,
                    "an upload or the refusal")
        self.assertEqual([a["filename"] for u in self.uploads(st, tid) for a in u["attachments"]],
                         [])
        self.stop()

    def test_a_file_holding_a_secret_is_not_posted(self):
        """A file goes to chat without the text redaction: one that holds a registered
        secret (here the bot token: the scripted agent fills a file with its name) is
        named as not posted instead."""
        f = self.fake
        m, tid = self.conversation("[[outbox %s 300]]" % dw.TOKEN)
        st = f.wait(lambda st: any("Not posted" in x["content"] for x in f.bot_messages(st, tid))
                    and st, "the not-posted line")
        line = [x["content"] for x in f.bot_messages(st, tid) if "Not posted" in x["content"]]
        self.assertEqual(line, ["📎 Not posted: *** (it holds a secret of the broker's "
                                "configuration)"])
        self.assertEqual(self.uploads(st, tid), [])
        self.stop()

    def test_a_reply_past_max_parts_is_its_first_part_plus_a_markdown_file(self):
        f = self.fake
        m, tid = self.conversation("a long one [[big 30000]]")
        st = f.wait(lambda st: self.uploads(st, tid) and st, "the reply file")
        texts = [x for x in f.bot_messages(st, tid) if not x.get("attachments")]
        self.assertEqual(len(texts), 1, [x["content"][:40] for x in texts])  # first part only
        self.assertFalse(any("truncated" in x["content"] for x in texts))
        att = self.uploads(st, tid)[0]["attachments"]
        self.assertEqual([a["filename"] for a in att], ["reply.md"])
        self.assertGreaterEqual(att[0]["size"], 30000)
        self.assertLessEqual(len(texts[0]["content"]), 2000)
        self.stop()

    def test_a_large_file_streams_out(self):
        """A 10 MB file (Discord's per-file limit without Boost) goes out streamed: the
        daemon's peak RSS grows by far less than the file (numbers for the closing note)."""
        f = self.fake
        size = 10 * 1024 * 1024 - 4096
        self.conversation("warm up")
        pid = self.broker.pid
        before = dw.vm_kb(pid, "VmHWM")
        m = f.message("[[outbox large.bin %d]]" % size)
        t0 = time.monotonic()
        tid = f.wait(lambda st: f.msg(st, m["id"])["thread"], "a thread")
        st = f.wait(lambda st: self.uploads(st, tid) and st, "the upload", timeout=120)
        dt = time.monotonic() - t0
        after = dw.vm_kb(pid, "VmHWM")
        self.assertEqual(self.uploads(st, tid)[0]["attachments"][0]["size"], size)
        print("\n%.1f MB out through the daemon: %.1f MB/s including the turn (%.2f s); peak "
              "RSS %d -> %d KiB (+%d KiB)" % (size / 1e6, size / 1e6 / dt, dt, before, after,
                                               after - before))
        self.assertLess(after - before, size // 1024 // 2)
        self.stop()


class AutoUploadDirs(dw.DiscordTest):
    """OpenAB's [agent] auto_upload_dirs: files written there during the turn are posted;
    older ones are not."""
    agent_extra = 'auto_upload_dirs = ["out"]\n'

    def test_files_written_during_the_turn_are_posted(self):
        f = self.fake
        os.makedirs(self.world.path("out"))
        old = self.world.write("out/old.txt", "from before")
        past = time.time() - 3600
        os.utime(old, (past, past))
        m, tid = self.conversation("build it [[write-file out/result.txt 1234]]")
        st = f.wait(lambda st: [x for x in f.bot_messages(st, tid) if x.get("attachments")]
                    and st, "the upload")
        ups = [x for x in f.bot_messages(st, tid) if x.get("attachments")]
        self.assertEqual([a["filename"] for u in ups for a in u["attachments"]], ["result.txt"])
        self.assertTrue(os.path.exists(self.world.path("out/result.txt")))  # left in place
        self.stop()


if __name__ == "__main__":
    e2e.main()
