/* Process-wide logging to stderr with levels, text or JSON lines, and redaction of
 * every registered secret. */
#ifndef AB_LOG_H
#define AB_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <agent-broker/host.h>

enum log_format {
    LOG_FORMAT_TEXT = 0,
    LOG_FORMAT_JSON = 1,
};

/* Set the level and format. AGENT_BROKER_LOG (a level name) overrides @level. */
void log_configure(enum ab_log_level level, enum log_format format);

/* The level in force. */
enum ab_log_level log_level(void);

/* Parse "error".."trace"; returns 0 and sets *out, or AB_EINVAL. */
int log_level_parse(const char *name, enum ab_log_level *out);

/* Register a secret: from now on it is replaced by *** in every line. @secret is
 * copied; strings shorter than 4 bytes are ignored (they would redact everything). */
void log_add_secret(const char *secret);

/* Register a token shape: from now on a run of more than 8 bytes of [A-Za-z0-9-]
 * starting with @prefix (copied; 3 bytes or more) is replaced by ***, configured or
 * not. The chat plugins declare these (ab_plugin_desc.redact_prefixes). */
void log_add_token_prefix(const char *prefix);

/* True when @data[0..len) (lent, any bytes) contains a registered secret (token
 * prefixes are not looked for: a file may hold a token shape of its own). */
bool log_has_secret(const void *data, size_t len);

/* Forget every registered secret and token prefix (tests, reload). */
void log_clear_secrets(void);

/* Write one line from @component (lent, e.g. "core", "chat-console"). */
void log_write(enum ab_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vwrite(enum ab_log_level level, const char *component, const char *fmt, va_list ap);

/* Redact @text into @out (capacity @cap, always NUL-terminated). Returns the length
 * written. Used for every log line and for error text shown to users. */
size_t log_redact(const char *text, char *out, size_t cap);

/* A malloc'd redacted copy of @text (never longer), or NULL when out of memory. For
 * every text posted to chat. */
char *log_redact_dup(const char *text);

/* Mask, in place, a piece of a secret (8 bytes or more) that a cut made before
 * redaction left: a secret's suffix within the first @window bytes, or its prefix at
 * the very end. For texts cut by code that cannot redact first (a live tail). */
void log_redact_cut_pieces(char *text, size_t window);

/* Format into @out (capacity @cap): the whole text is redacted first, then cut at a
 * UTF-8 boundary, so a secret crossing the limit never leaves a half behind. Use it
 * wherever text from an agent or a platform goes into a bounded buffer. */
void log_format_redacted(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vformat_redacted(char *out, size_t cap, const char *fmt, va_list ap);

/* Send log lines to @fd instead of stderr (tests). */
void log_set_fd(int fd);

#define log_error(comp, ...) log_write(AB_LOG_ERROR, comp, __VA_ARGS__)
#define log_warn(comp, ...) log_write(AB_LOG_WARN, comp, __VA_ARGS__)
#define log_info(comp, ...) log_write(AB_LOG_INFO, comp, __VA_ARGS__)
#define log_debug(comp, ...) log_write(AB_LOG_DEBUG, comp, __VA_ARGS__)
#define log_trace(comp, ...) log_write(AB_LOG_TRACE, comp, __VA_ARGS__)

#endif
