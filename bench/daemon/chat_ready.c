/* chat-ready: a chat plugin fixture for the start-up benchmark. It connects to nothing
 * and reports itself connected the moment it starts, so `agent-broker run` with only
 * this plugin is ready as soon as the core is: the time to /readyz is the core's own.
 * It has no platform to post to: send() refuses with AB_ENOTSUP. */
#include <stdlib.h>

#include <agent-broker/plugin.h>

struct ab_chat {
    struct ab_host *host;               /* lent by the host until close */
    const struct ab_host_services *svc; /* lent by the host until close */
};

/* Create the instance. */
static int
ready_open(struct ab_host *host, const struct ab_host_services *svc, struct ab_chat **out)
{
    struct ab_chat *c = calloc(1, sizeof(*c));

    if (!c)
        return AB_ENOMEM;
    c->host = host;
    c->svc = svc;
    *out = c;
    return 0;
}

/* Report connected at once. */
static int
ready_start(struct ab_chat *c)
{
    c->svc->set_connected(c->host, true, "chat-ready connects to nothing");
    return 0;
}

/* Free the instance. */
static void
ready_close(struct ab_chat *c)
{
    free(c);
}

/* There is no platform: nothing can be posted. */
static int
ready_send(struct ab_chat *c, const struct ab_send *msg, ab_sent_cb cb, void *arg)
{
    (void)msg;
    (void)cb;
    (void)arg;
    c->svc->log(c->host, AB_LOG_WARN, "chat-ready has no platform to post to");
    return AB_ENOTSUP;
}

static const struct ab_chat_ops ready_ops = {
    .size = sizeof(struct ab_chat_ops),
    .max_chars = 2000,
    .open = ready_open,
    .start = ready_start,
    .close = ready_close,
    .send = ready_send,
};

AB_PLUGIN_EXPORT const struct ab_plugin_desc ab_plugin = {
    .abi_major = AB_ABI_MAJOR,
    .abi_minor = AB_ABI_MINOR,
    .struct_size = sizeof(struct ab_plugin_desc),
    .kind = AB_PLUGIN_CHAT,
    .name = "ready",
    .version = AB_VERSION_STRING,
    .description = "Benchmark fixture: connected at once, posts nowhere",
    .chat = &ready_ops,
};
