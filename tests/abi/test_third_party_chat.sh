#!/usr/bin/env bash
# A new chat plugin (tests/abi/third-party/matrix.c) built out of the tree with only the
# installed headers and pkg-config, loaded by the installed binary with no change to
# the core. Its descriptor declares a secret and a ranged integer: `check` reports a
# missing secret and an out-of-range value with file:line; in a run the secret never
# reaches the log nor the chat (the scripted agent echoes it back), and its [matrix]
# section alone enables it.
set -u
fail() { echo "FAIL: $*"; [ -n "${out:-}" ] && { echo "--- output:"; echo "$out"; }; exit 1; }
build=${AB_BUILD_ROOT:?}
src=${AB_SOURCE_ROOT:?}
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

meson install -C "$build" --no-rebuild --destdir "$tmp/dest" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "meson install"; }
bin=$(find "$tmp/dest" -type f -name agent-broker -path '*/bin/*' | head -1)
pc=$(find "$tmp/dest" -name agent-broker-plugin.pc | head -1)
plugdir=$(find "$tmp/dest" -type d -path '*/agent-broker/plugins' | head -1)
[ -x "$bin" ] && [ -f "$pc" ] || fail "install incomplete"

mkdir -p "$tmp/plugins" "$tmp/work" "$tmp/state"
cp "$src/tests/abi/third-party/matrix.c" "$tmp/matrix.c"   # out of the tree, no core headers
cflags=$(PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR="$tmp/dest" pkg-config --cflags agent-broker-plugin) || fail "pkg-config"
case "$cflags" in *"$src/core"*) fail "cflags point into the source tree: $cflags";; esac
cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fPIC -shared -fvisibility=hidden -Wl,-z,defs $cflags \
   -o "$tmp/plugins/chat-matrix.so" "$tmp/matrix.c" || fail "out-of-tree build with: $cflags"
export AGENT_BROKER_PLUGIN_PATH="$tmp/plugins:$plugdir"
cd "$tmp/work"

agent="[agent]
command = \"node\"
args = [\"$src/tests/acp/scripted-agent.js\"]
working_dir = \"$tmp/work\"
"

# `plugins --keys matrix` prints the schema the plugin declares.
out=$("$bin" plugins --keys matrix 2>&1) || fail "plugins --keys matrix"
echo "$out" | grep -q 'sync_timeout_ms *int *default=30000 range=1000..60000' || fail "schema not printed"
echo "$out" | grep -q 'access_token .*required secret prefix=syt_' || fail "secret key not printed"

# check: a missing secret and an out-of-range integer, each with file:line.
printf '[matrix]\nsync_timeout_ms = 70000\ninbox = "in"\noutbox = "out"\nsync_timout = 5\n%s' "$agent" > config.toml
out=$("$bin" check config.toml 2>&1); rc=$?
[ $rc -eq 2 ] || fail "check exit $rc, want 2"
echo "$out" | grep -q '^config.toml:1: \[matrix\] access_token: is required — set it, e.g. access_token = "${MATRIX_ACCESS_TOKEN}"' || fail "missing secret not reported at config.toml:1"
echo "$out" | grep -q '^config.toml:2: \[matrix\] sync_timeout_ms: 70000 is out of range — use 1000 to 60000' || fail "range not reported at config.toml:2"
echo "$out" | grep -q '^warning: config.toml:5: \[matrix\] sync_timout: unknown key' || fail "unknown key not warned at config.toml:5"

# run: [matrix] alone enables the plugin; the token stays out of the log and the chat.
secret="syt_YWxpY2U_c4n4ryS3cr3tV4lue_1a2b3c"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'what is in your env [[env]]\nmy token is %s\n' "$secret" > inbox
: > outbox
printf '[matrix]\naccess_token = "${MATRIX_ACCESS_TOKEN}"\nsync_timeout_ms = 2000\ninbox = "%s"\noutbox = "%s"\n[health]\nlisten = "127.0.0.1:%s"\n[state]\ndir = "%s"\n%s' \
    "$tmp/work/inbox" "$tmp/work/outbox" "$port" "$tmp/state" "$agent" > config.toml
out=$(MATRIX_ACCESS_TOKEN=$secret "$bin" check config.toml 2>&1) || fail "check of the good config"
MATRIX_ACCESS_TOKEN=$secret AGENT_BROKER_LOG=trace "$bin" run config.toml 2> run.log &
pid=$!
for _ in $(seq 1 300); do
    grep -q 'PATH=' outbox && grep -q 'You said: .*my token is' outbox && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
echo "replies after ${SECONDS}s"; kill -TERM "$pid" 2>/dev/null
wait "$pid"; rc=$?
pid=
out=$(cat run.log; echo "--- outbox:"; cat outbox)
[ $rc -eq 0 ] || fail "run exit $rc"
grep -q 'started: 1 chat plugin' run.log || fail "[matrix] did not enable chat-matrix"
grep -q 'chat-matrix: logging in with access token \*\*\* (sync timeout 2000 ms)' run.log || fail "plugin log line not redacted"
grep -q 'PATH=' outbox || fail "the agent's environment was not posted"
grep -q 'You said: .*my token is \*\*\*' outbox || fail "the echoed prompt was not redacted in chat"
if grep -qF "$secret" run.log outbox; then fail "the secret reached the log or the chat"; fi

# A plugin that states the AB_CHAT_INTERACTIVE fact (the same source built as chat-term)
# ends the run by itself once its input has ended and the reply is out: the core
# decides by the fact, not by a plugin's name. chat-matrix above, without the fact,
# kept running until SIGTERM.
cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fPIC -shared -fvisibility=hidden -Wl,-z,defs $cflags \
   -DMATRIX_NAME='"term"' -DMATRIX_INTERACTIVE -o "$tmp/plugins/chat-term.so" "$tmp/matrix.c" || fail "chat-term build"
printf 'hello\n' > inbox
: > outbox
sed 's/^\[matrix\]$/[term]/' config.toml > term.toml
MATRIX_ACCESS_TOKEN=$secret timeout 60 "$bin" run term.toml 2> term.log; rc=$?
out=$(cat term.log; echo "--- outbox:"; cat outbox)
[ $rc -eq 0 ] || fail "interactive plugin: run exit $rc, want 0 by itself"
grep -q 'You said: .*hello' outbox || fail "interactive plugin: the reply was not posted before the end"
echo ok
