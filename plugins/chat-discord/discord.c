/* chat-discord: Discord (Gateway v10 + REST v10). The wire protocol lands with its own issue; until
 * then the plugin loads, validates and reports itself not connected. */
#include <stdlib.h>

#include <agent-broker/plugin.h>

struct ab_chat {
    struct ab_host *host;
    const struct ab_host_services *svc;
};

/* Create an instance bound to the host. */
static int
discord_open(struct ab_host *host, const struct ab_host_services *svc, struct ab_chat **out)
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
discord_start(struct ab_chat *chat)
{
    chat->svc->set_connected(chat->host, false, "chat-discord: not yet available in this build");
    return AB_ENOTSUP;
}

/* Free the instance. */
static void
discord_close(struct ab_chat *chat)
{
    free(chat);
}

/* Posting needs a connection this build does not have. */
static int
discord_send(struct ab_chat *chat, const struct ab_send *msg, ab_sent_cb cb, void *arg)
{
    (void)chat;
    (void)msg;
    (void)cb;
    (void)arg;
    return AB_ENOTSUP;
}

static const struct ab_chat_ops discord_ops = {
    .size = sizeof(struct ab_chat_ops),
    .max_chars = 2000,
    .open = discord_open,
    .start = discord_start,
    .close = discord_close,
    .send = discord_send,
};

AB_PLUGIN_EXPORT const struct ab_plugin_desc ab_plugin = {
    .abi_major = AB_ABI_MAJOR,
    .abi_minor = AB_ABI_MINOR,
    .struct_size = sizeof(struct ab_plugin_desc),
    .kind = AB_PLUGIN_CHAT,
    .name = "discord",
    .version = AB_VERSION_STRING,
    .description = "Discord (Gateway v10 + REST v10)",
    .caps = AB_CHAT_EDIT | AB_CHAT_REACT | AB_CHAT_THREADS,
    .chat = &discord_ops,
};
