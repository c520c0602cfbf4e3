"""Dockerfile lint (dockerfile-utils) and the images' policy: pinned bases, the
shared release recipe in the builder, a runtime holding only the binary, the chat
plugins and its own agent plugin, owned by the non-root UID 1000 user, tini as
PID 1, a HEALTHCHECK through `agent-broker health`, retries on every download."""

import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tools  # noqa: E402

DOCKER_DIR = os.path.join(tools.SOURCE_ROOT, "docker")
# file: (preset, runtime base image, user, home)
IMAGES = {
    "Dockerfile": ("kiro", "debian:bookworm-slim", "agent", "/home/agent"),
    "Dockerfile.claude": ("claude", "node:22-bookworm-slim", "node", "/home/node"),
    "Dockerfile.codex": ("codex", "node:22-bookworm-slim", "node", "/home/node"),
    "Dockerfile.gemini": ("gemini", "node:22-bookworm-slim", "node", "/home/node"),
}
PLUGIN_DIR = "/usr/local/lib/agent-broker/plugins/"
RUNTIME_PACKAGES = {"libuv1", "libwebsockets17", "libwebsockets-evlib-uv", "libssl3", "libcjson1",
                    "libcmark-gfm0.29.0.gfm.6", "libcmark-gfm-extensions0.29.0.gfm.6",
                    "ca-certificates", "tini", "gh"}
BUILD_TOOLS = re.compile(r"(^|\s)(build-essential|gcc|g\+\+|clang|make|meson|ninja-build|[a-z0-9.+-]+-dev)(\s|$)")
FROM_PINNED = re.compile(r"^FROM (?:--platform=\S+ )?([a-z0-9./-]+:[A-Za-z0-9._-]+)@sha256:[0-9a-f]{64}(?: AS (\S+))?$")


def dockerfile_instructions(text):
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    out, cur = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not cur and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        cur += line
        word, _, rest = cur.partition(" ")
        out.append((word.upper(), " ".join(rest.split())))
        cur = ""
    return out


def dockerfile_resolve_bases(instructions):
    """@instructions with each FROM's ${ARG} replaced by the default of an ARG declared
    before the first FROM (the base image arguments); unresolved references stay."""
    defaults, out, seen_from = {}, [], False
    for word, args in instructions:
        if word == "ARG" and not seen_from:
            name, eq, value = args.partition("=")
            if eq:
                defaults[name] = value
            continue
        if word == "FROM":
            seen_from = True
            args = re.sub(r"\$\{(\w+)\}|\$(\w+)",
                          lambda m: defaults.get(m.group(1) or m.group(2), m.group(0)), args)
        out.append((word, args))
    return out


