/* chat-discord Gateway v10: one WebSocket through the host, Hello → heartbeats (first
 * one jittered) → Identify or Resume → READY / RESUMED, dispatches handed to events.c.
 * The session (id, seq, resume URL, bot id) is saved in the plugin's state so a
 * restart resumes instead of identifying: 1000 Identifies a day reset the token.
 * Reconnects use the host's backoff; close codes follow Discord's table. */
#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "discord.h"

#define DISCORD_STATE_KEY "gateway"
#define DISCORD_CHANNELS_KEY "channels"

static int discord_gateway_connect(struct ab_chat *c);
static void discord_gateway_schedule(struct ab_chat *c);
static int discord_gateway_lookup(struct ab_chat *c);

/* The sequence number safe to save: just before the oldest message of this session the
 * core has not recorded yet. */
static int64_t
discord_gateway_safe_seq(const struct discord_gateway *g)
{
    for (const struct discord_hold *h = g->holds; h; h = h->next)
        if (!h->is_done && h->session_gen == g->session_gen && h->seq <= g->seq)
            return h->seq - 1;
    return g->seq;
}

/* The message of @h needs no more holding back (or, not recorded, keeps holding). */
void
discord_hold_done(struct discord_hold *h, bool recorded)
{
    struct ab_chat *c = h->chat;
    struct discord_gateway *g = &c->gw;

    if (!recorded)
        return; /* freed with the gateway; the saved seq stays before it */
    h->is_done = true;
    while (g->holds && g->holds->is_done) {
        struct discord_hold *done = g->holds;
        g->holds = done->next;
        free(done);
    }
    g->is_dirty = true;
}

/* deliver_held's completion. */
void
discord_hold_recorded(void *arg, int status)
{
    discord_hold_done(arg, status != AB_ECANCELED);
}

/* Save the session so the next connection (or the next process) can resume it. */
static void
discord_gateway_save(struct ab_chat *c)
{
    struct discord_gateway *g = &c->gw;
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;

    if (!o)
        return;
    if (g->session_id) {
        cJSON_AddStringToObject(o, "session_id", g->session_id);
        cJSON_AddNumberToObject(o, "seq", (double)discord_gateway_safe_seq(g));
        if (g->resume_url)
            cJSON_AddStringToObject(o, "resume_url", g->resume_url);
        cJSON_AddNumberToObject(o, "shard_id", (double)g->shard_id);
        cJSON_AddNumberToObject(o, "shard_count", (double)g->shard_count);
    }
    if (c->bot_id[0])
        cJSON_AddStringToObject(o, "bot_id", c->bot_id);
    if ((text = cJSON_PrintUnformatted(o)) &&
        c->svc->state_put(c->host, DISCORD_STATE_KEY, text, strlen(text)) == 0)
        g->is_dirty = false;
    free(text);
    cJSON_Delete(o);
    /* The channel facts too: after a restart, replayed messages need no lookups (a burst
     * of them met 429s). */
    if (c->cache.is_dirty && (text = discord_cache_dump(&c->cache))) {
        c->svc->state_put(c->host, DISCORD_CHANNELS_KEY, text, strlen(text));
        free(text);
    }
}

