"""The image build recipe, proved without a Docker engine: scripts/build-release.sh
(what every Dockerfile's builder stage runs) builds a release, runs the unit tests
and installs exactly the binary, the plugins, the headers and the pkg-config file."""

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
           "chat-console.so", "chat-discord.so", "chat-slack.so"]
HEADERS = ["agent.h", "chat.h", "convert.h", "errors.h", "host.h", "markdown.h", "net.h",
           "plugin.h", "version.h"]
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


class BuildReleaseTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dest = os.path.join(WORK, "dest")
        # The build dir is kept between runs (incremental); the install is always fresh.
        shutil.rmtree(cls.dest, ignore_errors=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ASAN_", "UBSAN_", "MESON_"))}
        cls.proc = subprocess.run(
            [os.path.join(tools.SOURCE_ROOT, "scripts", "build-release.sh"), cls.dest, os.path.join(WORK, "build")],
            capture_output=True, text=True, timeout=1700, env=env)

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
