/* Which agent a new conversation talks to: [[routes]] by channel (a thread follows its
 * parent), then a name prefix in the message ("codex: …", stripped from the prompt),
 * then [[routes]] by a mentioned role, then the default. First match wins. */
#ifndef AB_CONV_ROUTE_H
#define AB_CONV_ROUTE_H

#include <stddef.h>

/* One rule: exactly one of channel and role is set. */
struct route_rule {
    char *channel; /* owned, or NULL */
    char *role;    /* owned, or NULL */
    size_t agent;  /* index into the agents' names */
};

struct route_table {
    struct route_rule *rules; /* owned, in order */
    size_t nrules;
};

/* Why the choice was made (for the debug line and tests). */
enum route_why { ROUTE_DEFAULT, ROUTE_CHANNEL, ROUTE_PREFIX, ROUTE_ROLE };

struct route_choice {
    size_t agent; /* index into the agents' names */
    size_t strip; /* bytes of @text to drop (the prefix and the blanks after it) */
    enum route_why why;
};

/* Append a rule (strings copied). Returns 0 or AB_ENOMEM. */
int route_add(struct route_table *t, const char *channel, const char *role, size_t agent);

/* Free the rules. */
void route_table_free(struct route_table *t);

/* Choose for a new conversation in @channel (the parent channel for a thread; may be
 * NULL) whose first message is @text (may be NULL) mentioning @roles (@nroles of them,
 * lent). @names (@nnames, lent) are the agents' names; @fallback the default's index. */
void route_pick(const struct route_table *t, const char *const *names, size_t nnames,
                size_t fallback, const char *channel, const char *const *roles, size_t nroles,
                const char *text, struct route_choice *out);

#endif
