/* Prometheus text exposition format writer. */
#include "health/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

/* Is @c allowed in a metric name (first position when @first)? */
static bool
metrics_name_char(char c, bool first, bool colon_ok)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
        return true;
    if (colon_ok && c == ':')
        return true;
    return !first && c >= '0' && c <= '9';
}

/* Check @name against the name grammar, with or without ':' allowed. */
static bool
metrics_name_check(const char *name, bool colon_ok)
{
    if (!name || !*name)
        return false;
    for (size_t i = 0; name[i]; i++) {
        if (!metrics_name_char(name[i], i == 0, colon_ok))
            return false;
    }
    return true;
}

/* Is @name a valid metric name? */
bool
metrics_name_is_valid(const char *name)
{
    return metrics_name_check(name, true);
}

/* Is @name a valid label name? Names starting with "__" are reserved by Prometheus. */
bool
metrics_label_name_is_valid(const char *name)
{
    return metrics_name_check(name, false) && strncmp(name, "__", 2) != 0;
}

/* Append @s escaping backslash and newline, and the double quote when @quote (label values;
 * HELP text leaves quotes alone). */
static int
metrics_escape(struct health_text *out, const char *s, bool quote)
{
    size_t run = 0;
    int rc = 0;

    for (; s[run];) {
        const char *esc = NULL;

        if (s[run] == '\\')
            esc = "\\\\";
        else if (s[run] == '\n')
            esc = "\\n";
        else if (quote && s[run] == '"')
            esc = "\\\"";
        if (!esc) {
            run++;
            continue;
        }
        if ((rc = health_text_append(out, s, run)) < 0 ||
            (rc = health_text_append(out, esc, 2)) < 0)
            return rc;
        s += run + 1;
        run = 0;
    }
    return health_text_append(out, s, run);
}

/* Write "# HELP" and "# TYPE" for a family. */
int
metrics_family(struct health_text *out, const char *name, const char *help, enum metrics_type type)
{
    int rc;

    if (!metrics_name_is_valid(name))
        return AB_EINVAL;
    if ((rc = health_text_printf(out, "# HELP %s ", name)) < 0 ||
        (rc = metrics_escape(out, help ? help : "", false)) < 0)
        return rc;
    return health_text_printf(out, "\n# TYPE %s %s\n", name,
                              type == METRICS_COUNTER     ? "counter"
                              : type == METRICS_HISTOGRAM ? "histogram"
                                                          : "gauge");
}

/* Append @v as Prometheus reads it (Go's ParseFloat): shortest text that reads back
 * exactly, and NaN/+Inf/-Inf spelled its way. */
static int
metrics_value(struct health_text *out, double v)
{
    char buf[32];

    if (isnan(v))
        return health_text_append(out, "NaN", 3);
    if (isinf(v))
        return v > 0 ? health_text_append(out, "+Inf", 4) : health_text_append(out, "-Inf", 4);
    snprintf(buf, sizeof buf, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, sizeof buf, "%.17g", v);
    return health_text_append(out, buf, strlen(buf));
}

/* Are the metric name and every label name valid, so a sample can be written whole? */
static bool
metrics_sample_is_valid(const char *name, const struct metrics_label *labels, size_t n_labels)
{
    if (!metrics_name_is_valid(name) || (n_labels && !labels))
        return false;
    for (size_t i = 0; i < n_labels; i++) {
        if (!metrics_label_name_is_valid(labels[i].name))
            return false;
    }
    return true;
}

/* Write one sample line; every name is validated before anything is appended. */
int
metrics_sample(struct health_text *out, const char *name, const struct metrics_label *labels,
               size_t n_labels, double value)
{
    int rc;

    if (!metrics_sample_is_valid(name, labels, n_labels))
        return AB_EINVAL;
    if ((rc = health_text_append(out, name, strlen(name))) < 0)
        return rc;
    for (size_t i = 0; i < n_labels; i++) {
        if ((rc = health_text_printf(out, "%c%s=\"", i ? ',' : '{', labels[i].name)) < 0 ||
            (rc = metrics_escape(out, labels[i].value ? labels[i].value : "", true)) < 0 ||
            (rc = health_text_append(out, "\"", 1)) < 0)
            return rc;
    }
    if (n_labels && (rc = health_text_append(out, "}", 1)) < 0)
        return rc;
    if ((rc = health_text_append(out, " ", 1)) < 0 || (rc = metrics_value(out, value)) < 0)
        return rc;
    return health_text_append(out, "\n", 1);
}