/* Load a saved session, if any. */
static void
discord_gateway_load(struct ab_chat *c)
{
    struct discord_gateway *g = &c->gw;
    char *text = NULL;
    size_t len = 0;
    cJSON *o;
    const cJSON *seq, *sh_id, *sh_n;
    const char *sid, *url, *bot;

    if (c->svc->state_get(c->host, DISCORD_CHANNELS_KEY, &text, &len) == 0)
        discord_cache_load(&c->cache, text, len);
    free(text);
    text = NULL;
    if (c->svc->state_get(c->host, DISCORD_STATE_KEY, &text, &len) < 0)
        return;
    o = cJSON_ParseWithLength(text, len);
    free(text);
    sid = discord_json_str(o, "session_id");
    url = discord_json_str(o, "resume_url");
    bot = discord_json_str(o, "bot_id");
    seq = cJSON_GetObjectItemCaseSensitive(o, "seq");
    sh_id = cJSON_GetObjectItemCaseSensitive(o, "shard_id");
    sh_n = cJSON_GetObjectItemCaseSensitive(o, "shard_count");
    if (bot && strlen(bot) < DISCORD_ID_MAX)
        snprintf(c->bot_id, sizeof(c->bot_id), "%s", bot);
    /* A session of another shard (a state dir reused after a change) cannot be resumed
     * as this one: Discord would send this process another shard's guilds. Saved before
     * sharding (no shard fields): shard 0 of 1. */
    if (sid && ((cJSON_IsNumber(sh_id) ? sh_id->valuedouble : 0) != (double)g->shard_id ||
                (cJSON_IsNumber(sh_n) ? sh_n->valuedouble : 1) != (double)g->shard_count)) {
        c->svc->log(c->host, AB_LOG_WARN,
                    "the saved gateway session belongs to another shard: identifying as shard "
                    "%lld of %lld",
                    (long long)g->shard_id, (long long)g->shard_count);
        sid = NULL;
    }
    if (sid && url && cJSON_IsNumber(seq) && c->bot_id[0] &&
        ab_double_to_i64(seq->valuedouble, 0, INT64_MAX, &g->seq) == 0) {
        g->session_id = strdup(sid);
        g->resume_url = strdup(url);
        c->svc->log(c->host, AB_LOG_INFO, "saved gateway session found: will resume at seq %lld",
                    (long long)g->seq);
    }
    cJSON_Delete(o);
}

/* Forget the session: the next connection identifies. */
static void
discord_gateway_forget(struct ab_chat *c)
{
    free(c->gw.session_id);
    free(c->gw.resume_url);
    c->gw.session_id = NULL;
    c->gw.resume_url = NULL;
    c->gw.seq = -1;
    c->gw.session_gen++;
    discord_gateway_save(c);
}

/* Split a ws(s) URL into TLS or not and its authority ("host[:port]", lowercased).
 * False for other schemes, user info, an empty or overlong authority, or any byte a
 * host name, IP literal or port cannot hold. */
static bool
discord_url_authority(const char *url, bool *tls, char *auth, size_t cap)
{
    size_t n;

    if (strncmp(url, "wss://", 6) == 0) {
        *tls = true;
        url += 6;
    } else if (strncmp(url, "ws://", 5) == 0) {
        *tls = false;
        url += 5;
    } else {
        return false;
    }
    n = strcspn(url, "/?#");
    if (n == 0 || n >= cap)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)url[i];

        if (!isalnum(ch) && !strchr(".-:[]", ch))
            return false;
        auth[i] = (char)tolower(ch);
    }
    auth[n] = '\0';
    return true;
}

/* May @url receive the token (Identify and Resume carry it)? Only the gateway we were
 * given (config or GET /gateway/bot: same scheme, host and port) or Discord's own
 * (wss, discord.gg or a subdomain, default port). A saved resume URL is only state
 * on disk: anyone who can rewrite it must not get the token that way. */
static bool
discord_gateway_trusted(const struct discord_gateway *g, const char *url)
{
    static const char suffix[] = ".discord.gg";
    char want[256], got[256];
    bool want_tls, got_tls;
    size_t n;

    if (!url || !discord_url_authority(url, &got_tls, got, sizeof(got)))
        return false;
    if (g->url && discord_url_authority(g->url, &want_tls, want, sizeof(want)) &&
        want_tls == got_tls && strcmp(want, got) == 0)
        return true;
    if (!got_tls)
        return false;
    n = strlen(got);
    if (n > 4 && strcmp(got + n - 4, ":443") == 0)
        got[n -= 4] = '\0';
    return strcmp(got, "discord.gg") == 0 ||
           (n > sizeof(suffix) - 1 && strcmp(got + n - (sizeof(suffix) - 1), suffix) == 0);
}

