#!/usr/bin/env python3
"""Command round-trip latency through the built agent-broker, against a baseline measured
in the same run: a plain message's first reply.

  bench/commands/bench_commands.py BUILD_DIR [ROUNDS]

- console: "/status" typed → its answer on stdout, vs "hi" typed → the first output of
  the agent's reply (scripted agent, tick 0), alternating.
- Discord (fake-discord.js): a native /status (INTERACTION_CREATE → the deferred
  response edited with the answer) and the text form "@bot /status" in the thread (→ the
  answer posted), vs a follow-up message in the thread (→ the reply's first post).
Prints a Markdown table: median and p90 in ms, and the ratio of each median to the
baseline's. Everything on 127.0.0.1; every process is killed by its group at the end."""

import json
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if len(sys.argv) > 1:  # before e2e is imported: it reads these
    os.environ["AB_BUILD_ROOT"] = os.path.abspath(sys.argv[1])
    os.environ.setdefault("AGENT_BROKER_BIN",
                          os.path.join(os.path.abspath(sys.argv[1]), "core", "agent-broker"))
sys.path.insert(0, os.path.join(ROOT, "tests", "discord"))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

import e2e  # noqa: E402
import discord_world as dw  # noqa: E402


def stats(xs):
    xs = sorted(xs)
    return statistics.median(xs), xs[min(len(xs) - 1, int(len(xs) * 0.9))]


def console(rounds):
    """(command ms list, message ms list) through `agent-broker console`."""
    w = e2e.World()
    try:
        cfg = w.write("config.toml", w.scripted_agent("--tick", "0", log=False))
        p = w.start("console", cfg)
        p.send_line("warm up")
        m = p.out.wait_for(r"You said: .*warm up")
        cmd, msg = [], []
        for i in range(rounds):
            t0 = time.monotonic()
            p.send_line("/status")
            m = p.out.wait_for(r"Queue: 0 waiting", start=m.end())
            cmd.append((time.monotonic() - t0) * 1000)
            t0 = time.monotonic()
            p.send_line("ping%d" % i)
            m = p.out.wait_for(r"You said", start=m.end())
            msg.append((time.monotonic() - t0) * 1000)
        p.close_stdin()
        p.wait()
        return cmd, msg
    finally:
        w.close()


class _Discord(dw.DiscordTest):
    agent_flags = ("--tick", "0")

    def runTest(self):
        pass


def discord(rounds):
    """(native ms, text-form ms, message ms) through chat-discord and the fake."""
    t = _Discord()
    t.setUp()
    try:
        f = t.fake
        e2e.wait_until(lambda: f.call("GET", "/_test/interactions")["commands"],
                       what="registration")
        _m, tid = t.conversation("warm up")
        native, text, msg = [], [], []
        for i in range(rounds):
            t0 = time.monotonic()
            iid = f.call("POST", "/_test/interaction", dict(name="status", channel_id=tid))["id"]
            while not [x for x in f.call("GET", "/_test/interactions")["interactions"]
                       if x["id"] == iid and x["edits"]]:
                time.sleep(0.002)
            native.append((time.monotonic() - t0) * 1000)
            for kind, content, out in (("text", "/status", text), ("msg", "ping%d" % i, msg)):
                n = len(f.bot_messages(f.call("GET", "/_test/messages"), tid))
                t0 = time.monotonic()
                f.message(content, channel=tid)
                while len(f.bot_messages(f.call("GET", "/_test/messages"), tid)) <= n:
                    time.sleep(0.002)
                out.append((time.monotonic() - t0) * 1000)
            # let the turn end before the next round (reactions, final edit)
            time.sleep(0.3)
        return native, text, msg
    finally:
        t.doCleanups()


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    rows = []
    cmd, msg = console(rounds)
    base = stats(msg)[0]
    rows.append(("console `/status` (text form)", cmd, base))
    rows.append(("console plain message, first output (baseline)", msg, base))
    native, text, dmsg = discord(rounds)
    dbase = stats(dmsg)[0]
    rows.append(("Discord native `/status` (interaction → deferred → edit)", native, dbase))
    rows.append(("Discord `/status` typed in the thread (text form)", text, dbase))
    rows.append(("Discord plain follow-up, first post (baseline)", dmsg, dbase))
    print("| path | n | median ms | p90 ms | median / same-run baseline |")
    print("|---|---|---|---|---|")
    for name, xs, b in rows:
        med, p90 = stats(xs)
        print("| %s | %d | %.1f | %.1f | %.2f |" % (name, len(xs), med, p90, med / b))


if __name__ == "__main__":
    main()
