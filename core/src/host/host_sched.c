/* The scheduled-request service (ABI 1.3 http_scheduled): a plugin's own platform calls
 * go through the scheduler that sends its operations. Each call is a ratelimit request
 * on the route the plugin names (namespaced by the plugin, as operations are); when
 * the scheduler says go, the host performs the HTTP request, the plugin's judge reports
 * the answer's rate facts (tied to the call by .op) and says whether it is done, and
 * the scheduler applies the facts and retries a 429, a 5xx or a transport error by its
 * policy. The plugin hears once, with the last answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/host.h"
#include "host/services.h"
#include "log.h"
#include "net/http_client.h"
#include "outbound/defer.h"
#include "outbound/rate_facts.h"

#define HOST_SCHED_MAX_HEADERS 32

struct ab_http_sched {
    struct ab_http_sched *prev, *next;         /* in the host's list while it may call the plugin */
    struct ab_host *h;                         /* lent; NULL once cancelled or the host is freed */
    uv_loop_t *loop;                           /* lent: for the deferred completion */
    struct ratelimit_call *call;               /* lent from the scheduler while performing */
    struct ab_http *http;                      /* owned by the client while in flight */
    struct defer *deferred;                    /* the completion waiting for a later iteration */
    struct ab_http_request req;                /* full size; its strings point at the copies */
    char *method, *url, *body;                 /* owned copies */
    char *headers[HOST_SCHED_MAX_HEADERS + 1]; /* owned copies, NULL-terminated */
    ab_http_judge_cb judge;
    ab_http_cb cb;
    void *arg;
    bool is_submitting;           /* inside http_scheduled(): defer the completion */
    bool is_answering;            /* the judge is running: rate_report lands here */
    bool *finished_flag;          /* set by the completion while an answer is handled */
    bool has_facts;               /* the judge reported this attempt's facts */
    struct ratelimit_facts facts; /* limit_key points into facts_key */
    char facts_key[RATE_KEY_MAX];
    const struct ab_http_response *resp; /* lent: the answer being handled, or NULL */
    int status;                          /* how it ended, for a deferred completion */
};

/* Take @rq off its host's list (it will call the plugin no more through the host). */
static void
host_sched_unlink(struct ab_http_sched *rq)
{
    if (!rq->h)
        return;
    if (rq->prev)
        rq->prev->next = rq->next;
    else
        rq->h->scheds = rq->next;
    if (rq->next)
        rq->next->prev = rq->prev;
    rq->prev = rq->next = NULL;
    rq->h = NULL;
}

/* Free a call and its copies. */
static void
host_sched_free(struct ab_http_sched *rq)
{
    host_sched_unlink(rq);
    free(rq->method);
    free(rq->url);
    free(rq->body);
    for (size_t i = 0; rq->headers[i]; i++)
        free(rq->headers[i]);
    free(rq);
}

/* Tell the plugin how its call ended: the last answer, or an error without one. */
static void
host_sched_tell(struct ab_http_sched *rq)
{
    struct ab_http_response none = {
        .size = sizeof(none),
        .error = rq->status < 0 ? rq->status : AB_EIO,
        .error_text = ab_strerror(rq->status < 0 ? rq->status : AB_EIO),
        .body = "",
        .ratelimit_remaining = -1,
    };
    ab_http_cb cb = rq->cb;
    void *arg = rq->arg;
    const struct ab_http_response *resp = rq->resp ? rq->resp : &none;

    host_sched_free(rq); /* the handle is done before the callback, as http_request's */
    cb(arg, resp);
}

/* A later loop iteration: the completion owed since a synchronous end. */
static void
host_sched_deferred(void *arg)
{
    struct ab_http_sched *rq = arg;

    rq->deferred = NULL;
    host_sched_tell(rq);
}

/* The scheduler is done with the call: tell the plugin (on a later iteration when
 * inside http_scheduled), or just free it when it was cancelled. */
static void
host_sched_finished(void *arg, int status)
{
    struct ab_http_sched *rq = arg;
    int rc;

    if (rq->finished_flag)
        *rq->finished_flag = true;
    rq->status = status;
    if (!rq->h) {
        host_sched_free(rq);
        return;
    }
    if (rq->is_submitting) {
        rq->resp = NULL; /* no answer can have arrived inside the call */
        if ((rc = defer_call(rq->loop, host_sched_deferred, rq, &rq->deferred)) == 0)
            return;
        log_error(rq->h->component, "cannot defer a completion: %s", ab_strerror(rc));
    }
    host_sched_tell(rq);
}

