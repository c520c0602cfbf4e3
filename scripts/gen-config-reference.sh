#!/usr/bin/env bash
# Print the README's configuration rows for the chat plugins' own keys, generated from
# the config schema each plugin declares in its descriptor (`plugins --keys --markdown`).
# usage: scripts/gen-config-reference.sh [BUILD_DIR]   (default: build; or set AGENT_BROKER_BIN)
# The README keeps these rows between the "generated chat keys" markers; the style
# test fails when they differ.
set -eu
bin=${AGENT_BROKER_BIN:-${1:-build}/core/agent-broker}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"   # no config.toml here: the default search path only
echo '| key | default | meaning |'
echo '|---|---|---|'
"$bin" plugins --keys --markdown
