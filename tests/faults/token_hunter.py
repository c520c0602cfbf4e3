#!/usr/bin/env python3
"""token_hunter.py: a minimal ACP v1 agent (JSON-RPC 2.0, NDJSON on stdio) that, when
prompted, tries every way a shell command run by an agent (same uid as agent-broker)
has to get the broker's secrets, and answers with what it found.

Usage: token_hunter.py --pattern PREFIX... --report FILE [--state DIR] [--log FILE]

Each route is one JSON object {"route", "target", "outcome", "errno", "found"}:
outcome "ok" (the route worked: the thing was read), "denied" (EACCES/EPERM),
"absent" (ENOENT/ESRCH), or "error"; "found" lists every string starting with PREFIX
that the route yielded. The whole list goes to FILE (unredacted: the test reads it
there) and, one line per route, into the reply. Python 3 stdlib only (ctypes for
ptrace)."""

import argparse
import ctypes
import errno
import json
import os
import re
import signal
import sys

# Descriptors the broker handed over, listed before Python opens anything of its own.
def _open_fds():
    """Open descriptors now, without the one the listing itself used (closed by then)."""
    fds = []
    for n in os.listdir("/proc/self/fd"):
        try:
            os.fstat(int(n))
            fds.append(int(n))
        except OSError:
            pass
    return sorted(fds)


INHERITED_FDS = _open_fds()

MAX_REGION = 64 << 20  # /proc/PID/mem regions larger than this (sanitizer shadow) are skipped
MAX_READ = 4 << 20