/* Send one gateway payload built from @o (freed here). */
static int
discord_gateway_send(struct ab_chat *c, cJSON *o)
{
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    int rc = text ? 0 : AB_ENOMEM;

    cJSON_Delete(o);
    if (rc == 0 && c->gw.ws)
        rc = c->svc->ws_send(c->gw.ws, text, strlen(text));
    free(text);
    return rc;
}

/* Op 1 with the last sequence number seen. */
static void
discord_gateway_beat(struct ab_chat *c)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddNumberToObject(o, "op", 1);
    if (c->gw.seq >= 0)
        cJSON_AddNumberToObject(o, "d", (double)c->gw.seq);
    else
        cJSON_AddNullToObject(o, "d");
    discord_gateway_send(c, o);
}

/* Close the connection ourselves with a code that keeps the session resumable. */
static void
discord_gateway_drop(struct ab_chat *c, const char *why)
{
    struct discord_gateway *g = &c->gw;

    c->svc->set_connected(c->host, false, why);
    g->is_ready = false;
    c->svc->timer_stop(g->heartbeat);
    c->svc->timer_stop(g->first_beat);
    c->svc->timer_stop(g->identify_wait);
    g->heartbeat = g->first_beat = g->identify_wait = NULL;
    if (g->ws && !g->close_code) {
        g->close_code = 4000;
        c->svc->ws_close(g->ws, 4000, why);
    }
}

/* Heartbeat tick: the zombie rule, then op 1. */
static void
discord_gateway_tick(void *arg)
{
    struct ab_chat *c = arg;
    struct discord_gateway *g = &c->gw;

    if (!g->is_acked) {
        c->svc->log(c->host, AB_LOG_WARN,
                    "no heartbeat ACK within %llu ms: the connection is a zombie; resuming",
                    (unsigned long long)g->interval_ms);
        discord_gateway_drop(c, "heartbeat ACK missing");
        return;
    }
    g->is_acked = false;
    discord_gateway_beat(c);
    if (g->is_dirty || c->cache.is_dirty)
        discord_gateway_save(c);
}

/* The jittered first heartbeat; the steady ones follow every interval. */
static void
discord_gateway_first_beat(void *arg)
{
    struct ab_chat *c = arg;
    struct discord_gateway *g = &c->gw;

    c->svc->timer_stop(g->first_beat);
    g->first_beat = NULL;
    discord_gateway_tick(c);
    if (g->ws && !g->close_code &&
        c->svc->timer_start(c->host, g->interval_ms, g->interval_ms, discord_gateway_tick, c,
                            &g->heartbeat) < 0)
        discord_gateway_drop(c, "cannot start the heartbeat timer");
}

/* Milliseconds until this shard may identify: 0 unsharded. Shards identify in waves of
 * max_concurrency (shard_id / max_concurrency is the wave), each wave in its own slot of
 * a cycle on the wall clock, so processes that share nothing (one pod per shard) never
 * identify in one bucket less than 5 s apart, and one process never twice. */
static uint64_t
discord_gateway_identify_delay(const struct discord_gateway *g)
{
    struct timespec ts;
    uint64_t waves, wave, cycle, pos, start;

    if (g->shard_count <= 1 || clock_gettime(CLOCK_REALTIME, &ts) < 0)
        return 0;
    waves = (uint64_t)((g->shard_count + g->max_concurrency - 1) / g->max_concurrency);
    wave = (uint64_t)(g->shard_id / g->max_concurrency);
    cycle = waves * DISCORD_IDENTIFY_SLOT_MS;
    pos = ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000) % cycle;
    start = wave * DISCORD_IDENTIFY_SLOT_MS;
    if (pos >= start && pos < start + DISCORD_IDENTIFY_WINDOW_MS)
        return 0;
    return (start + cycle - pos) % cycle;
}

static void discord_gateway_hello_reply(struct ab_chat *c);

