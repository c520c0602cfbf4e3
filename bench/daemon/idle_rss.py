"""Benchmark: `agent-broker run` idle, connected to the loopback Discord and Slack fakes
(tests/discord/fake-discord.js, tests/slack/fake-slack.js) with the scripted agent
configured (no conversation, so no agent runs). Once /readyz is 200 and SETTLE_S passed,
reads the daemon's memory from /proc: VmRSS, and from smaps_rollup Rss, Pss and private
(clean + dirty); from smaps, the shared objects it maps and the resident kB of each
(the heaviest first), and what the heap and the anonymous mappings hold.

Prints "KEY value" lines, then "lib NAME RSS_KB PSS_KB PRIVATE_DIRTY_KB" lines. Usage:
  AGENT_BROKER_BIN=… AB_BUILD_ROOT=… [IDLE_RSS_ENV=K=V,K=V] python3 idle_rss.py [SETTLE_S]
(IDLE_RSS_ENV: variables added to the daemon's environment, for experiments;
IDLE_RSS_SMAPS=FILE: a copy of the daemon's /proc/PID/smaps at the reading.)"""

import json
import os
import subprocess
import sys
import time

ROOT = os.environ.get("AB_SOURCE_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "discord"))
sys.path.insert(0, os.path.join(ROOT, "tests", "slack"))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

import discord_world as dw  # noqa: E402
import e2e  # noqa: E402
import slack_world as sw  # noqa: E402

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

[health]
listen = "127.0.0.1:%(health)d"

[state]
dir = %(state)s
"""


def smaps(pid):
    """{path: [rss_kb, pss_kb, private_dirty_kb]} of every mapping of @pid, by its path
    ("[anon]" for anonymous ones)."""
    out, cur = {}, None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and len(parts) >= 5 and ":" in parts[3]:
                cur = parts[5] if len(parts) > 5 else "[anon]"
                out.setdefault(cur, [0, 0, 0])
            elif parts[0] == "Rss:":
                out[cur][0] += int(parts[1])
            elif parts[0] == "Pss:":
                out[cur][1] += int(parts[1])
            elif parts[0] == "Private_Dirty:":
                out[cur][2] += int(parts[1])
    return out


def rollup(pid):
    """smaps_rollup fields of @pid in kB."""
    r = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                r[parts[0][:-1]] = int(parts[1])
    return r


def main():
    settle = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    w = e2e.World()
    try:
        env = dict(os.environ, NODE_PATH=os.path.join(ROOT, "tests", "node_modules"))
        d = w.helper(["node", dw.FAKE, "--token", dw.TOKEN, "--heartbeat", "5000",
                      "--lifetime", "600"], stdout=subprocess.PIPE, env=env)
        dport = json.loads(d.stdout.readline())["port"]
        s = w.helper(["node", sw.FAKE, "--max-runtime-s", "600", "--ping-ms", "5000"],
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        sport = int(s.stdout.readline().decode().split()[1])
        port = e2e.free_port()
        cfg = w.write("config.toml", w.scripted_agent(log=False) + CONFIG % dict(
            dtoken=e2e.toml_str(dw.TOKEN), dapi=e2e.toml_str("http://127.0.0.1:%d/api/v10" % dport),
            dgw=e2e.toml_str("ws://127.0.0.1:%d/gateway" % dport),
            dchannel=e2e.toml_str(dw.CHANNEL), sbot=e2e.toml_str(sw.BOT_TOKEN),
            sapp=e2e.toml_str(sw.APP_TOKEN), sapi=e2e.toml_str("http://127.0.0.1:%d/api" % sport),
            health=port, state=e2e.toml_str(w.state)))
        extra = dict(kv.split("=", 1) for kv in os.environ.get("IDLE_RSS_ENV", "").split(",")
                     if "=" in kv)
        b = w.start("run", cfg, stdin=False, env=extra)

        def ready():
            try:
                return e2e.http_get("http://127.0.0.1:%d/readyz" % port)[0] == 200
            except OSError:
                return False

        e2e.wait_until(ready, timeout=60, what="/readyz 200")
        time.sleep(settle)
        with open("/proc/%d/status" % b.pid) as f:
            vm = {l.split(":")[0]: l.split()[1] for l in f if l.startswith(("VmRSS", "VmHWM"))}
        r = rollup(b.pid)
        if os.environ.get("IDLE_RSS_SMAPS"):
            with open("/proc/%d/smaps" % b.pid) as f, open(os.environ["IDLE_RSS_SMAPS"], "w") as o:
                o.write(f.read())
        maps = smaps(b.pid)
        libs = {p: v for p, v in maps.items() if ".so" in os.path.basename(p)}
        print("vmrss_kb %s" % vm["VmRSS"])
        print("vmhwm_kb %s" % vm["VmHWM"])
        print("rss_kb %d" % r["Rss"])
        print("pss_kb %d" % r["Pss"])
        print("private_kb %d" % (r["Private_Clean"] + r["Private_Dirty"]))
        print("shared_kb %d" % (r["Shared_Clean"] + r["Shared_Dirty"]))
        print("libs_mapped %d" % len(libs))
        print("libs_rss_kb %d" % sum(v[0] for v in libs.values()))
        print("libs_pss_kb %d" % sum(v[1] for v in libs.values()))
        print("libs_private_dirty_kb %d" % sum(v[2] for v in libs.values()))
        for p in ("[heap]", "[anon]", "[stack]"):
            if p in maps:
                print("%s_rss_kb %d" % (p.strip("[]"), maps[p][0]))
        exe = os.readlink("/proc/%d/exe" % b.pid)
        print("exe_rss_kb %d" % maps.get(exe, [0])[0])
        for p, v in sorted(libs.items(), key=lambda kv: -kv[1][0]):
            print("lib %s %d %d %d" % (os.path.basename(p), v[0], v[1], v[2]))
        b.signal(15)
        b.wait()
    finally:
        w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
