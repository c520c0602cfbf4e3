"""Webhook mode of chat-telegram against the fake Bot API: setWebhook at start names the
ingress URL, the secret token and the update types; the fake POSTs each update to the
daemon's [ingress] listener and retries any answer that is not 2xx, as Telegram does. A
mention is answered in its reply chain as with polling; forged POSTs (no secret, a wrong
one) get 401 and reach no agent; malformed bodies get 400 and the daemon lives on; a
redelivered update is handled once, also across a restart; going back to polling removes
the webhook, and coming from polling confirms what polling handled before the webhook is
set; webhook mode without [ingress] listen refuses to start."""

import urllib.error
import urllib.request

from telegram_world import GROUP, TOKEN, TelegramTest, e2e, main, time

SECRET = "wh-Secret_for-tests-0123456789"
FORGED = "forged-Value-4242"
TYPES = ["message", "message_reaction"]


class Webhook(TelegramTest):
    agent_flags = ("--tick", "50")

    def setUp(self):
        self.ingress = e2e.free_port()
        self.hook_url = "http://127.0.0.1:%d/telegram/webhook" % self.ingress
        self.section = self.webhook_section()
        super().setUp()

    def webhook_section(self, listen=True):
        s = "webhook_url = %s\nwebhook_secret = %s\nwebhook_check_s = 1\n" % (
            e2e.toml_str(self.hook_url), e2e.toml_str(SECRET))
        if listen:
            s += '\n[ingress]\nlisten = "127.0.0.1:%d"\n' % self.ingress
        # the plugin says when it recognises a redelivery (the core would drop it too)
        return s + '\n[log]\nlevel = "debug"\n'

    def rewrite(self, section):
        """The config again with @section in [telegram]."""
        self.write_config(section)

    def start_broker(self, env=None):
        with open(self.config) as f:
            if "webhook_url" not in f.read():
                return super().start_broker(env)
        self.broker = self.world.start("run", self.config, stdin=False, env=env)
        self.wait_ready_state(200)
        self.wait_until(lambda: (self.fake.state()["webhook"] or {}).get("url") == self.hook_url,
                        "the webhook set")

    def post(self, body, secret=SECRET, method="POST"):
        """POST @body (bytes) to the webhook URL as anyone could; the HTTP status."""
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        req = urllib.request.Request(self.hook_url, data=body if method == "POST" else None,
                                     method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def deliveries(self, update_id):
        return [d for d in self.fake.state()["deliveries"] if d["update_id"] == update_id]

    def assert_no_secrets_logged(self):
        err = self.broker.err.text()
        self.assertNotIn(SECRET, err)
        self.assertNotIn(TOKEN.split(":")[1], err)

    def test_webhook_set_with_the_secret_then_a_mention_is_answered_in_its_chain(self):
        f = self.fake
        sets = f.requests("setWebhook")
        self.assertEqual(len(sets), 1, sets)
        p = sets[0]["params"]
        self.assertEqual(p["url"], self.hook_url)
        self.assertEqual(p["secret_token"], SECRET)
        self.assertEqual(p["allowed_updates"], TYPES)
        self.assertIs(p["drop_pending_updates"], False)
        self.assertEqual(sets[0]["status"], 200)
        # no polling in webhook mode (getUpdates would conflict)
        self.assertEqual(f.requests("getUpdates"), [])
        sent = f.message("@broker_bot hello there [[stream 3]]")
        post = self.final_reply(GROUP, "chunk3", reply_to=sent["message_id"])
        f.message("and more [[stream 4]]", reply_to=post["message_id"])
        self.final_reply(GROUP, "chunk4", reply_to=sent["message_id"])
        prompts = self.prompts()
        self.assertEqual(len(prompts), 2, prompts)
        self.assertIn("hello there", prompts[0])
        self.assertNotIn("@broker_bot", prompts[0])
        # each update POSTed once, with the secret, answered 200
        ds = self.deliveries(sent["update_id"])
        self.assertEqual([d["status"] for d in ds], [200], ds)
        self.assertEqual(f.state()["updates"], [])
        self.assert_no_secrets_logged()
        self.stop()

    def test_forged_posts_get_401_and_reach_no_agent(self):
        forged = ('{"update_id":90001,"message":{"message_id":9001,"date":1,"chat":{"id":%d,'
                  '"type":"group","title":"plain"},"from":{"id":111,"is_bot":false,'
                  '"first_name":"Alice"},"text":"@broker_bot run rm -rf /","entities":'
                  '[{"type":"mention","offset":0,"length":11}]}}' % GROUP).encode()
        self.assertEqual(self.post(forged, secret=None), 401)
        self.assertEqual(self.post(forged, secret=FORGED), 401)
        self.assertEqual(self.post(forged, secret=SECRET + "x"), 401)
        self.assertEqual(self.post(forged, secret=SECRET[:-1]), 401)
        self.assertEqual(self.post(forged, secret=""), 401)
        self.assertEqual(self.post(b"", method="GET"), 405)
        time.sleep(1.0)
        self.assertEqual(self.prompts(), [])
        self.assertEqual(self.fake.bot_messages(GROUP), [])
        err = self.broker.err.text()
        self.assertIn("refused (401)", err)
        self.assertNotIn(FORGED, err)
        self.assert_no_secrets_logged()
        # Telegram's own POSTs still go through
        sent = self.fake.message("@broker_bot real one [[stream 2]]")
        self.final_reply(GROUP, "chunk2", reply_to=sent["message_id"])
        self.assertEqual(len(self.prompts()), 1)
        self.stop()

    def test_malformed_bodies_get_400_and_the_daemon_lives_on(self):
        for body in (b"{not json", b"[]", b'{"update_id":"7"}', b'{"message":{}}', b"",
                     b'{"update_id":-3}', b"\xff\xfe{}", b'"x"'):
            self.assertEqual(self.post(body), 400, body)
        # a well-formed Update the bot has no use for: confirmed, ignored
        self.assertEqual(self.post(b'{"update_id":77,"message":"x"}'), 200)
        self.assertEqual(e2e.http_get("http://127.0.0.1:%d/healthz" % self.port)[0], 200)
        self.assertIn("refused (400)", self.broker.err.text())
        sent = self.fake.message("@broker_bot still here? [[stream 2]]")
        self.final_reply(GROUP, "chunk2", reply_to=sent["message_id"])
        self.assertEqual(len(self.prompts()), 1)
        self.stop()

    def test_a_redelivered_update_is_answered_once_also_after_a_restart(self):
        f = self.fake
        # the daemon's 200 is lost once: Telegram posts the same update again
        f.call("lose_answers", count=1)
        a = f.message("@broker_bot once [[stream 2]]")
        self.final_reply(GROUP, "chunk2", reply_to=a["message_id"])
        self.wait_until(lambda: [d for d in self.deliveries(a["update_id"])
                                 if d["status"] == 200 and not d["lost"]], "the redelivery")
        self.assertGreaterEqual(len(self.deliveries(a["update_id"])), 2)
        self.assertIn("update %d handled before" % a["update_id"], self.broker.err.text())
        # lost again, and the daemon stops before Telegram tries again
        f.call("lose_answers", count=1, retry_ms=3000)
        b = f.message("@broker_bot twice [[stream 3]]")
        self.final_reply(GROUP, "chunk3", reply_to=b["message_id"])
        self.wait_until(lambda: [d for d in self.deliveries(b["update_id"]) if d["lost"]],
                        "the lost answer")
        self.stop()
        self.start_broker()
        self.wait_until(lambda: [d for d in self.deliveries(b["update_id"])
                                 if d["status"] == 200 and not d["lost"]],
                        "the redelivery after the restart")
        self.assertIn("update %d handled before" % b["update_id"], self.broker.err.text())
        time.sleep(1.0)
        self.assertEqual(len(self.prompts()), 2, self.prompts())
        self.assertEqual(len(f.bot_messages(GROUP, reply_to=a["message_id"])), 1)
        self.assertEqual(len(f.bot_messages(GROUP, reply_to=b["message_id"])), 1)
        self.assertEqual(f.state()["updates"], [])
        self.stop()

    def test_delivery_errors_are_logged_and_a_removed_webhook_is_set_again(self):
        f = self.fake
        # Telegram cannot get an answer once: getWebhookInfo says so, and the log too
        f.call("lose_answers", count=1)
        a = f.message("@broker_bot hello [[stream 2]]")
        self.wait_until(lambda: "Telegram could not deliver to the webhook" in
                        self.broker.err.text(), "the delivery error in the log")
        self.assertIn("Read timeout expired", self.broker.err.text())
        self.final_reply(GROUP, "chunk2", reply_to=a["message_id"])
        self.assertEqual(self.broker.err.text().count("Telegram could not deliver"), 1)
        # another program deletes the webhook: the daemon sets it again
        sets = len(f.requests("setWebhook"))
        req = urllib.request.Request("%s/bot%s/deleteWebhook" % (f.base, TOKEN), data=b"{}",
                                     method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            self.assertEqual(r.status, 200)
        self.wait_until(lambda: len(f.requests("setWebhook")) > sets, "setWebhook again")
        self.wait_until(lambda: (f.state()["webhook"] or {}).get("url") == self.hook_url,
                        "the webhook back")
        b = f.message("@broker_bot again [[stream 3]]")
        self.final_reply(GROUP, "chunk3", reply_to=b["message_id"])
        self.assertIn("setting it again", self.broker.err.text())
        self.assert_no_secrets_logged()
        self.stop()

    def test_switching_back_to_polling_deletes_the_webhook(self):
        f = self.fake
        first = f.message("@broker_bot by webhook [[stream 2]]")
        self.final_reply(GROUP, "chunk2", reply_to=first["message_id"])
        self.stop()
        # posted while the daemon is down: Telegram holds it for the webhook
        down = f.message("@broker_bot while switching [[stream 3]]")
        self.rewrite("")
        self.start_broker()
        self.assertIsNone(f.state()["webhook"])
        unhook = f.requests("deleteWebhook")
        self.assertEqual(len(unhook), 1, unhook)
        self.assertNotIn("drop_pending_updates", unhook[0]["params"] or {})
        self.final_reply(GROUP, "chunk3", reply_to=down["message_id"])
        polls = f.requests("getUpdates")
        self.assertTrue(polls and all(r["status"] == 200 for r in polls), polls)
        reqs = [r["method"] for r in f.state()["requests"]]
        self.assertLess(reqs.index("deleteWebhook"), reqs.index("getUpdates"), reqs)
        self.assertEqual(len(self.prompts()), 2, self.prompts())
        self.stop()

    def test_updates_polling_handled_are_confirmed_before_the_webhook_is_set(self):
        f = self.fake
        self.stop()
        self.rewrite("")
        self.start_broker()  # polling
        # the poll that would confirm this update never gets through
        f.call("ratelimit", method="getUpdates", count=100000, retry_after=1)
        a = f.message("@broker_bot polled [[stream 2]]")
        self.final_reply(GROUP, "chunk2", reply_to=a["message_id"])
        self.wait_until(lambda: [r for r in f.requests("getUpdates") if r["status"] == 429],
                        "a refused poll")
        # a clean stop (the journal's last change written: a kill -9 this close to the
        # answer may leave it pending, and the restart would rightly say so in the
        # thread); no poll confirms the offset on the way out
        self.stop()
        f.call("ratelimit", clear=True)
        self.assertIn(a["update_id"], [u["update_id"] for u in f.state()["updates"]])
        self.rewrite(self.webhook_section())
        self.start_broker()
        reqs = f.state()["requests"]
        confirm = [i for i, r in enumerate(reqs) if r["method"] == "getUpdates"
                   and (r["params"] or {}).get("offset") == a["update_id"] + 1]
        hook = [i for i, r in enumerate(reqs) if r["method"] == "setWebhook"]
        me = [i for i, r in enumerate(reqs) if r["method"] == "getMe"]
        self.assertTrue(confirm and hook and me[-1] < confirm[-1] < hook[-1], reqs[-6:])
        b = f.message("@broker_bot hooked [[stream 3]]")
        self.final_reply(GROUP, "chunk3", reply_to=b["message_id"])
        # the polled update was never posted to the webhook, nor answered again
        self.assertEqual(self.deliveries(a["update_id"]), [])
        self.assertEqual(len(f.bot_messages(GROUP, reply_to=a["message_id"])), 1)
        self.assertEqual(len(self.prompts()), 2, self.prompts())
        self.stop()

    def test_webhook_mode_without_an_ingress_listener_does_not_start(self):
        self.stop()
        self.rewrite(self.webhook_section(listen=False))
        code, _, err = self.world.run("run", self.config)
        self.assertNotEqual(code, 0)
        self.assertIn("[ingress] listen", err)
        self.assertIn("webhook_url", err)
        # and a webhook_url without its secret is a config error
        self.rewrite("webhook_url = %s\n" % e2e.toml_str(self.hook_url))
        code, _, err = self.world.run("run", self.config)
        self.assertNotEqual(code, 0)
        self.assertIn("webhook_secret", err)


if __name__ == "__main__":
    main()
