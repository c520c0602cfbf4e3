"""Fault: a forged journal.json in the state directory (the agent runs as the daemon's
uid and can rewrite it).

Injected: while the daemon is stopped, journal.json is replaced with pending entries
that name a channel outside allowed_channels, a user outside allowed_users, a bot's
message (allow_bot_messages is off), a reply channel other than the message's own, a
DM (allow_dm is off), a conversation of another platform, an entry without a sender
(it cannot be judged), an overlong message id, and one entry a live message could have
produced (allowed user in an allowed channel).
Asserted: after the restart only that last entry gets the restart line and 😱; every
other is logged as dropped, and nothing is posted or reacted anywhere the forged entries
name; the daemon answers a new message normally."""

import json
import os
import signal
import time

import e2e

RESTART = "restarted while this message was being handled"


def entry(mid, user="u1", channel="chan-1", reply=None, **kw):
    e = {"p": "e2e", "k": "e2e:" + mid, "rc": reply or channel, "rt": mid, "c": channel,
         "m": mid, "u": user, "t": False, "d": False, "b": False}
    e.update(kw)
    return {k: v for k, v in e.items() if v is not None}


class JournalForged(e2e.RunWorldTest):

    section_extra = 'allowed_channels = ["chan-1"]\nallowed_users = ["u1"]\n'

    def test_forged_entries_are_judged_like_live_messages(self):
        p = self.platform
        self.stop()
        forged = [
            entry("other-channel", channel="chan-secret"),
            entry("other-user", user="u9"),
            entry("a-bot", b=True),
            entry("elsewhere", reply="chan-secret"),
            entry("a-dm", d=True),
            entry("other-platform", k="slack:other-platform"),
            entry("no-sender", u=None),
            entry("x" * 5000),
        ]
        legit = entry("legit")
        with open(os.path.join(self.world.state, "journal.json"), "w", encoding="utf-8") as f:
            json.dump({"version": 1, "pending": forged + [legit], "recent": []}, f)
        start = len(p.records())
        self.broker = self.start_broker()

        p.wait_record(lambda r: r["op"] == "react" and r["message"] == "legit"
                      and r["emoji"] == "😱", start=start)
        p.wait_record(lambda r: r["op"] == "send" and RESTART in r["text"], start=start)
        time.sleep(1.5)  # anything else would have gone out with the legit line
        after = p.records()[start:]
        lines = [r for r in after if r["op"] == "send"]
        self.assertEqual([(r["channel"], r["thread"]) for r in lines], [("chan-1", "legit")],
                         lines)
        reacts = [r for r in after if r["op"] == "react"]
        self.assertEqual([r["message"] for r in reacts], ["legit"], reacts)
        err = self.broker.err.text()
        for mid in ("other-channel", "other-user", "a-bot", "elsewhere", "a-dm",
                    "other-platform"):
            self.assertIn("recovered message %s" % mid, err)
        self.assertIn("dropping an incomplete journal entry", err)
        self.assertIn("dropping a journal entry with an overlong or binary field", err)

        # the daemon runs on
        mark = len(p.records())
        p.message("new", "after the restart")
        p.wait_record(lambda r: r["op"] == "react" and r["message"] == "new"
                      and r["emoji"] == "🆗", start=mark)
        self.broker.signal(signal.SIGTERM)
        self.assertEqual(self.broker.wait(), 0)


if __name__ == "__main__":
    e2e.main()
