/* libFuzzer target: Bot API answers through the real chat-telegram code (tg_api.c answer
 * handling, poll.c batches and offsets, updates.c: messages, mentions by UTF-16 entity
 * offsets, reply chains, topics, reactions). The plugin signs in against the fake plugin
 * host; then each line of the input is the body of the next HTTP answer (the pending
 * getUpdates, or a send, edit or reaction started first), with due timers and held
 * deliveries run between them; "HTTP <status> <body>" lines answer with that status. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_lines.h"
#include "plugin_host.h"
#include "telegram_fuzz_host.h"

extern const struct ab_plugin_desc ab_plugin;

static const char *const telegram_fuzz_config[] = {
    "bot_token", "999:AAfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz", "api_base", "http://127.0.0.1:9", NULL,
};

/* getMe signs in and deleteWebhook (before the first poll) succeeds; everything else
 * stays unanswered until a line answers it. */
static bool
telegram_fuzz_respond(void *arg, const char *method, const char *url, const char *body,
                      long *status, const char **resp, const char *const **headers)
{
    (void)arg, (void)method, (void)body, (void)headers;
    return telegram_fuzz_answer(url, "/deleteWebhook", NULL, status, resp);
}

/* One answer, then run what is due. */
static void
telegram_fuzz_line(void *arg, const char *line, size_t len)
{
    struct plugin_host *h = arg;

    if (!fuzz_http_line(h, line, len))
        plugin_host_queue_response(h, 200, line, len);
    plugin_host_run(h, 250, 16);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct plugin_host h;
    struct ab_chat *chat = NULL;

    plugin_host_init(&h, telegram_fuzz_config);
    h.respond = telegram_fuzz_respond;
    if (ab_plugin.chat->open(plugin_host_handle(&h), &h.svc, &chat) < 0 ||
        ab_plugin.chat->start(chat) < 0)
        abort();
    plugin_host_run(&h, 0, 16); /* signed in; the first poll is out */
    fuzz_outbound(&ab_plugin, chat, "-42", "5");
    fuzz_lines((const char *)data, size, telegram_fuzz_line, &h);
    plugin_host_run(&h, 0, 4);
    ab_plugin.chat->close(chat);
    plugin_host_free(&h);
    return 0;
}
