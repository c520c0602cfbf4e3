"""A real agent: `agent-broker console` running the native codex-acp binary against
the fake model server on 127.0.0.1. Skipped (exit 77) only when codex-acp is not
installed (scripts/deps.sh test)."""

import os
import select
import subprocess
import sys

import e2e

CODEX_WAIT_S = 90

CODEX_CONFIG = """[agent]
command = %(codex)s
args = ["-c", "model_provider=fake", "-c", "model=fake-model", "-c", %(provider)s]
working_dir = %(work)s
env = { CODEX_HOME = %(codex_home)s, TMPDIR = %(tmp)s }

[permissions]
mode = "auto"
"""


class Codex(e2e.WorldTest):

    def start_model(self):
        """fake-model.js on an ephemeral port; returns the port."""
        m = self.world.helper(["node", e2e.FAKE_MODEL, "--port", "0", "--log",
                               self.world.path("model.log")], stdout=subprocess.PIPE)
        ready, _, _ = select.select([m.stdout], [], [], e2e.WAIT_S)
        self.assertTrue(ready, "fake-model.js did not start")
        line = m.stdout.readline().decode()
        self.assertTrue(line.startswith("listening "), line)
        return int(line.split()[1])

    def test_codex_streams_text_and_runs_an_auto_approved_tool(self):
        w = self.world
        port = self.start_model()
        work = w.path("work")
        codex_home = w.path("codex-home")
        os.mkdir(work)
        os.mkdir(codex_home)
        provider = ('model_providers.fake={name="fake",base_url="http://127.0.0.1:%d/v1",'
                    'wire_api="responses",supports_websockets=false,request_max_retries=0,'
                    'stream_max_retries=0}' % port)
        cfg = w.write("config.toml", CODEX_CONFIG % {
            "codex": e2e.toml_str(e2e.CODEX), "provider": e2e.toml_str(provider),
            "work": e2e.toml_str(work), "codex_home": e2e.toml_str(codex_home),
            "tmp": e2e.toml_str(w.dir)})
        p = w.start("console", cfg)
        p.send_line("say hello [[text]]")
        m = p.out.wait_for(r"Hello from the fake model\.", timeout=CODEX_WAIT_S)
        self.assertFalse(os.path.exists(os.path.join(work, "x.txt")))
        p.send_line("make a file [[tool]]")
        p.out.wait_for(r"tool done", timeout=CODEX_WAIT_S, start=m.end())
        self.assertTrue(os.path.exists(os.path.join(work, "x.txt")),
                        "the auto-approved tool did not run")
        self.assertRegex(p.out.text()[m.end():], r"✅ `touch x\.txt`")
        p.close_stdin()
        self.assertEqual(p.wait(), 0, p.err.text()[-3000:])
        self.assertNotRegex(p.out.text(), r"⚠️", p.out.text())
        # codex ignores stdin EOF: only the group kill ends it
        self.assertEqual(w.wait_no_agents(), [])
        with open(w.path("model.log")) as f:
            self.assertGreaterEqual(sum('"/v1/responses"' in line for line in f), 3)


if __name__ == "__main__":
    if not os.access(e2e.CODEX, os.X_OK):
        print("skip: %s not installed (scripts/deps.sh test)" % e2e.CODEX, file=sys.stderr)
        sys.exit(77)
    e2e.main()
