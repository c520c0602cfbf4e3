/* Process-wide logging with redaction of secrets. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <agent-broker/errors.h>

#define LOG_MAX_SECRETS 64
#define LOG_LINE_MAX 8192

static enum ab_log_level log_cur_level = AB_LOG_INFO;
static enum log_format log_cur_format = LOG_FORMAT_TEXT;
static int log_fd = 2;
static char *log_secrets[LOG_MAX_SECRETS];
static size_t log_secret_count;
/* Token prefixes the chat plugins declare (their schema's secret prefixes and
 * redact_prefixes): registered at start-up, read on every line. */
#define LOG_MAX_PREFIXES 64
static char *log_prefixes[LOG_MAX_PREFIXES];
static size_t log_prefix_count;

static const char *const log_level_names[] = {"error", "warn", "info", "debug", "trace"};

/* Parse a level name. */
int
log_level_parse(const char *name, enum ab_log_level *out)
{
    for (size_t i = 0; i < sizeof(log_level_names) / sizeof(log_level_names[0]); i++) {
        if (name && strcmp(name, log_level_names[i]) == 0) {
            *out = (enum ab_log_level)i;
            return 0;
        }
    }
    if (name && strcmp(name, "warning") == 0) {
        *out = AB_LOG_WARN;
        return 0;
    }
    return AB_EINVAL;
}

/* Set level and format; the environment's AGENT_BROKER_LOG wins over the config. */
void
log_configure(enum ab_log_level level, enum log_format format)
{
    const char *env = getenv("AGENT_BROKER_LOG");
    enum ab_log_level from_env;

    if (env && *env && log_level_parse(env, &from_env) == 0)
        level = from_env;
    log_cur_level = level;
    log_cur_format = format;
}

/* The level in force. */
enum ab_log_level
log_level(void)
{
    return log_cur_level;
}

/* Route lines to another fd (tests). */
void
log_set_fd(int fd)
{
    log_fd = fd;
}

/* Remember a secret for redaction; duplicates and very short strings are ignored. */
void
log_add_secret(const char *secret)
{
    if (!secret || strlen(secret) < 4 || log_secret_count >= LOG_MAX_SECRETS)
        return;
    for (size_t i = 0; i < log_secret_count; i++)
        if (strcmp(log_secrets[i], secret) == 0)
            return;
    char *copy = strdup(secret);
    if (copy)
        log_secrets[log_secret_count++] = copy;
}

/* Drop all secrets. */
void
log_clear_secrets(void)
{
    for (size_t i = 0; i < log_secret_count; i++)
        free(log_secrets[i]);
    log_secret_count = 0;
    for (size_t i = 0; i < log_prefix_count; i++)
        free(log_prefixes[i]);
    log_prefix_count = 0;
}

/* Remember a token prefix; duplicates and prefixes under 3 bytes are ignored. */
void
log_add_token_prefix(const char *prefix)
{
    char *copy;

    if (!prefix || strlen(prefix) < 3 || log_prefix_count >= LOG_MAX_PREFIXES)
        return;
    for (size_t i = 0; i < log_prefix_count; i++)
        if (strcmp(log_prefixes[i], prefix) == 0)
            return;
    if ((copy = strdup(prefix)))
        log_prefixes[log_prefix_count++] = copy;
}

/* Length of a token-shaped run at @s (a registered prefix, then more than 8 bytes of
 * [A-Za-z0-9-] in all), 0 if none. Tokens that were never configured (pasted into a
 * prompt, echoed in an error) still go. */
static size_t
log_token_pattern(const char *s)
{
    size_t n;

    for (size_t i = 0; i < log_prefix_count; i++) {
        n = strlen(log_prefixes[i]);
        if (strncmp(s, log_prefixes[i], n) != 0)
            continue;
        while (s[n] && (s[n] == '-' || (s[n] >= '0' && s[n] <= '9') ||
                        (s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z')))
            n++;
        if (n > 8)
            return n;
    }
    return 0;
}

/* Copy @text to @out replacing every registered secret and token pattern by ***. */
size_t
log_redact(const char *text, char *out, size_t cap)
{
    size_t o = 0;

    if (cap == 0)
        return 0;
    for (const char *p = text; *p && o + 1 < cap;) {
        size_t skip = 0;
        for (size_t i = 0; i < log_secret_count && !skip; i++) {
            size_t n = strlen(log_secrets[i]);
            if (strncmp(p, log_secrets[i], n) == 0)
                skip = n;
        }
        if (!skip)
            skip = log_token_pattern(p);
        if (skip) {
            for (const char *r = "***"; *r && o + 1 < cap; r++)
                out[o++] = *r;
            p += skip;
            continue;
        }
        out[o++] = *p++;
    }
    out[o] = '\0';
    return o;
}

/* Append @s to @buf as a JSON string body (no quotes). */
static size_t
log_json_escape(const char *s, char *buf, size_t cap)
{
    size_t o = 0;

    for (; *s && o + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(buf + o, cap - o, "\\u%04x", c);
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o] = '\0';
    return o;
}

/* Format, redact and write one line with a single write(). */
void
log_vwrite(enum ab_log_level level, const char *component, const char *fmt, va_list ap)
{
    char raw[LOG_LINE_MAX], clean[LOG_LINE_MAX], line[LOG_LINE_MAX * 2];
    char stamp[40];
    struct timespec ts;
    struct tm tm;
    int n;

    if (level > log_cur_level)
        return;
    vsnprintf(raw, sizeof(raw), fmt, ap);
    log_redact(raw, clean, sizeof(clean));
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = (int)strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + n, sizeof(stamp) - (size_t)n, ".%03ldZ", ts.tv_nsec / 1000000);
    if (log_cur_format == LOG_FORMAT_JSON) {
        char esc[LOG_LINE_MAX * 2 - 128];
        log_json_escape(clean, esc, sizeof(esc));
        n = snprintf(line, sizeof(line),
                     "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":\"%s\",\"msg\":\"%s\"}\n",
                     stamp, log_level_names[level], component ? component : "core", esc);
    } else {
        n = snprintf(line, sizeof(line), "%s %-5s %s: %s\n", stamp, log_level_names[level],
                     component ? component : "core", clean);
    }
    if (n > (int)sizeof(line) - 1)
        n = (int)sizeof(line) - 1;
    if (n > 0 && write(log_fd, line, (size_t)n) < 0 && errno == EINTR)
        (void)!write(log_fd, line, (size_t)n);
}

/* printf-style front of log_vwrite. */
void
log_write(enum ab_log_level level, const char *component, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(level, component, fmt, ap);
    va_end(ap);
}
