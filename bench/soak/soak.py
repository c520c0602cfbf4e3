"""Soak: N minutes of steady mixed traffic through one `agent-broker run` connected to
both loopback fakes (tests/discord/fake-discord.js, tests/slack/fake-slack.js) with the
scripted ACP agent, then a drain and an audit of what every user saw.

Traffic, about one action a second alternating between Discord and Slack: mentions
that open threads, follow-ups in idle threads (old ones too, whose sessions were
suspended: max_sessions is small, the agent supports session/load), reactions with no
meaning, cancels (🛑 on a streaming reply), permission questions in `ask` mode
answered with ✅, and agent crashes mid-turn ([[crash]]).

Measured: the daemon's RSS and open descriptors from /proc every 3 s (start, end,
max), agent processes at the end. Asserted from the fakes' records: every user
message was answered exactly once (one reply per turn in its thread; each echoed
token in exactly one bot post; a final reaction on each message), nothing was
dropped by the Slack fake, the daemon is still up and exits 0 on SIGTERM.

Usage: python3 soak.py MINUTES (bench/soak/run.sh sets AGENT_BROKER_BIN)."""

import json
import os
import random
import signal
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
for sub in ("e2e", "discord", "slack", "faults"):
    sys.path.insert(0, os.path.join(ROOT, "tests", sub))

import discord_world as dw  # noqa: E402
import e2e  # noqa: E402
import fault_world as fw  # noqa: E402
import slack_world as sw  # noqa: E402

DONE = {"discord": ("🆗", "😱", "🛑"), "slack": ("ok", "scream", "octagonal_sign")}
NOTICE = ("🔐", "✅ Allowed", "❌ Permission denied")
BUSY = "All agent sessions are busy"  # a refusal is an answer too (a full pool)
WEIGHTS = [("mention", 28), ("follow", 36), ("react", 10), ("cancel", 9), ("permission", 9),
           ("crash", 4), ("follow_old", 4)]

CONFIG = """
[plugins]
chat = ["discord", "slack"]

[discord]
bot_token = %(dtoken)s
api_base = %(dapi)s
gateway_url = %(dgw)s
allowed_channels = [%(dchannel)s]

[slack]
bot_token = %(sbot)s
app_token = %(sapp)s
api_base = %(sapi)s

[pool]
max_sessions = 8
watchdog_s = 60

[permissions]
mode = "ask"
timeout_s = 60

[health]
listen = "127.0.0.1:%(health)d"

[state]
dir = %(state)s

[stream]
edit_interval_ms = 500

[reactions.timing]
debounce_ms = 100
done_hold_ms = 300
"""


