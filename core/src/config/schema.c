/* A plugin's config schema: validation of its section, and printing it. */
#include "config/schema.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <agent-broker/errors.h>

#include "config/config.h"
#include "net/net_url.h"

/* The key @name of @d's schema. */
const struct ab_config_key *
schema_find(const struct ab_plugin_desc *d, const char *name)
{
    for (const struct ab_config_key *k = d ? d->config_keys : NULL; k && k->name; k++)
        if (strcmp(k->name, name) == 0)
            return k;
    return NULL;
}

/* True when any key is required. */
bool
schema_has_required(const struct ab_plugin_desc *d)
{
    for (const struct ab_config_key *k = d ? d->config_keys : NULL; k && k->name; k++)
        if (k->flags & AB_KEY_REQUIRED)
            return true;
    return false;
}

/* True for placeholder secrets that must never be used as credentials. */
static bool
schema_placeholder_secret(const char *s)
{
    static const char *const bad[] = {"undefined", "null", "none",    "changeme",
                                      "change-me", "***",  "<token>", "your-token-here",
                                      "xxx",       NULL};
    for (size_t i = 0; bad[i]; i++)
        if (strcasecmp(s, bad[i]) == 0)
            return true;
    return false;
}

/* "a string", "an integer"… for messages. */
static const char *
schema_type_word(uint32_t type)
{
    switch (type) {
    case AB_KEY_STRING: return "a string";
    case AB_KEY_INT: return "an integer";
    case AB_KEY_BOOL: return "true or false";
    case AB_KEY_STRINGS: return "an array of strings";
    case AB_KEY_IDS: return "an array of ids";
    case AB_KEY_ENUM: return "one word";
    default: return "?";
    }
}

/* The accepted words of an enum key joined by @sep ("a | b | c"). */
static void
schema_words(const struct ab_config_key *k, const char *sep, char *out, size_t cap)
{
    size_t len = 0;

    out[0] = '\0';
    for (size_t i = 0; k->values && k->values[i] && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? sep : "", k->values[i]);
}

/* Check a string value: required, secret, prefix, endpoint rules. */
static int
schema_check_string(const struct ab_config_key *k, const char *key, const struct toml_value *v,
                    bool allow_plain, const char *section, struct diag *diag,
                    struct strlist *secrets)
{
    const char *s = v->u.str.ptr;
    struct net_url url;

    if (v->u.str.len == 0) {
        if (k->flags & AB_KEY_REQUIRED)
            diag_add(diag, true, v->line, key, "is empty (after ${VAR} expansion) — set it%s%s%s",
                     k->env ? ", e.g. export " : "", k->env ? k->env : "",
                     k->env ? " before starting" : "");
        return 0;
    }
    if (k->flags & AB_KEY_SECRET) {
        if (schema_placeholder_secret(s))
            diag_add(diag, true, v->line, key,
                     "looks like a placeholder, not a real secret — set the real value");
        if (strlist_push(secrets, s, v->u.str.len) < 0)
            return AB_ENOMEM;
    }
    if (k->prefix && strncmp(s, k->prefix, strlen(k->prefix)) != 0)
        diag_add(diag, false, v->line, key, "does not start with %s — is it the right value?",
                 k->prefix);
    if (k->flags & AB_KEY_ENDPOINT) {
        if (net_url_parse(s, &url) < 0)
            diag_add(diag, true, v->line, key,
                     "\"%s\" is not an http(s):// or ws(s):// URL — write a full URL", s);
        else if (net_url_check(&url, allow_plain) < 0)
            diag_add(diag, true, v->line, key,
                     "plain %s is only allowed to loopback hosts — use TLS or set [%s] "
                     "insecure = true",
                     url.scheme == NET_SCHEME_HTTP ? "http://" : "ws://", section);
    }
    return 0;
}

/* Check one present value against its key. */
static int
schema_check_value(const struct ab_config_key *k, const char *key, const struct toml_value *v,
                   bool allow_plain, const char *section, struct diag *diag,
                   struct strlist *secrets)
{
    char words[256];

    switch (k->type) {
    case AB_KEY_STRING:
        if (v->type != TOML_STRING)
            break;
        return schema_check_string(k, key, v, allow_plain, section, diag, secrets);
    case AB_KEY_INT:
        if (v->type != TOML_INTEGER)
            break;
        if (k->min < k->max && (v->u.i < k->min || v->u.i > k->max))
            diag_add(diag, true, v->line, key, "%lld is out of range — use %lld to %lld",
                     (long long)v->u.i, (long long)k->min, (long long)k->max);
        return 0;
    case AB_KEY_BOOL:
        if (v->type != TOML_BOOL)
            break;
        return 0;
    case AB_KEY_ENUM:
        if (v->type == TOML_STRING)
            for (size_t i = 0; k->values[i]; i++)
                if (strcmp(k->values[i], v->u.str.ptr) == 0)
                    return 0;
        schema_words(k, " | ", words, sizeof(words));
        diag_add(diag, true, v->line, key, "expected one of %s", words);
        return 0;
    case AB_KEY_STRINGS:
    case AB_KEY_IDS:
        if (v->type != TOML_ARRAY)
            break;
        for (size_t i = 0; i < v->u.arr->count; i++) {
            const struct toml_value *item = &v->u.arr->items[i];
            if (item->type == TOML_STRING || (k->type == AB_KEY_IDS && item->type == TOML_INTEGER))
                continue;
            diag_add(diag, true, item->line, key, "expected strings, found %s — quote the value",
                     toml_type_name(item->type));
        }
        return 0;
    }
    diag_add(diag, true, v->line, key, "expected %s, found %s%s", schema_type_word(k->type),
             toml_type_name(v->type),
             k->type == AB_KEY_STRING ? " — quote the value"
             : k->type == AB_KEY_INT  ? " — write a number without quotes"
             : k->type >= AB_KEY_STRINGS && k->type <= AB_KEY_IDS ? " — write [\"…\"]"
                                                                  : "");
    return 0;
}

