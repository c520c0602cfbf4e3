/* Attachments of one accepted message: the gates (size cap, type allow-list, count and
 * total per message) applied before anything is fetched, then each file streamed into
 * <agent cwd>/.chat-attachments/<message>/<name> on the loop (the plugin's download op
 * adds its credentials; without one the host's http_download fetches public URLs),
 * its real type sniffed from its first bytes, and one line naming what was skipped. */
#ifndef AB_CONV_ATTACHMENTS_H
#define AB_CONV_ATTACHMENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <agent-broker/host.h>

#include "acp/acp_prompt.h"
#include "clock/clock.h"

struct chat_instance;

struct attach_config {
    bool enabled;
    uint64_t max_file_bytes;          /* one file at most */
    uint64_t max_total_bytes;         /* all files of one message at most */
    uint32_t max_files;               /* files per message at most */
    const char *const *allowed_types; /* lent: exact types ("text/plain") or a major type
                                         with a star ("image/" + '*'); NULL = any */
    size_t allowed_count;
    const char *dir;       /* lent: the agent's working directory (absolute) */
    bool outbox;           /* a per-conversation outbox (outbox.h) named in the sender context */
    bool stt;              /* transcribe voice and audio files ([stt] enabled) */
    const char *stt_url;   /* lent: [stt] base_url */
    const char *stt_key;   /* lent: [stt] api_key (a secret), or NULL */
    const char *stt_model; /* lent */
    bool stt_echo;         /* the transcript is posted in the thread */
    const char *const *auto_upload_dirs; /* lent: [agent] auto_upload_dirs */
    size_t auto_upload_count;
};

/* One message's downloads. Opaque; owned by whoever started it. */
struct attach_fetch;

/* Every file is in or skipped: @f's files and skip line are final. Runs on a later loop
 * iteration than attach_fetch_start, never after attach_fetch_free. */
typedef void (*attach_done_fn)(void *arg, struct attach_fetch *f);

/* Start fetching @atts (lent, @n of them; copied) of message @message_id (lent) from
 * @ci (lent; must outlive the fetch) under @cfg (lent; its strings must outlive the
 * fetch), using @clock (lent) to defer. @done(@arg) runs once. Returns 0 or AB_ENOMEM. */
int attach_fetch_start(const struct attach_config *cfg, struct clock *clock,
                       struct chat_instance *ci, const char *message_id,
                       const struct ab_attachment *atts, size_t n, attach_done_fn done, void *arg,
                       struct attach_fetch **out);

/* True once done has run (or is about to: every file settled). */
bool attach_fetch_is_done(const struct attach_fetch *f);

/* The files saved so far (lent, valid until attach_fetch_free); *@n of them. */
const struct acp_file *attach_fetch_files(const struct attach_fetch *f, size_t *n);

/* The transcripts of the voice and audio files, one per line (lent), or NULL. */
const char *attach_fetch_transcript(const struct attach_fetch *f);

/* One line naming the skipped files and why, or NULL when none was (lent). */
const char *attach_fetch_skipped(const struct attach_fetch *f);

/* Cancel what is in flight (no callback follows) and free. The saved files stay on disk
 * for the agent. NULL is allowed. */
void attach_fetch_free(struct attach_fetch *f);

/* True when media type @type (lent) matches one of @cfg's allowed types (a major type
 * with a star matches its prefix; parameters after ';' are ignored). */
bool attach_type_allowed(const struct attach_config *cfg, const char *type);

/* Sniff the media type of @head[0..len) (a file's first bytes): image/png, image/jpeg,
 * image/gif, image/webp, application/pdf, application/zip, text/html, or NULL. */
const char *attach_sniff(const unsigned char *head, size_t len);

/* A file name safe for the disk from @name (lent): [A-Za-z0-9._-] kept, other bytes '_',
 * no leading dot, at most @cap-1 bytes; "file" when nothing is left. */
void attach_safe_name(const char *name, char *out, size_t cap);

/* Open directory @path (lent): its first @trusted bytes as the operator configured them
 * (symbolic links followed), each step after them refusing a symbolic link and ".."
 * (the agent writes there, as the daemon's own user: from the daemon's side a link to
 * /proc/self/... is the daemon's own files). Returns the descriptor or a negative code. */
int attach_open_dir(const char *path, size_t trusted);

#endif