/* The shard's Identify window opened. */
static void
discord_gateway_identify_now(void *arg)
{
    struct ab_chat *c = arg;

    c->svc->timer_stop(c->gw.identify_wait);
    c->gw.identify_wait = NULL;
    if (c->gw.ws && !c->gw.close_code)
        discord_gateway_hello_reply(c);
}

/* Op 2 (new session, in the shard's window) or op 6 (resume). */
static void
discord_gateway_hello_reply(struct ab_chat *c)
{
    struct discord_gateway *g = &c->gw;
    uint64_t wait = g->is_resuming ? 0 : discord_gateway_identify_delay(g);
    cJSON *o, *d;

    if (wait > 0 && !g->identify_wait) {
        c->svc->log(c->host, AB_LOG_INFO,
                    "shard %lld of %lld identifies in its window: in %llu ms (max_concurrency "
                    "%lld)",
                    (long long)g->shard_id, (long long)g->shard_count, (unsigned long long)wait,
                    (long long)g->max_concurrency);
        if (c->svc->timer_start(c->host, wait, 0, discord_gateway_identify_now, c,
                                &g->identify_wait) == 0)
            return;
        g->identify_wait = NULL;
    }
    o = cJSON_CreateObject();
    d = cJSON_AddObjectToObject(o, "d");
    cJSON_AddStringToObject(d, "token", c->token);
    if (g->is_resuming) {
        cJSON_AddNumberToObject(o, "op", 6);
        cJSON_AddStringToObject(d, "session_id", g->session_id);
        cJSON_AddNumberToObject(d, "seq", (double)g->seq);
        g->resumes++;
        c->svc->log(c->host, AB_LOG_INFO, "resuming session at seq %lld (resume #%llu)",
                    (long long)g->seq, (unsigned long long)g->resumes);
    } else {
        cJSON *props = cJSON_AddObjectToObject(d, "properties");
        cJSON_AddNumberToObject(o, "op", 2);
        /* Discord sends direct messages to shard 0 only: the others do not ask. */
        cJSON_AddNumberToObject(d, "intents",
                                g->shard_id == 0 ? DISCORD_INTENTS : DISCORD_INTENTS & ~(1 << 12));
        if (g->shard_count > 1) {
            cJSON *shard = cJSON_AddArrayToObject(d, "shard");
            cJSON_AddItemToArray(shard, cJSON_CreateNumber((double)g->shard_id));
            cJSON_AddItemToArray(shard, cJSON_CreateNumber((double)g->shard_count));
        }
        cJSON_AddStringToObject(props, "os", "linux");
        cJSON_AddStringToObject(props, "browser", "agent-broker");
        cJSON_AddStringToObject(props, "device", "agent-broker");
        g->identifies++;
        c->svc->log(c->host, AB_LOG_INFO, "identifying (identify #%llu)",
                    (unsigned long long)g->identifies);
    }
    discord_gateway_send(c, o);
}

/* A uniform fraction in [0, 1) for the first heartbeat's jitter. */
static double
discord_gateway_jitter(struct ab_chat *c)
{
    static uint64_t x;

    if (!x)
        x = c->svc->now_ms(c->host) * 2654435761u ^ (uint64_t)(uintptr_t)c;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return (double)(x >> 11) / (double)(1ull << 53);
}

/* Connected once the session is up (READY or RESUMED): events flow from then on. Not
 * gated on a heartbeat ACK, which lags READY by up to one interval (~41 s); a
 * connection that stops ACKing is dropped (and reported) by the heartbeat rule. */
static void
discord_gateway_maybe_ready(struct ab_chat *c)
{
    struct discord_gateway *g = &c->gw;
    char detail[128];

    if (g->is_ready || !g->is_session_ready)
        return;
    g->is_ready = true;
    snprintf(detail, sizeof(detail), "gateway session %s (bot %s)",
             g->is_resuming ? "resumed" : "ready", c->bot_id);
    c->svc->set_connected(c->host, true, detail);
    c->svc->backoff_reset(c->host, "gateway");
}

