"""What the [state] dir holds is acted on, so who may write it matters: a rewritten
Discord resume URL must not take the token to another host, a state dir that others
may write is refused (by `run` and by `check`), a new one is created 0700, and one
inside the agent's working directory is warned about."""

import json
import os
import socket
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "discord"))

import discord_world as dw  # noqa: E402
import e2e  # noqa: E402


class Listener:
    """A loopback TCP port that records every connection made to it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.accepted = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(2)
            try:
                self.accepted.append(conn.recv(4096))
            except OSError:
                self.accepted.append(b"")
            conn.close()

    def close(self):
        self.sock.close()


class SavedResumeUrl(dw.DiscordTest):
    """A saved session whose resume URL was rewritten to point elsewhere."""

    resume_to = None  # set per test: a URL format with %(evil)d / %(fake)d

    def start_broker(self):
        self.evil = Listener()
        self.addCleanup(self.evil.close)
        d = os.path.join(self.world.state, "plugins", "discord")
        os.makedirs(d, 0o700)
        with open(os.path.join(d, "gateway"), "w") as f:
            json.dump({"session_id": "saved-session", "seq": 7, "bot_id": dw.BOT_ID,
                       "resume_url": self.resume_to % dict(evil=self.evil.port,
                                                           fake=self.fake.port)}, f)
        return super().start_broker()


class ResumeElsewhere(SavedResumeUrl):
    resume_to = "ws://127.0.0.1:%(evil)d"

    def test_a_rewritten_resume_url_gets_no_connection(self):
        st = self.fake.wait(lambda st: st["counts"]["identify"] >= 1 and st, "identify")
        self.assertEqual(self.evil.accepted, [], "the broker connected to the rewritten URL")
        self.assertEqual(st["counts"]["resume"], 0)
        self.broker.err.wait_for("is neither this gateway nor Discord's")
        self.stop()


class ResumeElsewhereTls(SavedResumeUrl):
    # a look-alike of Discord's host is refused
    resume_to = "wss://evil-discord.gg/?%(evil)d%(fake)d"

    def test_a_look_alike_host_is_refused(self):
        self.fake.wait(lambda st: st["counts"]["identify"] >= 1, "identify")
        self.broker.err.wait_for("is neither this gateway nor Discord's")
        self.stop()


class ResumeSameGateway(SavedResumeUrl):
    # control: the gateway we were given is trusted, so the saved session is resumed
    resume_to = "ws://127.0.0.1:%(fake)d/gateway"

    def test_the_configured_gateway_is_resumed(self):
        self.fake.wait(lambda st: st["counts"]["resume"] >= 1, "a Resume")
        self.assertNotIn("is neither this gateway", self.broker.err.text())
        self.stop()


STATE_CONFIG = """[agent]
command = "node"
args = [%(agent)s]
working_dir = %(cwd)s

