#!/usr/bin/env bash
# `agent-broker plugins`: lists the eight bundled plugins with kind, version and ABI,
# and each refused fixture with its reason; exits 1 because some were refused.
set -u
bin=${AGENT_BROKER_BIN:?}
hdr=${AB_SOURCE_ROOT:?}/core/include/agent-broker/plugin.h
major=$(sed -n 's/^#define AB_ABI_MAJOR \([0-9]*\).*/\1/p' "$hdr")
minor=$(sed -n 's/^#define AB_ABI_MINOR \([0-9]*\).*/\1/p' "$hdr")
abi="$major.$minor"
fail() { echo "FAIL: $*"; echo "--- output:"; echo "$out"; exit 1; }

cd "$(mktemp -d)"
out=$(AGENT_BROKER_PLUGIN_PATH= "$bin" plugins 2>&1); rc=$?
[ $rc -eq 0 ] || fail "bundled plugins only: exit $rc, want 0"
for p in "chat   console" "chat   discord" "chat   slack" "chat   teams" "chat   telegram" "agent  kiro" "agent  claude" \
         "agent  codex" "agent  gemini"; do
    echo "$out" | grep -q "^$p " || fail "missing '$p'"
done
echo "$out" | grep -E "^agent  kiro +[0-9]+\.[0-9]+\.[0-9]+ +$abi +/" >/dev/null || fail "kiro line lacks version/ABI/file"
[ "$(echo "$out" | grep -cE '^(chat|agent) ')" -eq 9 ] || fail "want exactly 9 plugins"

out=$(AGENT_BROKER_PLUGIN_PATH="$AB_FIXTURE_DIR" "$bin" plugins 2>&1); rc=$?
[ $rc -eq 1 ] || fail "with refused fixtures: exit $rc, want 1"
echo "$out" | grep -q "refused .*chat-wrongmajor.so: built for ABI $((major + 1)).$minor, this agent-broker speaks $abi" || fail "wrong major"
echo "$out" | grep -q "refused .*chat-text.so: cannot be loaded" || fail "text file"
echo "$out" | grep -q "^chat   fixture  *9.9.9 " || fail "valid fixture not listed"

# A config's [plugins] path comes first on the search path.
printf '[plugins]\npath = ["%s/dup"]\n' "$AB_FIXTURE_DIR" > config.toml
out=$(AGENT_BROKER_PLUGIN_PATH="$AB_FIXTURE_DIR" "$bin" plugins config.toml 2>&1)
echo "$out" | grep -q "^chat   fixture .*/dup/chat-fixture.so" || fail "[plugins] path not first"
echo "$out" | grep -q "refused $AB_FIXTURE_DIR/chat-fixture.so: a chat plugin named 'fixture' was already loaded" || fail "duplicate not refused"
echo "ok"