class Hunter:
    def __init__(self, pattern, state_dir, log_file):
        self.pattern = re.compile(b"(?:" + b"|".join(re.escape(p.encode()) for p in pattern)
                                  + rb")[A-Za-z0-9_.\-]{4,}")
        self.state_dir = state_dir
        self.log_file = log_file
        self.ppid = os.getppid()
        self.routes = []

    def find(self, data):
        return sorted({m.decode() for m in self.pattern.findall(data)})

    def record(self, route, target, outcome, err=0, found=(), note=None):
        r = {"route": route, "target": target, "outcome": outcome,
             "errno": errno.errorcode.get(err, str(err)) if err else None,
             "found": list(found)}
        if note:
            r["note"] = note
        self.routes.append(r)

    def failed(self, route, target, e):
        outcome = "denied" if e.errno in (errno.EACCES, errno.EPERM) else \
            "absent" if e.errno in (errno.ENOENT, errno.ESRCH) else "error"
        self.record(route, target, outcome, e.errno)

    def read_file(self, route, path, limit=MAX_READ):
        try:
            with open(path, "rb") as f:
                data = f.read(limit)
        except OSError as e:
            self.failed(route, path, e)
            return None
        self.record(route, path, "ok", found=self.find(data))
        return data

    def own_env(self):
        data = b"\0".join(k.encode() + b"=" + v.encode() for k, v in os.environ.items())
        self.record("own-environment", "os.environ", "ok", found=self.find(data))
        self.read_file("own-proc-environ", "/proc/self/environ")

    def parent_files(self):
        p = "/proc/%d" % self.ppid
        self.read_file("parent-environ", p + "/environ")
        self.read_file("parent-cmdline", p + "/cmdline")
        self.read_file("parent-status", p + "/status")
        try:
            tasks = os.listdir(p + "/task")
        except OSError as e:
            self.failed("parent-task-environ", p + "/task", e)
            tasks = []
        for t in tasks:
            self.read_file("parent-task-environ", "%s/task/%s/environ" % (p, t))
        try:
            self.record("parent-cwd", p + "/cwd", "ok", note=os.readlink(p + "/cwd"))
        except OSError as e:
            self.failed("parent-cwd", p + "/cwd", e)

    def parent_memory(self):
        p = "/proc/%d" % self.ppid
        maps = self.read_file("parent-maps", p + "/maps")
        try:
            mem = open(p + "/mem", "rb", buffering=0)
        except OSError as e:
            self.failed("parent-mem", p + "/mem", e)
            return
        found, regions = set(), 0
        with mem:
            for line in (maps or b"").splitlines():
                parts = line.split()
                lo, hi = (int(x, 16) for x in parts[0].split(b"-"))
                if b"r" not in parts[1] or hi - lo > MAX_REGION or line.endswith(b"[vvar]"):
                    continue
                try:
                    mem.seek(lo)
                    found.update(self.find(mem.read(hi - lo)))
                    regions += 1
                except OSError:
                    continue
        self.record("parent-mem", p + "/mem", "ok", found=sorted(found),
                    note="%d regions read" % regions)

    def ptrace(self):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
        libc.ptrace.restype = ctypes.c_long
        PTRACE_DETACH, PTRACE_SEIZE = 17, 0x4206
        if libc.ptrace(PTRACE_SEIZE, self.ppid, None, None) != 0:
            e = ctypes.get_errno()
            self.failed("ptrace-seize", "pid %d" % self.ppid, OSError(e, os.strerror(e)))
            return
        # Attached: interrupt, wait for the stop, detach (the broker runs on).
        PTRACE_INTERRUPT = 0x4207
        libc.ptrace(PTRACE_INTERRUPT, self.ppid, None, None)
        try:
            os.waitpid(self.ppid, 0x40000000)  # __WALL
        except OSError:
            pass
        libc.ptrace(PTRACE_DETACH, self.ppid, None, None)
        self.record("ptrace-seize", "pid %d" % self.ppid, "ok", note="attached and detached")

    def process_vm_readv(self):
        """Read the broker's memory without ptrace-attaching: same permission check."""
        libc = ctypes.CDLL(None, use_errno=True)

        class IOVec(ctypes.Structure):
            _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
        buf = ctypes.create_string_buffer(4096)
        local = IOVec(ctypes.cast(buf, ctypes.c_void_p), 4096)
        remote = IOVec(self.heap_address(), 4096)
        n = libc.process_vm_readv(self.ppid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
        if n < 0:
            e = ctypes.get_errno()
            self.failed("process-vm-readv", "pid %d" % self.ppid, OSError(e, os.strerror(e)))
        else:
            self.record("process-vm-readv", "pid %d" % self.ppid, "ok",
                        found=self.find(buf.raw[:n]))

    def heap_address(self):
        try:
            with open("/proc/%d/maps" % self.ppid, "rb") as f:
                for line in f:
                    if line.rstrip().endswith(b"[heap]"):
                        return int(line.split(b"-")[0], 16)
        except OSError:
            pass
        return 0x10000  # unknown: the permission check comes before the address

    def config_files(self):
        """Every file named on the broker's command line (its config) is readable by
        the same user: a token written there in clear would be the agent's."""
        try:
            with open("/proc/%d/cmdline" % self.ppid, "rb") as f:
                args = [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
        except OSError as e:
            self.failed("config-file", "cmdline", e)
            return
        paths = [a for a in args[1:] if os.path.isfile(a)]
        for a in paths:
            self.read_file("config-file", a)
        if not paths:
            self.record("config-file", " ".join(args), "absent")

    def inherited(self):
        extra = [fd for fd in INHERITED_FDS if fd > 2]
        for fd in extra:
            try:
                target = os.readlink("/proc/self/fd/%d" % fd)
            except OSError:
                target = "?"
            data = b""
            try:
                os.set_blocking(fd, False)
                data = os.read(fd, 65536)
            except OSError:
                pass
            self.record("inherited-fd", "fd %d -> %s" % (fd, target), "ok",
                        found=self.find(data))
        if not extra:
            self.record("inherited-fd", "fds above 2", "absent",
                        note="fds at start: %s" % INHERITED_FDS)

    def parent_fds(self):
        d = "/proc/%d/fd" % self.ppid
        try:
            names = os.listdir(d)
        except OSError as e:
            self.failed("parent-fd", d, e)
            return
        self.record("parent-fd", d, "ok", note="%d descriptors listed" % len(names))
        for n in names:
            path = "%s/%s" % (d, n)
            try:
                target = os.readlink(path)
            except OSError:
                continue
            if target.startswith(("socket:", "anon_inode:", "/dev/")):
                continue
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            except OSError as e:
                self.failed("parent-fd-open", "%s -> %s" % (path, target), e)
                continue
            try:
                data = os.read(fd, MAX_READ)
            except OSError:
                data = b""
            os.close(fd)
            self.record("parent-fd-open", "%s -> %s" % (path, target), "ok", found=self.find(data))

    def files(self):
        if self.state_dir:
            paths = []
            if not os.path.isdir(self.state_dir):
                self.record("state-dir", self.state_dir, "absent")
            for root, _, files in os.walk(self.state_dir, onerror=lambda e: self.failed(
                    "state-dir", self.state_dir, e)):
                paths += [os.path.join(root, n) for n in sorted(files)]
            if os.path.isdir(self.state_dir):
                self.record("state-dir", self.state_dir, "ok", note="%d files" % len(paths))
            for path in paths:
                self.read_file("state-file", path)
        if self.log_file:
            self.read_file("log-file", self.log_file)
        cores = []
        for d in {os.getcwd(), self.state_dir or os.getcwd(), os.environ.get("HOME", "/")}:
            try:
                cores += [os.path.join(d, n) for n in os.listdir(d) if n.startswith("core")]
            except OSError:
                pass
        for c in cores:
            self.read_file("core-dump", c)
        if not cores:
            self.record("core-dump", "core* in cwd, state and HOME", "absent")

    def hunt(self):
        for step in (self.own_env, self.parent_files, self.parent_memory, self.ptrace,
                     self.process_vm_readv, self.inherited, self.parent_fds,
                     self.config_files, self.files):
            try:
                step()
            except Exception as e:  # a route that breaks is reported, never fatal
                self.record(step.__name__, "-", "error", note=repr(e))
        return self.routes


def send(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pattern", required=True, action="append")
    ap.add_argument("--report", required=True)
    ap.add_argument("--state")
    ap.add_argument("--log")
    args = ap.parse_args()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    for line in sys.stdin:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        method, mid = msg.get("method"), msg.get("id")
        if method == "initialize":
            send({"jsonrpc": "2.0", "id": mid, "result": {
                "protocolVersion": 1, "agentCapabilities": {"loadSession": False},
                "authMethods": []}})
        elif method == "session/new":
            send({"jsonrpc": "2.0", "id": mid, "result": {"sessionId": "hunt-1"}})
        elif method == "session/prompt":
            routes = Hunter(args.pattern, args.state, args.log).hunt()
            with open(args.report, "w") as f:
                json.dump({"dumpable": ctypes.CDLL(None).prctl(3, 0, 0, 0, 0),
                           "routes": routes}, f, indent=1)
            text = "hunt report:\n" + "\n".join(
                "%s %s: %s%s%s" % (r["route"], r["target"], r["outcome"],
                                   " " + r["errno"] if r["errno"] else "",
                                   " FOUND " + " ".join(r["found"]) if r["found"] else "")
                for r in routes)
            send({"jsonrpc": "2.0", "method": "session/update", "params": {
                "sessionId": msg["params"]["sessionId"], "update": {
                    "sessionUpdate": "agent_message_chunk",
                    "content": {"type": "text", "text": text}}}})
            send({"jsonrpc": "2.0", "id": mid, "result": {"stopReason": "end_turn"}})
        elif mid is not None:
            send({"jsonrpc": "2.0", "id": mid,
                  "error": {"code": -32601, "message": "method not found"}})


if __name__ == "__main__":
    main()
