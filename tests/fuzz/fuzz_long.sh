#!/usr/bin/env bash
# Run every libFuzzer target for SECONDS each (default 300) on a scratch copy of its
# seed corpus, one after the other, and print executions per target. A crash keeps its
# input in the scratch dir (printed) and fails the run: copy it into
# tests/fuzz/corpus/<name>/crash-<what> once fixed.
#   tests/fuzz/fuzz_long.sh [SECONDS] [BUILD_DIR] [TARGETS]   (BUILD_DIR defaults to
#   build-fuzz; TARGETS, e.g. "journal session_map", runs only those)
set -u
seconds=${1:-300}
only=${3:-}     # optional: a space-separated list of targets to run (default: all)
here=$(cd "$(dirname "$0")" && pwd)
build=${2:-$here/../../build-fuzz}
work=$(mktemp -d)
failed=0
printf '%-16s %12s %10s %s\n' target executions exec/s result
for corpus in "$here"/corpus/*/; do
    name=$(basename "$corpus")
    if [ -n "$only" ] && [[ " $only " != *" $name "* ]]; then continue; fi
    # the executable is named after the target, '-' as '_' (markdown's is mrkdwn_fuzz)
    exe=$build/tests/fuzz/${name//-/_}_fuzz
    [ "$name" = markdown ] && exe=$build/tests/fuzz/mrkdwn_fuzz
    [ -x "$exe" ] || { echo "$name: $exe not built (meson setup with -Dfuzz=true, clang)"; failed=1; continue; }
    mkdir -p "$work/$name"
    cp -r "$corpus" "$work/$name/corpus"
    "$exe" -max_total_time="$seconds" -max_len=65536 -artifact_prefix="$work/$name/" \
        -print_final_stats=1 "$work/$name/corpus" >"$work/$name/log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$name/log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$name/log")
    if [ $rc -eq 0 ]; then result=ok; else result="FAILED (exit $rc): $work/$name"; failed=1; fi
    printf '%-16s %12s %10s %s\n' "$name" "${runs:-?}" "${rate:-?}" "$result"
done
[ $failed -eq 0 ] && rm -rf "$work"
exit $failed
