#!/usr/bin/env bash
# ACP benchmarks: builds the core without sanitizers in build-bench, compiles
# bench_acp.c against it and prints a table. Needs node (the scripted agent).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
if [ ! -f build-bench/build.ninja ]; then
    meson setup build-bench -Dbuildtype=release -Dtests=false >/dev/null
fi
ninja -C build-bench -j2 core/libagent-broker-core.a >/dev/null
cc -std=c11 -O2 -D_GNU_SOURCE -Icore/src -Icore/include -Ibuild-bench/core/include \
    $(pkg-config --cflags libuv libcjson) bench/acp/bench_acp.c \
    build-bench/core/libagent-broker-core.a \
    $(pkg-config --libs libuv libcjson libwebsockets libcurl) -ldl -lm -o build-bench/bench_acp
out=$(build-bench/bench_acp "$here" 2>build-bench/bench_acp.log)
get() { echo "$out" | awk -v k="$1" '$1 == k { print $2 }'; }
printf '%-52s %12s %s\n' "measure" "value" "target"
printf '%-52s %12s %s\n' "broker heap per idle live session (1000 on 8 procs)" "$(get bytes_per_idle_session) B" "<= 16384 B"
printf '%-52s %12s %s\n' "agent processes, 32 conversations, spp = 8" "$(get processes_32_spp8)" "4"
printf '%-52s %12s %s\n' "agent processes, 1000 conversations, spp = 125" "$(get processes_1000_spp125)" "8"
printf '%-52s %12s %s\n' "framing of session/update lines" "$(get framing_mb_s) MB/s" ">= 100 MB/s"
printf '%-52s %12s %s\n' "memchr-only baseline, same buffer" "$(get memchr_mb_s) MB/s" "-"
printf '%-52s %12s %s\n' "framing speed / memchr speed" "$(get framing_vs_memchr)" "-"
printf '%-52s %12s %s\n' "framing + cJSON parse of each line" "$(get framing_parse_mb_s) MB/s" "-"
printf '%-52s %12s %s\n' "processes left after $(get cycles) start/stop cycles (agent + grandchild)" "$(get processes_left)" "0"
printf '%-52s %12s %s\n' "one cycle: spawn, 2 turns, stop" "$(get cycle_ms) ms" "-"
