"""Teams next to Discord in one daemon: the ingress listener's libwebsockets server
context and the Discord gateway's libwebsockets client context on one loop. Both
platforms answer, /readyz needs both, and the daemon stops cleanly (exit 0)."""

import os
import sys

from teams_world import APP_ID, APP_PASSWORD, Fake, main, e2e

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "discord"))
import discord_world as dw  # noqa: E402

CONFIG = """
[plugins]
chat = ["discord", "teams"]

[discord]
bot_token = %(dtoken)s
api_base = %(dapi)s
gateway_url = %(dgw)s
allowed_channels = [%(dchannel)s]

[teams]
app_id = %(app)s
app_password = "${TEAMS_APP_PASSWORD}"
openid_url = %(openid)s
login_url = %(login)s
default_service_url = %(svc)s

[ingress]
listen = "127.0.0.1:%(ingress)d"

[health]
listen = "127.0.0.1:%(health)d"

[state]
dir = %(state)s

[stream]
edit_interval_ms = 300
"""


class WithDiscord(e2e.WorldTest):
    def test_both_platforms_answer_in_one_daemon(self):
        teams = Fake(self.world)
        discord = dw.Fake(self.world)
        health, ingress = e2e.free_port(), e2e.free_port()
        config = self.world.write("config.toml", self.world.scripted_agent("--tick", "20") + CONFIG % {
            "dtoken": e2e.toml_str(dw.TOKEN), "dapi": e2e.toml_str(discord.base + "/api/v10"),
            "dgw": e2e.toml_str("ws://127.0.0.1:%d/gateway" % discord.port),
            "dchannel": e2e.toml_str(dw.CHANNEL), "app": e2e.toml_str(APP_ID),
            "openid": e2e.toml_str(teams.base + "/openid"), "login": e2e.toml_str(teams.base),
            "svc": e2e.toml_str(teams.base + "/svc"), "ingress": ingress, "health": health,
            "state": e2e.toml_str(self.world.state)})
        teams.call("target", url="http://127.0.0.1:%d/api/messages" % ingress)
        broker = self.world.start("run", config, stdin=False,
                                  env={"TEAMS_APP_PASSWORD": APP_PASSWORD})

        def ready():
            try:
                return e2e.http_get("http://127.0.0.1:%d/readyz" % health)[0] == 200
            except OSError:
                return False
        e2e.wait_until(ready, what="/readyz 200; " + broker.err.text()[-2000:])
        t = teams.message("from teams [[stream 2]]")
        self.assertEqual(t["status"], 200)
        m = discord.message("from discord [[stream 2]]")
        tid = discord.wait(lambda st: discord.msg(st, m["id"])["thread"], "thread")
        discord.wait(lambda st: any("chunk2" in x.get("content", "")
                                    for x in discord.bot_messages(st, tid)), "discord reply")
        e2e.wait_until(lambda: any("chunk2" in p["text"] for p in teams.posts(t["conversation"])),
                       what="teams reply")
        broker.signal(15)
        self.assertEqual(broker.wait(), 0, broker.err.text()[-3000:])


if __name__ == "__main__":
    main()
