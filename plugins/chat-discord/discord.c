/* chat-discord: Discord (Gateway v10 + REST v10) as a chat platform. This file holds
 * the descriptor and the instance's life: config, start, close. The wire work lives in
 * gateway.c (connection and session), events.c (inbound), outbound.c (posts, edits,
 * reactions, threads, their rate routes and rules) and rest.c (HTTP calls and their
 * rate facts). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discord.h"

/* Create an instance from [discord]: bot_token (required), api_base, gateway_url. */
static int
discord_open(struct ab_host *host, const struct ab_host_services *svc, struct ab_chat **out)
{
    struct ab_chat *c = calloc(1, sizeof(*c));
    int rc;

    if (!c)
        return AB_ENOMEM;
    c->host = host;
    c->svc = svc;
    if ((rc = svc->config_string(host, "bot_token", "", &c->token)) < 0 ||
        (rc = svc->config_string(host, "api_base", "https://discord.com/api/v10", &c->api_base)) <
            0 ||
        (rc = svc->config_string(host, "gateway_url", "", &c->gateway_url)) < 0)
        goto fail;
    if (!*c->token) {
        svc->log(host, AB_LOG_ERROR,
                 "[discord] bot_token is empty: set it (e.g. bot_token = "
                 "\"${DISCORD_BOT_TOKEN}\")");
        rc = AB_ECONFIG;
        goto fail;
    }
    svc->add_secret(host, c->token);
    if (asprintf(&c->auth_header, "Authorization: Bot %s", c->token) < 0) {
        c->auth_header = NULL;
        rc = AB_ENOMEM;
        goto fail;
    }
    *out = c;
    return 0;

fail:
    free(c);
    return rc;
}

/* Connect: the gateway runs from here on its own. */
static int
discord_start(struct ab_chat *c)
{
    int rc;

    c->svc->set_connected(c->host, false, "connecting to the Discord gateway");
    if ((rc = discord_gateway_start(c)) < 0)
        c->svc->set_connected(c->host, false, "cannot start the Discord gateway");
    return rc;
}

/* Save the session, drop the connection resumably, free everything. */
static void
discord_close(struct ab_chat *c)
{
    c->is_closing = true;
    discord_gateway_close(c);
    discord_rest_close(c);
    discord_interactions_close(c);
    discord_events_close(c);
    free(c->auth_header);
    free(c);
}

static const struct ab_chat_ops discord_ops = {
    .size = sizeof(struct ab_chat_ops),
    .max_chars = DISCORD_MAX_CHARS,
    .open = discord_open,
    .start = discord_start,
    .close = discord_close,
    .send = discord_send,
    .edit = discord_edit,
    .react = discord_react,
    .open_thread = discord_open_thread,
    .rate_route = discord_rate_route,
    .rate_rules = discord_rate_rules,
    .rate_rule_count = DISCORD_RATE_RULE_COUNT,
    .command_reply = discord_command_reply,
    .upload = discord_upload,
    .max_upload_bytes = DISCORD_MAX_FILE_BYTES,
    .max_upload_files = DISCORD_MAX_FILES,
};

/* [discord]: the keys this plugin reads; the core validates them and applies the
 * defaults (the shared policy keys are the core's). */
static const struct ab_config_key discord_keys[] = {
    {.name = "bot_token",
     .type = AB_KEY_STRING,
     .flags = AB_KEY_REQUIRED | AB_KEY_SECRET,
     .env = "DISCORD_BOT_TOKEN",
     .help = "the bot's token (Developer Portal → Bot)"},
    {.name = "api_base",
     .type = AB_KEY_STRING,
     .flags = AB_KEY_ENDPOINT,
     .def = "https://discord.com/api/v10",
     .help = "REST base URL (tests point it at a loopback fake)"},
    {.name = "gateway_url",
     .type = AB_KEY_STRING,
     .flags = AB_KEY_ENDPOINT,
     .help = "a bare ws(s)://host[:port]; default: from GET {api_base}/gateway/bot"},
    {.name = "shard_id",
     .type = AB_KEY_INT,
     .def = "0",
     .min = 0,
     .max = DISCORD_SHARDS_MAX - 1,
     .help = "this process's shard (Identify's shard[0]), below shard_count; direct "
             "messages reach shard 0 only"},
    {.name = "shard_count",
     .type = AB_KEY_INT,
     .def = "1",
     .min = 1,
     .max = DISCORD_SHARDS_MAX,
     .help = "how many shards share the bot's guilds (guild_id >> 22) % shard_count; one "
             "process per shard, each with its own [state] dir; Identifies are spaced by "
             "GET /gateway/bot's max_concurrency"},
    {.name = NULL},
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
    .config_keys = discord_keys,
    .config_key_size = sizeof(struct ab_config_key),
};
