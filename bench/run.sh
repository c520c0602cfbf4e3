#!/usr/bin/env bash
# The benchmark suite: configures a release build without sanitizers in build-bench
# (-Dbench=true -Dtests=false), builds it, runs every benchmark in bench/ and prints one
# table. Each row holds a measure and, where one exists, a baseline measured in the same
# run with the ratio between them. Exits 1 when a target is missed or a benchmark fails.
# Needs node (tests/acp/scripted-agent.js). Raw outputs: build-bench/bench-results/.
# Usage: bench/run.sh
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
build=build-bench
out=$build/bench-results

if [ -f $build/build.ninja ]; then
    meson configure $build -Dbuildtype=release -Db_sanitize=none -Dtests=false -Dbench=true \
        >/dev/null || exit 2
else
    meson setup $build -Dbuildtype=release -Db_sanitize=none -Dtests=false -Dbench=true \
        >/dev/null || exit 2
fi
ninja -C $build -j2 >$build/bench-build.log 2>&1 || { tail -20 $build/bench-build.log; exit 2; }
mkdir -p $out

failed=0
# run NAME CMD...: run one benchmark (bounded to RUN_TIMEOUT s, default 120), output in
# $out/NAME.txt.
run() {
    local name=$1
    shift
    printf 'running %-14s' "$name" >&2
    local t0=$SECONDS
    if ! timeout "${RUN_TIMEOUT:-120}" "$@" >"$out/$name.txt" 2>"$out/$name.log"; then
        printf ' FAILED (see %s)\n' "$out/$name.log" >&2
        failed=1
    else
        printf ' %3d s\n' $((SECONDS - t0)) >&2
    fi
}
# get NAME KEY: the value of a "KEY value" line of NAME's output.
get() { awk -v k="$2" '$1 == k { print $2; exit }' "$out/$1.txt" 2>/dev/null; }
# num NAME SED_EXPR: a number pulled out of NAME's free-form output.
num() { sed -n "$2" "$out/$1.txt" 2>/dev/null | head -1; }

run acp $build/bench/acp/bench_acp "$root"
run render $build/bench/render/bench_render 20
run engine $build/bench/engine/bench_engine
run policy $build/bench/policy/bench_policy
run route $build/bench/conv/bench_route
run latency $build/bench/conv/bench_latency $build/bench/conv/bench_stamp_agent 1000
run scale1000_1 $build/bench/conv/bench_scale "$root" 1000 125 1
run scale1000_n $build/bench/conv/bench_scale "$root" 1000 125 1000
run scale100_1 $build/bench/conv/bench_scale "$root" 100 1 100
run scale100_8 $build/bench/conv/bench_scale "$root" 100 8 100
run churn $build/bench/conv/bench_churn 1000000 50
run daemon $build/bench/daemon/bench_daemon $build/core/agent-broker \
    $build/bench/daemon/bench_uv_idle "$root/$build/bench/daemon" "$root" 20
pyenv=(env AB_SOURCE_ROOT="$root" AB_BUILD_ROOT="$root/$build"
    AGENT_BROKER_BIN="$root/$build/core/agent-broker")
run daemon_rss "${pyenv[@]}" python3 "$root/bench/daemon/idle_rss.py" 3
run discord_latency "${pyenv[@]}" PAUSE_MS=200 python3 "$root/bench/daemon/discord_latency.py" \
    "$root/$build/bench/conv/bench_stamp_agent" "$root/$build/bench/daemon/bench_floor_discord" 100
# bench/agents: the real agents (minutes each), only with BENCH_AGENTS=1
if [ "${BENCH_AGENTS:-0}" = 1 ]; then
    for a in codex claude gemini; do
        RUN_TIMEOUT=900 run agents_lat_$a "${pyenv[@]}" python3 "$root/bench/agents/bench_agents.py" \
            $a latency 3
        RUN_TIMEOUT=1500 run agents_day_$a "${pyenv[@]}" python3 \
            "$root/bench/agents/bench_agents.py" $a day 30 2 2 1
    done
fi
run platforms env AB_SOURCE_ROOT="$root" AB_BUILD_ROOT="$root/$build" \
    AGENT_BROKER_BIN="$root/$build/core/agent-broker" \
    python3 "$root/bench/daemon/bench_platforms.py" 20
