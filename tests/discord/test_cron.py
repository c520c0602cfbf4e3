"""[[cron.jobs]] through chat-discord against the loopback Discord: at its time a job
posts "🕐 SENDER: MESSAGE" in its channel, a thread opens from that line, the scripted
agent gets the message as its prompt and its answer lands in the thread; a follow-up
there continues the same session. The last run is kept in the state dir, and after a
restart with catch_up = 1 one missed run is made up — one, not one per missed minute,
and not again after the next restart. A job aimed at a channel outside allowed_channels
is reported and never posts.

Cron minutes are too coarse to wait for: the test moves the schedules' wall clock with
AGENT_BROKER_TEST_CRON_SHIFT_S (seconds added to time() by the schedules only; the
daemon warns when it is set), putting the daemon a few seconds before a minute, or
hours after its last run, without touching the machine's clock."""

import json
import os
import time

import discord_world as dw
import e2e

SHIFT_ENV = e2e.CRON_SHIFT_ENV
LINE = "🕐 standup-bot: summarise the day"


class CronTest(dw.DiscordTest):
    """A job every minute in the allowed channel, one in a refused channel."""

    agent_flags = ("--tick", "20")
    extra = """
[cron]
catch_up = 1

[[cron.jobs]]
schedule = "* * * * *"
channel = %s
message = "summarise the day"
sender_name = "standup-bot"

[[cron.jobs]]
schedule = "* * * * *"
channel = %s
message = "never here"
""" % (e2e.toml_str(dw.CHANNEL), e2e.toml_str(dw.OTHER_CHANNEL))

    # The daemon starts LEAD seconds before a minute on its schedules' clock.
    LEAD = 6

    def start_broker(self):
        if not hasattr(self, "shift"):
            self.shift = e2e.cron_shift(60 - self.LEAD, 1)
        broker = self.world.start("run", self.config, stdin=False,
                                  env={SHIFT_ENV: str(self.shift)})
        e2e.wait_until(lambda: self.readyz() == 200, what="/readyz 200")
        return broker

    def lines(self, st):
        return [m for m in self.fake.bot_messages(st, dw.CHANNEL) if m["content"] == LINE]

    def record(self):
        with open(os.path.join(self.world.state, "cron.json"), encoding="utf-8") as f:
            jobs = json.load(f)["jobs"]
        mine = [j for j in jobs if j["message"] == "summarise the day"]
        self.assertEqual(len(mine), 1, jobs)
        self.assertEqual(mine[0]["channel"], dw.CHANNEL)
        self.assertEqual(mine[0]["schedule"], "* * * * *")
        return mine[0]["last_run"]


