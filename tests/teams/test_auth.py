"""Inbound authentication through the real chat-teams plugin and the fake Bot
Framework: forged, expired, wrong-audience, wrong-issuer, wrong-serviceUrl and missing
tokens are refused with 401 and a log line without the token, nothing reaches the agent;
a key rotation (a token naming a key the plugin has not seen) refetches the keys once and
is accepted; made-up key ids do not make it refetch more than once per key_refetch_ms."""

from teams_world import TeamsTest, main, time


class Auth(TeamsTest):
    refetch_ms = 600000  # the first unknown kid refetches at once; later ones wait this long

    def test_bad_tokens_are_refused_with_401(self):
        f = self.fake
        for mode in ("forged", "expired", "wrong_audience", "wrong_issuer",
                     "wrong_service_url", "none"):
            r = f.message("let me in [[stream 1]]", token=mode)
            self.assertEqual(r["status"], 401, mode)
        time.sleep(0.3)
        self.assertEqual(self.prompts(), [])
        err = self.broker.err.text()
        self.assertIn("refused an inbound activity (401)", err)
        for why in ("bad signature", "expired", "wrong audience", "wrong issuer",
                    "serviceurl claim does not match", "no Bearer token"):
            self.assertIn(why, err)
        self.assertNotIn("eyJ", err)  # no token (a JWT starts with eyJ) in the log
        # the real thing still works
        ok = f.message("and me? [[stream 1]]")
        self.assertEqual(ok["status"], 200)
        self.final_reply(ok["conversation"], "chunk1")
        self.stop()

    def test_key_rotation_refetches_once_and_unknown_kids_are_rate_limited(self):
        f = self.fake
        before = f.state()["counts"]["jwks"]
        f.call("rotate", drop_old=True)
        r = f.message("after rotation [[stream 1]]")
        self.assertEqual(r["status"], 200, self.broker.err.text()[-2000:])
        self.final_reply(r["conversation"], "chunk1")
        self.assertEqual(f.state()["counts"]["jwks"], before + 1)
        # a made-up kid right after: refused without another fetch (rate-limited)
        self.assertEqual(f.message("x", token="unknown_kid")["status"], 401)
        self.assertEqual(f.message("y", token="unknown_kid")["status"], 401)
        self.assertEqual(f.state()["counts"]["jwks"], before + 1)
        self.stop()


if __name__ == "__main__":
    main()
