#!/usr/bin/env bash
# The whole test suite: install what it needs, build with ASan/UBSan, run every
# suite, end with "N passed, M failed".
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

scripts/deps.sh test || exit 1

build=build-test
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" -Db_sanitize=address,undefined -Db_lundef=false \
        --prefix "$here/$build/install" >/dev/null || exit 1
fi
ninja -C "$build" >/dev/null || { ninja -C "$build"; exit 1; }

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
meson test -C "$build" --print-errorlogs --num-processes 2 "$@"
rc=$?

# meson's summary is not a format CI reads: restate it as "N passed, M failed".
python3 - "$build/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = skipped = 0
try:
    for line in open(sys.argv[1]):
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"): passed += 1
        elif r == "SKIP": skipped += 1
        else: failed += 1
except FileNotFoundError:
    pass
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $rc
