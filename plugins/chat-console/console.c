/* chat-console: Console: stdin lines in, replies on stdout. The wire protocol lands with its own issue; until then
 * the plugin loads, validates and reports itself not connected. */
#include <stdlib.h>

#include <agent-broker/plugin.h>

struct ab_chat {
    struct ab_host *host;
    const struct ab_host_services *svc;
};

/* Create an instance bound to the host. */
static int
console_open(struct ab_host *host, const struct ab_host_services *svc, struct ab_chat **out)
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
console_start(struct ab_chat *chat)
{
    chat->svc->set_connected(chat->host, false, "chat-console: not yet available in this build");
    return AB_ENOTSUP;
}

/* Free the instance. */
static void
console_close(struct ab_chat *chat)
{
    free(chat);
}

/* Posting needs a connection this build does not have. */
static int
console_send(struct ab_chat *chat, const struct ab_send *msg, ab_sent_cb cb, void *arg)
{
    (void)chat;
    (void)msg;
    (void)cb;
    (void)arg;
    return AB_ENOTSUP;
}

static const struct ab_chat_ops console_ops = {
    .size = sizeof(struct ab_chat_ops),
    .max_chars = 100000,
    .open = console_open,
    .start = console_start,
    .close = console_close,
    .send = console_send,
};

AB_PLUGIN_EXPORT const struct ab_plugin_desc ab_plugin = {
    .abi_major = AB_ABI_MAJOR,
    .abi_minor = AB_ABI_MINOR,
    .struct_size = sizeof(struct ab_plugin_desc),
    .kind = AB_PLUGIN_CHAT,
    .name = "console",
    .version = AB_VERSION_STRING,
    .description = "Console: stdin lines in, replies on stdout",
    .caps = AB_CHAT_EDIT,
    .chat = &console_ops,
};
