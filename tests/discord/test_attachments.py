"""Attachments in through chat-discord: files on a message are fetched from the (signed)
CDN URL without the bot token, saved in the agent's working directory and passed to the
agent as ACP blocks by its promptCapabilities; what is skipped is said in one line."""

import base64
import os

import discord_world as dw
import e2e

# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def prompts(world):
    return [m["params"]["prompt"] for m in e2e.agent_calls(world, "session/prompt")]


class AttachTest(dw.DiscordTest):
    caps = ()

    def setUp(self):
        self.agent_flags = ("--tick", "20") + tuple(self.caps)
        self.work = None
        super().setUp()

    @property
    def agent_extra(self):
        # the agent's working directory, where attachments are saved
        import tempfile
        if not getattr(self, "_work", None):
            self._work = tempfile.mkdtemp(prefix="ab-att-")
        return "working_dir = %s\n" % e2e.toml_str(self._work)

    def tearDown(self):
        import shutil
        super().tearDown()
        if getattr(self, "_work", None):
            shutil.rmtree(self._work, ignore_errors=True)

    def thread_lines(self, st, tid):
        return [m["content"] for m in self.fake.bot_messages(st, tid)]


class ImagesAdvertised(AttachTest):
    caps = ("--image", "--embedded-context")

    def test_image_text_and_binary(self):
        f = self.fake
        m, tid = self.conversation("look at these", attachments=[
            dict(filename="shot.png", content_type="image/png",
                 data_b64=base64.b64encode(PNG).decode()),
            dict(filename="notes.txt", content_type="text/plain; charset=utf-8",
                 text="line one\nünïcödé line two\n"),
            dict(filename="report.pdf", content_type="application/pdf",
                 data_b64=base64.b64encode(b"%PDF-1.4\n" + bytes(range(256)) * 4).decode()),
        ])
        blocks = prompts(self.world)[-1]
        kinds = [b["type"] for b in blocks]
        img = [b for b in blocks if b["type"] == "image"]
        self.assertEqual(len(img), 1, kinds)
        self.assertEqual(img[0]["mimeType"], "image/png")
        self.assertEqual(base64.b64decode(img[0]["data"]), PNG)
        res = [b for b in blocks if b["type"] == "resource"]
        self.assertEqual(len(res), 1, kinds)
        self.assertEqual(res[0]["resource"]["text"], "line one\nünïcödé line two\n")
        links = {b["name"]: b for b in blocks if b["type"] == "resource_link"}
        self.assertEqual(set(links), {"shot.png", "report.pdf"}, kinds)
        pdf = links["report.pdf"]
        self.assertEqual(pdf["mimeType"], "application/pdf")
        path = pdf["uri"][len("file://"):]
        self.assertTrue(path.startswith(self._work + "/.chat-attachments/"), path)
        with open(path, "rb") as fh:
            self.assertTrue(fh.read().startswith(b"%PDF-1.4"))
        self.assertEqual(oct(os.stat(path).st_mode & 0o777), "0o600")
        st = f.state()
        # the CDN saw three signed GETs, none carrying the bot token
        gets = [g for g in st["cdn_gets"]]
        self.assertEqual(len(gets), 3, gets)
        self.assertTrue(all(g["status"] == 200 and not g["auth"] for g in gets), gets)
        self.assertFalse(any("Not passed" in c for c in self.thread_lines(st, tid)))
        self.stop()

    def test_skipped_files_are_named_in_one_line(self):
        f = self.fake
        # the thread takes a while to open (a 429 first): the line still lands in it
        f.rate_limit("POST", r"/threads$", retry_after=0.5)
        m, tid = self.conversation("what about these", attachments=[
            dict(filename="tool.exe", content_type="application/x-msdownload",
                 data_b64=base64.b64encode(b"MZ\x90\x00").decode()),
            dict(filename="huge.log", content_type="text/plain", gen_bytes=1024,
                 size=30 * 1024 * 1024),
            dict(filename="liar.png", content_type="image/png",
                 text="<!DOCTYPE html><html><body>log in</body></html>"),
            dict(filename="ok.txt", content_type="text/plain", text="fine"),
        ])
        st = f.wait(lambda st: any("Not passed" in c for c in self.thread_lines(st, tid)) and st,
                    "the skip line")
        line = [c for c in self.thread_lines(st, tid) if "Not passed" in c]
        self.assertEqual(len(line), 1, line)
        self.assertIn("tool.exe (type not allowed)", line[0])
        self.assertIn("huge.log (too big", line[0])
        self.assertIn("liar.png (the platform sent a login page", line[0])
        self.assertNotIn("ok.txt", line[0])
        # the oversized and forbidden files were never fetched; the liar was, then removed
        fetched = [g["path"].rsplit("/", 1)[1] for g in st["cdn_gets"]]
        self.assertEqual(sorted(fetched), ["liar.png", "ok.txt"])
        names = [b.get("name") or b.get("resource", {}).get("uri", "").rsplit("/", 1)[-1]
                 for b in prompts(self.world)[-1] if b["type"] != "text"]
        self.assertEqual(names, ["ok.txt"])
        saved = os.listdir(os.path.join(self._work, ".chat-attachments", m["id"]))
        self.assertEqual(saved, ["ok.txt"])
        self.stop()


