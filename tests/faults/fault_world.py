"""Shared pieces of the fault tests (tests/faults/fault_*.py): the Discord and Slack
worlds of tests/discord and tests/slack (the built binary, the real plugins, the
loopback fakes, the scripted agent), plus what a fault test measures from outside the
daemon: RSS and open descriptors from /proc, sampled on a thread, and "how many bot
posts carry this text" counts for the answered-exactly-once checks. Python 3 stdlib."""

import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
for sub in ("e2e", "discord", "slack"):
    sys.path.insert(0, os.path.join(TESTS, sub))

import discord_world as dw  # noqa: E402
import e2e  # noqa: E402
import slack_world as sw  # noqa: E402


def rss_kb(pid):
    """VmRSS of @pid in KiB (0 when it is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def fd_count(pid):
    """Open descriptors of @pid (0 when it is gone)."""
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return 0


def alive(pid):
    """Whether @pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Sampler:
    """Samples RSS and fd count of one process every @period seconds on a thread."""

    def __init__(self, pid, period=0.2):
        self.pid = pid
        self.period = period
        self.first = (rss_kb(pid), fd_count(pid))
        self.max_rss = self.first[0]
        self.max_fds = self.first[1]
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(self.period):
            r, n = rss_kb(self.pid), fd_count(self.pid)
            if r == 0:
                continue
            self.samples += 1
            self.max_rss = max(self.max_rss, r)
            self.max_fds = max(self.max_fds, n)

    def stop(self):
        """Stop sampling; (start, end, max) as {'rss_kb': (..), 'fds': (..)}."""
        self._stop.set()
        self._thread.join(5)
        end = (rss_kb(self.pid), fd_count(self.pid))
        return {"rss_kb": (self.first[0], end[0], max(self.max_rss, end[0])),
                "fds": (self.first[1], end[1], max(self.max_fds, end[1]))}


def discord_posts_with(fake, st, channel, needle):
    """The bot's posts in @channel whose content contains @needle."""
    return [m for m in fake.bot_messages(st, channel) if needle in m["content"]]


def discord_wait_answer(test, channel, needle, timeout=e2e.WAIT_S):
    """Wait until a bot post in @channel contains @needle; return the fake's state."""
    f = test.fake
    return f.wait(lambda st: discord_posts_with(f, st, channel, needle) and st,
                  "a bot post with %r in %s; broker stderr:\n%s" % (
                      needle, channel, test.broker.err.text()[-3000:]), timeout=timeout)


def discord_reacted(fake, st, message_id, emoji):
    """Whether the bot holds @emoji on @message_id."""
    m = fake.msg(st, message_id)
    return bool(m) and dw.BOT_ID in m["reactions"].get(emoji, [])


def slack_posts_with(fake, thread_ts, needle):
    """The bot's posts in thread @thread_ts whose text contains @needle."""
    return [m for m in fake.bot_posts(thread_ts) if needle in m["text"]]


def settle(seconds):
    """Let a little time pass before asserting that nothing more happened."""
    time.sleep(seconds)


__all__ = ["dw", "e2e", "sw", "Sampler", "rss_kb", "fd_count", "alive", "discord_posts_with",
           "discord_wait_answer", "discord_reacted", "slack_posts_with", "settle"]
