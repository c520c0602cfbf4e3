/* Chat commands; see commands.h. */
#include "conv/commands.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acp/acp_options.h"
#include "conv/engine_priv.h"
#include "log.h"
#include "outbound/defer.h"

#include <agent-broker/errors.h>

static void commands_help(struct command_call *call);
static void commands_cancel(struct command_call *call);
static void commands_reset(struct command_call *call);
static void commands_status(struct command_call *call);
static void commands_usage(struct command_call *call);
static void commands_model(struct command_call *call);
static void commands_mode(struct command_call *call);
static void commands_switch_agent(struct command_call *call);

/* The commands, in the order /help lists them. */
static const struct command commands_table[] = {
    {"cancel", NULL, "stop the running reply", commands_cancel},
    {"reset", NULL, "end this conversation's session; the next message starts fresh",
     commands_reset},
    {"status", NULL, "agent, session, queue, uptime and usage", commands_status},
    {"usage", NULL, "tokens and cost of this conversation and of the agent", commands_usage},
    {"model", "[NAME]", "list the agent's models, or switch to NAME", commands_model},
    {"mode", "[NAME]", "list the agent's modes, or switch to NAME", commands_mode},
    {"agent", "[NAME]", "list the agents, or hand this conversation to NAME",
     commands_switch_agent},
    {"help", NULL, "this list", commands_help},
};

#define COMMANDS_COUNT (sizeof(commands_table) / sizeof(commands_table[0]))

/* Is @c part of a command name? */
static bool
commands_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-';
}

/* See the header. */
bool
commands_is_command(const char *text)
{
    size_t n = 0;

    if (!text)
        return false;
    while (isspace((unsigned char)*text))
        text++;
    if (*text++ != '/')
        return false;
    while (commands_name_char(text[n]))
        n++;
    return n > 0 && n < COMMANDS_NAME_MAX && (text[n] == '\0' || isspace((unsigned char)text[n]));
}

/* A native answer was delivered (or not). */
static void
commands_replied(void *arg, int status)
{
    (void)arg;
    if (status < 0)
        log_warn("engine", "a command's answer could not be delivered: %s", ab_strerror(status));
}

/* A native answer on its way to the plugin (a loop turn after the invocation). */
struct commands_native_answer {
    struct chat_instance *ci; /* lent: outlives the loop's last turn */
    char *token, *text;       /* owned */
};

/* Hand the answer to the plugin, unless it was closed meanwhile. */
static void
commands_answer_now(void *arg)
{
    struct commands_native_answer *a = arg;
    struct chat_instance *ci = a->ci;

    if (ci->chat && ci->ops->command_reply &&
        ci->ops->command_reply(ci->chat, a->token, a->text, commands_replied, NULL) < 0)
        log_warn("engine", "%s: cannot answer a command", ci->name);
    free(a->token);
    free(a->text);
    free(a);
}

/* See the header: never inside deliver_command (the ABI promises "later"). */
void
commands_answer(struct chat_instance *ci, const char *reply_token, const char *text)
{
    struct commands_native_answer *a = calloc(1, sizeof(*a));

    if (!a || !(a->token = strdup(reply_token)) || !(a->text = strdup(text))) {
        if (a)
            free(a->token);
        free(a);
        log_warn("engine", "%s: cannot answer a command: out of memory", ci->name);
        return;
    }
    a->ci = ci;
    if (!ci->loop || defer_call(ci->loop, commands_answer_now, a, NULL) < 0)
        commands_answer_now(a); /* no loop to defer to: the plugin copes */
}

/* See the header. */
void
commands_reply(struct command_call *call, const char *text)
{
    struct command_target *t = &call->target;

    if (!call->e)
        return;
    if (t->reply_token) {
        char *safe = log_redact_dup(text); /* the core's own sends are redacted too */
        commands_answer(t->ci, t->reply_token, safe ? safe : "");
        free(safe);
        return;
    }
    chat_send(t->ci, t->channel, t->thread, text, RATELIMIT_FINAL_TEXT, NULL, NULL, NULL);
}

