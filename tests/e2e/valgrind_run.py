"""The e2e tests again with every agent-broker process under valgrind memcheck
(meson suite 'valgrind', started through valgrind.sh). Skipped (77) when the
binary is built with sanitizers (valgrind cannot run those) or valgrind is missing."""

import os
import shutil
import sys
import unittest

os.environ["AB_E2E_VALGRIND"] = "1"

import e2e  # noqa: E402  (reads AB_E2E_VALGRIND)

MODULES = ["test_console", "test_secrets", "test_run_health", "test_signals",
           "test_persistence", "test_exit_codes", "test_reactions"]


def is_sanitized(path):
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


if __name__ == "__main__":
    if not shutil.which("valgrind"):
        print("skip: valgrind is not installed", file=sys.stderr)
        sys.exit(77)
    if is_sanitized(e2e.BIN):
        print("skip: %s is built with sanitizers; valgrind runs the plain build" % e2e.BIN,
              file=sys.stderr)
        sys.exit(77)
    suite = unittest.defaultTestLoader.loadTestsFromNames(MODULES)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)
