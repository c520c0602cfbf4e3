#!/usr/bin/env bash
# A third-party plugin built out of tree with only the installed headers and
# `pkg-config --cflags agent-broker-plugin`, then loaded by the installed binary.
set -u
hdr=${AB_SOURCE_ROOT:?}/core/include/agent-broker/plugin.h
major=$(sed -n 's/^#define AB_ABI_MAJOR \([0-9]*\).*/\1/p' "$hdr")
minor=$(sed -n 's/^#define AB_ABI_MINOR \([0-9]*\).*/\1/p' "$hdr")
abi="$major.$minor"
fail() { echo "FAIL: $*"; exit 1; }
build=${AB_BUILD_ROOT:?}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

meson install -C "$build" --no-rebuild --destdir "$tmp/dest" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "meson install"; }
bin=$(find "$tmp/dest" -type f -name agent-broker -path '*/bin/*' | head -1)
pc=$(find "$tmp/dest" -name agent-broker-plugin.pc | head -1)
plugdir=$(find "$tmp/dest" -type d -path '*/agent-broker/plugins' | head -1)
[ -x "$bin" ] || fail "installed binary missing"
[ -f "$pc" ] || fail "agent-broker-plugin.pc not installed"
[ -f "$plugdir/chat-discord.so" ] || fail "plugins not installed into \$libdir/agent-broker/plugins"
hdr=$(find "$tmp/dest" -path '*/include/agent-broker/plugin.h' | head -1)
[ -f "$hdr" ] || fail "ABI headers not installed"

mkdir -p "$tmp/src" "$tmp/plugins"
# The README's example plugin, exactly as documented.
awk '/^### Writing a plugin/{w=1} w&&/^```c$/{p=1;next} p&&/^```$/{exit} p{print}' \
    "$AB_SOURCE_ROOT/README.md" > "$tmp/src/echo.c"
grep -q 'AB_PLUGIN_EXPORT' "$tmp/src/echo.c" || fail "no example plugin found in README.md"
cflags=$(PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR="$tmp/dest" pkg-config --cflags agent-broker-plugin) || fail "pkg-config"
cc -std=c11 -Wall -Wextra -Werror -fPIC -shared -fvisibility=hidden -Wl,-z,defs $cflags \
   -o "$tmp/plugins/chat-echo.so" "$tmp/src/echo.c" || fail "out-of-tree build with: $cflags"
case "$cflags" in *"$AB_SOURCE_ROOT/core"*) fail "cflags point into the source tree: $cflags";; esac

out=$(cd "$tmp" && AGENT_BROKER_PLUGIN_PATH="$tmp/plugins:$plugdir" "$bin" plugins 2>&1); rc=$?
echo "$out"
[ $rc -eq 0 ] || fail "plugins exit $rc"
echo "$out" | grep -q "^chat   echo  *0.0.1  *$abi  *$tmp/plugins/chat-echo.so" || fail "echo plugin not listed"
echo "$out" | grep -q "^agent  codex " || fail "installed plugins not listed"
out=$(cd "$tmp" && AGENT_BROKER_PLUGIN_PATH="$tmp/plugins:$plugdir" "$bin" plugins --keys echo 2>&1) || fail "plugins --keys echo"
echo "$out"
echo "$out" | grep -q 'prefix  *string  *default=would post: ' || fail "the example's key not listed"
echo ok