/* See the header. */
const struct ab_command_info *
commands_info(size_t *count)
{
    static struct ab_command_info info[sizeof(commands_table) / sizeof(commands_table[0])];

    for (size_t i = 0; i < sizeof(info) / sizeof(info[0]); i++)
        info[i] = (struct ab_command_info){
            .size = sizeof(struct ab_command_info),
            .name = commands_table[i].name,
            .usage = commands_table[i].usage,
            .help = commands_table[i].help,
        };
    *count = sizeof(info) / sizeof(info[0]);
    return info;
}

/* See the header. */
void
commands_done(struct command_call *call)
{
    struct command_call **link;

    if (call->e) {
        for (link = &call->e->calls; *link && *link != call; link = &(*link)->next)
            ;
        if (*link)
            *link = call->next;
    }
    free(call->target.channel);
    free(call->target.thread);
    free(call->target.reply_token);
    free(call->arg);
    free(call);
}

/* See the header. */
void
commands_orphan_all(struct engine *e)
{
    while (e->calls) {
        struct command_call *call = e->calls;
        e->calls = call->next;
        call->e = NULL;
        call->next = NULL;
    }
}

/* Append printf output to @buf (size @size) at *@len, truncating quietly. */
static void commands_append(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
commands_append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*len >= size)
        return;
    va_start(ap, fmt);
    n = vsnprintf(buf + *len, size - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len = *len + (size_t)n < size ? *len + (size_t)n : size - 1;
}

/* See the header. */
void
commands_usage_line(const struct pool_usage *u, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    if (u->input_tokens || u->output_tokens)
        commands_append(buf, size, &len, "%llu in · %llu out tokens",
                        (unsigned long long)u->input_tokens, (unsigned long long)u->output_tokens);
    if (u->cost > 0)
        commands_append(buf, size, &len, "%s%.4f %s", len ? " · " : "", u->cost,
                        u->currency[0] ? u->currency : "USD");
    if (u->context_size > 0)
        commands_append(buf, size, &len, "%scontext %.0f/%.0f", len ? " · " : "", u->context_used,
                        u->context_size);
}

/* "2h 3m 4s" for @ms into @buf. */
static void
commands_duration(uint64_t ms, char *buf, size_t size)
{
    uint64_t s = ms / 1000;

    if (s >= 3600)
        snprintf(buf, size, "%lluh %llum %llus", (unsigned long long)(s / 3600),
                 (unsigned long long)(s % 3600 / 60), (unsigned long long)(s % 60));
    else if (s >= 60)
        snprintf(buf, size, "%llum %llus", (unsigned long long)(s / 60),
                 (unsigned long long)(s % 60));
    else
        snprintf(buf, size, "%llus", (unsigned long long)s);
}

/* /help: every command with its one line. */
static void
commands_help(struct command_call *call)
{
    char buf[2048];
    size_t len = 0;

    commands_append(buf, sizeof(buf), &len, "Commands (never sent to the agent):");
    for (size_t i = 0; i < COMMANDS_COUNT; i++)
        commands_append(buf, sizeof(buf), &len, "\n`/%s%s%s` — %s", commands_table[i].name,
                        commands_table[i].usage ? " " : "",
                        commands_table[i].usage ? commands_table[i].usage : "",
                        commands_table[i].help);
    commands_reply(call, buf);
    commands_done(call);
}

/* /cancel: stop the running turn, as 🛑 does. */
static void
commands_cancel(struct command_call *call)
{
    struct conversation *c = engine_find_conversation(call->e, call->key);

    if (!c || !c->turn || c->turn->is_agent_done) {
        commands_reply(call, "Nothing is running here.");
    } else {
        log_info("engine", "%s: cancelled by /cancel", c->key);
        turn_cancel(c->turn); /* the reply itself ends with "Cancelled." */
        commands_reply(call, "🛑 Stopping the running reply.");
    }
    commands_done(call);
}

/* The agent conversation @key talks to (the fallback before its first message). */
static struct engine_agent *
commands_agent(struct engine *e, const char *key)
{
    struct conversation *c = engine_find_conversation(e, key);

    return &e->agents[c && c->agent < e->nagents ? c->agent : e->fallback];
}