/* READY: keep the session and the bot's id. */
static void
discord_gateway_on_ready(struct ab_chat *c, const cJSON *d)
{
    struct discord_gateway *g = &c->gw;
    const char *sid = discord_json_str(d, "session_id");
    const char *url = discord_json_str(d, "resume_gateway_url");
    const char *bot = discord_json_str(cJSON_GetObjectItemCaseSensitive(d, "user"), "id");

    if (!sid || !bot || strlen(bot) >= DISCORD_ID_MAX) {
        c->svc->log(c->host, AB_LOG_ERROR, "READY without session_id or user.id; reconnecting");
        discord_gateway_drop(c, "malformed READY");
        return;
    }
    free(g->session_id);
    free(g->resume_url);
    g->session_id = strdup(sid);
    if (url && !discord_gateway_trusted(g, url)) {
        c->svc->log(c->host, AB_LOG_WARN,
                    "READY names resume URL %s, neither this gateway nor Discord's: resuming "
                    "at %s instead",
                    url, g->url);
        url = NULL;
    }
    g->resume_url = strdup(url ? url : g->url);
    g->session_gen++;
    snprintf(c->bot_id, sizeof(c->bot_id), "%s", bot);
    g->is_session_ready = true;
    discord_gateway_save(c);
    discord_gateway_maybe_ready(c);
    discord_interactions_ready(c, d);
}

/* One gateway message. */
static void
discord_gateway_on_message(void *arg, struct ab_ws *ws, const char *data, size_t len,
                           bool is_binary)
{
    struct ab_chat *c = arg;
    struct discord_gateway *g = &c->gw;
    cJSON *o = is_binary ? NULL : cJSON_ParseWithLength(data, len);
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(o, "op");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "d");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "s");
    const char *t = discord_json_str(o, "t");

    (void)ws;
    if (!cJSON_IsNumber(op)) {
        c->svc->log(c->host, AB_LOG_WARN, "ignoring a gateway frame that is not a payload");
        goto out;
    }
    switch (op->valueint) {
    case 10: {
        const cJSON *hb = cJSON_GetObjectItemCaseSensitive(d, "heartbeat_interval");
        if (!cJSON_IsNumber(hb) ||
            ab_double_to_u64(hb->valuedouble, 1, DISCORD_HEARTBEAT_MAX_MS, &g->interval_ms) < 0) {
            c->svc->log(c->host, AB_LOG_WARN, "Hello with heartbeat_interval %g: reconnecting",
                        cJSON_IsNumber(hb) ? hb->valuedouble : -1.0);
            discord_gateway_drop(c, "Hello without a usable heartbeat_interval");
            break;
        }
        g->is_acked = true;
        if (!g->first_beat && !g->heartbeat &&
            c->svc->timer_start(c->host,
                                (uint64_t)((double)g->interval_ms * discord_gateway_jitter(c)), 0,
                                discord_gateway_first_beat, c, &g->first_beat) < 0) {
            discord_gateway_drop(c, "cannot start the heartbeat timer");
            break;
        }
        discord_gateway_hello_reply(c);
        break;
    }
    case 11: g->is_acked = true; break;
    case 1: discord_gateway_beat(c); break;
    case 7:
        c->svc->log(c->host, AB_LOG_INFO, "Discord asked for a reconnect (op 7); resuming");
        discord_gateway_drop(c, "reconnect requested by Discord");
        break;
    case 9:
        if (!cJSON_IsTrue(d)) {
            c->svc->log(c->host, AB_LOG_WARN, "invalid session (op 9): starting a new one");
            discord_gateway_forget(c);
        } else {
            c->svc->log(c->host, AB_LOG_INFO, "invalid session (op 9, resumable): resuming");
        }
        discord_gateway_drop(c, "invalid session");
        break;
    case 0:
        if (cJSON_IsNumber(s)) {
            if (ab_double_to_i64(s->valuedouble, 0, INT64_MAX, &g->seq) == 0)
                g->is_dirty = true;
            else
                c->svc->log(c->host, AB_LOG_WARN, "dispatch with sequence %g ignored",
                            s->valuedouble);
        }
        if (!t)
            break;
        if (strcmp(t, "READY") == 0) {
            discord_gateway_on_ready(c, d);
        } else if (strcmp(t, "RESUMED") == 0) {
            c->svc->log(c->host, AB_LOG_INFO, "session resumed at seq %lld", (long long)g->seq);
            g->is_session_ready = true;
            discord_gateway_save(c);
            discord_gateway_maybe_ready(c);
        } else if (strcmp(t, "MESSAGE_CREATE") == 0 && cJSON_IsNumber(s)) {
            struct discord_hold *h = calloc(1, sizeof(*h)), **tail;
            if (h) {
                h->chat = c;
                h->seq = g->seq;
                h->session_gen = g->session_gen;
                for (tail = &g->holds; *tail; tail = &(*tail)->next)
                    ;
                *tail = h;
            }
            g->current = h;
            discord_events_dispatch(c, t, d);
            if (g->current) /* not handed to the core: nothing to wait for */
                discord_hold_done(g->current, true);
            g->current = NULL;
        } else {
            discord_events_dispatch(c, t, d);
        }
        break;
    default: break;
    }
