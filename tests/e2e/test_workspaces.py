"""Per-conversation workspaces through the built binary: [agent] workspace =
"per-conversation" with workspace_git gives two threads of the same channel their own
git worktree, so both edit the same file without touching each other or the main
checkout; a worktree that cannot be made says so in the thread and the message does not
reach the agent."""

import os
import subprocess

import e2e


def git(repo, *args):
    return subprocess.run(["git", "-C", repo] + list(args), check=True, capture_output=True,
                          text=True).stdout


class WorkspacesBase(e2e.RunWorldTest):
    """The config with [agent] workspace keys; repo_is_git picks a repository or not."""

    repo_is_git = True

    def setUp(self):
        # RunWorldTest writes the config with e2e.run_config: ours adds the [agent] keys.
        orig = e2e.run_config
        test = self

        def run_config(world, platform, port, agent_flags=(), extra="", section_extra=""):
            work = world.path("work")
            os.makedirs(work, exist_ok=True)
            test.repo = world.path("repo")
            os.makedirs(test.repo, exist_ok=True)
            if test.repo_is_git:
                subprocess.run(["git", "init", "-q", test.repo], check=True)
                with open(os.path.join(test.repo, "notes.txt"), "w", encoding="utf-8") as f:
                    f.write("original\n")
                git(test.repo, "add", "notes.txt")
                git(test.repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid",
                    "commit", "-qm", "init")
            test.work = work
            agent = world.scripted_agent(*agent_flags) + (
                "working_dir = %s\nworkspace = \"per-conversation\"\nworkspace_git = %s\n"
                % (e2e.toml_str(work), e2e.toml_str(test.repo)))
            return world.write("config.toml", agent + platform.section(section_extra)
                               + e2e.RUN_CONFIG % (port, e2e.toml_str(world.state)) + extra)

        e2e.run_config = run_config
        try:
            super().setUp()
        finally:
            e2e.run_config = orig

    def turn(self, mid, text, **kw):
        p = self.platform
        p.message(mid, text, **kw)
        p.wait_record(lambda r: r["op"] == "react" and r["message"] == mid
                      and r["emoji"] == "🆗")


class Workspaces(WorkspacesBase):

    def test_two_threads_edit_the_same_file_in_their_own_worktrees(self):
        self.turn("m1", "[[write notes.txt from thread one]]", channel="chan-1")
        self.turn("m2", "[[write notes.txt from thread two]]", channel="chan-1")
        self.turn("m3", "[[write notes.txt one again]]", channel="chan-1", thread="m1")
        base = os.path.join(self.work, "workspaces")
        dirs = sorted(os.listdir(base))
        self.assertEqual(len(dirs), 2, dirs)
        texts = set()
        for d in dirs:
            self.assertNotIn("/", d)
            with open(os.path.join(base, d, "notes.txt"), encoding="utf-8") as f:
                texts.add(f.read())
        self.assertEqual(texts, {"one again\n", "from thread two\n"})
        with open(os.path.join(self.repo, "notes.txt"), encoding="utf-8") as f:
            self.assertEqual(f.read(), "original\n")
        branches = git(self.repo, "branch", "--list", "agent-broker/*").split()
        self.assertEqual(len([b for b in branches if b.startswith("agent-broker/")]), 2)
        cwds = sorted(m["params"]["cwd"] for m in e2e.agent_calls(self.world, "session/new"))
        self.assertEqual(cwds, [os.path.join(base, d) for d in dirs])
        self.stop()


class WorkspaceFailure(WorkspacesBase):

    repo_is_git = False

    def test_failed_worktree_says_so_and_does_not_run(self):
        p = self.platform
        p.message("m1", "hello", channel="chan-1")
        _, rec = p.wait_record(lambda r: r["op"] in ("send", "edit")
                               and "cannot prepare this conversation's workspace"
                               in r.get("text", ""))
        self.assertIn("git worktree add failed", rec["text"])
        self.assertEqual(e2e.agent_calls(self.world, "session/prompt"), [])
        self.stop()


if __name__ == "__main__":
    e2e.main()