# bench/rate: the real broker and plugins against the loopback fakes (no sanitizers)
for s in discord_open discord_bucket discord_storm slack_open slack_storm; do
    run cadence_$s env AB_SOURCE_ROOT="$root" AB_BUILD_ROOT="$root/$build" \
        AGENT_BROKER_BIN="$root/$build/core/agent-broker" \
        python3 "$root/bench/rate/bench_cadence.py" ${s%%_*} ${s#*_}
done

missed=0
rows=()
# row MEASURE VALUE BASELINE TARGET: TARGET is "-", "<N", "<=N", ">=N" or "=N"; the ratio
# is VALUE / BASELINE when both are numbers.
row() {
    local m=$1 v=${2:-} b=${3:--} t=${4:--} ratio=- ok=-
    [ -n "$v" ] || v=n/a
    if [[ $v =~ ^[0-9.]+$ && $b =~ ^[0-9.]+$ ]]; then
        ratio=$(awk -v v="$v" -v b="$b" 'BEGIN { if (b > 0) printf "%.2f", v / b; else print "-" }')
    fi
    if [ "$t" != "-" ]; then
        local op=${t%%[0-9]*} lim=${t#"${t%%[0-9]*}"}
        if [[ $v =~ ^[0-9.]+$ ]] && awk -v v="$v" -v l="$lim" -v op="$op" 'BEGIN {
                exit !((op == "<" && v < l) || (op == "<=" && v <= l) ||
                       (op == ">=" && v >= l) || (op == "=" && v == l)) }'; then
            ok=yes
        else
            ok=NO
            missed=1
        fi
    fi
    rows+=("$(printf '| %s | %s | %s | %s | %s | %s |' "$m" "$v" "$b" "$ratio" "$t" "$ok")")
}
kb_to_mb() { [[ ${1:-} =~ ^[0-9]+$ ]] && awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# ACP layer (bench/acp)
row "ACP: broker heap per idle live session, B (1000 on 8 processes)" \
    "$(get acp bytes_per_idle_session)" - "<=16384"
row "ACP: agent processes, 32 conversations, spp=8 (baseline: spp=1)" \
    "$(get acp processes_32_spp8)" 32 "=4"
row "ACP: agent processes, 1000 conversations, spp=125" "$(get acp processes_1000_spp125)" - "=8"
row "ACP: framing session/update lines, MB/s (baseline: memchr)" \
    "$(get acp framing_mb_s)" "$(get acp memchr_mb_s)" ">=100"
row "ACP: framing + cJSON parse, MB/s (baseline: memchr)" \
    "$(get acp framing_parse_mb_s)" "$(get acp memchr_mb_s)"
row "ACP: processes left after $(get acp cycles) start/stop cycles" "$(get acp processes_left)" - "=0"

# Streaming cost (bench/render, bench/engine)
render_base=$(num render 's/^baseline concatenate: *\([0-9.]*\) ms.*/\1/p')
row "render + coalesce 10 000 chunks, ms CPU (baseline: concatenate)" \
    "$(num render 's/^render + live per edit interval: *\([0-9.]*\) ms.*/\1/p')" "$render_base" "<50"
row "render with a live view on every chunk, ms CPU (worst case)" \
    "$(num render 's/^render + live on every chunk: *\([0-9.]*\) ms.*/\1/p')" "$render_base"
engine_base=$(num engine 's/^baseline:.* \([0-9.]*\) ms CPU.*/\1/p')
row "pacer + rate limiter, 10 000 updates, ms CPU (baseline: count)" \
    "$(num engine 's/^paced:.* \([0-9.]*\) ms CPU.*/\1/p')" "$engine_base"
row "rate limiter alone, 10 000 live edits, ms CPU (baseline: count)" \
    "$(num engine 's/^direct:.* \([0-9.]*\) ms CPU.*/\1/p')" "$engine_base"
row "policy_decide, ns per message (baseline: FNV hash of the id)" \
    "$(awk '$1 == "policy_decide" { print $3 }' $out/policy.txt 2>/dev/null)" \
    "$(awk '$1 == "baseline" { print $6 }' $out/policy.txt 2>/dev/null)"
row "route_pick, ns per first message, 5 agents (baseline: policy_decide)" \
    "$(awk '$1 == "route_pick" { print $3 }' $out/route.txt 2>/dev/null)" \
    "$(awk '$1 == "baseline" { print $4 }' $out/route.txt 2>/dev/null)"

# Inbound event -> session/prompt (bench/conv/bench_latency)
row "inbound -> prompt written (engine_inbound returns), p50 us (baseline: uv_write)" \
    "$(get latency broker_call_p50_us)" "$(get latency direct_call_p50_us)"
row "inbound -> prompt written (engine_inbound returns), p99 us (baseline: uv_write)" \
    "$(get latency broker_call_p99_us)" "$(get latency direct_call_p99_us)" "<1000"
row "inbound -> agent has read the prompt, p50 us (baseline: direct write)" \
    "$(get latency broker_read_p50_us)" "$(get latency direct_read_p50_us)"
row "inbound -> agent has read the prompt, p99 us (baseline: direct write)" \
    "$(get latency broker_read_p99_us)" "$(get latency direct_read_p99_us)"

# Scale (bench/conv/bench_scale)
row "1000 threads in 1 channel, spp=125: answered" "$(get scale1000_1 answered)" - "=1000"
row "1000 threads in 1000 channels, spp=125: answered" "$(get scale1000_n answered)" - "=1000"
for s in scale1000_1 scale1000_n; do
    where=$([ $s = scale1000_1 ] && echo "1 channel" || echo "1000 channels")
    row "1000 threads in $where: broker VmRSS, MB (baseline: before)" \
        "$(kb_to_mb "$(get $s rss_after_kb)")" "$(kb_to_mb "$(get $s rss_before_kb)")" "<64"
    row "1000 threads in $where: broker VmHWM, MB (baseline: VmRSS before)" \
        "$(kb_to_mb "$(get $s hwm_kb)")" "$(kb_to_mb "$(get $s rss_before_kb)")" "<64"
done
row "1000 threads in 1000 channels: wall ms (baseline: 100 threads)" \
    "$(get scale1000_n wall_ms)" "$(get scale100_8 wall_ms)"
row "1000 threads: agent processes (spp=125)" "$(get scale1000_n agent_processes)" - "=8"
row "100 threads: wall ms, spp=8 (baseline: spp=1)" \
    "$(get scale100_8 wall_ms)" "$(get scale100_1 wall_ms)"
row "100 threads: agent processes, spp=8 (baseline: spp=1)" \
    "$(get scale100_8 agent_children)" "$(get scale100_1 agent_children)" "=13"
row "100 threads: agents' total VmRSS, MB, spp=8 (baseline: spp=1)" \
    "$(kb_to_mb "$(get scale100_8 agents_rss_kb)")" "$(kb_to_mb "$(get scale100_1 agents_rss_kb)")"
row "100 threads: broker VmRSS, MB, spp=8 (baseline: spp=1)" \
    "$(kb_to_mb "$(get scale100_8 rss_after_kb)")" "$(kb_to_mb "$(get scale100_1 rss_after_kb)")"

# Threads over time (bench/conv/bench_churn): idle conversations are evicted
row "1 000 000 threads over time: VmRSS at the end, MB (baseline: at the middle)" \
    "$(kb_to_mb "$(get churn rss_end_kb)")" "$(kb_to_mb "$(get churn rss_middle_kb)")" "<64"
row "1 000 000 threads over time: us per event at the end (baseline: after the first tenth)" \
    "$(get churn us_per_event_end)" "$(get churn us_per_event_start)"
row "1 000 000 threads over time: most conversations alive at once" \
    "$(get churn most_conversations)" - "<100000"
# Live-edit cadence and rate limits (bench/rate): edits per minute of a 20 s streamed
# reply against the configured cadence (edit_interval_ms 500 = 120/min), and requests
# into a bucket known to be exhausted (must be 0)
for s in discord_open discord_bucket discord_storm slack_open slack_storm; do
    case $s in
    *_open) t=">=90" ;;     # the platform allows the cadence: it is reached
    *_bucket) t="<=60" ;;   # Discord's 5 per 5 s message bucket binds: at most 1/s
    *) t="<=120" ;;
    esac
    row "$s: live edits per minute (baseline: 60000 / edit_interval_ms)" \
        "$(get cadence_$s ${s}_edits_per_min)" "$(get cadence_$s ${s}_cadence_per_min)" "$t"
    row "$s: requests into a bucket known to be exhausted" "$(get cadence_$s ${s}_exhausted)" \
        - "=0"
