/* Fetching one message's attachments; see attachments.h. */
#include "conv/attachments.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <agent-broker/chat.h>
#include <agent-broker/errors.h>

#include "conv/chat_instance.h"
#include "host/host.h"
#include "log.h"
#include "render/utf8.h"

#define ATTACH_SKIP_CAP 1024

/* One file of the message, as the platform described it (strings owned). */
struct attach_item {
    struct ab_attachment a; /* strings below */
    char *id, *name, *type, *url;
};

/* A download in flight; outlives the fetch when the fetch is freed first (a plugin's
 * download cannot be cancelled: its callback then finds fetch NULL). */
struct attach_req {
    struct attach_fetch *fetch; /* lent, NULL once abandoned */
    struct ab_http *http;       /* the host's request, when the core fetched it itself */
    char *path;                 /* owned */
    size_t trusted;             /* path's first bytes the operator configured (working_dir) */
    /* the saved file as read in libuv's threadpool once the download ended */
    uv_work_t work;
    int status;          /* the download's, then AB_EIO when the file cannot be opened */
    int fd;              /* opened once, or -1 */
    struct stat st;      /* of fd */
    const char *sniffed; /* attach_sniff of its first bytes (static), or NULL */
    bool is_text;        /* UTF-8 without NUL (small files only, not sniffed) */
};

struct attach_fetch {
    const struct attach_config *cfg; /* lent */
    struct clock *clock;             /* lent */
    struct chat_instance *ci;        /* lent */
    char *dir;                       /* owned: <cwd>/.chat-attachments/<message> */
    struct attach_item *items;       /* owned */
    size_t nitems, next;             /* next item to fetch */
    struct acp_file *files;          /* owned: saved ones */
    size_t nfiles;
    uint64_t used; /* bytes saved */
    char skipped[ATTACH_SKIP_CAP];
    size_t nskipped;
    struct attach_req *req; /* the download in flight, or NULL */
    struct ab_http *stt;    /* the transcription in flight, or NULL */
    char *transcript;       /* owned: the transcripts so far, or NULL */
    struct clock_timer step;
    attach_done_fn done;
    void *arg;
    bool is_done;
};

static void attach_next(void *arg);

/* See the header. */
void
attach_safe_name(const char *name, char *out, size_t cap)
{
    size_t n = 0;

    for (const char *p = name ? name : ""; *p && n + 1 < cap; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_';
        if (n == 0 && ch == '.')
            continue;
        out[n++] = ok ? ch : '_';
    }
    out[n] = '\0';
    if (n == 0)
        snprintf(out, cap, "file");
}

