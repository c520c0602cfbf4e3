/* `${NAME}` substitution in the string values of a parsed TOML tree: done after
 * parsing, so a value containing `"`, `]` or a newline cannot change the structure. */
#ifndef AB_CONFIG_EXPAND_H
#define AB_CONFIG_EXPAND_H

#include "config/diag.h"
#include "toml/toml.h"

/* Expand every `${NAME}` in every string value under @root from the environment.
 * An unset variable becomes "" with a warning naming it and the line. `$${` writes
 * a literal `${`. Returns 0 or AB_ENOMEM. */
int expand_tree(struct toml_table *root, struct diag *diag);

/* Expand one string; *out is malloc'd. @line is used for the warning. */
int expand_string(const char *in, size_t len, int line, const char *key, struct diag *diag,
                  char **out, size_t *out_len);

#endif
