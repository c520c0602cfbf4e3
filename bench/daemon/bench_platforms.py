#!/usr/bin/env python3
"""The daemon connected to a platform, Discord and Telegram side by side in one run:
VmRSS of `agent-broker run` connected to its loopback fake (tests/discord/fake-discord.js,
tests/telegram/fake-telegram.js) once ready and again after the conversations, and the
latency from a user's follow-up message (posted to the fake) to the agent receiving
`session/prompt` (the scripted agent's log line appearing), alternating the platforms
message by message so both see the same machine load.

usage: AGENT_BROKER_BIN=build/core/agent-broker bench_platforms.py [ROUNDS]   (default 20)
Prints "name value" lines (kB, ms)."""

import os
import statistics
import sys
import time

ROOT = os.environ.get("AB_SOURCE_ROOT") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))
for sub in ("e2e", "discord", "telegram"):
    sys.path.insert(0, os.path.join(ROOT, "tests", sub))

import discord_world as dw  # noqa: E402
import e2e  # noqa: E402
import telegram_world as tw  # noqa: E402


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def prompt_count(world):
    """session/prompt lines in the agent's log, counted without parsing every line."""
    try:
        with open(world.agent_log(), "rb") as f:
            return f.read().count(b'"method":"session/prompt"')
    except FileNotFoundError:
        return 0


def wait_prompts(world, n, timeout=30):
    deadline = time.monotonic() + timeout
    while prompt_count(world) < n:
        if time.monotonic() > deadline:
            raise AssertionError("no session/prompt")
        time.sleep(0.001)


class DiscordSide:
    name = "discord"

    def __init__(self):
        self.world = e2e.World()
        self.fake = dw.Fake(self.world)
        port = e2e.free_port()
        self.health = port
        config = self.world.write("config.toml", self.world.scripted_agent("--tick", "5")
                                  + dw.CONFIG % dict(
            token=e2e.toml_str(dw.TOKEN), api=e2e.toml_str(self.fake.base + "/api/v10"),
            gw=e2e.toml_str("ws://127.0.0.1:%d/gateway" % self.fake.port),
            channel=e2e.toml_str(dw.CHANNEL), discord_extra="", health=port,
            state=e2e.toml_str(self.world.state), extra=""))
        self.broker = self.world.start("run", config, stdin=False)

    def ready(self):
        try:
            return e2e.http_get("http://127.0.0.1:%d/readyz" % self.health)[0] == 200
        except OSError:
            return False

    def open(self):
        m = self.fake.message("first question")
        self.thread = self.fake.wait(lambda st: self.fake.msg(st, m["id"])["thread"], "thread")
        wait_prompts(self.world, 1)
        self.settle(m["id"])

    def settle(self, mid):
        self.fake.wait(lambda st: dw.BOT_ID in self.fake.msg(st, mid)["reactions"].get("🆗", []),
                       "🆗")

    def follow_up(self, i):
        return self.fake.message("follow-up %d" % i, channel=self.thread, mention=False)["id"]


class TelegramSide:
    name = "telegram"

    def __init__(self):
        self.world = e2e.World()
        self.fake = tw.Fake(self.world)
        port = e2e.free_port()
        self.health = port
        config = self.world.write("config.toml", self.world.scripted_agent("--tick", "5")
                                  + tw.CONFIG % dict(
            token=e2e.toml_str(tw.TOKEN), api=e2e.toml_str(self.fake.base), poll=30,
            section="allow_dm = true", health=port, state=e2e.toml_str(self.world.state), edit=300))
        self.broker = self.world.start("run", config, stdin=False)

    ready = DiscordSide.ready

    def open(self):
        mid = self.fake.message("first question", chat=tw.ALICE)["message_id"]
        wait_prompts(self.world, 1)
        self.settle(mid)

    def settle(self, mid):
        e2e.wait_until(lambda: (self.fake.message_by_id(tw.ALICE, mid) or {}).get("bot_reaction")
                       in ("👌", "😁"), what="done reaction")

    def follow_up(self, i):
        return self.fake.message("follow-up %d" % i, chat=tw.ALICE)["message_id"]


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    sides = [DiscordSide(), TelegramSide()]
    try:
        for s in sides:
            e2e.wait_until(s.ready, what=s.name + " /readyz")
        time.sleep(1.0)
        for s in sides:
            print("%s_connected_rss_kb %d" % (s.name, rss_kb(s.broker.pid)))
        for s in sides:
            s.open()
        lat = {s.name: [] for s in sides}
        for i in range(rounds):
            for s in sides:
                n = prompt_count(s.world)
                t0 = time.monotonic()
                mid = s.follow_up(i)
                wait_prompts(s.world, n + 1)
                lat[s.name].append((time.monotonic() - t0) * 1000.0)
                s.settle(mid)
        for s in sides:
            v = sorted(lat[s.name])
            print("%s_prompt_latency_ms_median %.1f" % (s.name, statistics.median(v)))
            print("%s_prompt_latency_ms_p90 %.1f" % (s.name, v[int(0.9 * (len(v) - 1))]))
            print("%s_after_rss_kb %d" % (s.name, rss_kb(s.broker.pid)))
    finally:
        for s in sides:
            s.world.close()


if __name__ == "__main__":
    main()