class Schedules(CronTest):
    def test_a_job_posts_opens_a_thread_runs_and_catches_up_once(self):
        f = self.fake
        err = self.broker.err
        # the refused job is reported at start-up, at its line
        err.wait_for(r"config\.toml:\d+: cron\.jobs\.channel: %s is not in \[discord\] "
                     r"allowed_channels: the job is skipped" % dw.OTHER_CHANNEL)
        err.wait_for(SHIFT_ENV + r"=-?\d+: the schedules run on a clock moved by")

        # at the minute: the sender line, a thread from it, the prompt, the answer
        line = f.wait(lambda st: (self.lines(st) or [None])[0], "the job's line",
                      timeout=self.LEAD + e2e.WAIT_S)
        tid = f.wait(lambda st: f.msg(st, line["id"])["thread"], "a thread from the line")
        self.assertEqual(tid, line["id"])
        thread = [c for c in f.state()["channels"] if c["id"] == tid][0]
        self.assertTrue(thread["name"].startswith("summarise the day"), thread["name"])
        f.wait(lambda st: any("summarise the day" in m["content"]
                              for m in f.bot_messages(st, tid)), "the answer in the thread")
        f.wait(lambda st: dw.BOT_ID in f.msg(st, line["id"])["reactions"].get("🆗", []),
               "🆗 on the line")
        prompts = e2e.agent_calls(self.world, "session/prompt")
        self.assertEqual(len(prompts), 1, prompts)
        text = "\n".join(b.get("text", "") for b in prompts[0]["params"]["prompt"])
        self.assertIn("summarise the day", text)
        self.assertIn("standup-bot", text)
        self.assertNotIn("🕐", text)  # the line is for people; the agent gets the message
        session = prompts[0]["params"]["sessionId"]

        # a follow-up in the thread needs no mention and continues the session
        f.message("and tomorrow?", channel=tid, mention=False)
        f.wait(lambda st: any("and tomorrow?" in m["content"]
                              for m in f.bot_messages(st, tid)), "the follow-up's answer")
        prompts = e2e.agent_calls(self.world, "session/prompt")
        self.assertEqual(len(prompts), 2)
        self.assertEqual(prompts[1]["params"]["sessionId"], session)

        # the last run is kept; the refused job never posted
        first = e2e.wait_until(self.record, what="cron.json")
        self.assertGreater(first, int(time.time()) + self.shift - 120)
        self.assertEqual(f.bot_messages(f.state(), dw.OTHER_CHANNEL), [])
        self.assertEqual(len(self.lines(f.state())), 1)
        self.stop()

        # three hours later on its clock, 3 s into a minute: one made-up run at start,
        # then nothing until the next minute (about a minute away)
        self.shift = (first // 60 + 180) * 60 + 3 - int(time.time())
        self.broker = self.start_broker()
        second = f.wait(lambda st: len(self.lines(st)) == 2 and self.lines(st)[1],
                        "the made-up run")
        f.wait(lambda st: f.msg(st, second["id"])["thread"], "a thread from the made-up run")
        f.wait(lambda st: dw.BOT_ID in f.msg(st, second["id"])["reactions"].get("🆗", []),
               "🆗 on the made-up run")
        time.sleep(3)
        self.assertEqual(len(self.lines(f.state())), 2)
        self.assertEqual(len(e2e.agent_calls(self.world, "session/prompt")), 3)
        last = e2e.wait_until(lambda: self.record() > first and self.record(),
                              what="the made-up run kept")
        self.assertGreaterEqual(last, first + 3 * 3600 - 120)
        self.stop()

        # restarted again within that minute: nothing was missed, nothing runs (past
        # the minute on a very slow machine the regular run would be due: not judged)
        self.broker = self.start_broker()
        time.sleep(3)
        if (int(time.time()) + self.shift) // 60 == last // 60:
            self.assertEqual(len(self.lines(f.state())), 2)
            self.assertEqual(self.record(), last)
        self.stop()


class Reload(CronTest):
    """SIGHUP re-arms the jobs from the new table: the changed job runs, not the old."""

    LEAD = 12

    def test_sighup_replaces_the_jobs(self):
        import signal
        f = self.fake
        with open(self.config, encoding="utf-8") as fh:
            text = fh.read()
        self.assertIn('message = "summarise the day"', text)
        self.world.write("config.toml", text.replace('message = "summarise the day"',
                                                     'message = "reloaded words"'))
        start = len(self.broker.err.text())
        self.broker.signal(signal.SIGHUP)
        self.broker.err.wait_for("SIGHUP: configuration reloaded", start=start)
        line = f.wait(lambda st: [m for m in f.bot_messages(st, dw.CHANNEL)
                                  if m["content"].startswith("🕐")], "the job's line",
                      timeout=self.LEAD + e2e.WAIT_S)
        self.assertEqual([m["content"] for m in line], ["🕐 standup-bot: reloaded words"])
        tid = f.wait(lambda st: f.msg(st, line[0]["id"])["thread"], "a thread from the line")
        f.wait(lambda st: any("reloaded words" in m["content"]
                              for m in f.bot_messages(st, tid)), "the answer in the thread")
        self.stop()


if __name__ == "__main__":
    e2e.main()
