"""Benchmark: warm latency of a Discord message through the real agent-broker, from the
moment the fake gateway sends MESSAGE_CREATE (fake-discord.js's sent_ns, CLOCK_MONOTONIC)
to the moment the agent has read the session/prompt line (bench_stamp_agent's stamp, the
same clock), against a floor measured in the same run: bench_floor_discord
(floor_discord.c), a minimal blocking client of a second fake-discord.js that writes one
prompt line to its own stamp agent's pipe per MESSAGE_CREATE. Daemon and floor turns alternate, so both see the same machine.
The daemon's turns are all in one thread (a warm session); each waits for the previous
turn's 🆗, then both sides rest PAUSE_MS (default 300) so that the daemon's after-turn
work (reactions, the journal) is done: the message meets an idle daemon, as a human's
next message would.

Further agent-broker binaries after TURNS (a build of an older commit, say) each run as
one more daemon on its own fake, their turns interleaved with the others: a before/after
comparison in the same run. Each finds its plugins next to itself (its build tree). The
fakes live 300 s: with PAUSE_MS=200, 200 turns leave room for one further binary.

Prints "KEY value" lines: daemon_/floor_ p50_us, p90_us, p99_us, max_us, and the p50 and
p99 ratios; daemon2_, daemon3_ … for the further binaries. Usage:
  AGENT_BROKER_BIN=… AB_BUILD_ROOT=… python3 discord_latency.py STAMP_AGENT FLOOR [TURNS [BIN…]]"""

import os
import select
import statistics
import subprocess
import sys
import time

ROOT = os.environ.get("AB_SOURCE_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "discord"))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

import discord_world as dw  # noqa: E402
import e2e  # noqa: E402

def pct(v, p):
    """The @p-th percentile of @v (nearest rank)."""
    s = sorted(v)
    return s[min(len(s) - 1, max(0, int(round(p / 100.0 * len(s) + 0.5)) - 1))]


def stamps(fake, st, tid):
    """The stamps in the bot's messages of thread @tid."""
    out = set()
    for m in fake.bot_messages(st, tid):
        for w in m["content"].split():
            if w.isdigit() and len(w) > 6:
                out.add(int(w))
    return out


def start_daemon(stamp_agent, binary):
    """A world with @binary (agent-broker) running against its own fake, warm: one
    conversation in a thread, answered. Returns a dict of what a turn needs."""
    w = e2e.World()
    a = dw.Fake(w, 5000)
    port = e2e.free_port()
    cfg = w.write("config.toml", "[agent]\ncommand = %s\n" % e2e.toml_str(stamp_agent)
                  + dw.CONFIG % dict(
        token=e2e.toml_str(dw.TOKEN), api=e2e.toml_str(a.base + "/api/v10"),
        gw=e2e.toml_str("ws://127.0.0.1:%d/gateway" % a.port),
        channel=e2e.toml_str(dw.CHANNEL), discord_extra="", health=port,
        state=e2e.toml_str(w.state), extra=""))
    e2e.BIN = binary
    broker = w.start("run", cfg, stdin=False)

    def ready():
        try:
            return e2e.http_get("http://127.0.0.1:%d/readyz" % port)[0] == 200
        except OSError:
            return False

    e2e.wait_until(ready, what="/readyz 200")
    m = a.message("warm up")
    tid = a.wait(lambda st: a.msg(st, m["id"])["thread"], "the thread")
    a.wait(lambda st: dw.BOT_ID in a.msg(st, m["id"])["reactions"].get("🆗", []), "🆗")
    return dict(world=w, fake=a, tid=tid, broker=broker, seen=stamps(a, a.state(), tid), v=[])


def daemon_turn(d, i):
    """One message in @d's thread: µs from the frame to the agent's stamp."""
    a = d["fake"]
    r = a.message("ping %d" % i, channel=d["tid"], mention=False)
    st = a.wait(lambda st: dw.BOT_ID in a.msg(st, r["id"])["reactions"].get("🆗", [])
                and st, "🆗 on ping %d" % i)
    new = stamps(a, st, d["tid"]) - d["seen"]
    assert len(new) == 1, new
    d["seen"] |= new
    return (new.pop() - int(r["sent_ns"])) / 1000.0


def main():
    stamp_agent, floor_bin = sys.argv[1], sys.argv[2]
    turns = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    bins = [e2e.BIN] + sys.argv[4:]
    pause = float(os.environ.get("PAUSE_MS", "300")) / 1000.0
    w = e2e.World()
    daemons = []
    try:
        for binary in bins:
            daemons.append(start_daemon(stamp_agent, binary))
        b = dw.Fake(w, 5000)
        floor = w.helper([floor_bin, str(b.port), dw.TOKEN, stamp_agent],
                         stdout=subprocess.PIPE)
        ready, _, _ = select.select([floor.stdout], [], [], e2e.WAIT_S)
        assert ready and floor.stdout.readline().strip() == b"ready", "the floor did not start"

        def floor_turn(i):
            r = b.message("ping %d" % i)
            ready, _, _ = select.select([floor.stdout], [], [], e2e.WAIT_S)
            assert ready, "the floor's agent did not answer"
            word = floor.stdout.readline().decode().split()
            assert word[0] == "stamp" and word[2] == r["id"], word
            return (int(word[1]) - int(r["sent_ns"])) / 1000.0

        for i in range(5):
            floor_turn(-i)
        base = []
        for i in range(turns):
            for d in daemons:
                time.sleep(pause)
                d["v"].append(daemon_turn(d, i))
            time.sleep(pause)
            base.append(floor_turn(i))
        named = [("daemon" if k == 0 else "daemon%d" % (k + 1), d["v"])
                 for k, d in enumerate(daemons)]
        for name, v in named + [("floor", base)]:
            print("%s_p50_us %.1f" % (name, statistics.median(v)))
            print("%s_p90_us %.1f" % (name, pct(v, 90)))
            print("%s_p99_us %.1f" % (name, pct(v, 99)))
            print("%s_max_us %.1f" % (name, max(v)))
        daemon = daemons[0]["v"]
        print("ratio_p50 %.2f" % (statistics.median(daemon) / statistics.median(base)))
        print("ratio_p99 %.2f" % (pct(daemon, 99) / pct(base, 99)))
        print("turns %d" % turns)
        for d in daemons:
            d["broker"].signal(15)
            d["broker"].wait()
    finally:
        for d in daemons:
            d["world"].close()
        w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
