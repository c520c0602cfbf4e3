/* A plugin's config schema (ab_config_key, declared in its descriptor): validating its
 * section with file:line diagnostics, its defaults, and printing it for people. */
#ifndef AB_CONFIG_SCHEMA_H
#define AB_CONFIG_SCHEMA_H

#include <stdbool.h>
#include <stdio.h>

#include <agent-broker/plugin.h>

#include "config/diag.h"
#include "toml/toml.h"

struct strlist;

/* The key @name of @d's schema, or NULL. @d is the loader's copy (its keys array is
 * full-size and NULL-name terminated); the result is lent from it. */
const struct ab_config_key *schema_find(const struct ab_plugin_desc *d, const char *name);

/* True when @d declares at least one required key. */
bool schema_has_required(const struct ab_plugin_desc *d);

/* Check section [@section] (@t, NULL when absent; @line its header's line) against
 * @d's keys: types, ranges, allowed values, required keys, placeholder secrets,
 * prefixes and endpoint rules. Problems go to @diag keyed "[section] key". Every
 * secret value found and the token prefixes to redact are appended to @secrets and
 * @prefixes (owned strings). Returns 0 or AB_ENOMEM. */
int schema_check(const struct ab_plugin_desc *d, const char *section, const struct toml_table *t,
                 int line, struct diag *diag, struct strlist *secrets, struct strlist *prefixes);

/* Print @d's keys for people (`plugins --keys`): one key per line with its type,
 * default, flags, range or values, and help. */
void schema_print(const struct ab_plugin_desc *d, FILE *out);

/* Print @d's keys as rows of the README's configuration table
 * (| `[NAME] key` | default | meaning |). */
void schema_markdown(const struct ab_plugin_desc *d, FILE *out);

#endif
