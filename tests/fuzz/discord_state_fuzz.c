/* libFuzzer target: chat-discord's state read back at start — the channel-fact cache
 * (channel_cache.c discord_cache_load) and the saved gateway session (gateway.c
 * discord_gateway_load: session_id, resume_url, seq, bot_id). The state directory is
 * writable by the agent's uid, so whatever these hold must never crash the daemon nor
 * send the token elsewhere. Input: the cache's text, a NUL byte, the session's text.
 * The plugin is opened on them against the fake plugin host, connected (Hello: it
 * resumes or identifies), handed a message in a cached channel and a reaction, then
 * closed. */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_host.h"

extern const struct ab_plugin_desc ab_plugin;

static const char *const discord_state_fuzz_config[] = {
    "bot_token",   "fuzz-token",
    "api_base",    "http://127.0.0.1:9/api/v10",
    "gateway_url", "ws://127.0.0.1:9/gateway",
    NULL,
};

/* The two state values of this input (lent from it). */
static const char *discord_state_fuzz_text[2];
static size_t discord_state_fuzz_len[2];

/* state_get: the cache ("channels") or the session (anything else), from the input. */
static int
discord_state_fuzz_get(struct ab_host *host, const char *key, char **out, size_t *len)
{
    int i = strstr(key, "channel") ? 0 : 1;

    (void)host;
    if (!discord_state_fuzz_text[i])
        return -2; /* AB_ENOENT */
    if (!(*out = malloc(discord_state_fuzz_len[i] + 1)))
        return -12;
    memcpy(*out, discord_state_fuzz_text[i], discord_state_fuzz_len[i]);
    (*out)[discord_state_fuzz_len[i]] = '\0';
    *len = discord_state_fuzz_len[i];
    return 0;
}

/* Whether @url is the configured gateway (ws://127.0.0.1:9) or Discord's (wss,
 * discord.gg or a subdomain, default port): the only places the token may go. */
static bool
discord_state_fuzz_trusted(const char *url)
{
    const char *a = strstr(url, "://");
    char host[256];
    size_t n;

    if (!a)
        return false;
    a += 3;
    n = strcspn(a, "/?#");
    if (n >= sizeof(host))
        return false;
    for (size_t i = 0; i < n; i++)
        host[i] = (char)tolower((unsigned char)a[i]); /* host names are case-blind */
    host[n] = '\0';
    if (strncmp(url, "ws://", 5) == 0)
        return strcmp(host, "127.0.0.1:9") == 0;
    if (strncmp(url, "wss://", 6) != 0)
        return false;
    if (n > 4 && strcmp(host + n - 4, ":443") == 0)
        host[n -= 4] = '\0';
    return strcmp(host, "discord.gg") == 0 || (n > 11 && strcmp(host + n - 11, ".discord.gg") == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const frames[] = {
        "{\"op\":10,\"d\":{\"heartbeat_interval\":41250}}",
        "{\"op\":0,\"t\":\"RESUMED\",\"s\":43,\"d\":null}",
        "{\"op\":0,\"t\":\"MESSAGE_CREATE\",\"s\":44,\"d\":{\"id\":\"1300000000000000001\","
        "\"channel_id\":\"123\",\"guild_id\":\"9\",\"type\":0,\"content\":\"<@100> hi\","
        "\"author\":{\"id\":\"200\",\"username\":\"u\"},\"mentions\":[{\"id\":\"100\"}]}}",
        "{\"op\":0,\"t\":\"MESSAGE_REACTION_ADD\",\"s\":45,\"d\":{\"user_id\":\"200\","
        "\"channel_id\":\"123\",\"message_id\":\"1300000000000000001\",\"guild_id\":\"9\","
        "\"emoji\":{\"name\":\"🛑\"}}}",
    };
    const char *text = (const char *)data, *nul = memchr(data, '\0', size);
    struct plugin_host h;
    struct ab_chat *chat = NULL;
    struct ab_ws *ws;

    discord_state_fuzz_text[0] = text;
    discord_state_fuzz_len[0] = nul ? (size_t)(nul - text) : size;
    discord_state_fuzz_text[1] = nul ? nul + 1 : NULL;
    discord_state_fuzz_len[1] = nul ? size - (size_t)(nul - text) - 1 : 0;
    plugin_host_init(&h, discord_state_fuzz_config);
    h.svc.state_get = discord_state_fuzz_get;
    if (ab_plugin.chat->open(plugin_host_handle(&h), &h.svc, &chat) < 0 ||
        ab_plugin.chat->start(chat) < 0)
        abort();
    plugin_host_run(&h, 100, 16);
    if ((ws = plugin_host_ws(&h))) {
        /* only the configured gateway or Discord's may carry the token */
        if (!discord_state_fuzz_trusted(ws->url))
            abort();
        plugin_host_ws_open(ws);
        for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
            if ((ws = plugin_host_ws(&h)))
                plugin_host_ws_message(ws, frames[i], strlen(frames[i]));
            plugin_host_run(&h, 250, 16);
        }
    }
    ab_plugin.chat->close(chat);
    plugin_host_free(&h);
    return 0;
}
