/* libFuzzer target: Discord Gateway frames through the real chat-discord code (gateway.c
 * op handling, events.c dispatch parsing, the channel cache, mention handling, REST
 * lookups answered by the fake host). The plugin is opened against the fake plugin host,
 * connected (Hello, READY, ACK), then each line of the input is one gateway frame; due
 * timers and HTTP answers run between frames; "HTTP <status> <body>" lines answer the
 * next REST call (a send, edit, reaction and thread are started first, so the answers
 * reach outbound.c). A hostile gateway or API must never crash us. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_lines.h"
#include "plugin_host.h"

extern const struct ab_plugin_desc ab_plugin;

static const char *const discord_fuzz_config[] = {
    "bot_token",   "fuzz-token",
    "api_base",    "http://127.0.0.1:9/api/v10",
    "gateway_url", "ws://127.0.0.1:9/gateway",
    NULL,
};

/* GET /channels/{id}: a thread of ours for even ids, a plain channel for odd ones,
 * a 429 or a 404 for ids ending in 7 or 9; everything else succeeds with "{}". */
static bool
discord_fuzz_respond(void *arg, const char *method, const char *url, const char *body, long *status,
                     const char **resp, const char *const **headers)
{
    static char buf[256];
    const char *id = strstr(url, "/channels/");
    size_t n;

    (void)arg, (void)method, (void)body, (void)headers;
    *status = 200;
    *resp = "{}";
    if (!id || strchr(id + 10, '/'))
        return true;
    id += 10;
    n = strlen(id);
    if (n == 0 || n > 32)
        return true;
    switch (id[n - 1]) {
    case '7':
        *status = 429;
        *resp = "{\"retry_after\":0.5,\"global\":false}";
        return true;
    case '9':
        *status = 404;
        *resp = "{\"message\":\"Unknown Channel\",\"code\":10003}";
        return true;
    default: break;
    }
    snprintf(buf, sizeof(buf),
             (id[n - 1] - '0') % 2 == 0
                 ? "{\"id\":\"%s\",\"type\":11,\"parent_id\":\"1\",\"owner_id\":\"100\","
                   "\"thread_metadata\":{\"archived\":false}}"
                 : "{\"id\":\"%s\",\"type\":0,\"parent_id\":\"1\"}",
             id);
    *resp = buf;
    return true;
}

/* One frame to the newest socket (reconnects open new ones), then run what is due. */
static void
discord_fuzz_frame(void *arg, const char *line, size_t len)
{
    struct plugin_host *h = arg;
    struct ab_ws *ws = plugin_host_ws(h);

    if (fuzz_http_line(h, line, len))
        return;
    if (ws)
        plugin_host_ws_message(ws, line, len);
    plugin_host_run(h, 250, 16);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const hello[] = {
        "{\"op\":10,\"d\":{\"heartbeat_interval\":41250}}",
        "{\"op\":0,\"t\":\"READY\",\"s\":1,\"d\":{\"v\":10,\"session_id\":\"s1\","
        "\"resume_gateway_url\":\"ws://127.0.0.1:9/resume\",\"user\":{\"id\":\"100\","
        "\"username\":\"bot\",\"bot\":true},\"guilds\":[{\"id\":\"9\",\"unavailable\":true}]}}",
        "{\"op\":11}",
    };
    struct plugin_host h;
    struct ab_chat *chat = NULL;
    struct ab_ws *ws;

    plugin_host_init(&h, discord_fuzz_config);
    h.respond = discord_fuzz_respond;
    if (ab_plugin.chat->open(plugin_host_handle(&h), &h.svc, &chat) < 0 ||
        ab_plugin.chat->start(chat) < 0)
        abort();
    if ((ws = plugin_host_ws(&h))) {
        plugin_host_ws_open(ws);
        for (size_t i = 0; i < sizeof(hello) / sizeof(hello[0]); i++)
            plugin_host_ws_message(ws, hello[i], strlen(hello[i]));
    }
    fuzz_outbound(&ab_plugin, chat, "1200000000000000001", "1300000000000000001");
    fuzz_lines((const char *)data, size, discord_fuzz_frame, &h);
    ab_plugin.chat->close(chat);
    plugin_host_free(&h);
    return 0;
}