/* See the header. */
const char *
attach_sniff(const unsigned char *h, size_t len)
{
    size_t i = 0;

    if (len >= 8 && memcmp(h, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "image/png";
    if (len >= 3 && h[0] == 0xFF && h[1] == 0xD8 && h[2] == 0xFF)
        return "image/jpeg";
    if (len >= 6 && (memcmp(h, "GIF87a", 6) == 0 || memcmp(h, "GIF89a", 6) == 0))
        return "image/gif";
    if (len >= 12 && memcmp(h, "RIFF", 4) == 0 && memcmp(h + 8, "WEBP", 4) == 0)
        return "image/webp";
    if (len >= 5 && memcmp(h, "%PDF-", 5) == 0)
        return "application/pdf";
    if (len >= 4 && memcmp(h, "PK\x03\x04", 4) == 0)
        return "application/zip";
    while (i < len && (h[i] == ' ' || h[i] == '\t' || h[i] == '\r' || h[i] == '\n'))
        i++;
    if ((len - i >= 9 && strncasecmp((const char *)h + i, "<!doctype", 9) == 0) ||
        (len - i >= 5 && strncasecmp((const char *)h + i, "<html", 5) == 0))
        return "text/html";
    return NULL;
}

/* See the header. */
bool
attach_type_allowed(const struct attach_config *cfg, const char *type)
{
    size_t tlen = strcspn(type, "; ");

    if (!cfg->allowed_types)
        return true;
    for (size_t i = 0; i < cfg->allowed_count; i++) {
        const char *a = cfg->allowed_types[i];
        size_t alen = strlen(a);
        if (alen >= 2 && strcmp(a + alen - 2, "/*") == 0) {
            if (tlen > alen - 1 && strncasecmp(type, a, alen - 1) == 0)
                return true;
        } else if (strcmp(a, "*") == 0 || (alen == tlen && strncasecmp(type, a, tlen) == 0)) {
            return true;
        }
    }
    return false;
}

/* A media type for a file without one, from its extension. */
static const char *
attach_type_by_name(const char *name)
{
    static const char *const map[][2] = {
        {"png", "image/png"},       {"jpg", "image/jpeg"},      {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},       {"webp", "image/webp"},     {"txt", "text/plain"},
        {"log", "text/plain"},      {"md", "text/markdown"},    {"csv", "text/csv"},
        {"diff", "text/x-diff"},    {"patch", "text/x-diff"},   {"json", "application/json"},
        {"pdf", "application/pdf"}, {"zip", "application/zip"}, {"c", "text/x-c"},
        {"h", "text/x-c"},          {"py", "text/x-python"},    {"js", "text/javascript"},
        {"ts", "text/plain"},       {"rs", "text/plain"},       {"go", "text/plain"},
        {"toml", "text/plain"},     {"yaml", "text/plain"},     {"yml", "text/plain"},
        {"ogg", "audio/ogg"},       {"mp3", "audio/mpeg"},      {"wav", "audio/wav"},
        {"m4a", "audio/mp4"},
    };
    const char *dot = name ? strrchr(name, '.') : NULL;

    for (size_t i = 0; dot && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcasecmp(dot + 1, map[i][0]) == 0)
            return map[i][1];
    return "application/octet-stream";
}

/* The type @it declares (or its name suggests). */
static const char *
attach_declared(const struct attach_item *it)
{
    return it->type && *it->type ? it->type : attach_type_by_name(it->name);
}

/* Add "name (why)" to the skip line. */
static void
attach_skip(struct attach_fetch *f, const struct attach_item *it, const char *why)
{
    size_t len = strlen(f->skipped);
    char safe[128];

    attach_safe_name(it->name, safe, sizeof(safe));
    if (len == 0)
        len = (size_t)snprintf(f->skipped, sizeof(f->skipped), "📎 Not passed to the agent: %s (%s)",
                               safe, why);
    else if (len + 8 < sizeof(f->skipped))
        snprintf(f->skipped + len, sizeof(f->skipped) - len, ", %s (%s)", safe, why);
    f->nskipped++;
    log_info("attach", "%s: %s skipped: %s", f->ci->name, safe, why);
}

/* Human size: "3.2 MB". */
static void
attach_size(uint64_t bytes, char *out, size_t cap)
{
    if (bytes >= 1024 * 1024)
        snprintf(out, cap, "%.1f MB", (double)bytes / (1024.0 * 1024.0));
    else
        snprintf(out, cap, "%llu KB", (unsigned long long)((bytes + 1023) / 1024));
}

/* True when @fd's file ([0..bytes)) is UTF-8 text (no NUL), read in full; small files only. */
static bool
attach_is_text(int fd, uint64_t bytes)
{
    char *buf;
    bool ok = false;

    if (bytes == 0 || bytes > ACP_PROMPT_MAX_TEXT)
        return false;
    if ((buf = malloc((size_t)bytes)) && pread(fd, buf, (size_t)bytes, 0) == (ssize_t)bytes)
        ok = !memchr(buf, '\0', (size_t)bytes) && utf8_valid(buf, (size_t)bytes);
    free(buf);
    return ok;
}

/* See the header. */
int
attach_open_dir(const char *path, size_t trusted)
{
    char *copy = strdup(path), *save = NULL, *part;
    int fd, next;

    if (!copy)
        return AB_ENOMEM;
    copy[trusted] = '\0';
    if ((fd = open(trusted ? copy : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        fd = -errno;
    for (part = strtok_r(copy + trusted + (path[trusted] != '\0'), "/", &save); part && fd >= 0;
         part = strtok_r(NULL, "/", &save)) {
        if (strcmp(part, ".") == 0)
            continue;
        if (strcmp(part, "..") == 0)
            next = AB_EINVAL;
        else if ((next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
            next = -errno;
        close(fd);
        fd = next;
    }
    free(copy);
    return fd;
}

/* Open the file at @path once, as saved: no step past its first @trusted bytes (the
 * working directory) a link, the file itself no link and no FIFO, a regular file.
 * Returns the descriptor or a negative code. */
static int
attach_open_saved(const char *path, size_t trusted, struct stat *st)
{
    char *dir = strdup(path);
    int dfd, fd;

    if (!dir)
        return AB_ENOMEM;
    *strrchr(dir, '/') = '\0';
    dfd = attach_open_dir(dir, trusted);
    free(dir);
    if (dfd < 0)
        return dfd;
    fd = openat(dfd, strrchr(path, '/') + 1,
                O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    close(dfd);
    if (fd < 0)
        return -errno;
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return AB_EIO;
    }
    return fd;
}

/* Threadpool: open the saved file once and read what settling it needs (its first
 * bytes, and all of a small one to tell text), so no read of it runs on the loop. */
static void
attach_settle_work(uv_work_t *w)
{
    struct attach_req *req = w->data;
    unsigned char head[512];
    ssize_t n;

    if (req->status < 0)
        return;
    if ((req->fd = attach_open_saved(req->path, req->trusted, &req->st)) < 0) {
        req->fd = -1;
        req->status = AB_EIO;
        return;
    }
    if ((n = pread(req->fd, head, sizeof(head), 0)) > 0)
        req->sniffed = attach_sniff(head, (size_t)n);
    req->is_text = !req->sniffed && attach_is_text(req->fd, (uint64_t)req->st.st_size);
}

/* Item @it's download (@req, read by attach_settle_work) ended: keep or skip the file. */
static void
attach_settle(struct attach_fetch *f, struct attach_item *it, struct attach_req *req)
{
    const char *sniffed = req->sniffed, *type = attach_declared(it), *path = req->path;
    struct acp_file *grown, *file;
    int status = req->status, fd = req->fd;

    req->fd = -1; /* this decides its fate */
    if (status == 0 && sniffed && strcmp(sniffed, "text/html") == 0 &&
        strncasecmp(type, "text/html", 9) != 0)
        status = AB_EAUTH; /* a login page where a file was expected */
    if (status == 0 && sniffed && !attach_type_allowed(f->cfg, sniffed)) {
        attach_skip(f, it, "type not allowed");
        unlink(path);
        close(fd);
        return;
    }
    if (status < 0) {
        if (fd >= 0)
            close(fd);
        char why[96];
        if (status == AB_EFULL)
            snprintf(why, sizeof(why), "too big");
        else if (status == AB_EAUTH)
            snprintf(why, sizeof(why), "the platform sent a login page, not the file");
        else
            snprintf(why, sizeof(why), "download failed: %s", ab_strerror(status));
        attach_skip(f, it, why);
        unlink(path);
        return;
    }
    if (!(grown = realloc(f->files, (f->nfiles + 1) * sizeof(*grown)))) {
        attach_skip(f, it, "out of memory");
        close(fd);
        return;
    }
    f->files = grown;
    file = &f->files[f->nfiles];
    memset(file, 0, sizeof(*file));
    file->bytes = (uint64_t)req->st.st_size;
    file->is_image = sniffed && strncmp(sniffed, "image/", 6) == 0;
    file->is_text = req->is_text;
    file->fd = fd; /* the prompt reads this, never the path again */
    file->has_fd = true;
    file->path = strdup(path);
    file->name = strdup(it->name && *it->name ? it->name : "file");
    file->mime = strdup(sniffed                                           ? sniffed
                        : file->is_text && strncmp(type, "text/", 5) != 0 ? "text/plain"
                                                                          : type);
    if (!file->path || !file->name || !file->mime) {
        free(file->path);
        free(file->name);
        free(file->mime);
        close(fd);
        attach_skip(f, it, "out of memory");
        return;
    }
    f->nfiles++;
    f->used += file->bytes;
}

/* The transcription service answered: keep the text, then go on. */
static void
attach_transcribed(void *arg, const struct ab_http_response *r)
{
    struct attach_fetch *f = arg;
    struct attach_item *it = &f->items[f->next - 1];
    cJSON *body = NULL;
    const cJSON *text;
    char *joined;

    f->stt = NULL;
    if (!r->error && r->status == 200)
        body = cJSON_ParseWithLength(r->body, r->body_len);
    text = cJSON_GetObjectItemCaseSensitive(body, "text");
    if (cJSON_IsString(text) && *text->valuestring) {
        if (asprintf(&joined, "%s%s%s", f->transcript ? f->transcript : "",
                     f->transcript ? "\n" : "", text->valuestring) >= 0) {
            free(f->transcript);
            f->transcript = joined;
        }
    } else {
        log_warn("attach", "%s: transcription failed: %s", f->ci->name,
                 r->error ? ab_strerror(r->error) : "no text in the answer");
        attach_skip(f, it, "could not be transcribed");
    }
    cJSON_Delete(body);
    clock_timer_start(f->clock, &f->step, 0, attach_next, f);
}

/* A saved voice or audio file goes to the [stt] service; true when it was sent. */
static bool
attach_transcribe(struct attach_fetch *f, const struct attach_item *it)
{
    const struct acp_file *file = f->nfiles ? &f->files[f->nfiles - 1] : NULL;
    char url[1024], auth[600];
    int rc;

    if (!f->cfg->stt || !f->cfg->stt_url || !file ||
        strcmp(file->name, it->name ? it->name : "file"))
        return false;
    if (!it->a.is_voice && strncmp(file->mime, "audio/", 6) != 0)
        return false;
    char proc[32]; /* the file as saved: the path is in the agent's reach */
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", file->fd);
    snprintf(url, sizeof(url), "%s/audio/transcriptions", f->cfg->stt_url);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
             f->cfg->stt_key ? f->cfg->stt_key : "");
    const char *hdrs[] = {auth, NULL};
    struct ab_form_part parts[] = {
        {.size = sizeof(parts[0]),
         .name = "file",
         .filename = file->name,
         .content_type = file->mime,
         .path = file->has_fd ? proc : file->path},
        {.size = sizeof(parts[0]),
         .name = "model",
         .data = f->cfg->stt_model ? f->cfg->stt_model : "",
         .data_len = f->cfg->stt_model ? strlen(f->cfg->stt_model) : 0},
        {.size = sizeof(parts[0]), .name = "response_format", .data = "json", .data_len = 4},
    };
    struct ab_http_request req = {
        .size = sizeof(req), .url = url, .headers = hdrs, .timeout_ms = 120000};
    rc = host_services.http_upload(f->ci->host, &req, parts, 3, attach_transcribed, f, &f->stt);
    if (rc < 0) {
        log_warn("attach", "%s: cannot reach the transcription service: %s", f->ci->name,
                 ab_strerror(rc));
        attach_skip(f, it, "could not be transcribed");
        return false;
    }
    return true;
}

/* Loop: the saved file was read (or could not be): settle it, then go on. */
static void
attach_settle_done(uv_work_t *w, int status)
{
    struct attach_req *req = w->data;
    struct attach_fetch *f = req->fetch;

    (void)status;
    if (f) {
        size_t before = f->nfiles;
        f->req = NULL;
        attach_settle(f, &f->items[f->next - 1], req);
        if (f->nfiles == before || !attach_transcribe(f, &f->items[f->next - 1]))
            clock_timer_start(f->clock, &f->step, 0, attach_next, f);
    } else if (req->status < 0) {
        unlink(req->path);
    }
    if (req->fd >= 0)
        close(req->fd);
    free(req->path);
    free(req);
}

/* The plugin's (or host's) download ended: read the file in the threadpool (at once
 * when there is no loop to queue on), then settle it. */
static void
attach_downloaded(void *arg, int status)
{
    struct attach_req *req = arg;
    struct attach_fetch *f = req->fetch;

    req->status = status;
    req->work.data = req;
    if (f && f->ci->loop &&
        uv_queue_work(f->ci->loop, &req->work, attach_settle_work, attach_settle_done) == 0)
        return; /* f->req stays: a free meanwhile abandons it (fetch = NULL) */
    attach_settle_work(&req->work);
    attach_settle_done(&req->work, 0);
}

/* The host's response to a direct download. */
static void
attach_http_done(void *arg, const struct ab_http_response *r)
{
    struct attach_req *req = arg;
    const char *ct = ab_http_header(r, "Content-Type");
    int status = r->error;

    req->http = NULL;
    if (status == 0 && (r->status == 401 || r->status == 403))
        status = AB_EAUTH;
    else if (status == 0 && (r->status < 200 || r->status > 299))
        status = AB_EIO;
    else if (status == 0 && ct && strncasecmp(ct, "text/html", 9) == 0 && req->fetch &&
             strncasecmp(attach_declared(&req->fetch->items[req->fetch->next - 1]), "text/html",
                         9) != 0)
        status = AB_EAUTH;
    attach_downloaded(req, status);
}

/* Make @dir and its parents (0700). */
static int
attach_mkdirs(char *dir)
{
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
            *p = '/';
            return -errno;
        }
        *p = '/';
    }
    return mkdir(dir, 0700) < 0 && errno != EEXIST ? -errno : 0;
}

/* Start downloading item @it; false when it was skipped at once. */
static bool
attach_begin(struct attach_fetch *f, struct attach_item *it, size_t index)
{
    const struct ab_chat_ops *ops = f->ci->ops;
    uint64_t room = f->cfg->max_total_bytes - f->used;
    uint64_t cap = f->cfg->max_file_bytes < room ? f->cfg->max_file_bytes : room;
    char safe[128], path[4096], size[32];
    struct attach_req *req;
    int rc;

    if (f->nfiles >= f->cfg->max_files) {
        attach_skip(f, it, "too many files in one message");
        return false;
    }
    if (!attach_type_allowed(f->cfg, attach_declared(it))) {
        attach_skip(f, it, "type not allowed");
        return false;
    }
    if (it->a.bytes > f->cfg->max_file_bytes) {
        char why[80];
        attach_size(f->cfg->max_file_bytes, size, sizeof(size));
        snprintf(why, sizeof(why), "too big: over %s", size);
        attach_skip(f, it, why);
        return false;
    }
    if (it->a.bytes > room || room == 0) {
        attach_skip(f, it, "over the total per message");
        return false;
    }
    bool own = AB_HAS(ops, struct ab_chat_ops, download) && ops->download;
    if (!own && (it->a.needs_auth || !it->url || !*it->url)) {
        attach_skip(f, it, "this platform cannot fetch it");
        return false;
    }
    attach_safe_name(it->name, safe, sizeof(safe));
    if ((rc = attach_mkdirs(f->dir)) < 0) {
        log_error("attach", "cannot create %s: %s", f->dir, strerror(-rc));
        attach_skip(f, it, "cannot save it");
        return false;
    }
    snprintf(path, sizeof(path), "%s/%s", f->dir, safe);
    if (access(path, F_OK) == 0)
        snprintf(path, sizeof(path), "%s/%zu-%s", f->dir, index + 1, safe);
    if (!(req = calloc(1, sizeof(*req))) || !(req->path = strdup(path))) {
        free(req);
        attach_skip(f, it, "out of memory");
        return false;
    }
    req->fetch = f;
    req->fd = -1;
    req->trusted = strlen(f->cfg->dir);
    if (own) {
        rc = ops->download(f->ci->chat, &it->a, path, cap, attach_downloaded, req);
    } else {
        const char *const hdrs[] = {"Accept: */*", NULL};
        struct ab_http_request hr = {.size = sizeof(hr),
                                     .method = "GET",
                                     .url = it->url,
                                     .headers = hdrs,
                                     .timeout_ms = 300000};
        rc = host_services.http_download(f->ci->host, &hr, path, cap, attach_http_done, req,
                                         &req->http);
    }
    if (rc < 0) {
        char why[96];
        snprintf(why, sizeof(why), "download failed: %s", ab_strerror(rc));
        unlink(path);
        free(req->path);
        free(req);
        attach_skip(f, it, why);
        return false;
    }
    f->req = req;
    return true;
}

/* Fetch the next item, or report the end. */
static void
attach_next(void *arg)
{
    struct attach_fetch *f = arg;

    while (f->next < f->nitems) {
        struct attach_item *it = &f->items[f->next];
        f->next++;
        if (attach_begin(f, it, f->next - 1))
            return;
    }
    f->is_done = true;
    f->done(f->arg, f);
}

/* Free the copied items. */
static void
attach_items_free(struct attach_item *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++) {
        free(items[i].id);
        free(items[i].name);
        free(items[i].type);
        free(items[i].url);
    }
    free(items);
}

/* A copy of @s, or NULL for NULL; *@bad set when the copy failed. */
static char *
attach_dup(const char *s, bool *bad)
{
    char *d = s ? strdup(s) : NULL;

    if (s && !d)
        *bad = true;
    return d;
}

/* See the header. */
int
attach_fetch_start(const struct attach_config *cfg, struct clock *clock, struct chat_instance *ci,
                   const char *message_id, const struct ab_attachment *atts, size_t n,
                   attach_done_fn done, void *arg, struct attach_fetch **out)
{
    struct attach_fetch *f = calloc(1, sizeof(*f));
    char safe[128];
    bool bad = false;
    size_t len;

    if (!f)
        return AB_ENOMEM;
    f->cfg = cfg;
    f->clock = clock;
    f->ci = ci;
    f->done = done;
    f->arg = arg;
    clock_timer_init(&f->step);
    attach_safe_name(message_id, safe, sizeof(safe));
    len = strlen(cfg->dir) + strlen(safe) + 32;
    if (!(f->dir = malloc(len)) || !(f->items = calloc(n ? n : 1, sizeof(*f->items))))
        goto fail;
    snprintf(f->dir, len, "%s/.chat-attachments/%s", cfg->dir, safe);
    for (size_t i = 0; i < n; i++) {
        const struct ab_attachment *a = &atts[i];
        struct attach_item *it = &f->items[i];
        if (a->size < offsetof(struct ab_attachment, is_voice) + sizeof(bool))
            continue; /* an older layout than this host knows: skipped with a name-less line */
        it->a = *a;
        it->id = attach_dup(a->id, &bad);
        it->name = attach_dup(a->name, &bad);
        it->type = attach_dup(a->content_type, &bad);
        it->url = attach_dup(a->url, &bad);
        it->a.size = sizeof(it->a);
        it->a.id = it->id;
        it->a.name = it->name;
        it->a.content_type = it->type;
        it->a.url = it->url;
        f->nitems = i + 1;
    }
    if (bad)
        goto fail;
    f->nitems = n;
    if (clock_timer_start(clock, &f->step, 0, attach_next, f) < 0)
        goto fail;
    *out = f;
    return 0;

fail:
    attach_items_free(f->items, n);
    free(f->dir);
    free(f);
    return AB_ENOMEM;
}

/* See the header. */
bool
attach_fetch_is_done(const struct attach_fetch *f)
{
    return !f || f->is_done;
}

/* See the header. */
const struct acp_file *
attach_fetch_files(const struct attach_fetch *f, size_t *n)
{
    *n = f ? f->nfiles : 0;
    return f ? f->files : NULL;
}

/* See the header. */
const char *
attach_fetch_transcript(const struct attach_fetch *f)
{
    return f ? f->transcript : NULL;
}

/* See the header. */
const char *
attach_fetch_skipped(const struct attach_fetch *f)
{
    return f && f->nskipped ? f->skipped : NULL;
}

/* See the header. */
void
attach_fetch_free(struct attach_fetch *f)
{
    if (!f)
        return;
    clock_timer_stop(&f->step);
    host_services.http_cancel(f->stt);
    free(f->transcript);
    if (f->req) {
        if (f->req->http) {
            host_services.http_cancel(f->req->http);
            unlink(f->req->path);
            free(f->req->path);
            free(f->req);
        } else {
            f->req->fetch = NULL; /* the plugin's callback frees it */
        }
    }
    attach_items_free(f->items, f->nitems);
    acp_files_free(f->files, f->nfiles);
    free(f->dir);
    free(f);
}