out:
    cJSON_Delete(o);
}

/* The reconnect delay is over. */
static void
discord_gateway_reconnect_now(void *arg)
{
    struct ab_chat *c = arg;

    c->svc->timer_stop(c->gw.reconnect);
    c->gw.reconnect = NULL;
    if (!c->gw.url) { /* the gateway URL lookup failed: look it up again */
        if (discord_gateway_lookup(c) < 0)
            discord_gateway_schedule(c);
        return;
    }
    if (discord_gateway_connect(c) < 0)
        discord_gateway_schedule(c);
}

/* Reconnect after the host's backoff delay. */
static void
discord_gateway_schedule(struct ab_chat *c)
{
    uint64_t delay = c->svc->backoff_next(c->host, "gateway");

    if (c->gw.reconnect || c->gw.is_stopped || c->is_closing)
        return;
    c->svc->log(c->host, AB_LOG_INFO, "reconnecting in %llu ms", (unsigned long long)delay);
    if (c->svc->timer_start(c->host, delay, 0, discord_gateway_reconnect_now, c, &c->gw.reconnect) <
        0)
        c->gw.reconnect = NULL;
}

/* Stop for good: nothing will make this configuration work until a person acts. */
static void
discord_gateway_stop(struct ab_chat *c, int status, const char *detail)
{
    c->gw.is_stopped = true;
    if (AB_HAS(c->svc, struct ab_host_services, fatal) && c->svc->fatal) {
        c->svc->fatal(c->host, status, detail);
        return;
    }
    c->svc->log(c->host, AB_LOG_ERROR, "%s", detail); /* an ABI 1.1 host */
    c->svc->set_connected(c->host, false, detail);
}

/* What a close code from Discord means, for the codes that end everything. */
static const char *
discord_gateway_fatal(int code)
{
    switch (code) {
    case 4004:
        return "Discord closed the gateway with 4004 (authentication failed): the bot token "
               "is invalid or was reset; put the current token in [discord] bot_token";
    case 4010: return "Discord closed the gateway with 4010 (invalid shard)";
    case 4011: return "Discord closed the gateway with 4011 (sharding required)";
    case 4012: return "Discord closed the gateway with 4012 (invalid API version)";
    case 4013: return "Discord closed the gateway with 4013 (invalid intents)";
    case 4014:
        return "Discord closed the gateway with 4014 (disallowed intents): enable MESSAGE "
               "CONTENT INTENT for the bot in the Discord Developer Portal";
    default: return NULL;
    }
}