def dockerfile_stages(instructions):
    """The build stages: lists of instructions, each beginning with its FROM."""
    stages = []
    for ins in instructions:
        if ins[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(ins)
    return stages


def dockerfile_violations(text, preset, base, user, home):
    """Every policy rule the Dockerfile @text breaks, as readable strings."""
    bad = []
    ins = dockerfile_resolve_bases(dockerfile_instructions(text))
    stages = dockerfile_stages(ins)
    for word, args in ins:
        if word == "FROM" and not FROM_PINNED.match("FROM " + args):
            bad.append(f"FROM {args}: not pinned as IMAGE:TAG@sha256:<64 hex> (directly or by a BASE_* ARG default)")
    if len(stages) < 2:
        return bad + ["not multi-stage"]

    builder = stages[0]
    if not builder[0][1].startswith("debian:bookworm@") or not builder[0][1].endswith(" AS builder"):
        bad.append("the first stage must be the debian:bookworm builder")
    if not any(w == "RUN" and "scripts/build-release.sh" in a for w, a in builder):
        bad.append("the builder must run scripts/build-release.sh (the recipe CI proves)")

    final = stages[-1]
    if not final[0][1].startswith(base + "@"):
        bad.append(f"runtime base must be {base}")
    runs = " ; ".join(a for w, a in final if w == "RUN")
    users = [a for w, a in final if w == "USER"]
    if users != [user]:
        bad.append(f"USER must be set once, to {user}: {users}")
    if user == "agent" and not re.search(r"useradd .*-u 1000 .*agent\b", runs):
        bad.append("the agent user must be created with the explicit UID 1000")
    if user == "node" and "useradd" in runs:
        bad.append("node images use the built-in node user (UID 1000); a new user would get 1001")
    if [a for w, a in final if w == "WORKDIR"] != [home]:
        bad.append(f"WORKDIR must be {home}")
    if f"HOME={home}" not in " ".join(a for w, a in final if w == "ENV"):
        bad.append(f"ENV HOME={home} missing")

    copied = set()
    for word, args in final:
        if word in ("COPY", "ADD"):
            if word == "ADD":
                bad.append(f"ADD {args}: use COPY")
            if f"--chown={user}:{user}" not in args.split():
                bad.append(f"COPY {args}: needs --chown={user}:{user}")
            if "--from=" not in args:
                bad.append(f"COPY {args}: sources never go into the runtime, only built files")
            parts = [p for p in args.split() if not p.startswith("--")]
            if "--from=builder" in args.split():
                dest = parts[-1]
                for src in parts[:-1]:
                    copied.add(dest + os.path.basename(src) if dest.endswith("/") else dest)
    want = {"/usr/local/bin/agent-broker"} | {PLUGIN_DIR + p for p in
                                              ("chat-discord.so", "chat-slack.so", "chat-teams.so", "chat-telegram.so", "chat-console.so",
                                               f"agent-{preset}.so")}
    if copied != want:
        bad.append(f"the runtime must get exactly {sorted(want)} from the builder, got {sorted(copied)}")

    apt = set(re.findall(r"apt-get install [^;&|]*", runs))
    pkgs = set(" ".join(apt).split()) - {"apt-get", "install", "-y", "--no-install-recommends"}
    if not RUNTIME_PACKAGES <= pkgs:
        bad.append(f"runtime packages missing: {sorted(RUNTIME_PACKAGES - pkgs)}")
    if BUILD_TOOLS.search(" ".join(sorted(pkgs))):
        bad.append(f"no compilers or -dev packages in the runtime: {sorted(pkgs)}")

    health = [a for w, a in final if w == "HEALTHCHECK"]
    if len(health) != 1 or not re.search(r'CMD \["agent-broker", "health"', health[0]) or "pgrep" in health[0]:
        bad.append(f"HEALTHCHECK must run agent-broker health (a slim image has no pgrep): {health}")
    entry = [a for w, a in final if w == "ENTRYPOINT"]
    if entry != ['["/usr/bin/tini", "--"]']:
        bad.append(f"ENTRYPOINT must be tini: {entry}")
    cmd = [a for w, a in final if w == "CMD"]
    if not cmd or not cmd[-1].startswith('["agent-broker", "run"'):
        bad.append(f"CMD must run agent-broker: {cmd}")
    if not re.search(r"\bgh\b", runs):
        bad.append("gh CLI must be installed at build time")

    # Downloads retry; npm packages are pinned.
    for word, args in ins:
        if word != "RUN":
            continue
        for m in re.finditer(r"\bcurl\s+-[^;&|]*", args):
            if "--retry" not in m.group(0):
                bad.append(f"curl without --retry: {m.group(0)}")
        for m in re.finditer(r"\bnpm (?:install|i)\b[^;&|]*", args):
            if "--fetch-retries=" not in m.group(0):
                bad.append(f"npm install without --fetch-retries: {m.group(0)}")
            for spec in [t for t in m.group(0).split()[2:] if not t.startswith("-")]:
                if not re.search(r".@\d+\.\d+\.\d+$", spec):
                    bad.append(f"npm package not pinned to an exact version: {spec}")
    return bad


class DockerfileTest(unittest.TestCase):
    def test_every_preset_has_a_dockerfile(self):
        found = sorted(f for f in os.listdir(DOCKER_DIR) if f.startswith("Dockerfile"))
        self.assertEqual(found, sorted(IMAGES))

    def test_dockerfile_utils_lint_is_clean(self):
        cli = tools.tools_dockerfile_utils()
        for name in IMAGES:
            with self.subTest(name=name):
                p = subprocess.run([*cli, "lint", os.path.join(DOCKER_DIR, name)],
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertEqual(p.stdout.strip(), "")
        # The linter does report problems: a control it must reject.
        bad = os.path.join(tools.BUILD_ROOT, "packaging-bad.Dockerfile")
        with open(bad, "w") as f:
            f.write("FROM debian:bookworm\nEXPOSE 80/tcpx\n")
        p = subprocess.run([*cli, "lint", bad], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("tcpx", p.stdout)

    def test_policy(self):
        for name, spec in IMAGES.items():
            with self.subTest(name=name):
                with open(os.path.join(DOCKER_DIR, name)) as f:
                    self.assertEqual(dockerfile_violations(f.read(), *spec), [])

    def test_policy_catches_each_kind_of_breach(self):
        with open(os.path.join(DOCKER_DIR, "Dockerfile.claude")) as f:
            good = f.read()
        spec = IMAGES["Dockerfile.claude"]
        digest = re.search(r"node:22-bookworm-slim@sha256:[0-9a-f]{64}", good).group(0)
        breaches = {
            "pinned": good.replace(digest, "node:22-bookworm-slim"),
            "--chown=node:node": good.replace("--chown=node:node ", "", 1),
            "HEALTHCHECK": good.replace('CMD ["agent-broker", "health"', 'CMD ["pgrep", "agent-broker"'),
            "ENTRYPOINT": good.replace('ENTRYPOINT ["/usr/bin/tini", "--"]', 'ENTRYPOINT ["agent-broker"]'),
            "USER": good.replace("USER node\n", ""),
            "fetch-retries": re.sub(r"--fetch-retries=\d+ ", "", good),
            "exact version": good.replace("claude-code@2", "claude-code@^2"),
            "BASE_NODE": good.replace("FROM ${BASE_NODE}", "FROM ${BASE_NODE_UNDECLARED}"),
            "agent-claude.so": good.replace("agent-claude.so", "agent-codex.so"),
            "1001": good.replace("USER node", "RUN useradd -m -u 1001 agent\nUSER node"),
            "compilers": good.replace("tini gh", "tini gh build-essential"),
            "sources": good.replace("USER node", "COPY --chown=node:node . /home/node/src\nUSER node"),
        }
        with open(os.path.join(DOCKER_DIR, "Dockerfile")) as f:
            kiro = f.read()
        kiro_breaches = {
            "--retry": kiro.replace("--retry 3 --retry-delay 5 ", ""),
            "-u 1000": kiro.replace("-u 1000 ", ""),
            "--chown=agent:agent": kiro.replace("--chown=agent:agent", "--chown=root:root"),
            "libwebsockets-evlib-uv": kiro.replace("libwebsockets-evlib-uv ", ""),
        }
        for cases, image in ((breaches, spec), (kiro_breaches, IMAGES["Dockerfile"])):
            for what, text in cases.items():
                with self.subTest(breach=what):
                    self.assertNotIn(text, (good, kiro), f"mutation {what} did not apply")
                    self.assertNotEqual(dockerfile_violations(text, *image), [], what)

    def test_dockerignore_keeps_builds_and_secrets_out(self):
        with open(os.path.join(tools.SOURCE_ROOT, ".dockerignore")) as f:
            rules = {line.strip() for line in f if line.strip() and not line.startswith("#")}
        for rule in (".git", "build*", "**/node_modules", "config.toml"):
            self.assertIn(rule, rules)


if __name__ == "__main__":
    print(f"dockerfile-utils {tools.tools_package_version('dockerfile-utils')}", file=sys.stderr)
    unittest.main(verbosity=2)
