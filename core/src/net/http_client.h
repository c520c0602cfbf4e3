/* The core's HTTP client: one libcurl multi handle driven by libuv (sockets through
 * uv_poll, curl's timer through a uv_timer), so connections are kept alive and reused
 * across requests. DNS runs on curl's resolver thread, never on the loop. Redirects are
 * not followed. Requests are struct ab_http_request from the ABI; the answer is a
 * struct ab_http_response handed to the callback, never inside http_client_request().
 *
 *   http_client_new(loop, NULL, &c);
 *   http_client_request(c, &req, &(struct net_policy){0}, done, arg, &r);
 *   ... done(arg, resp) runs later; http_client_cancel(r) drops it without a callback.
 *   http_client_close(c);   // pending requests get AB_ECANCELED; run the loop to finish */
#ifndef AB_NET_HTTP_CLIENT_H
#define AB_NET_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include <agent-broker/net.h>

#include "net/net_url.h"

/* Opaque. Owned by its creator until http_client_close(). */
struct http_client;

struct http_client_options {
    size_t max_body; /* response bodies larger than this fail with AB_EFULL; 0 = 8 MiB */
};

/* A client on @loop (lent; must outlive the client). @opt may be NULL. */
int http_client_new(uv_loop_t *loop, const struct http_client_options *opt,
                    struct http_client **out);

/* Cancel every pending request (each callback runs once with AB_ECANCELED), then close
 * the handles; the memory goes when the loop has run their close callbacks. Must not be
 * called from inside a request callback of this client. NULL is allowed. */
void http_client_close(struct http_client *c);

/* Start @req (lent for the call: everything is copied). @pol (lent) gives the CA file
 * and whether plain http:// may leave the machine. On success *out (owned by the client)
 * is valid until @cb returns or http_client_cancel(). Returns AB_EINVAL for a malformed
 * request, AB_ECONFIG for plain text to a non-loopback host, AB_ECLOSED after close. */
int http_client_request(struct http_client *c, const struct ab_http_request *req,
                        const struct net_policy *pol, ab_http_cb cb, void *arg,
                        struct ab_http **out);

/* Like http_client_request, but a 2xx body is written to a new file @path (lent;
 * O_EXCL, 0600) as it arrives, never held in memory, failing with AB_EFULL past
 * @max_bytes (0 = no cap); the response then has body "" and body_len = bytes written.
 * Other statuses keep their (capped) body in memory and leave the file empty. The file
 * is closed when the request ends; the caller removes it on failure. */
int http_client_download(struct http_client *c, const struct ab_http_request *req,
                         const struct net_policy *pol, const char *path, uint64_t max_bytes,
                         ab_http_cb cb, void *arg, struct ab_http **out);

/* Like http_client_request, with a multipart/form-data body built from @parts (lent;
 * @nparts, each stepped by its size); file parts are streamed from disk. POST unless
 * @req->method says otherwise; @req must carry no body. */
int http_client_upload(struct http_client *c, const struct ab_http_request *req,
                       const struct net_policy *pol, const struct ab_form_part *parts,
                       size_t nparts, ab_http_cb cb, void *arg, struct ab_http **out);

/* Abandon a request: its callback will not run. NULL is allowed. */
void http_client_cancel(struct ab_http *r);

/* Abandon every request started with policy owner @owner (no callbacks). */
void http_client_cancel_owner(struct http_client *c, const void *owner);

/* Requests started and not yet finished or cancelled. */
size_t http_client_pending(const struct http_client *c);

#endif
