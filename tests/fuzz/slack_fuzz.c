/* libFuzzer target: Slack Socket Mode envelopes through the real chat-slack code
 * (slack_socket.c envelope handling and acks, events.c: app_mention, message, reactions,
 * mention markup, redelivery). The plugin signs in and connects against the fake
 * plugin host, Slack says hello, then each line of the input is one WebSocket message;
 * due timers and Web API answers run between them; "HTTP <status> <body>" lines answer
 * the next Web API call (a post, update, reaction and thread are started first). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_lines.h"
#include "plugin_host.h"
#include "slack_inproc.h"

extern const struct ab_plugin_desc ab_plugin;

/* One message to the newest socket, then run what is due (replacements say hello). */
static void
slack_fuzz_frame(void *arg, const char *line, size_t len)
{
    static const char hello[] = "{\"type\":\"hello\",\"num_connections\":1}";
    struct plugin_host *h = arg;
    struct ab_ws *ws = plugin_host_ws(h);

    if (fuzz_http_line(h, line, len))
        return;
    if (ws)
        plugin_host_ws_message(ws, line, len);
    plugin_host_run(h, 250, 16);
    if ((ws = plugin_host_ws(h)) && !ws->is_open) {
        plugin_host_ws_open(ws);
        plugin_host_ws_message(ws, hello, sizeof(hello) - 1);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct plugin_host h;
    struct ab_chat *chat = NULL;

    plugin_host_init(&h, slack_inproc_config);
    h.respond = slack_inproc_respond;
    if (ab_plugin.chat->open(plugin_host_handle(&h), &h.svc, &chat) < 0 ||
        ab_plugin.chat->start(chat) < 0)
        abort();
    slack_fuzz_frame(&h, "", 0); /* sign in, connect, hello */
    fuzz_outbound(&ab_plugin, chat, "C111", "1610241741.000200");
    fuzz_lines((const char *)data, size, slack_fuzz_frame, &h);
    ab_plugin.chat->close(chat);
    plugin_host_free(&h);
    return 0;
}
