/* libFuzzer target: chat-telegram in webhook mode (webhook.c). The plugin signs in and
 * sets its webhook against the fake plugin host; then each line of the input is either
 * "POST <body>", an update Telegram posts to the webhook with the right secret, or the
 * body of the next HTTP answer — the getWebhookInfo asked every second
 * (webhook_check_s = 1: the clock moves a second per line), a setWebhook again, or a
 * send — with "HTTP <status> <body>" answering with that status. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_lines.h"
#include "plugin_host.h"
#include "telegram_fuzz_host.h"

extern const struct ab_plugin_desc ab_plugin;

static const char *const telegram_webhook_fuzz_config[] = {
    "bot_token",
    "999:AAfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz",
    "api_base",
    "http://127.0.0.1:9",
    "webhook_url",
    "https://bot.example.com/tg",
    "webhook_secret",
    "Fuzz_secret-1",
    "webhook_check_s",
    "1",
    NULL,
};

/* Whether this input's first setWebhook was answered (reset per input). */
static bool telegram_webhook_fuzz_is_set;

static const char *const telegram_webhook_fuzz_secret[] = {"X-Telegram-Bot-Api-Secret-Token",
                                                           "Fuzz_secret-1", NULL};

/* getMe signs in and the first setWebhook succeeds; everything else stays unanswered
 * until a line answers it. */
static bool
telegram_webhook_fuzz_respond(void *arg, const char *method, const char *url, const char *body,
                              long *status, const char **resp, const char *const **headers)
{
    (void)arg, (void)method, (void)body, (void)headers;
    return telegram_fuzz_answer(url, "/setWebhook", &telegram_webhook_fuzz_is_set, status, resp);
}

/* One posted update or one answer, then a second of the clock. */
static void
telegram_webhook_fuzz_line(void *arg, const char *line, size_t len)
{
    struct plugin_host *h = arg;

    if (len >= 5 && memcmp(line, "POST ", 5) == 0)
        plugin_host_http_in(h, "POST", "/telegram/webhook", telegram_webhook_fuzz_secret, line + 5,
                            len - 5);
    else if (!fuzz_http_line(h, line, len))
        plugin_host_queue_response(h, 200, line, len);
    plugin_host_run(h, 1000, 16);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct plugin_host h;
    struct ab_chat *chat = NULL;

    telegram_webhook_fuzz_is_set = false;
    plugin_host_init(&h, telegram_webhook_fuzz_config);
    h.respond = telegram_webhook_fuzz_respond;
    if (ab_plugin.chat->open(plugin_host_handle(&h), &h.svc, &chat) < 0 ||
        ab_plugin.chat->start(chat) < 0)
        abort();
    plugin_host_run(&h, 0, 16); /* signed in; the webhook set */
    fuzz_lines((const char *)data, size, telegram_webhook_fuzz_line, &h);
    plugin_host_run(&h, 0, 4);
    ab_plugin.chat->close(chat);
    plugin_host_free(&h);
    return 0;
}
