#!/usr/bin/env bash
# Binary compatibility: plugins compiled against the 1.0, 1.1 and 1.2 header sets
# (tests/abi/compat/1.N, taken from git history) and the current headers load on this
# host and work: each chat plugin delivers a message and posts the agent's reply, each
# agent preset spawns the scripted agent (its preset() is called only after the loader
# accepted it; a 1.3 preset is plain data).
set -u
fail() { echo "FAIL: $*"; [ -n "${out:-}" ] && { echo "--- output:"; echo "$out"; }; exit 1; }
bin=${AGENT_BROKER_BIN:?}
src=${AB_SOURCE_ROOT:?}
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/plugins" "$tmp/state"

# One chat and one agent plugin per header set, built with nothing but those headers.
for v in 1.0 1.1 1.2 cur; do
    tag=${v//./}
    if [ "$v" = cur ]; then inc="$src/core/include -I${AB_BUILD_ROOT:?}/core/include"; else inc="$src/tests/abi/compat/$v"; fi
    cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fPIC -shared -fvisibility=hidden -Wl,-z,defs \
       -I$inc -DMATRIX_NAME="\"compat$tag\"" -o "$tmp/plugins/chat-compat$tag.so" \
       "$src/tests/abi/third-party/matrix.c" || fail "chat plugin against $v headers"
    cc -std=c11 -Wall -Wextra -Werror -fPIC -shared -fvisibility=hidden -Wl,-z,defs \
       -I$inc -DPRESET_NAME="\"compat$tag\"" -DSCRIPTED_AGENT="\"$src/tests/acp/scripted-agent.js\"" \
       -o "$tmp/plugins/agent-compat$tag.so" "$src/tests/abi/third-party/preset.c" || fail "agent plugin against $v headers"
done
export AGENT_BROKER_PLUGIN_PATH="$tmp/plugins"
cd "$tmp"

out=$("$bin" plugins 2>&1)
for v in 1.0 1.1 1.2; do
    tag=${v//./}
    echo "$out" | grep -q "^chat   compat$tag  *0.1.0  *$v " || fail "chat plugin built for $v not loaded"
    echo "$out" | grep -q "^agent  compat$tag  *0.1.0  *$v " || fail "agent plugin built for $v not loaded"
done
echo "$out" | grep -q "refused .*compat" && fail "a compat plugin was refused"

# Each header set's chat plugin and agent preset, together, in a run.
for v in 1.0 1.1 1.2 cur; do
    tag=${v//./}
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    printf 'hello from %s\n' "$v" > "inbox$tag"
    : > "outbox$tag"
    printf '[compat%s]\ninbox = "%s"\noutbox = "%s"\naccess_token = "syt_compat_token_%s"\n[agent]\npreset = "compat%s"\nworking_dir = "%s"\n[health]\nlisten = "127.0.0.1:%s"\n[state]\ndir = "%s"\n' \
        "$tag" "$tmp/inbox$tag" "$tmp/outbox$tag" "$tag" "$tag" "$tmp" "$port" "$tmp/state" > "config$tag.toml"
    "$bin" run "config$tag.toml" 2> "run$tag.log" &
    pid=$!
    for _ in $(seq 1 300); do
        grep -q "You said: .*hello from $v" "outbox$tag" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -TERM "$pid" 2>/dev/null
    wait "$pid"; rc=$?
    pid=
    out=$(cat "run$tag.log"; echo "--- outbox:"; cat "outbox$tag")
    [ $rc -eq 0 ] || fail "$v: run exit $rc"
    grep -q "You said: .*hello from $v" "outbox$tag" || fail "$v: no reply posted through the $v chat plugin"
    grep -q "started: 1 chat plugin(s), agent node" "run$tag.log" || fail "$v: the $v preset's command was not used"
    # the current build declares sync_timeout_ms = 30000 in its schema: the core answers
    # config_int with that default; older builds have no schema and get their own 0
    if [ "$v" = cur ]; then want=30000; else want=0; fi
    grep -q "logging in with access token .* (sync timeout $want ms)" "run$tag.log" || fail "$v: config default is not $want"
done
echo ok
