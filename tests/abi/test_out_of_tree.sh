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
cat > "$tmp/src/echo.c" <<'C'
#include <stdlib.h>
#include <agent-broker/plugin.h>
struct ab_chat { const struct ab_host_services *svc; struct ab_host *host; };
static int echo_open(struct ab_host *h, const struct ab_host_services *s, struct ab_chat **out)
{ struct ab_chat *c = calloc(1, sizeof(*c)); if (!c) return AB_ENOMEM; c->svc = s; c->host = h; *out = c; return 0; }
static int echo_start(struct ab_chat *c) { (void)c; return 0; }
static void echo_close(struct ab_chat *c) { free(c); }
static int echo_send(struct ab_chat *c, const struct ab_send *m, ab_sent_cb cb, void *arg)
{ (void)c; (void)m; (void)cb; (void)arg; return 0; }
static const struct ab_chat_ops ops = { .size = sizeof(ops), .max_chars = 500,
  .open = echo_open, .start = echo_start, .close = echo_close, .send = echo_send };
AB_PLUGIN_EXPORT const struct ab_plugin_desc ab_plugin = { .abi_major = AB_ABI_MAJOR,
  .abi_minor = AB_ABI_MINOR, .struct_size = sizeof(struct ab_plugin_desc), .kind = AB_PLUGIN_CHAT,
  .name = "echo", .version = "0.0.1", .description = "out-of-tree", .chat = &ops };
C
cflags=$(PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR="$tmp/dest" pkg-config --cflags agent-broker-plugin) || fail "pkg-config"
cc -std=c11 -Wall -Wextra -Werror -fPIC -shared -fvisibility=hidden -Wl,-z,defs $cflags \
   -o "$tmp/plugins/chat-echo.so" "$tmp/src/echo.c" || fail "out-of-tree build with: $cflags"
case "$cflags" in *"$AB_SOURCE_ROOT/core"*) fail "cflags point into the source tree: $cflags";; esac

out=$(cd "$tmp" && AGENT_BROKER_PLUGIN_PATH="$tmp/plugins:$plugdir" "$bin" plugins 2>&1); rc=$?
echo "$out"
[ $rc -eq 0 ] || fail "plugins exit $rc"
echo "$out" | grep -q "^chat   echo  *0.0.1  *$abi  *$tmp/plugins/chat-echo.so" || fail "echo plugin not listed"
echo "$out" | grep -q "^agent  codex " || fail "installed plugins not listed"
echo ok