/* The connection ended: decide between resume, a new session and stopping. */
static void
discord_gateway_on_close(void *arg, struct ab_ws *ws, int code, const char *reason, bool was_clean)
{
    struct ab_chat *c = arg;
    struct discord_gateway *g = &c->gw;
    bool was_ours = g->close_code != 0;
    const char *fatal = was_ours ? NULL : discord_gateway_fatal(code);
    char detail[256];

    (void)ws;
    g->ws = NULL;
    g->close_code = 0;
    g->is_ready = false;
    c->svc->timer_stop(g->heartbeat);
    c->svc->timer_stop(g->first_beat);
    c->svc->timer_stop(g->identify_wait);
    g->heartbeat = g->first_beat = g->identify_wait = NULL;
    if (g->is_dirty)
        discord_gateway_save(c);
    if (fatal) {
        discord_gateway_stop(c, code == 4004 ? AB_EAUTH : AB_ECONFIG, fatal);
        return;
    }
    snprintf(detail, sizeof(detail), "gateway closed (%d%s%s%s)", code,
             reason && *reason ? " " : "", reason ? reason : "", was_clean ? "" : ", not clean");
    c->svc->set_connected(c->host, false, detail);
    if (!was_ours) {
        c->svc->log(c->host, AB_LOG_WARN, "%s", detail);
        if (code == 4007 || code == 4009)
            discord_gateway_forget(c); /* the session cannot be resumed */
    }
    discord_gateway_schedule(c);
}

/* Open the WebSocket: to the resume URL with a session, else to the gateway URL. */
static int
discord_gateway_connect(struct ab_chat *c)
{
    static const struct ab_ws_callbacks cbs = {
        .size = sizeof(cbs),
        .on_message = discord_gateway_on_message,
        .on_close = discord_gateway_on_close,
    };
    struct discord_gateway *g = &c->gw;
    const char *base;
    size_t n;
    char *url;
    int rc;

    if (g->session_id && g->resume_url && !discord_gateway_trusted(g, g->resume_url)) {
        c->svc->log(c->host, AB_LOG_WARN,
                    "the saved resume URL %s is neither this gateway nor Discord's: ignoring "
                    "the saved session and identifying anew",
                    g->resume_url);
        discord_gateway_forget(c);
    }
    base = g->session_id && g->resume_url ? g->resume_url : g->url;
    n = strlen(base);

    while (n > 0 && base[n - 1] == '/')
        n--;
    if (asprintf(&url, "%.*s/?v=10&encoding=json", (int)n, base) < 0)
        return AB_ENOMEM;
    g->is_resuming = g->session_id != NULL;
    g->is_session_ready = g->is_ready = false;
    g->is_acked = true;
    struct ab_ws_options opt = {.size = sizeof(opt), .url = url};
    rc = c->svc->ws_connect(c->host, &opt, &cbs, c, &g->ws);
    if (rc < 0) {
        g->ws = NULL;
        c->svc->log(c->host, AB_LOG_ERROR, "cannot connect to %s: %s", url, ab_strerror(rc));
    }
    free(url);
    return rc;
}

