"""End-to-end harness: run the built agent-broker binary in a scratch world (its own
temp dir, HOME and config), read what it prints, play a chat platform through the
chat-e2e plugin, and kill everything it started by process group at the end.

Python 3 stdlib only. Every wait is bounded; nothing listens beyond 127.0.0.1."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

ROOT = os.environ.get("AB_SOURCE_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("AGENT_BROKER_BIN") or os.path.join(ROOT, "build", "core", "agent-broker")
PLUGIN_DIR = os.environ.get("AB_E2E_PLUGIN_DIR") or os.path.join(
    ROOT, "build", "tests", "e2e")
SCRIPTED_AGENT = os.path.join(ROOT, "tests", "acp", "scripted-agent.js")
FAKE_MODEL = os.path.join(ROOT, "tests", "acp", "fake-model.js")
CODEX = os.path.join(ROOT, "tests", "node_modules", "@zed-industries",
                     "codex-acp-linux-x64", "bin", "codex-acp")

# AB_E2E_VALGRIND=1 runs every agent-broker process under memcheck (valgrind_run.py);
# agents it spawns run natively.
VALGRIND = os.environ.get("AB_E2E_VALGRIND") == "1"
VALGRIND_CMD = [shutil.which("valgrind") or "valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
                "--errors-for-leak-kinds=definite,indirect",
                "--show-leak-kinds=definite,indirect", "--trace-children=no",
                "--child-silent-after-fork=yes"]

SLOW = 4 if VALGRIND else 1  # how much longer everything takes
WAIT_S = 30 * SLOW  # the longest any single wait may take


def broker_argv(args):
    """The command line that runs agent-broker with @args."""
    return (VALGRIND_CMD if VALGRIND else []) + [BIN] + list(args)


def toml_str(s):
    """A TOML basic string holding @s."""
    return json.dumps(s, ensure_ascii=False)


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stream:
    """Collects everything a pipe yields, on a thread, so a test can wait for text."""

    def __init__(self, pipe):
        self._buf = bytearray()
        self._cond = threading.Condition()
        self.closed = False
        self._thread = threading.Thread(target=self._pump, args=(pipe,), daemon=True)
        self._thread.start()

    def _pump(self, pipe):
        while True:
            chunk = pipe.read1(65536) if hasattr(pipe, "read1") else pipe.read(65536)
            with self._cond:
                if not chunk:
                    self.closed = True
                    self._cond.notify_all()
                    return
                self._buf += chunk
                self._cond.notify_all()

    def text(self):
        with self._cond:
            return self._buf.decode("utf-8", "replace")

    def wait_for(self, pattern, timeout=WAIT_S, start=0):
        """Wait until @pattern (a regex) matches after offset @start; return the match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                m = rx.search(self._buf.decode("utf-8", "replace"), start)
                if m:
                    return m
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise AssertionError("timed out waiting for %r; got:\n%s" % (
                        pattern, self._buf.decode("utf-8", "replace")[-4000:]))
                self._cond.wait(min(left, 0.5))

    def wait_closed(self, timeout=WAIT_S):
        self._thread.join(timeout)


