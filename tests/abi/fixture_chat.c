/* ABI fixture: a chat plugin whose descriptor is bent by -D flags, so each
 * refusal the loader knows is exercised by a real shared object. */
#include <stdlib.h>

#include <agent-broker/plugin.h>

#ifndef FIXTURE_NAME
#define FIXTURE_NAME "fixture"
#endif
#ifndef FIXTURE_MAJOR
#define FIXTURE_MAJOR AB_ABI_MAJOR
#endif
#ifndef FIXTURE_MINOR
#define FIXTURE_MINOR AB_ABI_MINOR
#endif

struct ab_chat {
    int unused;
};

/* Allocate an empty instance. */
static int
fixture_open(struct ab_host *host, const struct ab_host_services *svc, struct ab_chat **out)
{
    (void)host;
    (void)svc;
    *out = calloc(1, sizeof(**out));
    return *out ? 0 : AB_ENOMEM;
}

/* Nothing to connect. */
static int
fixture_start(struct ab_chat *chat)
{
    (void)chat;
    return 0;
}

/* Free the instance. */
static void
fixture_close(struct ab_chat *chat)
{
    free(chat);
}

#ifndef FIXTURE_NO_SEND
/* Pretend to post. */
static int
fixture_send(struct ab_chat *chat, const struct ab_send *msg, ab_sent_cb cb, void *arg)
{
    (void)chat;
    (void)msg;
    (void)cb;
    (void)arg;
    return 0;
}
#endif

static const struct ab_chat_ops fixture_ops = {
    .size = sizeof(struct ab_chat_ops),
    .max_chars = 2000,
    .open = fixture_open,
    .start = fixture_start,
    .close = fixture_close,
#ifndef FIXTURE_NO_SEND
    .send = fixture_send,
#endif
};

#ifdef FIXTURE_BAD_KEY
/* A ranged integer whose declared default lies outside its own range. */
static const struct ab_config_key fixture_keys[] = {
    {.name = "window", .type = AB_KEY_INT, .def = "0", .min = 1, .max = 60, .help = "seconds"},
    {.name = NULL},
};
#endif

#ifndef FIXTURE_NO_DESCRIPTOR
AB_PLUGIN_EXPORT const struct ab_plugin_desc ab_plugin = {
    .abi_major = FIXTURE_MAJOR,
    .abi_minor = FIXTURE_MINOR,
    .struct_size = sizeof(struct ab_plugin_desc),
    .kind = AB_PLUGIN_CHAT,
    .name = FIXTURE_NAME,
    .version = "9.9.9",
    .description = "ABI fixture",
    .chat = &fixture_ops,
#ifdef FIXTURE_BAD_KEY
    .config_keys = fixture_keys,
    .config_key_size = sizeof(struct ab_config_key),
#endif
};
#else
/* Exported so the object is not empty, but under the wrong name. */
AB_PLUGIN_EXPORT const struct ab_chat_ops *not_a_descriptor = &fixture_ops;
#endif
