/* The sender block that precedes every prompt, so the agent knows who is talking:
 * <sender_context>{"schema":"agent-broker.sender.v1","sender_id":"…","sender_name":"…",
 * "display_name":"…","channel":"NAME","channel_id":"…","is_bot":false}</sender_context>
 * Keys in that order, no spaces; ids are JSON strings; strings are escaped so that no
 * value can end the block or the JSON: " \ and control characters as usual, < > & and
 * U+2028/U+2029 as \uXXXX, invalid UTF-8 as \ufffd. */
#ifndef AB_RENDER_SENDER_CONTEXT_H
#define AB_RENDER_SENDER_CONTEXT_H

#include <stdbool.h>

struct sender_context {
    const char *sender_id;    /* lent; required */
    const char *sender_name;  /* lent; NULL gives JSON null */
    const char *display_name; /* lent; NULL gives JSON null */
    const char *channel;      /* lent; required: the chat plugin's name, e.g. "console" */
    const char *channel_id;   /* lent; required */
    bool is_bot;
    const char *outbox_dir; /* lent; NULL = none. Else appended as "outbox_dir": the
                               directory whose files are posted to the thread when the
                               turn ends */
};

/* Build the block into *out (owned; free()). Returns 0, AB_EINVAL (NULL argument or a
 * required field missing) or AB_ENOMEM. */
int sender_context_build(const struct sender_context *ctx, char **out);

#endif
