/* Shared by the plugin fuzz targets: the input is a sequence of frames, one per line
 * ('\n' separated), so seed files are readable payloads, one per line. A line
 * "HTTP <status> <body>" is not a frame: it answers the plugin's next HTTP request. */
#ifndef AB_FUZZ_LINES_H
#define AB_FUZZ_LINES_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_host.h"

/* Call @fn(@arg, frame, len) for every '\n'-separated piece of @data, empty ones too. */
static inline void
fuzz_lines(const char *data, size_t size, void (*fn)(void *arg, const char *line, size_t len),
           void *arg)
{
    size_t start = 0;

    for (size_t i = 0; i <= size; i++) {
        if (i == size || data[i] == '\n') {
            fn(arg, data + start, i - start);
            start = i + 1;
        }
    }
}

/* If @line is "HTTP <3 digits> <body>", queue that answer on @h and return true. */
static inline bool
fuzz_http_line(struct plugin_host *h, const char *line, size_t len)
{
    long status;

    if (len < 8 || memcmp(line, "HTTP ", 5) != 0)
        return false;
    status = (line[5] - '0') * 100 + (line[6] - '0') * 10 + (line[7] - '0');
    if (status < 100 || status > 599)
        return false;
    plugin_host_queue_response(h, status, line + 8, len - 8);
    return true;
}

/* Completion callbacks of the plugin's operations: read what they hand out. */
static inline void
fuzz_sent(void *arg, int status, const struct ab_msg_ref *ref)
{
    (void)arg;
    if (status == 0 && (!ref || !ref->message_id || !ref->channel_id))
        abort();
    if (ref)
        (void)(strlen(ref->channel_id) + strlen(ref->message_id));
}

static inline void
fuzz_done(void *arg, int status)
{
    (void)arg;
    (void)status;
}

static inline void
fuzz_thread(void *arg, int status, const char *thread_id)
{
    (void)arg;
    if (status == 0 && !thread_id)
        abort();
    if (thread_id)
        (void)strlen(thread_id);
}

/* Start one of each outbound operation, so HTTP answers reach their parsers. */
static inline void
fuzz_outbound(const struct ab_plugin_desc *p, struct ab_chat *chat, const char *channel,
              const char *message)
{
    struct ab_send msg = {.size = sizeof(msg), .channel_id = channel, .text = "reply"};
    struct ab_msg_ref ref = {channel, message};

    p->chat->send(chat, &msg, fuzz_sent, NULL);
    p->chat->edit(chat, &ref, "edited", fuzz_done, NULL);
    p->chat->react(chat, &ref, "👀", true, fuzz_done, NULL);
    p->chat->open_thread(chat, &ref, "a thread", fuzz_thread, NULL);
}

#endif