/* /reset: forget the session now, or once the running turn (cancelled) has ended. */
static void
commands_reset(struct command_call *call)
{
    struct engine *e = call->e;
    struct conversation *c = engine_find_conversation(e, call->key);
    int rc;

    if (c && c->turn) {
        c->is_reset_pending = true;
        if (!c->turn->is_agent_done)
            turn_cancel(c->turn);
        commands_reply(call, "🔄 Stopping the running reply; the session ends with it and the "
                             "next message starts fresh.");
        commands_done(call);
        return;
    }
    rc = pool_reset(commands_agent(e, call->key)->pool, call->key);
    if (rc == AB_EAGAIN) { /* still opening, or switching a setting: after that */
        if (c) {
            c->is_reset_pending = true;
            commands_reply(call, "🔄 The session ends as soon as it has opened; the next "
                                 "message starts fresh.");
        } else {
            commands_reply(call, "⚠️ The session is busy; try /reset again in a moment.");
        }
    } else if (rc == AB_ENOENT) {
        commands_reply(call, "No session here yet; the next message starts a fresh one.");
    } else {
        log_info("engine", "%s: session reset by /reset", call->key);
        commands_reply(call, "🔄 Session reset; the next message starts a fresh session.");
    }
    commands_done(call);
}

/* The name of the current choice of @kind, or NULL. */
static const char *
commands_current(const struct pool_session_info *si, enum acp_option_kind kind)
{
    struct acp_choices ch;
    const struct acp_choice *cur;

    if (acp_options_get(si->modes, si->models, si->config_options, kind, &ch) < 0 || !ch.current)
        return NULL;
    cur = acp_options_find(&ch, ch.current);
    return cur ? cur->id : ch.current;
}

/* /status: agent, session, queue, uptime, usage. */
static void
commands_status(struct command_call *call)
{
    struct engine *e = call->e;
    struct conversation *c = engine_find_conversation(e, call->key);
    struct pool_session_info si;
    char buf[1536], up[64], usage[256];
    const char *mode, *model;
    size_t len = 0;
    bool has =
        pool_session_info(commands_agent(e, call->key)->pool, call->key, &si) == 0 && si.session_id;

    commands_append(buf, sizeof(buf), &len, "Agent: %s", commands_agent(e, call->key)->name);
    if (has) {
        commands_duration(si.uptime_ms, up, sizeof(up));
        commands_append(buf, sizeof(buf), &len, "\nSession: `%s` (%s%s)", si.session_id,
                        si.is_busy   ? "running a turn"
                        : si.is_live ? "idle"
                                     : "suspended",
                        "");
        if (si.uptime_ms)
            commands_append(buf, sizeof(buf), &len, "\nUptime: %s", up);
        if ((model = commands_current(&si, ACP_OPTION_MODEL)))
            commands_append(buf, sizeof(buf), &len, "\nModel: %s", model);
        if ((mode = commands_current(&si, ACP_OPTION_MODE)))
            commands_append(buf, sizeof(buf), &len, "\nMode: %s", mode);
    } else {
        commands_append(buf, sizeof(buf), &len, "\nSession: none yet");
    }
    commands_append(buf, sizeof(buf), &len, "\nQueue: %zu waiting%s", c ? c->queued : 0,
                    c && c->is_waiting ? " (for a free agent session)" : "");
    commands_usage_line(has ? &si.usage : &(struct pool_usage){0}, usage, sizeof(usage));
    commands_append(buf, sizeof(buf), &len, "\nUsage: %s", usage[0] ? usage : "none reported yet");
    commands_reply(call, buf);
    commands_done(call);
}

