"""`agent-broker run` with the chat-e2e plugin as the platform: a mention becomes a
thread with a placeholder, live edits and the final text; /healthz, /readyz and
/metrics tell the truth about the plugin's connection; `agent-broker health`."""

import re

import e2e


def metric(text, name, labels=""):
    """The value of sample @name{@labels} in a Prometheus text page, or None."""
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    return float(m.group(1)) if m else None


def vm_rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return None


class RunMode(e2e.RunWorldTest):

    def test_mention_gets_thread_placeholder_live_edits_and_final_text(self):
        p = self.platform
        p.message("m1", "<@bot> please count [[stream 20]]")
        _, eyes = p.wait_record(lambda r: r["op"] == "react" and r["message"] == "m1")
        self.assertEqual(eyes["emoji"], "👀")
        _, th = p.wait_record(lambda r: r["op"] == "open_thread")
        self.assertEqual((th["channel"], th["message"]), ("chan-1", "m1"))
        self.assertTrue(th["name"].startswith("<@bot> please count"), th)
        i, first = p.wait_record(lambda r: r["op"] == "send")
        self.assertEqual(first["thread"], "m1")
        self.assertEqual(first["channel"], "chan-1")
        self.assertEqual(first["text"], "…")
        reply = first["id"]
        p.wait_record(lambda r: r["op"] == "edit" and r["id"] == reply
                      and "chunk20" in r["text"])
        edits = [r["text"] for r in p.records() if r["op"] == "edit" and r["id"] == reply]
        # streamed: at least one edit showed part of the text before the whole of it
        self.assertTrue(any("chunk1 " in t and "chunk20" not in t for t in edits), edits)
        self.assertEqual(p.final_text(reply).strip(),
                         " ".join("chunk%d" % n for n in range(1, 21)))
        # one live message: nothing else was posted for this turn
        self.assertEqual([r["id"] for r in p.records() if r["op"] == "send"], [reply])
        # the turn ends with the done reaction on the user's message
        p.wait_record(lambda r: r["op"] == "react" and r["message"] == "m1"
                      and r["emoji"] == "🆗")
        self.stop()

    def test_health_endpoints_follow_the_plugin_connection(self):
        status, body = self.get("/healthz")
        self.assertEqual(status, 200, body)
        status, body = self.get("/readyz")
        self.assertEqual(status, 200, body)
        status, page = self.get("/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(metric(page, "agent_broker_plugin_connected", '{plugin="e2e"}'), 1)
        rss = metric(page, "agent_broker_process_resident_memory_bytes")
        real = vm_rss_bytes(self.broker.pid)
        self.assertIsNotNone(rss, page)
        self.assertLess(abs(rss - real) / real, 0.5, (rss, real))
        self.assertIsNotNone(metric(page, "agent_broker_loop_lag_seconds"), page)
        self.assertGreaterEqual(metric(page, "agent_broker_loop_lag_seconds"), 0)

        rc, out, err = self.world.run("health", self.base + "/healthz")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.world.run("health", "--config", self.config)
        self.assertEqual(rc, 0, err)

        self.platform.command(op="connected", value=False, detail="gateway lost (e2e)")
        e2e.wait_until(lambda: self.get("/readyz")[0] == 503, timeout=10, what="/readyz 503")
        status, body = self.get("/readyz")
        self.assertIn("e2e: not connected: gateway lost (e2e)", body)
        self.assertEqual(self.get("/healthz")[0], 200)  # the loop still answers
        page = self.get("/metrics")[1]
        self.assertEqual(metric(page, "agent_broker_plugin_connected", '{plugin="e2e"}'), 0)
        rc, out, err = self.world.run("health", self.base + "/readyz")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("/readyz", err)

        self.platform.command(op="connected", value=True, detail="back")
        e2e.wait_until(lambda: self.get("/readyz")[0] == 200, timeout=10, what="/readyz 200")
        self.stop()
        rc, out, err = self.world.run("health", self.base + "/healthz")
        self.assertEqual(rc, 1, out + err)

    def test_unknown_path_and_bad_control_lines_do_no_harm(self):
        self.assertEqual(self.get("/nope")[0], 404)
        self.platform.command(op="message", text="no id or user")
        self.platform.command(op="dance")
        self.platform.wait_record(lambda r: r["op"] == "refused" and "dance" in r["line"])
        self.platform.message("m9", "still fine")
        self.platform.wait_record(lambda r: r["op"] == "edit" and "still fine" in r["text"])
        self.stop()


if __name__ == "__main__":
    e2e.main()
