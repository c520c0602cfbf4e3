#!/usr/bin/env bash
# Run one libFuzzer target for a bounded time on a scratch copy of its seed corpus;
# a crash, leak or sanitizer report fails the test.
set -u
exe=$1 corpus=$2 seconds=${3:-20}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cp -r "$corpus" "$work/corpus"
"$exe" -max_total_time="$seconds" -max_len=65536 -artifact_prefix="$work/" \
    -print_final_stats=1 "$work/corpus" 2>"$work/log"
rc=$?
tail -12 "$work/log"
[ $rc -eq 0 ] || { echo "fuzzer found a problem (exit $rc)"; ls "$work"; exit 1; }
