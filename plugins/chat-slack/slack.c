/* chat-slack: Slack (Socket Mode + Web API). The wire protocol lands with its own issue; until then
 * the plugin loads, validates and reports itself not connected. */
#include <stdlib.h>

#include <agent-broker/plugin.h>

struct ab_chat {
    struct ab_host *host;
    const struct ab_host_services *svc;
};

/* Create an instance bound to the host. */
static int
slack_open(struct ab_host *host, const struct ab_host_services *svc, struct ab_chat **out)
{
    struct ab_chat *chat = calloc(1, sizeof(*chat));

    if (!chat)
        return AB_ENOMEM;
    chat->host = host;
    chat->svc = svc;
    *out = chat;
    return 0;
}

/* Report that this build cannot connect yet, so /readyz tells the truth. */
static int
slack_start(struct ab_chat *chat)
{
    chat->svc->set_connected(chat->host, false, "chat-slack: not yet available in this build");
    return AB_ENOTSUP;
}

/* Free the instance. */
static void
slack_close(struct ab_chat *chat)
{
    free(chat);
}

/* Posting needs a connection this build does not have. */
static int
slack_send(struct ab_chat *chat, const struct ab_send *msg, ab_sent_cb cb, void *arg)
{
    (void)chat;
    (void)msg;
    (void)cb;
    (void)arg;
    return AB_ENOTSUP;
}

static const struct ab_chat_ops slack_ops = {
    .size = sizeof(struct ab_chat_ops),
    .max_chars = 4000,
    .open = slack_open,
    .start = slack_start,
    .close = slack_close,
    .send = slack_send,
};

AB_PLUGIN_EXPORT const struct ab_plugin_desc ab_plugin = {
    .abi_major = AB_ABI_MAJOR,
    .abi_minor = AB_ABI_MINOR,
    .struct_size = sizeof(struct ab_plugin_desc),
    .kind = AB_PLUGIN_CHAT,
    .name = "slack",
    .version = AB_VERSION_STRING,
    .description = "Slack (Socket Mode + Web API)",
    .caps = AB_CHAT_EDIT | AB_CHAT_REACT | AB_CHAT_THREADS,
    .chat = &slack_ops,
};
