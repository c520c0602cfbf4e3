"""The image build recipe: scripts/build-release.sh (what every Dockerfile's builder
stage runs) builds a release, runs the unit tests and installs exactly the binary,
the plugins, the headers and the pkg-config file.

It runs with a PATH that hides every command of the packages only the test suite
installs (scripts/deps.sh --print test minus --print release), so a recipe that
needs something a bare debian:bookworm builder lacks fails here too (the suite
'images' proves it in a real bare builder), and from a fresh build directory, so
configure-time needs are checked as well."""

import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tools  # noqa: E402

WORK = os.path.join(tools.BUILD_ROOT, "packaging-release")
PREFIX = "usr/local"
PLUGINS = ["agent-claude.so", "agent-codex.so", "agent-gemini.so", "agent-kiro.so",
           "chat-console.so", "chat-discord.so", "chat-slack.so", "chat-teams.so",
           "chat-telegram.so"]
# The public ABI headers: every header in core/include/agent-broker (version.h is generated).
HEADERS = sorted(f[:-3] if f.endswith(".in") else f
                 for f in os.listdir(os.path.join(tools.SOURCE_ROOT, "core", "include", "agent-broker"))
                 if f.endswith((".h", ".h.in")))
EXPECTED = sorted(
    [f"{PREFIX}/bin/agent-broker"]
    + [f"{PREFIX}/lib/agent-broker/plugins/{p}" for p in PLUGINS]
    + [f"{PREFIX}/include/agent-broker/{h}" for h in HEADERS]
    + [f"{PREFIX}/lib/pkgconfig/agent-broker-plugin.pc"]
)


def release_project_version():
    """The version meson.build declares."""
    with open(os.path.join(tools.SOURCE_ROOT, "meson.build")) as f:
        return re.search(r"version\s*:\s*'([^']+)'", f.read()).group(1)


def release_needed_libs(path):
    """The shared libraries an ELF file asks for (readelf -d)."""
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def release_packages(mode):
    """The packages scripts/deps.sh installs in @mode."""
    out = subprocess.run([os.path.join(tools.SOURCE_ROOT, "scripts", "deps.sh"), "--print", mode],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def release_hidden_commands():
    """Command names of the packages only the test suite installs."""
    release = release_packages("release")
    hidden = set()
    for pkg in sorted(release_packages("test") - release):
        files = subprocess.run(["dpkg", "-L", pkg], capture_output=True, text=True).stdout.split()
        hidden |= {os.path.basename(f) for f in files if os.path.dirname(f).endswith(("/bin", "/sbin"))}
    # node and npm may come from outside Debian (nodesource): hide them by name too.
    for pkg, names in (("nodejs", ("node", "nodejs")), ("npm", ("npm", "npx"))):
        if pkg not in release:
            hidden |= set(names)
    return hidden


def release_bare_path(bindir, hidden):
    """A one-directory PATH in @bindir: links to every command on PATH except @hidden."""
    shutil.rmtree(bindir, ignore_errors=True)
    os.makedirs(bindir)
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            src, dst = os.path.join(d, name), os.path.join(bindir, name)
            if name in hidden or os.path.lexists(dst) or not os.access(src, os.X_OK) or os.path.isdir(src):
                continue
            os.symlink(src, dst)
    return bindir


class BuildReleaseTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dest = os.path.join(WORK, "dest")
        shutil.rmtree(cls.dest, ignore_errors=True)
        shutil.rmtree(os.path.join(WORK, "build"), ignore_errors=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ASAN_", "UBSAN_", "MESON_"))}
        cls.hidden = release_hidden_commands()
        env["PATH"] = release_bare_path(os.path.join(WORK, "bin"), cls.hidden)
        cls.proc = subprocess.run(
            [os.path.join(tools.SOURCE_ROOT, "scripts", "build-release.sh"), cls.dest, os.path.join(WORK, "build")],
            capture_output=True, text=True, timeout=1700, env=env)

    def test_the_path_hides_the_test_only_tools(self):
        self.assertTrue({"valgrind", "clang-format", "npm"} <= self.hidden, sorted(self.hidden))
        for name in self.hidden:
            self.assertFalse(os.path.lexists(os.path.join(WORK, "bin", name)), name)

    def test_recipe_succeeds(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stdout[-4000:] + self.proc.stderr[-4000:])

    def test_installed_tree_is_exactly_what_the_images_copy(self):
        found = sorted(os.path.relpath(os.path.join(d, f), self.dest)
                       for d, _, files in os.walk(self.dest) for f in files)
        self.assertEqual(found, EXPECTED)

    def test_binary_runs_and_is_a_release_build(self):
        exe = os.path.join(self.dest, PREFIX, "bin", "agent-broker")
        p = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), f"agent-broker {release_project_version()}")
        for path in [exe] + [os.path.join(self.dest, PREFIX, "lib/agent-broker/plugins", p) for p in PLUGINS]:
            with self.subTest(file=os.path.basename(path)):
                needed = release_needed_libs(path)
                self.assertFalse([n for n in needed if re.match(r"lib(a|ub|t|l)san", n)], needed)
                syms = subprocess.run(["readelf", "--syms", path], capture_output=True, text=True).stdout
                self.assertNotIn(".symtab", syms, "installed files are stripped")

    def test_plugins_export_their_descriptor(self):
        for name in PLUGINS:
            with self.subTest(plugin=name):
                path = os.path.join(self.dest, PREFIX, "lib/agent-broker/plugins", name)
                out = subprocess.run(["readelf", "--dyn-syms", "--wide", path],
                                     capture_output=True, text=True, check=True).stdout
                self.assertRegex(out, r"\sOBJECT\s+GLOBAL\s+DEFAULT\s+\d+\s+ab_plugin\n")

    def test_pkg_config_points_at_the_plugin_dir(self):
        with open(os.path.join(self.dest, PREFIX, "lib/pkgconfig/agent-broker-plugin.pc")) as f:
            pc = f.read()
        self.assertIn("prefix=/usr/local\n", pc)
        self.assertIn("libdir=${prefix}/lib\n", pc)
        self.assertIn("plugindir=${libdir}/agent-broker/plugins\n", pc)


if __name__ == "__main__":
    unittest.main(verbosity=2)
