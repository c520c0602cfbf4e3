/* The ABI 1.3 host services that live in their own files (host_defer.c,
 * host_markdown.c, md_plain.c); host.c puts them in the services table. */
#ifndef AB_HOST_SERVICES_H
#define AB_HOST_SERVICES_H

#include <stdbool.h>
#include <stddef.h>

#include <agent-broker/plugin.h>

/* service: parse Markdown and walk it into @v (lent). See host.h md_walk. */
int host_md_walk(struct ab_host *h, const char *md, size_t len, const struct ab_md_visitor *v,
                 void *arg);

/* service: Markdown as plain text; *out malloc'd. See host.h md_plain. */
int host_md_plain(struct ab_host *h, const char *md, size_t len, char **out);

/* service: run @cb on a later loop iteration; *out owned by the host until it runs. */
int host_defer(struct ab_host *h, ab_defer_cb cb, void *arg, struct ab_defer **out);

/* service: cancel a deferred call that has not run. NULL is allowed. */
void host_defer_cancel(struct ab_defer *d);

/* Cancel every deferred call of @h still pending (its plugin is closed). */
void host_defer_cancel_all(struct ab_host *h);

/* service: utf8_truncate over core/src/render/utf8.c. */
size_t host_utf8_truncate(const char *s, size_t len, size_t max_chars, size_t max_bytes,
                          unsigned flags);

/* service: an HTTP request on the shared client (host.c); host_sched.c performs the
 * scheduled calls through it. */
int host_http_request(struct ab_host *h, const struct ab_http_request *req, ab_http_cb cb,
                      void *arg, struct ab_http **out);

/* service: queue a plugin's own call in its operations' scheduler (host_sched.c). */
int host_http_scheduled(struct ab_host *h, const char *route, const struct ab_http_request *req,
                        ab_http_judge_cb judge, ab_http_cb cb, void *arg,
                        struct ab_http_sched **out);

/* service: abandon a scheduled call; its callback will not run. NULL is allowed. */
void host_http_scheduled_cancel(struct ab_http_sched *r);

/* Abandon every scheduled call of @h (it is being freed). */
void host_sched_cancel_all(struct ab_host *h);

/* Keep @info (lent) for the scheduled call of @h it names by .op while that call's answer
 * is judged; true when taken (the facts then go with the call's completion). */
bool host_sched_take_report(struct ab_host *h, const struct ab_rate_info *info);

#endif
