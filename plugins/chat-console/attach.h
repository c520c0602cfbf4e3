/* chat-console: `/attach PATH` queues a local file for the next message; the core then
 * fetches it through the download op, which copies it in 1 MiB steps on the loop. */
#ifndef AB_CONSOLE_ATTACH_H
#define AB_CONSOLE_ATTACH_H

#include <stdbool.h>
#include <stddef.h>

#include <agent-broker/plugin.h>

/* The queued files and the copies in flight. Opaque; owned by the console instance. */
struct console_attach;

/* A new, empty queue for @host/@svc (lent; outlive it). NULL when out of memory. */
struct console_attach *console_attach_new(struct ab_host *host, const struct ab_host_services *svc);

/* Free the queue; copies in flight stop and their callbacks never run. NULL allowed. */
void console_attach_free(struct console_attach *a);

/* When @line (lent) is `/attach PATH`, queue PATH (or say why not, on stdout through
 * @say) and return true; false for any other line. */
bool console_attach_line(struct console_attach *a, const char *line,
                         void (*say)(void *arg, const char *text), void *arg);

/* The queued files as attachments for the next message: *@out (malloc'd; its strings
 * stay valid until the next call or free) and how many; the queue is emptied. */
size_t console_attach_take(struct console_attach *a, struct ab_attachment **out);

/* ab_chat_ops.download for a queued file (url "file://<absolute path>"). */
int console_attach_download(struct console_attach *a, const struct ab_attachment *att,
                            const char *path, uint64_t max_bytes, ab_done_cb cb, void *arg);

#endif
