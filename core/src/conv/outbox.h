/* The per-conversation outbox: a directory, <agent cwd>/.chat-outbox/<conversation>,
 * named to the agent in its sender context; when a turn ends, the regular files the
 * agent left there are moved to its .sent/ folder and posted to the thread with the
 * plugin's upload op (through the scheduler), in messages of at most the platform's
 * file count, each within its size limit. What did not fit is named in one line. */
#ifndef AB_CONV_OUTBOX_H
#define AB_CONV_OUTBOX_H

#include <stdint.h>

struct chat_instance;

/* The outbox of conversation @key (lent) under @dir (lent, absolute): *@out malloc'd.
 * The directory is created (0700) when @create. Returns 0 or a negative code. */
int outbox_dir(const char *dir, const char *key, int create, char **out);

/* Post what the agent left in the outbox of conversation @key (lent) under @dir (lent,
 * the operator's working directory) to @channel / @thread (lent) of @ci (lent; must
 * outlive the uploads). No step below @dir may be a symbolic link; each file is opened
 * once (no link, no FIFO), checked on that descriptor (regular, within the platform's
 * size, not empty, no registered secret when at most 1 MiB; 4 MiB checked per turn)
 * and posted through /proc/self/fd/N while the upload holds it open, so swapping the
 * name cannot change what is read. Returns 0 (nothing there, or uploads queued) or < 0. */
int outbox_flush(struct chat_instance *ci, const char *dir, const char *key, const char *channel,
                 const char *thread);

/* OpenAB's [agent] auto_upload_dirs: like outbox_flush for directory @sub (lent):
 * relative to @dir (lent; may be NULL for an absolute @sub), no step below @dir a link;
 * absolute, its last step no link. Only files modified at or after @since (wall-clock
 * seconds; 0 = every file, moved to .sent/ as the outbox does), which stay where they
 * are. */
int outbox_flush_since(struct chat_instance *ci, const char *dir, const char *sub,
                       const char *channel, const char *thread, int64_t since);

#endif