/* /usage: this conversation's session, then the agent's total. */
static void
commands_usage(struct command_call *call)
{
    struct engine *e = call->e;
    struct pool_session_info si;
    struct pool_usage total;
    char buf[1024], line[256];
    size_t len = 0;

    if (pool_session_info(commands_agent(e, call->key)->pool, call->key, &si) < 0)
        memset(&si, 0, sizeof(si));
    commands_usage_line(&si.usage, line, sizeof(line));
    commands_append(buf, sizeof(buf), &len, "This conversation: %s (%llu turns)",
                    line[0] ? line : "nothing reported yet", (unsigned long long)si.usage.turns);
    pool_usage_total(commands_agent(e, call->key)->pool, &total);
    commands_usage_line(&total, line, sizeof(line));
    commands_append(buf, sizeof(buf), &len, "\nAgent %s: %s (%llu turns)",
                    commands_agent(e, call->key)->name, line[0] ? line : "nothing yet",
                    (unsigned long long)total.turns);
    commands_reply(call, buf);
    commands_done(call);
}

/* The switch answered. */
static void
commands_switched(void *arg, int rc, const char *message)
{
    struct command_call *call = arg;
    char buf[512];

    if (rc < 0)
        log_format_redacted(buf, sizeof(buf), "⚠️ The agent refused to switch %s: %s",
                            acp_option_kind_name(call->kind), message ? message : ab_strerror(rc));
    else
        snprintf(buf, sizeof(buf), "✅ %s is now `%s`.",
                 call->kind == ACP_OPTION_MODE ? "Mode" : "Model", call->arg);
    commands_reply(call, buf);
    commands_done(call);
}

/* /model and /mode: list what the agent advertised, or switch to one of them. */
static void
commands_option(struct command_call *call, enum acp_option_kind kind)
{
    struct engine *e = call->e;
    const char *what = acp_option_kind_name(kind);
    struct pool_session_info si;
    struct acp_choices ch;
    char buf[2048];
    size_t len = 0;
    int rc;

    call->kind = kind;
    if (pool_session_info(commands_agent(e, call->key)->pool, call->key, &si) < 0 ||
        !si.session_id || !si.is_live) {
        snprintf(buf, sizeof(buf), "No live session here yet: send a message first, then /%s.",
                 what);
        goto answer;
    }
    if (acp_options_get(si.modes, si.models, si.config_options, kind, &ch) < 0) {
        snprintf(buf, sizeof(buf), "The agent offers no %s to choose from.", what);
        goto answer;
    }
    if (!*call->arg) {
        commands_append(buf, sizeof(buf), &len, "Available %ss (`/%s NAME` to switch):", what,
                        what);
        for (size_t i = 0; i < ch.count; i++) {
            bool is_cur = ch.current && strcmp(ch.current, ch.items[i].id) == 0;
            commands_append(buf, sizeof(buf), &len, "\n%s `%s`%s%s%s", is_cur ? "▶" : "•",
                            ch.items[i].id, strcmp(ch.items[i].name, ch.items[i].id) ? " — " : "",
                            strcmp(ch.items[i].name, ch.items[i].id) ? ch.items[i].name : "",
                            is_cur ? " (current)" : "");
        }
        goto answer;
    }
    rc = pool_set_option(commands_agent(e, call->key)->pool, call->key, kind, call->arg,
                         commands_switched, call);
    if (rc == 0) {
        const struct acp_choice *chosen = acp_options_find(&ch, call->arg);
        char *id = chosen ? strdup(chosen->id) : NULL;
        if (id) {
            free(call->arg);
            call->arg = id;
        }
        return; /* commands_switched answers */
    }
    if (rc == AB_EINVAL)
        log_format_redacted(buf, sizeof(buf), "Unknown %s `%s`; `/%s` lists them.", what, call->arg,
                            what);
    else if (rc == AB_EAGAIN)
        snprintf(buf, sizeof(buf), "A reply is running; switch the %s when it is done.", what);
    else
        snprintf(buf, sizeof(buf), "⚠️ Cannot switch the %s: %s", what, ab_strerror(rc));

answer:
    commands_reply(call, buf);
    commands_done(call);
}

/* /model. */
static void
commands_model(struct command_call *call)
{
    commands_option(call, ACP_OPTION_MODEL);
}

/* /mode. */
static void
commands_mode(struct command_call *call)
{
    commands_option(call, ACP_OPTION_MODE);
}

/* /agent [NAME]: list the configured agents, or hand this conversation to NAME from
 * its next message (the old agent's session is forgotten, as with /reset). */