def log(msg):
    print("[soak %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def get_json(url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


class Turn:
    """One user message and what it asked for."""

    def __init__(self, kind, token, msg_id, thread):
        self.kind, self.token, self.msg_id, self.thread = kind, token, msg_id, thread
        self.acted = False  # cancel / permission: our reaction was sent
        self.sent_at = time.monotonic()


class Side:
    """One platform: its fake, its threads and turns, and how to read its records."""

    def __init__(self, name, fake):
        self.name, self.fake = name, fake
        self.threads = {}  # thread id -> [Turn]
        self.turns = []
        self.snapshot = []  # the fake's messages, last poll

    def poll(self):
        if self.name == "discord":
            self.snapshot = get_json(self.fake.base + "/_test/messages")["messages"]
        else:
            self.snapshot = get_json(self.fake.base + "/_test/messages")["messages"]

    # -- reading the snapshot ------------------------------------------------------------
    def bot_posts(self, thread):
        if self.name == "discord":
            return [m for m in self.snapshot if m["author_id"] == dw.BOT_ID
                    and m["channel_id"] == thread]
        return [m for m in self.snapshot if m["user"] == sw.BOT and m.get("thread_ts") == thread]

    def text(self, m):
        return m["content"] if self.name == "discord" else m["text"]

    def mid(self, m):
        return m["id"] if self.name == "discord" else m["ts"]

    def finished(self, turn):
        for m in self.snapshot:
            if self.mid(m) == turn.msg_id:
                bot = dw.BOT_ID if self.name == "discord" else sw.BOT
                return any(bot in m["reactions"].get(e, []) for e in DONE[self.name])
        return False

    def thread_of(self, msg_id):
        if self.name == "slack":
            return msg_id
        for m in self.snapshot:
            if m["id"] == msg_id:
                return m["thread"]
        return None

    def idle(self, thread):
        return all(self.finished(t) for t in self.threads[thread])

    # -- acting ----------------------------------------------------------------------------
    def mention(self, kind, token, text):
        if self.name == "discord":
            m = self.fake.message(text)
            return m["id"]
        return self.fake.message("<@%s> %s" % (sw.BOT, text))["ts"]

    def follow(self, thread, text):
        if self.name == "discord":
            return self.fake.message(text, channel=thread, mention=False)["id"]
        return self.fake.message(text, thread_ts=thread)["ts"]

    def react(self, msg, emoji_discord, name_slack):
        if self.name == "discord":
            self.fake.react(self.mid(msg), emoji_discord)
        else:
            get_json(self.fake.base + "/_test/reaction", dict(
                channel=msg["channel"], ts=msg["ts"], user="U1", name=name_slack))


class Soak:
    def __init__(self, minutes, seed):
        self.minutes = minutes
        self.rng = random.Random(seed)
        self.world = e2e.World()
        self.counter = 0
        self.counts = {}

    def setup(self):
        w = self.world
        life = str(int(self.minutes * 60 + 900))
        env = dict(os.environ, NODE_PATH=os.path.join(ROOT, "tests", "node_modules"))
        d = dw.Fake.__new__(dw.Fake)
        d.proc = w.helper(["node", dw.FAKE, "--token", dw.TOKEN, "--heartbeat", "5000",
                           "--lifetime", life], stdout=__import__("subprocess").PIPE, env=env)
        d.port = json.loads(d.proc.stdout.readline())["port"]
        d.base = "http://127.0.0.1:%d" % d.port
        s = sw.Fake.__new__(sw.Fake)
        s.proc = w.helper(["node", sw.FAKE, "--max-runtime-s", life, "--ping-ms", "5000"],
                          stdout=__import__("subprocess").PIPE,
                          stderr=__import__("subprocess").DEVNULL)
        s.port = int(s.proc.stdout.readline().decode().split()[1])
        s.base = "http://127.0.0.1:%d" % s.port
        self.port = e2e.free_port()
        agent = w.scripted_agent("--tick", "50", "--load", "--state", w.path("agent-state.json"),
                                 log=False)
        self.config = w.write("config.toml", agent + CONFIG % dict(
            dtoken=e2e.toml_str(dw.TOKEN), dapi=e2e.toml_str(d.base + "/api/v10"),
            dgw=e2e.toml_str("ws://127.0.0.1:%d/gateway" % d.port),
            dchannel=e2e.toml_str(dw.CHANNEL), sbot=e2e.toml_str(sw.BOT_TOKEN),
            sapp=e2e.toml_str(sw.APP_TOKEN), sapi=e2e.toml_str(s.base + "/api"),
            health=self.port, state=e2e.toml_str(w.state)))
        self.broker = w.start("run", self.config, stdin=False)
        e2e.wait_until(lambda: self.readyz() == 200, timeout=60, what="/readyz 200")
        self.sides = [Side("discord", d), Side("slack", s)]

    def readyz(self):
        try:
            return e2e.http_get("http://127.0.0.1:%d/readyz" % self.port)[0]
        except OSError:
            return 0

    def token(self, side):
        self.counter += 1
        return "soak-%s-%05d" % (side.name[0], self.counter)

    def new_turn(self, side, kind, text, thread=None):
        tok = self.token(side)
        body = "%s %s" % (text, tok)
        if thread is None:
            mid = side.mention(kind, tok, body)
            turn = Turn(kind, tok, mid, None)
            turn.kind = kind
            side.turns.append(turn)
            self.pending_threads.append((side, turn))
        else:
            mid = side.follow(thread, body)
            turn = Turn(kind, tok, mid, thread)
            side.turns.append(turn)
            side.threads[thread].append(turn)
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return turn

    def act(self, side):
        kinds = [k for k, _ in WEIGHTS]
        kind = self.rng.choices(kinds, [w for _, w in WEIGHTS])[0]
        plain = [t for t, turns in side.threads.items()
                 if turns[0].kind in ("plain", "crash") and side.idle(t)]
        if kind in ("follow", "follow_old") and plain:
            thread = plain[-1 - self.rng.randrange(min(len(plain), 3))] if kind == "follow" \
                else plain[self.rng.randrange(len(plain))]
            self.new_turn(side, "plain", "follow-up", thread)
        elif kind == "react":
            posts = [m for m in side.snapshot if side.text(m).startswith("You said")]
            if posts:
                side.react(self.rng.choice(posts), "👍", "thumbsup")
                self.counts["react"] = self.counts.get("react", 0) + 1
        elif kind == "cancel":
            self.new_turn(side, "cancel", "count slowly [[slow 60]] [[tick 200]]")
        elif kind == "permission":
            self.new_turn(side, "permission", "may I write [[permission]]")
        elif kind == "crash":
            self.new_turn(side, "crash", "fall over [[crash]]")
        else:
            self.new_turn(side, "plain", "question")

    def advance(self, side):
        """Pending steps: learn new threads, press 🛑 on streaming replies, answer
        permission questions."""
        for entry in list(self.pending_threads):
            s, turn = entry
            if s is not side:
                continue
            tid = side.thread_of(turn.msg_id)
            if tid:
                turn.thread = tid
                side.threads.setdefault(tid, []).append(turn)
                self.pending_threads.remove(entry)
        for turn in side.turns:
            if turn.acted or turn.thread is None or turn.kind not in ("cancel", "permission"):
                continue
            for m in side.bot_posts(turn.thread):
                t = side.text(m)
                if turn.kind == "cancel" and "chunk3 " in t:
                    side.react(m, "🛑", "octagonal_sign")
                    turn.acted = True
                elif turn.kind == "permission" and t.startswith("🔐"):
                    side.react(m, "✅", "white_check_mark")
                    turn.acted = True

    def run(self):
        self.pending_threads = []
        pid = self.broker.pid
        samples = [(fw.rss_kb(pid), fw.fd_count(pid))]
        log("daemon pid %d: RSS %d KiB, %d fds at start" % (pid, samples[0][0], samples[0][1]))
        end = time.monotonic() + self.minutes * 60
        next_sample = next_report = time.monotonic()
        i = 0
        while time.monotonic() < end:
            side = self.sides[i % 2]
            i += 1
            side.poll()
            self.advance(side)
            self.act(side)
            now = time.monotonic()
            if now >= next_sample:
                samples.append((fw.rss_kb(pid), fw.fd_count(pid)))
                next_sample = now + 3
            if now >= next_report:
                log("%d messages sent, RSS %d KiB, %d fds, %d agents" % (
                    sum(len(s.turns) for s in self.sides), samples[-1][0], samples[-1][1],
                    len(self.world.agent_pids())))
                next_report = now + 60
            if self.broker.popen.poll() is not None:
                raise AssertionError("the daemon exited: %s" % self.broker.err.text()[-3000:])
            time.sleep(max(0.0, 0.8 + self.rng.uniform(-0.3, 0.3)))
        log("traffic stopped; draining")
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            for side in self.sides:
                side.poll()
                self.advance(side)
            samples.append((fw.rss_kb(pid), fw.fd_count(pid)))
            if not self.pending_threads and all(
                    s.finished(t) for s in self.sides for t in s.turns):
                break
            time.sleep(1)
        time.sleep(3)  # late duplicates would show now
        for side in self.sides:
            side.poll()
        samples.append((fw.rss_kb(pid), fw.fd_count(pid)))
        self.samples = samples

    def audit(self):
        """Every problem found, as (kind, detail)."""
        problems = []
        for side in self.sides:
            bot_texts = [side.text(m) for m in side.snapshot
                         if (m["author_id"] == dw.BOT_ID if side.name == "discord"
                             else m["user"] == sw.BOT)]
            for turn in side.turns:
                if not side.finished(turn):
                    problems.append(("%s: no final reaction" % side.name,
                                     "%s %s (%s)" % (side.name, turn.token, turn.kind)))
                if turn.kind == "plain":
                    n = sum(1 for t in bot_texts if turn.token in t)
                    refused = turn.thread and any(
                        BUSY in side.text(m) for m in side.bot_posts(turn.thread))
                    if n > 1 or (n == 0 and not refused):
                        problems.append(("%s: echoed in %s bot posts" % (
                            side.name, "no" if n == 0 else "several"),
                            "%s %s: echoed in %d bot posts" % (side.name, turn.token, n)))
            for tid, turns in side.threads.items():
                replies = [m for m in side.bot_posts(tid) if not side.text(m).startswith(NOTICE)]
                if len(replies) != len(turns):
                    problems.append(("%s: replies != turns in a thread" % side.name,
                                     "%s thread %s: %d turns, %d replies: %s" % (
                                         side.name, tid, len(turns), len(replies),
                                         [side.text(m)[:50] for m in replies])))
            for t in [t for t in side.turns if t.kind == "permission"]:
                if not any("permission granted" in side.text(m) for m in side.bot_posts(t.thread)):
                    problems.append(("%s: permission not granted" % side.name,
                                     "%s %s: permission not granted" % (side.name, t.token)))
        for side, turn in self.pending_threads:
            problems.append(("%s: no thread was opened" % side.name,
                             "%s %s: no thread was opened" % (side.name, turn.token)))
        dropped = get_json(self.sides[1].fake.base + "/_test/messages")["dropped"]
        if dropped:
            problems.append(("slack: fake dropped envelopes",
                             "slack fake dropped %d envelopes" % len(dropped)))
        return problems

    def stop(self):
        self.broker.signal(signal.SIGTERM)
        return self.broker.wait(120)


def main():
    minutes = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    seed = int(os.environ.get("SOAK_SEED", "1"))
    soak = Soak(minutes, seed)
    rc = 1
    try:
        soak.setup()
        log("running %.1f min of traffic (seed %d)" % (minutes, seed))
        t0 = time.monotonic()
        soak.run()
        problems = soak.audit()
        agents = len(soak.world.agent_pids())
        code = soak.stop()
        rss = [s[0] for s in soak.samples if s[0]]
        fds = [s[1] for s in soak.samples if s[1]]
        sent = sum(len(s.turns) for s in soak.sides)
        cancelled = sum(1 for s in soak.sides for t in s.turns if t.kind == "cancel"
                        and any("Cancelled" in s.text(m) for m in s.bot_posts(t.thread)))
        print()
        print("| measure | start | end | max |")
        print("|---|---|---|---|")
        print("| daemon RSS (KiB) | %d | %d | %d |" % (rss[0], rss[-1], max(rss)))
        print("| daemon open fds | %d | %d | %d |" % (fds[0], fds[-1], max(fds)))
        print()
        print("minutes %.1f, messages %d (%s), agent processes at the end %d, samples %d, "
              "daemon exit %d; replies showing Cancelled %d" % (
                  (time.monotonic() - t0) / 60, sent, ", ".join(
                      "%s %d" % kv for kv in sorted(soak.counts.items())), agents, len(rss),
                  code, cancelled))
        if code != 0:
            problems.append(("daemon exit code",
                             "daemon exit code %d: %s" % (code, soak.broker.err.text()[-2000:])))
        kinds = {}
        for kind, _ in problems:
            kinds[kind] = kinds.get(kind, 0) + 1
        for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1]):
            print("PROBLEMS of kind %r: %d" % (kind, n))
        for _, p in problems[:50]:
            print("PROBLEM:", p)
        if problems:
            print("FAIL: %d problem(s); broker stderr tail:\n%s" % (
                len(problems), soak.broker.err.text()[-4000:]))
        else:
            print("OK: every message answered exactly once")
        rc = 1 if problems else 0
    finally:
        soak.world.close()
    return rc


if __name__ == "__main__":
    sys.exit(main())