/* Validate a section against the schema. */
int
schema_check(const struct ab_plugin_desc *d, const char *section, const struct toml_table *t,
             int line, struct diag *diag, struct strlist *secrets, struct strlist *prefixes)
{
    const struct toml_value *insecure = t ? toml_table_get(t, "insecure") : NULL;
    bool allow_plain = insecure && insecure->type == TOML_BOOL && insecure->u.b;
    int rc;

    for (size_t i = 0; d && d->redact_prefixes && d->redact_prefixes[i]; i++)
        if ((rc = strlist_push(prefixes, d->redact_prefixes[i], strlen(d->redact_prefixes[i]))) < 0)
            return rc;
    for (const struct ab_config_key *k = d ? d->config_keys : NULL; k && k->name; k++) {
        const struct toml_value *v = t ? toml_table_get(t, k->name) : NULL;
        char key[160];

        snprintf(key, sizeof(key), "[%s] %s", section, k->name);
        if ((k->flags & AB_KEY_SECRET) && k->prefix &&
            (rc = strlist_push(prefixes, k->prefix, strlen(k->prefix))) < 0)
            return rc;
        if (!v) {
            if (k->flags & AB_KEY_REQUIRED)
                diag_add(diag, true, line, key, "is required — set it, e.g. %s = \"%s%s%s\"%s",
                         k->name, k->env ? "${" : "…", k->env ? k->env : "", k->env ? "}" : "",
                         k->env ? " with the variable exported" : "");
            continue;
        }
        if ((rc = schema_check_value(k, key, v, allow_plain, section, diag, secrets)) < 0)
            return rc;
    }
    return 0;
}

/* The flags of a key as words, for people. */
static void
schema_flag_words(const struct ab_config_key *k, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s%s", k->flags & AB_KEY_REQUIRED ? " required" : "",
             k->flags & AB_KEY_SECRET ? " secret" : "", k->flags & AB_KEY_ENDPOINT ? " url" : "");
}

/* `plugins --keys`: one key per line. */
void
schema_print(const struct ab_plugin_desc *d, FILE *out)
{
    char flags[64], words[256];

    for (const struct ab_config_key *k = d->config_keys; k && k->name; k++) {
        schema_flag_words(k, flags, sizeof(flags));
        fprintf(out, "  %-18s %-8s", k->name,
                k->type == AB_KEY_STRING    ? "string"
                : k->type == AB_KEY_INT     ? "int"
                : k->type == AB_KEY_BOOL    ? "bool"
                : k->type == AB_KEY_STRINGS ? "strings"
                : k->type == AB_KEY_IDS     ? "ids"
                                            : "enum");
        fprintf(out, " default=%s%s", k->def ? k->def : "-", flags);
        if (k->type == AB_KEY_INT && k->min < k->max)
            fprintf(out, " range=%lld..%lld", (long long)k->min, (long long)k->max);
        if (k->type == AB_KEY_ENUM) {
            schema_words(k, "|", words, sizeof(words));
            fprintf(out, " values=%s", words);
        }
        if (k->prefix)
            fprintf(out, " prefix=%s", k->prefix);
        if (k->env)
            fprintf(out, " env=%s", k->env);
        fprintf(out, "\n      %s\n", k->help ? k->help : "");
    }
}

/* README rows: | `[NAME] key` | default | meaning |. */
void
schema_markdown(const struct ab_plugin_desc *d, FILE *out)
{
    char words[256];

    for (const struct ab_config_key *k = d->config_keys; k && k->name; k++) {
        fprintf(out, "| `[%s] %s` | ", d->name, k->name);
        if (k->flags & AB_KEY_REQUIRED)
            fprintf(out, "required");
        else if (k->def)
            fprintf(out, k->type == AB_KEY_STRING || k->type == AB_KEY_ENUM ? "`\"%s\"`" : "`%s`",
                    k->def);
        else
            fprintf(out, "—");
        fprintf(out, " | %s", k->help ? k->help : "");
        if (k->flags & AB_KEY_SECRET)
            fprintf(out, " (secret: redacted in logs and chat, never given to the agent)");
        if (k->type == AB_KEY_INT && k->min < k->max)
            fprintf(out, " (%lld–%lld)", (long long)k->min, (long long)k->max);
        if (k->type == AB_KEY_ENUM) {
            schema_words(k, "` \\| `", words, sizeof(words));
            fprintf(out, " (`%s`)", words);
        }
        if (k->env)
            fprintf(out, "; e.g. `\"${%s}\"`", k->env);
        fprintf(out, " |\n");
    }
}
