#!/bin/sh
# Entry of the e2e valgrind pass. A shell, then exec: a meson --wrapper valgrind
# (--trace-children=no) checks only this shell, and the harness puts each
# agent-broker process under memcheck itself.
exec python3 "$(dirname "$0")/valgrind_run.py"
