#!/usr/bin/env bash
# The whole test suite: install what it needs, build with ASan/UBSan, run every
# suite, end with "N passed, M failed".
#
#   scripts/test.sh [--no-images] [MESON TEST ARGS...]
#
# --no-images (or AB_SKIP_IMAGES=1) leaves out the suite 'images' (the four images
# built with buildah and run with podman: ~15 min cold, root only).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

skip_images=${AB_SKIP_IMAGES:-0}
args=()
for a in "$@"; do
    if [ "$a" = "--no-images" ]; then skip_images=1; else args+=("$a"); fi
done
set -- "${args[@]}"

scripts/deps.sh test || exit 1

build=build-test
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" -Db_sanitize=address,undefined -Db_lundef=false \
        --prefix "$here/$build/install" >/dev/null || exit 1
fi
ninja -C "$build" >/dev/null || { ninja -C "$build"; exit 1; }

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The images suite runs last and alone (below): it loads both cores for minutes and
# would slow the timing-sensitive suites beside it.
meson test -C "$build" --print-errorlogs --num-processes 2 --no-suite images "$@"
rc=$?

# valgrind cannot run sanitized binaries: a plain build runs the suites marked
# 'valgrind' under memcheck (leaks and errors fail the test).
vg=build-valgrind
if [ $# -eq 0 ]; then
    if [ ! -f "$vg/build.ninja" ]; then
        meson setup "$vg" -Db_sanitize=none --buildtype=debug >/dev/null || exit 1
    fi
    if ninja -C "$vg" >/dev/null || { ninja -C "$vg"; false; }; then
        meson test -C "$vg" --print-errorlogs --num-processes 2 --suite valgrind \
            --wrapper 'valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect --trace-children=no' \
            || rc=1
        # Tests that run valgrind themselves (over many inputs) run without the wrapper.
        meson test -C "$vg" --print-errorlogs --num-processes 2 --suite valgrind-self \
            --logbase testlog-valgrind-self || rc=1
    else
        rc=1
    fi
fi

# libFuzzer targets (clang): each runs briefly on a scratch copy of its corpus.
fz=build-fuzz
if [ $# -eq 0 ] && command -v clang >/dev/null; then
    if [ ! -f "$fz/build.ninja" ]; then
        CC=clang meson setup "$fz" -Dfuzz=true -Db_sanitize=address,undefined \
            -Db_lundef=false >/dev/null || exit 1
    fi
    if ninja -C "$fz" >/dev/null || { ninja -C "$fz"; false; }; then
        meson test -C "$fz" --print-errorlogs --num-processes 2 --suite fuzz \
            --logbase testlog-fuzz || rc=1
    else
        rc=1
    fi
fi

# The four images, built with buildah and run with podman (skipped, with the reason,
# where the machine cannot: not root, no mirror or registry).
if [ $# -eq 0 ] && [ "$skip_images" != 1 ]; then
    meson test -C "$build" --print-errorlogs --num-processes 1 --suite images \
        --logbase testlog-images || rc=1
fi

# meson's summary is not a format CI reads: restate it as "N passed, M failed".
logs=("$build/meson-logs/testlog.json")
[ $# -eq 0 ] && [ "$skip_images" != 1 ] && logs+=("$build/meson-logs/testlog-images.json")
[ $# -eq 0 ] && logs+=("$vg/meson-logs/testlog-valgrind.json" "$vg/meson-logs/testlog-valgrind-self.json"
                      "$fz/meson-logs/testlog-fuzz.json")
python3 - "${logs[@]}" <<'PY'
import json, os, sys
passed = failed = skipped = 0
seen = set()
for path in sys.argv[1:]:
    if not os.path.exists(path) or os.path.realpath(path) in seen:
        continue
    seen.add(os.path.realpath(path))
    for line in open(path):
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"): passed += 1
        elif r == "SKIP": skipped += 1
        else: failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $rc
