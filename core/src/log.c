/* Process-wide logging with redaction of secrets. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <agent-broker/errors.h>

#include "render/utf8.h"

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

/* See the header. */
bool
log_has_secret(const void *data, size_t len)
{
    for (size_t i = 0; i < log_secret_count; i++)
        if (memmem(data, len, log_secrets[i], strlen(log_secrets[i])))
            return true;
    return false;
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

/* A malloc'd redacted copy of @text; NULL only when out of memory. Redaction never
 * lengthens a text: a secret (4 bytes or more) or a token becomes "***". */
char *
log_redact_dup(const char *text)
{
    size_t len = strlen(text);
    char *out = malloc(len + 4);

    if (out)
        log_redact(text, out, len + 4);
    return out;
}

/* Replace @k bytes at @at of @text (length *@len) by "***", in place. */
static void
log_mask_at(char *text, size_t *len, size_t at, size_t k)
{
    memcpy(text + at, "***", 3);
    memmove(text + at + 3, text + at + k, *len - at - k + 1);
    *len -= k - 3;
}

/* A cut that happened before redaction could (tail of a live message) leave a piece
 * of a secret: mask a suffix of one (8 bytes or more) found in the first @window
 * bytes of @text, and a prefix of one at its very end. In place; only shrinks. */
void
log_redact_cut_pieces(char *text, size_t window)
{
    size_t len = strlen(text);

    for (size_t i = 0; i < log_secret_count; i++) {
        const char *sec = log_secrets[i];
        size_t n = strlen(sec);
        for (size_t k = n - 1; n > 8 && k >= 8; k--) {
            const char *hit = memmem(text, len < window + k ? len : window + k, sec + n - k, k);
            if (hit) {
                log_mask_at(text, &len, (size_t)(hit - text), k);
                break;
            }
        }
        for (size_t k = n - 1; n > 8 && k >= 8; k--) {
            if (len >= k && memcmp(text + len - k, sec, k) == 0) {
                log_mask_at(text, &len, len - k, k);
                break;
            }
        }
    }
}

/* Copy @text into @out (capacity @cap) cut at a UTF-8 boundary. */
static void
log_cut(const char *text, char *out, size_t cap)
{
    size_t len = strlen(text), n = len;

    if (cap == 0)
        return;
    if (n > cap - 1)
        n = utf8_cut_before(text, len, cap - 1, 0);
    memcpy(out, text, n);
    out[n] = '\0';
}

/* Format the whole text, redact it, then cut it to @cap: a secret that straddles
 * the limit goes whole instead of leaving its first half. */
void
log_vformat_redacted(char *out, size_t cap, const char *fmt, va_list ap)
{
    char small[1024], *full = NULL, *clean;
    va_list again;
    int n;

    if (cap == 0)
        return;
    va_copy(again, ap);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    if (n >= (int)sizeof(small) && (full = malloc((size_t)n + 1)))
        vsnprintf(full, (size_t)n + 1, fmt, again);
    va_end(again);
    if (n < 0) {
        out[0] = '\0';
        return;
    }
    clean = log_redact_dup(full ? full : small);
    if (clean)
        log_cut(clean, out, cap);
    else
        snprintf(out, cap, "(text withheld: out of memory)");
    free(clean);
    free(full);
}

/* printf-style front of log_vformat_redacted. */
void
log_format_redacted(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vformat_redacted(out, cap, fmt, ap);
    va_end(ap);
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
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(buf + o, cap - o, "\\u%04x", c);
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o] = '\0';
    return o;
}

/* Copy @s into @buf for a text line: control characters (newline, ESC, DEL...) are
 * written as \n, \r, \t or \xNN so that text from a platform or an agent can neither
 * start a forged log line nor send a terminal escape sequence. */
static size_t
log_text_escape(const char *s, char *buf, size_t cap)
{
    size_t o = 0;

    for (; *s && o + 5 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\n' || c == '\r' || c == '\t' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : '\\';
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o] = '\0';
    return o;
}

/* Format, redact, escape and write one line with a single write(). */
void
log_vwrite(enum ab_log_level level, const char *component, const char *fmt, va_list ap)
{
    char clean[LOG_LINE_MAX], esc[LOG_LINE_MAX * 2], line[LOG_LINE_MAX * 2 + 256];
    char stamp[40];
    struct timespec ts;
    struct tm tm;
    int n;

    if (level > log_cur_level)
        return;
    log_vformat_redacted(clean, sizeof(clean), fmt, ap);
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = (int)strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + n, sizeof(stamp) - (size_t)n, ".%03ldZ", ts.tv_nsec / 1000000);
    if (log_cur_format == LOG_FORMAT_JSON) {
        log_json_escape(clean, esc, sizeof(esc));
        n = snprintf(line, sizeof(line),
                     "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":\"%s\",\"msg\":\"%s\"}\n",
                     stamp, log_level_names[level], component ? component : "core", esc);
    } else {
        log_text_escape(clean, esc, sizeof(esc));
        n = snprintf(line, sizeof(line), "%s %-5s %s: %s\n", stamp, log_level_names[level],
                     component ? component : "core", esc);
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