/* A single-sample family of @type. */
static int
metrics_single(struct health_text *out, enum metrics_type type, const char *name, const char *help,
               const struct metrics_label *labels, size_t n_labels, double value)
{
    int rc;

    if (!metrics_sample_is_valid(name, labels, n_labels))
        return AB_EINVAL;
    if ((rc = metrics_family(out, name, help, type)) < 0)
        return rc;
    return metrics_sample(out, name, labels, n_labels, value);
}

/* A gauge family with one sample. */
int
metrics_gauge(struct health_text *out, const char *name, const char *help,
              const struct metrics_label *labels, size_t n_labels, double value)
{
    return metrics_single(out, METRICS_GAUGE, name, help, labels, n_labels, value);
}

/* A counter family with one sample. */
int
metrics_counter(struct health_text *out, const char *name, const char *help,
                const struct metrics_label *labels, size_t n_labels, double value)
{
    return metrics_single(out, METRICS_COUNTER, name, help, labels, n_labels, value);
}

/* Set @h empty over @bounds. */
void
metrics_histogram_init(struct metrics_histogram *h, const double *bounds, size_t n_bounds)
{
    memset(h, 0, sizeof(*h));
    h->bounds = bounds;
    h->n_bounds = n_bounds < METRICS_HISTOGRAM_MAX ? n_bounds : METRICS_HISTOGRAM_MAX;
}

/* Count @v in the first bucket whose upper bound holds it. */
void
metrics_histogram_observe(struct metrics_histogram *h, double v)
{
    size_t i = 0;

    if (isnan(v))
        return;
    while (i < h->n_bounds && v > h->bounds[i])
        i++;
    h->buckets[i]++;
    h->count++;
    h->sum += v;
}

/* NAME_bucket{le=...} cumulative, then NAME_sum and NAME_count. */
int
metrics_histogram_write(struct health_text *out, const char *name, const char *help,
                        const struct metrics_histogram *h)
{
    char bucket[128], sum[128], count[128], le[32];
    uint64_t cumulative = 0;
    int rc;

    if (snprintf(bucket, sizeof bucket, "%s_bucket", name) >= (int)sizeof bucket ||
        snprintf(sum, sizeof sum, "%s_sum", name) >= (int)sizeof sum ||
        snprintf(count, sizeof count, "%s_count", name) >= (int)sizeof count ||
        !metrics_name_is_valid(bucket))
        return AB_EINVAL;
    if ((rc = metrics_family(out, name, help, METRICS_HISTOGRAM)) < 0)
        return rc;
    for (size_t i = 0; i <= h->n_bounds; i++) {
        struct health_text v;

        cumulative += h->buckets[i];
        if (i < h->n_bounds) {
            health_text_init(&v);
            rc = metrics_value(&v, h->bounds[i]);
            snprintf(le, sizeof le, "%s", health_text_str(&v));
            health_text_free(&v);
            if (rc < 0)
                return rc;
        } else {
            snprintf(le, sizeof le, "+Inf");
        }
        if ((rc = metrics_sample(out, bucket, &(struct metrics_label){"le", le}, 1,
                                 (double)cumulative)) < 0)
            return rc;
    }
    if ((rc = metrics_sample(out, sum, NULL, 0, h->sum)) < 0)
        return rc;
    return metrics_sample(out, count, NULL, 0, (double)h->count);
}

/* Usage counters; see the header. */
int
metrics_usage(struct health_text *out, const char *const *agents, const struct pool_usage *usage,
              size_t n)
{
    static const char tok[] = "agent_broker_agent_tokens_total",
                      cost[] = "agent_broker_agent_cost_total",
                      turns[] = "agent_broker_agent_usage_turns_total";
    int rc;

    if ((rc = metrics_family(out, tok, "tokens the agent reported in session/prompt results",
                             METRICS_COUNTER)) < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        struct metrics_label in[2] = {{"agent", agents[i]}, {"direction", "input"}};
        struct metrics_label outl[2] = {{"agent", agents[i]}, {"direction", "output"}};
        if ((rc = metrics_sample(out, tok, in, 2, (double)usage[i].input_tokens)) < 0 ||
            (rc = metrics_sample(out, tok, outl, 2, (double)usage[i].output_tokens)) < 0)
            return rc;
    }
    if ((rc = metrics_family(out, cost, "cost the agent reported in usage_update",
                             METRICS_COUNTER)) < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        struct metrics_label l[2] = {
            {"agent", agents[i]}, {"currency", usage[i].currency[0] ? usage[i].currency : "USD"}};
        if ((rc = metrics_sample(out, cost, l, 2, usage[i].cost)) < 0)
            return rc;
    }
    if ((rc = metrics_family(out, turns, "turns that ended with a reply", METRICS_COUNTER)) < 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = metrics_sample(out, turns, &(struct metrics_label){"agent", agents[i]}, 1,
                                 (double)usage[i].turns)) < 0)
            return rc;
    return 0;
}
