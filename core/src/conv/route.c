/* Routing a new conversation to an agent; see route.h. */
#include "conv/route.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <agent-broker/errors.h>

/* See route.h. */
int
route_add(struct route_table *t, const char *channel, const char *role, size_t agent)
{
    struct route_rule *grown = realloc(t->rules, (t->nrules + 1) * sizeof(*grown));
    struct route_rule *r;

    if (!grown)
        return AB_ENOMEM;
    t->rules = grown;
    r = &t->rules[t->nrules];
    *r = (struct route_rule){.agent = agent};
    if ((channel && !(r->channel = strdup(channel))) || (role && !(r->role = strdup(role)))) {
        free(r->channel);
        return AB_ENOMEM;
    }
    t->nrules++;
    return 0;
}

/* See route.h. */
void
route_table_free(struct route_table *t)
{
    for (size_t i = 0; i < t->nrules; i++) {
        free(t->rules[i].channel);
        free(t->rules[i].role);
    }
    free(t->rules);
    t->rules = NULL;
    t->nrules = 0;
}

/* True for the blanks a prefix may have around it. */
static bool
route_is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* The agent whose name (any case) and a ':' start @text after blanks; *@strip covers
 * them and the blanks after. Returns nnames when none does. */
static size_t
route_prefix(const char *const *names, size_t nnames, const char *text, size_t *strip)
{
    const char *p = text;

    while (route_is_blank(*p))
        p++;
    for (size_t i = 0; i < nnames; i++) {
        size_t n = strlen(names[i]);
        const char *q = p + n;
        if (n == 0 || strncasecmp(p, names[i], n) != 0 || *q != ':')
            continue;
        for (q++; route_is_blank(*q); q++)
            ;
        *strip = (size_t)(q - text);
        return i;
    }
    return nnames;
}

/* See route.h. */
void
route_pick(const struct route_table *t, const char *const *names, size_t nnames, size_t fallback,
           const char *channel, const char *const *roles, size_t nroles, const char *text,
           struct route_choice *out)
{
    size_t i;

    *out = (struct route_choice){.agent = fallback, .why = ROUTE_DEFAULT};
    for (i = 0; channel && i < t->nrules; i++)
        if (t->rules[i].channel && strcmp(t->rules[i].channel, channel) == 0) {
            out->agent = t->rules[i].agent;
            out->why = ROUTE_CHANNEL;
            return;
        }
    if (text && (i = route_prefix(names, nnames, text, &out->strip)) < nnames) {
        out->agent = i;
        out->why = ROUTE_PREFIX;
        return;
    }
    out->strip = 0;
    for (i = 0; i < t->nrules; i++)
        for (size_t r = 0; t->rules[i].role && r < nroles; r++)
            if (roles[r] && strcmp(t->rules[i].role, roles[r]) == 0) {
                out->agent = t->rules[i].agent;
                out->why = ROUTE_ROLE;
                return;
            }
}