[state]
dir = %(state)s
"""


class StateDir(e2e.WorldTest):
    """`run` (console mode, stdin closed) and `check` on the state dir."""

    def config(self, state, cwd=None):
        return self.world.write("config.toml", STATE_CONFIG % dict(
            agent=e2e.toml_str(e2e.SCRIPTED_AGENT), state=e2e.toml_str(state),
            cwd=e2e.toml_str(cwd or self.world.home)))

    def test_a_new_state_dir_is_private(self):
        state = os.path.join(self.world.dir, "fresh", "state")
        cfg = self.config(state)
        old = os.umask(0)
        try:
            rc, _, err = self.world.run("run", cfg)
        finally:
            os.umask(old)
        self.assertNotEqual(rc, 2, err)  # (the console chat needs a terminal: exit 1)
        self.assertEqual(os.stat(state).st_mode & 0o777, 0o700)

    def test_a_group_or_world_writable_state_dir_is_refused(self):
        for mode in (0o777, 0o770):
            state = os.path.join(self.world.dir, "shared-%o" % mode)
            os.mkdir(state)
            os.chmod(state, mode)
            cfg = self.config(state)
            rc, _, err = self.world.run("run", cfg)
            self.assertEqual(rc, 2, err)
            self.assertIn("state dir %s is writable by" % state, err)
            self.assertIn("chmod 700 %s" % state, err)
            rc, _, err = self.world.run("check", cfg)
            self.assertEqual(rc, 2, err)
            self.assertIn("chmod 700 %s" % state, err)

    def test_a_state_dir_of_another_user_is_refused(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to make a directory owned by another user")
        state = os.path.join(self.world.dir, "theirs")
        os.mkdir(state, 0o700)
        os.chown(state, 65534, 65534)
        cfg = self.config(state)
        rc, _, err = self.world.run("run", cfg)
        self.assertEqual(rc, 2, err)
        self.assertIn("state dir %s belongs to uid 65534" % state, err)
        rc, _, err = self.world.run("check", cfg)
        self.assertEqual(rc, 2, err)
        self.assertIn("belongs to uid 65534", err)

    def test_a_state_dir_inside_the_working_dir_is_warned_about(self):
        state = os.path.join(self.world.home, "project", ".agent-broker")
        os.makedirs(os.path.dirname(state))
        cfg = self.config(state, cwd=os.path.join(self.world.home, "project"))
        rc, _, err = self.world.run("run", cfg)
        self.assertNotEqual(rc, 2, err)
        self.assertIn("is inside the agent's working directory", err)
        rc, _, err = self.world.run("check", cfg)
        self.assertIn("is inside the agent's working directory", err)
        # outside it: no warning
        cfg = self.config(os.path.join(self.world.dir, "elsewhere"),
                          cwd=os.path.join(self.world.home, "project"))
        rc, _, err = self.world.run("run", cfg)
        self.assertNotEqual(rc, 2, err)
        self.assertNotIn("is inside the agent's working directory", err)


class TokenInTheFile(e2e.WorldTest):
    """A token written in clear in the config: the agent (same user) can read the file."""

    def test_check_and_run_warn(self):
        base = STATE_CONFIG % dict(agent=e2e.toml_str(e2e.SCRIPTED_AGENT),
                                   state=e2e.toml_str(self.world.state),
                                   cwd=e2e.toml_str(self.world.home))
        clear = self.world.write("clear.toml", base + '[discord]\nbot_token = "%s"\n' % (
            "clear-token-" + "x" * 40))
        rc, _, err = self.world.run("check", clear)
        self.assertIn("a token is written in clear text", err)
        viaenv = self.world.write("env.toml", base + '[discord]\nbot_token = "${TOK}"\n')
        rc, _, err = self.world.run("check", viaenv, env={"TOK": "env-token-" + "y" * 40})
        self.assertNotIn("in clear text", err)

    def test_handing_the_agent_a_platform_token_is_an_error(self):
        base = STATE_CONFIG % dict(agent=e2e.toml_str(e2e.SCRIPTED_AGENT),
                                   state=e2e.toml_str(self.world.state),
                                   cwd=e2e.toml_str(self.world.home))
        token = {"TOK": "env-token-" + "z" * 40}
        for name, extra in (("inherit_env", 'inherit_env = ["TOK"]\n'),
                            ("env", 'env = { GH_PAT = "${TOK}" }\n'),
                            ("env", 'env = { MY_API_KEY = "${TOK}" }\n')):
            cfg = self.world.write("give.toml", base.replace("[state]", extra + "\n[state]")
                                   + '[discord]\nbot_token = "${TOK}"\n')
            for cmd in ("check", "run"):
                rc, _, err = self.world.run(cmd, cfg, env=token)
                self.assertEqual(rc, 2, err)
                self.assertIn("agent.%s" % name, err)
                self.assertIn("chat platform's token", err)
        # the agent's own key, also a secret, is fine
        cfg = self.world.write("own.toml", base.replace(
            "[state]", 'env = { MY_API_KEY = "${KEY}" }\n\n[state]')
            + '[discord]\nbot_token = "${TOK}"\n')
        rc, _, err = self.world.run("check", cfg, env=dict(token, KEY="agent-key-" + "k" * 30))
        self.assertNotIn("chat platform's token", err)


if __name__ == "__main__":
    e2e.main()