static void
commands_switch_agent(struct command_call *call)
{
    struct engine *e = call->e;
    struct conversation *c = engine_find_conversation(e, call->key);
    const char *now = commands_agent(e, call->key)->name;
    char buf[1024];
    size_t len = 0;
    int rc = AB_ENOENT;

    if (*call->arg && strcmp(call->arg, now) == 0) {
        commands_append(buf, sizeof(buf), &len, "Already talking to agent `%s`.", now);
    } else if (*call->arg && c && (rc = engine_conv_set_agent(c, call->arg)) == 0) {
        log_info("engine", "%s: handed from agent %s to %s by /agent", call->key, now, call->arg);
        commands_append(buf, sizeof(buf), &len,
                        "🔀 This conversation now talks to agent `%s`; the next message "
                        "starts its session (`%s` forgets this one).",
                        call->arg, now);
    } else if (*call->arg && c && rc == AB_EAGAIN) {
        commands_append(buf, sizeof(buf), &len,
                        "⚠️ A reply is running or waiting here: wait for it (or /cancel), "
                        "then /agent %s again.",
                        call->arg);
    } else if (*call->arg && !c && engine_agent_index(e, call->arg) < e->nagents) {
        commands_append(buf, sizeof(buf), &len,
                        "No conversation here yet: start one with a message, then /agent %s "
                        "hands it over.",
                        call->arg);
    } else {
        if (*call->arg)
            commands_append(buf, sizeof(buf), &len, "No agent is called `%.64s`. ", call->arg);
        commands_append(buf, sizeof(buf), &len, "Agents:");
        for (size_t i = 0; i < e->nagents; i++)
            commands_append(buf, sizeof(buf), &len, " `%s`%s%s", e->agents[i].name,
                            strcmp(e->agents[i].name, now) ? "" : " (this conversation)",
                            i + 1 < e->nagents ? "," : "");
        commands_append(buf, sizeof(buf), &len, "\n`/agent NAME` hands this conversation over.");
    }
    commands_reply(call, buf);
    commands_done(call);
}

/* See the header. */
int
commands_run(struct engine *e, struct chat_instance *ci, const char *key, const char *channel,
             const char *thread, const char *reply_token, const char *text)
{
    struct command_call *call = calloc(1, sizeof(*call));
    char name[COMMANDS_NAME_MAX];
    const char *p = text, *arg;
    size_t n = 0, alen;

    if (!call)
        return AB_ENOMEM;
    while (isspace((unsigned char)*p))
        p++;
    p++; /* the slash (commands_is_command said so) */
    while (commands_name_char(p[n]) && n + 1 < sizeof(name)) {
        name[n] = (char)tolower((unsigned char)p[n]);
        n++;
    }
    name[n] = '\0';
    for (arg = p + n; isspace((unsigned char)*arg); arg++)
        ;
    for (alen = strlen(arg); alen && isspace((unsigned char)arg[alen - 1]); alen--)
        ;
    call->e = e;
    snprintf(call->key, sizeof(call->key), "%s", key);
    call->target.ci = ci;
    call->target.channel = strdup(channel);
    call->target.thread = thread ? strdup(thread) : NULL;
    call->arg = strndup(arg, alen);
    call->target.reply_token = reply_token ? strdup(reply_token) : NULL;
    if (!call->target.channel || (thread && !call->target.thread) || !call->arg ||
        (reply_token && !call->target.reply_token)) {
        call->e = NULL;
        commands_done(call);
        return AB_ENOMEM;
    }
    call->next = e->calls;
    e->calls = call;
    for (size_t i = 0; i < COMMANDS_COUNT; i++) {
        if (strcmp(commands_table[i].name, name) == 0) {
            log_info("engine", "%s: command /%s", key, name);
            commands_table[i].run(call);
            return 0;
        }
    }
    {
        char buf[256];
        log_format_redacted(buf, sizeof(buf),
                            "Unknown command `/%s` (not sent to the agent); `/help` lists the "
                            "commands.",
                            name);
        commands_reply(call, buf);
    }
    commands_done(call);
    return 0;
}