done

# The daemon from outside (bench/daemon)
row "agent-broker console idle VmRSS, MB (baseline: bare libuv loop)" \
    "$(kb_to_mb "$(get daemon idle_rss_kb)")" "$(kb_to_mb "$(get daemon idle_baseline_rss_kb)")"
row "agent-broker console idle VmRSS with 5 agents (none started), MB (baseline: 1 agent)" \
    "$(kb_to_mb "$(get daemon idle_rss_5_agents_kb)")" "$(kb_to_mb "$(get daemon idle_rss_kb)")"
row "agent-broker run to /readyz 200, median ms (baseline: --version)" \
    "$(get daemon ready_ms_p50)" "$(get daemon version_ms_p50)"
row "start-up runs that failed (of $(get daemon runs))" "$(get daemon failed_runs)" - "=0"
row "agent-broker run idle on the Discord + Slack fakes: VmRSS, MB (baseline: console idle)" \
    "$(kb_to_mb "$(get daemon_rss vmrss_kb)")" "$(kb_to_mb "$(get daemon idle_rss_kb)")" "<=8"
row "agent-broker run idle on the Discord + Slack fakes: Pss, MB" \
    "$(kb_to_mb "$(get daemon_rss pss_kb)")"
row "agent-broker run idle on the Discord + Slack fakes: private, MB" \
    "$(kb_to_mb "$(get daemon_rss private_kb)")"