/* The status of an answer the plugin did not judge, and its generic rate facts. */
static int
host_sched_judge_generic(struct ab_http_sched *rq, const struct ab_http_response *resp)
{
    bool is_429 = resp->status == 429;
    struct ab_rate_info info = {
        .size = sizeof(info),
        .bucket = resp->ratelimit_bucket,
        .remaining = resp->ratelimit_remaining,
        .reset_after_ms = resp->ratelimit_reset_after_ms,
        .retry_after_ms = is_429 ? resp->retry_after_ms : 0,
        .global = resp->ratelimit_global,
        .limit = -1,
    };

    rq->has_facts = rate_facts_from_info(rq->h->rl_scope, &info, &rq->facts, rq->facts_key,
                                         sizeof(rq->facts_key));
    if (resp->status >= 200 && resp->status < 300)
        return 0;
    if (is_429)
        return AB_ERATELIMIT;
    if (resp->status >= 500)
        return AB_EIO;
    return resp->status == 401 || resp->status == 403 ? AB_EAUTH : AB_EINVAL;
}

/* The HTTP answer (or transport error) of one attempt: judge it, hand status and facts
 * to the scheduler, which retries or finishes (then the plugin hears, with this answer). */
static void
host_sched_answered(void *arg, const struct ab_http_response *resp)
{
    struct ab_http_sched *rq = arg;
    struct ratelimit_call *call = rq->call;
    bool finished = false;
    int status;

    rq->http = NULL;
    rq->call = NULL;
    rq->has_facts = false;
    if (resp->error) {
        status = resp->error;
    } else if (rq->judge) {
        rq->is_answering = true;
        status = rq->judge(rq->arg, rq, resp);
        rq->is_answering = false;
        if (status > 0)
            status = AB_EPROTO;
    } else {
        status = host_sched_judge_generic(rq, resp);
    }
    rq->resp = resp;
    rq->finished_flag = &finished;
    ratelimit_call_done(call, status, rq->has_facts ? &rq->facts : NULL);
    if (!finished) { /* queued again for a retry */
        rq->resp = NULL;
        rq->finished_flag = NULL;
    }
}

/* The scheduler says go: perform the request (a cancelled call ends at once). */
static void
host_sched_perform(void *arg, struct ratelimit_call *call)
{
    struct ab_http_sched *rq = arg;
    int rc;

    rq->call = call;
    if (!rq->h) {
        rq->call = NULL;
        ratelimit_call_done(call, AB_ECANCELED, NULL);
        return;
    }
    if ((rc = host_http_request(rq->h, &rq->req, host_sched_answered, rq, &rq->http)) < 0) {
        rq->call = NULL;
        rq->http = NULL;
        ratelimit_call_done(call, rc, NULL);
    }
}

/* Copy @req (any ABI size) into @rq: strings and headers owned by @rq. */
static int
host_sched_copy(struct ab_http_sched *rq, const struct ab_http_request *req)
{
    size_t have = req->size < sizeof(rq->req) ? req->size : sizeof(rq->req);
    size_t n = 0;

    if (req->size < offsetof(struct ab_http_request, body_len) + sizeof(size_t) || !req->url)
        return AB_EINVAL;
    memcpy(&rq->req, req, have);
    rq->req.size = sizeof(rq->req);
    if (!(rq->method = strdup(req->method ? req->method : "GET")) || !(rq->url = strdup(req->url)))
        return AB_ENOMEM;
    if (req->body) {
        if (!(rq->body = malloc(req->body_len + 1)))
            return AB_ENOMEM;
        memcpy(rq->body, req->body, req->body_len);
        rq->body[req->body_len] = '\0';
    }
    for (; req->headers && req->headers[n]; n++) {
        if (n == HOST_SCHED_MAX_HEADERS)
            return AB_EINVAL;
        if (!(rq->headers[n] = strdup(req->headers[n])))
            return AB_ENOMEM;
    }
    rq->req.method = rq->method;
    rq->req.url = rq->url;
    rq->req.body = rq->body;
    rq->req.headers = (const char *const *)rq->headers;
    return 0;
}

/* A route key is printable text that fits: the scheduler keys queues by it. */
static bool
host_sched_route_ok(const char *route)
{
    size_t n = 0;

    if (!route || !*route)
        return false;
    for (; route[n]; n++)
        if ((unsigned char)route[n] < 0x20 || route[n] == 0x7f || n >= RATE_KEY_MAX / 2)
            return false;
    return true;
}