/* GET /gateway/bot answered. */
static void
discord_gateway_looked_up(void *arg, int status, long http, const cJSON *body, int code)
{
    struct ab_chat *c = arg;
    const char *url = discord_json_str(body, "url");
    const cJSON *limit = cJSON_GetObjectItemCaseSensitive(body, "session_start_limit");
    const cJSON *left = cJSON_GetObjectItemCaseSensitive(limit, "remaining");
    const cJSON *conc = cJSON_GetObjectItemCaseSensitive(limit, "max_concurrency");
    const cJSON *shards = cJSON_GetObjectItemCaseSensitive(body, "shards");
    int64_t mc;

    (void)code;
    if (c->is_closing)
        return;
    if (status == AB_EAUTH) {
        discord_gateway_stop(c, AB_EAUTH,
                             "Discord rejected the bot token (GET /gateway/bot: HTTP 401): "
                             "put the current token in [discord] bot_token");
        return;
    }
    if (status < 0 || !url) {
        c->svc->log(c->host, AB_LOG_WARN, "GET /gateway/bot failed (%s, HTTP %ld)",
                    ab_strerror(status < 0 ? status : AB_EPROTO), http);
        discord_gateway_schedule(c);
        return;
    }
    if (cJSON_IsNumber(left))
        c->svc->log(c->host, AB_LOG_INFO, "gateway %s; session starts left today: %d", url,
                    left->valueint);
    if (cJSON_IsNumber(conc) && ab_double_to_i64(conc->valuedouble, 1, 1024, &mc) == 0)
        c->gw.max_concurrency = mc;
    if (cJSON_IsNumber(shards) && shards->valuedouble > (double)c->gw.shard_count)
        c->svc->log(c->host, AB_LOG_WARN,
                    "Discord recommends %g shards for this bot; running %lld (shard_count)",
                    shards->valuedouble, (long long)c->gw.shard_count);
    if (c->gateway_url && *c->gateway_url)
        url = c->gateway_url; /* sharded: looked up for max_concurrency only */
    free(c->gw.url);
    if ((c->gw.url = strdup(url)) == NULL || discord_gateway_connect(c) < 0)
        discord_gateway_schedule(c);
}

/* Ask Discord for the gateway URL (GET /gateway/bot). */
static int
discord_gateway_lookup(struct ab_chat *c)
{
    return discord_rest_call(c, "GET", "/gateway/bot", NULL, NULL, discord_gateway_looked_up, c);
}

/* Start: resume a saved session or identify, looking the URL up when not configured. */
int
discord_gateway_start(struct ab_chat *c)
{
    struct discord_gateway *g = &c->gw;
    int rc;

    g->seq = -1;
    g->max_concurrency = 1;
    if ((rc = c->svc->config_int(c->host, "shard_id", 0, &g->shard_id)) < 0 ||
        (rc = c->svc->config_int(c->host, "shard_count", 1, &g->shard_count)) < 0)
        return rc;
    if (g->shard_count < 1 || g->shard_count > DISCORD_SHARDS_MAX || g->shard_id < 0 ||
        g->shard_id >= g->shard_count) {
        c->svc->log(c->host, AB_LOG_ERROR,
                    "[discord] shard_id %lld is not below shard_count %lld: shards are 0 .. "
                    "shard_count - 1",
                    (long long)g->shard_id, (long long)g->shard_count);
        return AB_ECONFIG;
    }
    discord_gateway_load(c);
    /* Sharded, the Identify budget's max_concurrency is needed: look it up. */
    if (c->gateway_url && *c->gateway_url && g->shard_count == 1) {
        if (!(c->gw.url = strdup(c->gateway_url)))
            return AB_ENOMEM;
        if (discord_gateway_connect(c) < 0)
            discord_gateway_schedule(c);
        return 0;
    }
    return discord_gateway_lookup(c);
}

/* Save the session and close with 4000, which keeps it resumable for the next run. */
void
discord_gateway_close(struct ab_chat *c)
{
    struct discord_gateway *g = &c->gw;

    discord_gateway_save(c);
    c->svc->timer_stop(g->heartbeat);
    c->svc->timer_stop(g->first_beat);
    c->svc->timer_stop(g->reconnect);
    c->svc->timer_stop(g->identify_wait);
    g->heartbeat = g->first_beat = g->reconnect = g->identify_wait = NULL;
    if (g->ws && !g->close_code)
        c->svc->ws_close(g->ws, 4000, "restarting");
    g->ws = NULL; /* the host abandons it when our host is freed */
    free(g->url);
    free(g->resume_url);
    free(g->session_id);
    while (g->holds) {
        struct discord_hold *h = g->holds;
        g->holds = h->next;
        free(h);
    }
}