class Proc:
    """One agent-broker process in its own session (process group)."""

    def __init__(self, argv, env, cwd, stdin):
        self.popen = subprocess.Popen(
            argv, env=env, cwd=cwd, start_new_session=True,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.pid = self.popen.pid
        self.out = Stream(self.popen.stdout)
        self.err = Stream(self.popen.stderr)

    def send_line(self, line):
        self.popen.stdin.write((line + "\n").encode())
        self.popen.stdin.flush()

    def close_stdin(self):
        self.popen.stdin.close()

    def signal(self, sig):
        os.kill(self.pid, sig)

    def wait(self, timeout=WAIT_S):
        """Exit code once the process ended within @timeout (else AssertionError)."""
        try:
            rc = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("agent-broker still running after %ss; stderr:\n%s" % (
                timeout, self.err.text()[-4000:]))
        self.out.wait_closed(5)
        self.err.wait_closed(5)
        return rc

    def kill(self):
        if self.popen.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.popen.wait(10)
        for f in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            if f:
                try:
                    f.close()
                except OSError:
                    pass


class World:
    """A scratch directory with HOME, state dir and config for one test."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ab-e2e-")
        self.home = os.path.join(self.dir, "home")
        self.state = os.path.join(self.dir, "state")
        os.mkdir(self.home, 0o700)
        self.procs = []
        self.helpers = []

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, text):
        p = self.path(name)
        with open(p, "w", encoding="utf-8") as f:
            f.write(text)
        return p

    def agent_log(self):
        return self.path("agent.log")

    def scripted_agent(self, *flags, log=True):
        """An [agent] section running the scripted ACP agent with @flags."""
        args = [SCRIPTED_AGENT] + (["--log", self.agent_log()] if log else []) + list(flags)
        return '[agent]\ncommand = "node"\nargs = [%s]\n' % ", ".join(toml_str(a) for a in args)

    def env(self, extra=None):
        """The broker's environment: a scrubbed copy with HOME in the scratch dir."""
        keep = ("PATH", "LANG", "TZ", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
            "VALGRIND_LIB")
        env = {k: v for k, v in os.environ.items() if k in keep}
        env["HOME"] = self.home
        env["USER"] = "e2e-user"
        env["TMPDIR"] = self.dir
        env.update(extra or {})
        return env

    def start(self, *args, stdin=True, env=None, cwd=None):
        """Start agent-broker with @args in its own process group."""
        p = Proc(broker_argv(args), self.env(env), cwd or self.dir, stdin)
        self.procs.append(p)
        return p

    def run(self, *args, env=None, timeout=WAIT_S, cwd=None):
        """Run agent-broker to completion; (exit code, stdout, stderr)."""
        r = subprocess.run(broker_argv(args), env=self.env(env), cwd=cwd or self.dir,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                           start_new_session=True)
        return r.returncode, r.stdout.decode("utf-8", "replace"), \
            r.stderr.decode("utf-8", "replace")

    def helper(self, argv, **kw):
        """Start a helper process (fake server) in its own group, killed at close()."""
        p = subprocess.Popen(argv, start_new_session=True, **kw)
        self.helpers.append(p)
        return p

    def our_pids(self):
        """Every live process whose HOME is this world's: the broker and its agents
        (the broker always passes HOME through to agents)."""
        want = ("HOME=" + self.home).encode() + b"\0"
        pids = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open("/proc/%s/environ" % name, "rb") as f:
                    if want in f.read():
                        pids.append(int(name))
            except OSError:
                continue
        return pids

    def agent_pids(self):
        """Live processes of this world other than the brokers started here."""
        mine = {p.pid for p in self.procs}
        return [pid for pid in self.our_pids() if pid not in mine]

    def wait_no_agents(self, timeout=10):
        deadline = time.monotonic() + timeout
        while self.agent_pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.agent_pids()

    def close(self):
        """Kill every process group this world started or spawned, remove the dir."""
        for p in self.procs:
            p.kill()
        for h in self.helpers:
            if h.poll() is None:
                try:
                    os.killpg(h.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                h.wait(10)
            for f in (h.stdin, h.stdout, h.stderr):
                if f:
                    f.close()
        for pid in self.our_pids():
            try:
                os.killpg(os.getpgid(pid), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


class Platform:
    """The chat platform as the chat-e2e plugin sees it: a FIFO of commands in,
    a file of JSON records (send, edit, react, open_thread, …) out."""

    def __init__(self, world):
        self.control = world.path("control.fifo")
        self.output = world.path("platform.jsonl")
        os.mkfifo(self.control, 0o600)

    def section(self, extra=""):
        """The [plugins] and [e2e] sections that load the plugin."""
        return ("[plugins]\npath = [%s]\nchat = [\"e2e\"]\n\n[e2e]\ncontrol = %s\n"
                "output = %s\n%s\n") % (toml_str(PLUGIN_DIR), toml_str(self.control),
                                        toml_str(self.output), extra)

    def command(self, **cmd):
        """Write one control line; waits (bounded) for the broker to open the FIFO."""
        line = (json.dumps(cmd) + "\n").encode()
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                fd = os.open(self.control, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError:  # ENXIO: nobody has it open for reading yet
                if time.monotonic() > deadline:
                    raise AssertionError("the broker never opened " + self.control)
                time.sleep(0.05)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def message(self, id, text, user="u1", **kw):
        self.command(op="message", id=id, text=text, user=user, **kw)

    def records(self):
        try:
            with open(self.output, encoding="utf-8") as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def wait_record(self, pred, timeout=WAIT_S, start=0):
        """Wait for a record (after index @start) for which @pred is true; return
        (index, record)."""
        deadline = time.monotonic() + timeout
        while True:
            recs = self.records()
            for i in range(start, len(recs)):
                if pred(recs[i]):
                    return i, recs[i]
            if time.monotonic() > deadline:
                raise AssertionError("no matching platform record; got:\n" + "\n".join(
                    json.dumps(r, ensure_ascii=False) for r in recs[-30:]))
            time.sleep(0.05)

    def final_text(self, message_id):
        """What message @message_id shows now: its last edit, else what was sent."""
        text = None
        for r in self.records():
            if r.get("id") == message_id and r["op"] in ("send", "edit"):
                text = r["text"]
        return text


def http_get(url, timeout=5):
    """(status, body) of a GET; 4xx/5xx are returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


# The schedules' wall clock is moved by this many seconds (a test knob of the daemon):
# cron minutes are too coarse to wait for.
CRON_SHIFT_ENV = "AGENT_BROKER_TEST_CRON_SHIFT_S"


def cron_shift(second, minutes_ahead=0):
    """The shift that puts the schedules' clock at @second of the minute
    @minutes_ahead minutes after the current one."""
    now = int(time.time())
    return (now // 60 + minutes_ahead) * 60 + second - now


def cron_job(channel, message="summarise the day", sender="standup-bot"):
    """A [[cron.jobs]] table due every minute in @channel."""
    return ('\n[[cron.jobs]]\nschedule = "* * * * *"\nchannel = %s\nmessage = %s\n'
            'sender_name = %s\n' % (toml_str(channel), toml_str(message), toml_str(sender)))


def wait_until(fn, timeout=WAIT_S, what="condition"):
    """Poll @fn until it returns a true value; return it."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


def agent_lines(world):
    """The JSON-RPC messages the scripted agent received (its --log)."""
    try:
        with open(world.agent_log(), encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def agent_calls(world, method):
    return [m for m in agent_lines(world) if m.get("method") == method]


class WorldTest(unittest.TestCase):
    """A test case with a fresh World per test, always cleaned up."""

    def setUp(self):
        self.world = World()
        self.addCleanup(self.world.close)


RUN_CONFIG = """
[health]
listen = "127.0.0.1:%d"

[state]
dir = %s

[stream]
edit_interval_ms = 100

[reactions.timing]
debounce_ms = 50
done_hold_ms = 100
"""


def run_config(world, platform, port, agent_flags=(), extra="", section_extra=""):
    """Write config.toml for `run` with the chat-e2e platform, the scripted agent
    (started with @agent_flags), health on @port and the world's state dir."""
    return world.write("config.toml", world.scripted_agent(*agent_flags)
                       + platform.section(section_extra)
                       + RUN_CONFIG % (port, toml_str(world.state)) + extra)


class RunWorldTest(WorldTest):
    """A running `agent-broker run` with the chat-e2e platform, ready (/readyz 200)."""

    agent_flags = ("--tick", "20")
    extra = ""
    section_extra = ""

    def setUp(self):
        super().setUp()
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.platform = Platform(self.world)
        self.config = run_config(self.world, self.platform, self.port, self.agent_flags,
                                 self.extra, self.section_extra)
        self.broker = self.start_broker()

    def start_broker(self):
        broker = self.world.start("run", self.config, stdin=False)
        wait_until(lambda: self.get("/readyz")[0] == 200, what="/readyz 200")
        return broker

    def get(self, path):
        """(status, body) of GET @path on the health server; (0, "") when it is down."""
        try:
            return http_get(self.base + path)
        except OSError:
            return 0, ""

    def streaming_turn(self, mid, text, **kw):
        """Deliver message @mid with @text (a [[slow N]] or [[stream N]] prompt) and wait
        until its live reply shows the first chunk; return the reply's send record."""
        p = self.platform
        start = len(p.records())
        p.message(mid, text, **kw)
        _, reply = p.wait_record(lambda r: r["op"] == "send", start=start)
        p.wait_record(lambda r: r["op"] == "edit" and r["id"] == reply["id"]
                      and "chunk1 " in r["text"], start=start)
        return reply

    def stop(self, timeout=WAIT_S):
        """SIGTERM the broker; assert it exits 0 within @timeout."""
        self.broker.signal(signal.SIGTERM)
        self.assertEqual(self.broker.wait(timeout), 0, self.broker.err.text()[-3000:])


def main():
    """Run the module's tests; exit non-zero on any failure."""
    unittest.main(verbosity=2)
