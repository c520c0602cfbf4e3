"""Exit codes of the CLI contract: 1 when no chat platform can start, 2 for bad
configuration or usage, each with a line that says what is wrong."""

import http.server
import threading

import e2e

DISCORD_ONLY = """
[discord]
bot_token = "canary-bot-token-for-exit-test"
api_base = "http://127.0.0.1:%d/api/v10"

[health]
listen = "127.0.0.1:%d"
"""


class Unauthorized(http.server.BaseHTTPRequestHandler):
    """Discord's answer to a revoked token: 401 to everything."""

    def do_GET(self):
        body = b'{"message": "401: Unauthorized", "code": 0}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class ExitCodes(e2e.WorldTest):

    def run_config(self, text, *args):
        cfg = self.world.write("config.toml", text)
        return self.world.run(*(args or ("run",)), cfg)

    def test_run_exits_1_when_the_only_chat_plugin_cannot_stay_connected(self):
        server = http.server.HTTPServer(("127.0.0.1", 0), Unauthorized)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        rc, out, err = self.run_config(self.world.scripted_agent()
                                       + DISCORD_ONLY % (server.server_port, e2e.free_port()))
        self.assertEqual(rc, 1, err)
        self.assertIn("Discord rejected the bot token", err)
        self.assertIn("no chat platform can stay connected", err)
        self.assertNotIn("canary-bot-token-for-exit-test", err + out)
        self.assertEqual(self.world.agent_pids(), [])

    def test_wrong_type_is_a_config_error_with_file_and_line(self):
        rc, out, err = self.run_config('[agent]\ncommand = "node"\n\n[pool]\nmax_sessions = "ten"\n')
        self.assertEqual(rc, 2, err)
        self.assertRegex(err, r"config\.toml:5: .*max_sessions")

    def test_toml_syntax_error_exits_2(self):
        rc, out, err = self.run_config('[agent\ncommand = "node"\n')
        self.assertEqual(rc, 2, err)
        self.assertRegex(err, r"config\.toml:1")

    def test_required_value_empty_after_expansion_exits_2(self):
        rc, out, err = self.run_config('[slack]\nbot_token = "${E2E_UNSET_TOKEN}"\n'
                                       'app_token = "${E2E_UNSET_TOKEN}"\n')
        self.assertEqual(rc, 2, err)
        self.assertIn("E2E_UNSET_TOKEN", err)

    def test_missing_config_file_exits_2(self):
        rc, out, err = self.world.run("run", self.world.path("nope.toml"))
        self.assertEqual(rc, 2, err)
        self.assertIn("nope.toml", err)

    def test_unknown_option_exits_2_with_usage(self):
        rc, out, err = self.world.run("run", "--frobnicate")
        self.assertEqual(rc, 2, err)
        self.assertIn("unknown option --frobnicate", err)
        self.assertIn("usage:", err)

    def test_check_reports_problems_and_exits_2(self):
        rc, out, err = self.run_config('[agent]\ncommand = "no-such-agent-e2e"\n', "check")
        self.assertEqual(rc, 2, err)
        self.assertIn("no-such-agent-e2e", err)

    def test_health_against_nothing_exits_1(self):
        rc, out, err = self.world.run("health", "http://127.0.0.1:%d/healthz" % e2e.free_port())
        self.assertEqual(rc, 1, out + err)

    def test_version_and_help_exit_0(self):
        rc, out, _ = self.world.run("--version")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"^agent-broker \d+\.\d+\.\d+")
        rc, out, _ = self.world.run("--help")
        self.assertEqual(rc, 0)
        self.assertIn("console", out)


if __name__ == "__main__":
    e2e.main()
