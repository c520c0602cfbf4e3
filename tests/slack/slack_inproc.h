/* The Slack side of an in-process chat-slack run (tests/slack/test_events.c and
 * tests/fuzz/slack_fuzz.c): the plugin's config and a Web API that signs the bot in as
 * U0BOT / B0BOT, hands out a Socket Mode URL and says ok to everything else. */
#ifndef AB_TEST_SLACK_INPROC_H
#define AB_TEST_SLACK_INPROC_H

#include <stdbool.h>
#include <string.h>

static const char *const slack_inproc_config[] = {
    "bot_token", "xoxb-test", "app_token", "xapp-test", "api_base", "http://127.0.0.1:9/api", NULL,
};

/* A plugin_host_responder: auth.test and apps.connections.open succeed, others say ok. */
static inline bool
slack_inproc_respond(void *arg, const char *method, const char *url, const char *body, long *status,
                     const char **resp, const char *const **headers)
{
    (void)arg, (void)method, (void)body, (void)headers;
    *status = 200;
    if (strstr(url, "/auth.test"))
        *resp = "{\"ok\":true,\"user_id\":\"U0BOT\",\"bot_id\":\"B0BOT\"}";
    else if (strstr(url, "/apps.connections.open"))
        *resp = "{\"ok\":true,\"url\":\"wss://127.0.0.1:9/link\"}";
    else
        *resp = "{\"ok\":true,\"channel\":\"C1\",\"ts\":\"1.2\"}";
    return true;
}

#endif
