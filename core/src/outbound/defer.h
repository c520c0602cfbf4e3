/* "Call me on a later loop iteration": the one way core code reports a result that is
 * already known (a synchronous failure, a platform without the feature) without
 * calling back inside the call that registered the callback. */
#ifndef AB_OUTBOUND_DEFER_H
#define AB_OUTBOUND_DEFER_H

#include <uv.h>

/* Opaque: one pending deferred call, owned by the loop until it runs or is cancelled. */
struct defer;

/* Called on the loop thread, on a later iteration than defer_call(). */
typedef void (*defer_fn)(void *arg);

/* Run @fn(@arg) on a later iteration of @loop (lent; must run until then). @arg is
 * lent and never touched by the helper. @out (may be NULL) receives a handle valid
 * until @fn starts or defer_cancel(); the loop stays alive while a call is pending.
 * Returns 0 or AB_ENOMEM / a negative libuv code (then @fn is never called). */
int defer_call(uv_loop_t *loop, defer_fn fn, void *arg, struct defer **out);

/* Drop a pending call: @fn will not run. NULL is allowed. */
void defer_cancel(struct defer *d);

#endif
