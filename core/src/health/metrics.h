/* Prometheus text exposition format (version 0.0.4): HELP/TYPE lines and samples with
 * correctly escaped labels. Every producer of /metrics writes through these. */
#ifndef AB_METRICS_H
#define AB_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acp/pool.h"
#include "health/health_text.h"

/* The Content-Type a /metrics answer carries. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum metrics_type {
    METRICS_GAUGE,
    METRICS_COUNTER,
    METRICS_HISTOGRAM,
};

#define METRICS_HISTOGRAM_MAX 16 /* upper bounds a histogram may have (+Inf aside) */

/* A Prometheus histogram: observations counted in buckets by upper bound. Plain data,
 * copied by value (a stats snapshot copies it whole). */
struct metrics_histogram {
    const double *bounds;                        /* lent (static): ascending, finite */
    size_t n_bounds;                             /* <= METRICS_HISTOGRAM_MAX */
    uint64_t buckets[METRICS_HISTOGRAM_MAX + 1]; /* per bucket, not cumulative; [n_bounds]:
                                                    above every bound */
    uint64_t count;
    double sum;
};

struct metrics_label {
    const char *name;  /* lent; [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" */
    const char *value; /* lent; any UTF-8, escaped on output */
};

/* Is @name a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)? */
bool metrics_name_is_valid(const char *name);

/* Is @name a valid label name? */
bool metrics_label_name_is_valid(const char *name);

/* Start a metric family: its "# HELP" and "# TYPE" lines. Write each family once, then
 * one metrics_sample() per label set. @name and @help are lent for the call.
 * Returns 0, AB_EINVAL (bad name) or the buffer's error. */
int metrics_family(struct health_text *out, const char *name, const char *help,
                   enum metrics_type type);

/* One sample line `name{l="v",...} value`. @labels (lent, @n_labels entries, may be
 * NULL when 0) are written in order; a label with a NULL value is written as "".
 * Returns 0, AB_EINVAL (bad metric or label name; nothing written) or the buffer's error. */
int metrics_sample(struct health_text *out, const char *name, const struct metrics_label *labels,
                   size_t n_labels, double value);

/* A gauge family with a single sample: metrics_family() + metrics_sample(). */
int metrics_gauge(struct health_text *out, const char *name, const char *help,
                  const struct metrics_label *labels, size_t n_labels, double value);

/* A counter family with a single sample; by convention @name ends in "_total". */
int metrics_counter(struct health_text *out, const char *name, const char *help,
                    const struct metrics_label *labels, size_t n_labels, double value);

/* Set @h empty with @n_bounds upper bounds @bounds (lent, static, ascending; at most
 * METRICS_HISTOGRAM_MAX, more are ignored). */
void metrics_histogram_init(struct metrics_histogram *h, const double *bounds, size_t n_bounds);

/* Count one observation @v (NaN is ignored). */
void metrics_histogram_observe(struct metrics_histogram *h, double v);

/* A histogram family: HELP/TYPE, then NAME_bucket{le="..."} (cumulative, "+Inf" last),
 * NAME_sum and NAME_count. Returns 0, AB_EINVAL (bad name) or the buffer's error. */
int metrics_histogram_write(struct health_text *out, const char *name, const char *help,
                            const struct metrics_histogram *h);

/* The usage counters of @n agents: tokens by agent and direction, cost by agent and
 * currency, turns by agent. @agents[i] (lent) names @usage[i] (lent). */
int metrics_usage(struct health_text *out, const char *const *agents,
                  const struct pool_usage *usage, size_t n);

#endif