class ImagesWithheld(AttachTest):
    caps = ()

    def test_image_goes_as_a_link_and_the_thread_is_told(self):
        f = self.fake
        m, tid = self.conversation("see picture", attachments=[
            dict(filename="pic.png", content_type="image/png",
                 data_b64=base64.b64encode(PNG).decode()),
            dict(filename="notes.txt", content_type="text/plain", text="small text"),
        ])
        blocks = prompts(self.world)[-1]
        kinds = [b["type"] for b in blocks]
        self.assertNotIn("image", kinds)
        self.assertNotIn("resource", kinds)
        links = sorted(b["name"] for b in blocks if b["type"] == "resource_link")
        self.assertEqual(links, ["notes.txt", "pic.png"])
        st = f.wait(lambda st: any("cannot read images" in c
                                   for c in self.thread_lines(st, tid)) and st,
                    "the images line")
        self.stop()



class LargeFile(AttachTest):
    """A 25 MB file streams through the daemon: its peak RSS grows by far less than the
    file (prints MB/s and RSS for the closing note)."""
    caps = ()
    SIZE = 25 * 1000 * 1000

    def test_25_mb_streams_to_disk(self):
        import time
        f = self.fake
        self.conversation("warm up")  # the agent, the thread and the caches exist
        pid = self.broker.pid
        before = dw.vm_kb(pid, "VmHWM")
        t0 = time.monotonic()
        m = f.message("a big log", attachments=[
            dict(filename="big.log", content_type="text/plain", gen_bytes=self.SIZE)])
        path = os.path.join(self._work, ".chat-attachments", m["id"], "big.log")
        e2e.wait_until(lambda: len(e2e.agent_calls(self.world, "session/prompt")) >= 2,
                       what="the prompt with the big file", timeout=120)
        dt = time.monotonic() - t0
        after = dw.vm_kb(pid, "VmHWM")
        self.assertEqual(os.path.getsize(path), self.SIZE)
        links = [b for b in prompts(self.world)[-1] if b["type"] == "resource_link"]
        self.assertEqual([b["size"] for b in links], [self.SIZE])
        print("\n25 MB in through the daemon: %.1f MB/s (%.2f s, post to prompt); peak RSS "
              "%d -> %d KiB (+%d KiB)" % (self.SIZE / 1e6 / dt, dt, before, after, after - before))
        # streamed, not buffered: the peak grows by well under half the file
        self.assertLess(after - before, self.SIZE // 1024 // 2)
        self.stop()


if __name__ == "__main__":
    e2e.main()
