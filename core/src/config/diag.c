/* Collected configuration problems. */
#include "config/diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Append one formatted problem. */
void
diag_add(struct diag *d, bool is_error, int line, const char *key, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    if (d->count == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        struct diag_item *grown = realloc(d->items, cap * sizeof(*grown));
        if (!grown)
            return;
        d->items = grown;
        d->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    d->items[d->count] = (struct diag_item){
        .is_error = is_error,
        .line = line,
        .key = key ? strdup(key) : NULL,
        .msg = strdup(buf),
    };
    d->count++;
    d->errors += is_error;
}

/* Print all problems, one per line. */
void
diag_print(const struct diag *d, FILE *out)
{
    for (size_t i = 0; i < d->count; i++) {
        const struct diag_item *it = &d->items[i];
        fprintf(out, "%s%s", it->is_error ? "" : "warning: ", d->file ? d->file : "config");
        if (it->line > 0)
            fprintf(out, ":%d", it->line);
        fprintf(out, ": ");
        if (it->key)
            fprintf(out, "%s: ", it->key);
        fprintf(out, "%s\n", it->msg ? it->msg : "(out of memory)");
    }
}

/* Free all items. */
void
diag_free(struct diag *d)
{
    for (size_t i = 0; i < d->count; i++) {
        free(d->items[i].key);
        free(d->items[i].msg);
    }
    free(d->items);
    d->items = NULL;
    d->count = d->cap = d->errors = 0;
}