row "agent-broker run idle: shared objects mapped (their VmRSS, MB)" \
    "$(get daemon_rss libs_mapped) ($(kb_to_mb "$(get daemon_rss libs_rss_kb)"))"
row "Discord message -> agent has read session/prompt, warm, p50 us (baseline: floor)" \
    "$(get discord_latency daemon_p50_us)" "$(get discord_latency floor_p50_us)"
row "Discord message -> agent has read session/prompt, warm, p99 us (baseline: floor)" \
    "$(get discord_latency daemon_p99_us)" "$(get discord_latency floor_p99_us)" "<=1000"

# Real agents (bench/agents, BENCH_AGENTS=1): message -> the agent's first model request
if [ "${BENCH_AGENTS:-0}" = 1 ]; then
    for a in codex claude gemini; do
        row "$a: message -> first model request, resume (session/load) median ms (baseline: cold)" \
            "$(get agents_lat_$a ${a}_resume_ms_median)" "$(get agents_lat_$a ${a}_cold_ms_median)"
        row "$a: message -> first model request, warm median ms (baseline: cold)" \
            "$(get agents_lat_$a ${a}_warm_ms_median)" "$(get agents_lat_$a ${a}_cold_ms_median)"
        row "$a: history seen by the model after a resume" \
            "$(get agents_lat_$a ${a}_history_seen_after_resume)"
        row "$a: day of 30 conversations, 2 active: agents' mean VmRSS, MB, idle_suspend_s=1 (baseline: 0)" \
            "$(get agents_day_$a ${a}_day_suspend_spp1_agent_rss_mb_mean)" \
            "$(get agents_day_$a ${a}_day_nosuspend_spp1_agent_rss_mb_mean)"
    done
fi
row "agent-broker run connected to fake Telegram, VmRSS MB (baseline: to fake Discord)" \
    "$(kb_to_mb "$(get platforms telegram_connected_rss_kb)")" \
    "$(kb_to_mb "$(get platforms discord_connected_rss_kb)")"
row "Telegram message → session/prompt, median ms (baseline: Discord, same run)" \
    "$(get platforms telegram_prompt_latency_ms_median)" \
    "$(get platforms discord_prompt_latency_ms_median)"

echo
echo "| measure | value | baseline | ratio | target | ok |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
if [ $failed -ne 0 ] || [ $missed -ne 0 ]; then
    echo
    echo "targets missed or benchmarks failed: see $out/*.log" >&2
    exit 1
fi
exit 0