/* service: queue a plugin's own call in the scheduler of its operations. */
int
host_http_scheduled(struct ab_host *h, const char *route, const struct ab_http_request *req,
                    ab_http_judge_cb judge, ab_http_cb cb, void *arg, struct ab_http_sched **out)
{
    char key[RATE_KEY_MAX];
    struct ab_http_sched *rq;
    struct ratelimit_req sreq = {
        .bucket = key,
        .priority = RATELIMIT_FINAL_TEXT, /* what connecting or answering waits for */
        .coalesce = RATELIMIT_COALESCE_NONE,
        .perform = host_sched_perform,
        .finished = host_sched_finished,
    };
    int rc;

    if (!h || !req || !cb || !out || !host_sched_route_ok(route))
        return AB_EINVAL;
    if (!h->rl)
        return AB_ENOTSUP;
    if (!(rq = calloc(1, sizeof(*rq))))
        return AB_ENOMEM;
    rq->loop = h->loop;
    rq->judge = judge;
    rq->cb = cb;
    rq->arg = arg;
    if ((rc = host_sched_copy(rq, req)) < 0)
        goto fail;
    snprintf(key, sizeof(key), "%s:%s", h->rl_scope, route);
    sreq.scope = h->rl_scope;
    sreq.arg = rq;
    rq->h = h;
    rq->next = h->scheds;
    if (h->scheds)
        h->scheds->prev = rq;
    h->scheds = rq;
    rq->is_submitting = true;
    rc = ratelimit_submit(h->rl, &sreq);
    rq->is_submitting = false;
    if (rc < 0)
        goto fail;
    *out = rq;
    return 0;

fail:
    host_sched_free(rq);
    return rc;
}

/* End @rq's request in flight: the scheduler hears AB_ECANCELED now (its completion
 * runs, or frees an abandoned call), as a plugin's cancelled operation reports at once. */
static void
host_sched_end_in_flight(struct ab_http_sched *rq)
{
    struct ratelimit_call *call = rq->call;

    http_client_cancel(rq->http);
    rq->http = NULL;
    rq->call = NULL;
    ratelimit_call_done(call, AB_ECANCELED, NULL);
}

/* Drop @rq's claim on the plugin: its callback will not run. A queued call ends when the
 * scheduler reaches it or closes; one in flight ends now. */
static void
host_sched_abandon(struct ab_http_sched *rq)
{
    host_sched_unlink(rq);
    if (rq->deferred) { /* its completion was waiting: nothing is left in the scheduler */
        defer_cancel(rq->deferred);
        rq->deferred = NULL;
        host_sched_free(rq);
        return;
    }
    if (rq->call)
        host_sched_end_in_flight(rq); /* finished frees it */
}

/* service: abandon a scheduled call. */
void
host_http_scheduled_cancel(struct ab_http_sched *rq)
{
    if (rq && rq->h)
        host_sched_abandon(rq);
}

/* Every call of @h is abandoned (the host is being freed). */
void
host_sched_cancel_all(struct ab_host *h)
{
    while (h->scheds)
        host_sched_abandon(h->scheds);
}

/* A rate report naming a call of @h whose answer is being judged keeps its facts for
 * that attempt. Returns true when @info was taken. */
bool
host_sched_take_report(struct ab_host *h, const struct ab_rate_info *info)
{
    void *op = AB_HAS(info, struct ab_rate_info, op) ? info->op : NULL;

    if (!op)
        return false;
    for (struct ab_http_sched *rq = h->scheds; rq; rq = rq->next) {
        if (rq != op)
            continue;
        if (!rq->is_answering)
            return false;
        rq->has_facts = rate_facts_from_info(h->rl_scope, info, &rq->facts, rq->facts_key,
                                             sizeof(rq->facts_key));
        return true;
    }
    return false;
}

/* Point @h's scheduled calls at @rl (lent) under @scope (copied); NULL: the scheduler
 * is going away, and the calls in flight in it end now with AB_ECANCELED. */
int
host_set_scheduler(struct ab_host *h, struct ratelimit *rl, const char *scope)
{
    char *copy;

    if (!h)
        return 0;
    while (!rl) {
        struct ab_http_sched *rq = h->scheds;
        while (rq && !rq->call)
            rq = rq->next;
        if (!rq)
            break;
        host_sched_end_in_flight(rq); /* the plugin hears AB_ECANCELED */
    }
    if (!(copy = strdup(scope ? scope : h->name)))
        return AB_ENOMEM;
    free(h->rl_scope);
    h->rl_scope = copy;
    h->rl = rl;
    return 0;
}
