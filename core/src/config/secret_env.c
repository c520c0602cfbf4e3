/* Environment secrets kept privately and wiped from environ; see secret_env.h. */
#include "config/secret_env.h"

#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "state/state_file.h"

extern char **environ;

/* One wiped variable: owned "NAME" and value. */
struct secret_env_entry {
    char *name, *value;
};

static struct secret_env_entry *secret_env_kept;
static size_t secret_env_count;

/* The kept entry for @name, or NULL. */
static const struct secret_env_entry *
secret_env_find(const char *name)
{
    for (size_t i = 0; i < secret_env_count; i++)
        if (strcmp(secret_env_kept[i].name, name) == 0)
            return &secret_env_kept[i];
    return NULL;
}

/* Kept copy first, then the environment. */
const char *
secret_env_get(const char *name)
{
    const struct secret_env_entry *e = secret_env_find(name);

    return e ? e->value : getenv(name);
}

/* Credential-looking names. */
bool
secret_env_name_is_secret(const char *name, size_t len)
{
    static const char *const words[] = {"KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL", NULL};

    for (size_t w = 0; words[w]; w++) {
        size_t wl = strlen(words[w]);
        for (size_t i = 0; i + wl <= len; i++)
            if (strncmp(name + i, words[w], wl) == 0)
                return true;
    }
    return false;
}

/* Zero the value bytes of every environ entry named @name and drop the variable. */
static void
secret_env_wipe(const char *name)
{
    size_t nlen = strlen(name);

    for (char **e = environ; e && *e; e++)
        if (strncmp(*e, name, nlen) == 0 && (*e)[nlen] == '=') {
            /* volatile: the store must happen although nothing reads it again */
            for (volatile char *p = *e + nlen + 1; *p; p++)
                *p = '\0';
        }
    unsetenv(name);
}

/* Copy, then wipe. */
int
secret_env_take(const char *name)
{
    const char *val;
    struct secret_env_entry *grown, e;

    if (secret_env_find(name)) {
        secret_env_wipe(name); /* set again since (a test, a library): wipe again */
        return 0;
    }
    if (!(val = getenv(name)))
        return AB_ENOENT;
    e.name = strdup(name);
    e.value = strdup(val);
    grown = realloc(secret_env_kept, (secret_env_count + 1) * sizeof(*grown));
    if (!e.name || !e.value || !grown) {
        free(e.name);
        free(e.value);
        if (grown)
            secret_env_kept = grown;
        return AB_ENOMEM;
    }
    secret_env_kept = grown;
    secret_env_kept[secret_env_count++] = e;
    secret_env_wipe(name);
    return 0;
}

/* True when @val is one of @count secrets, or, for a credential-named variable
 * (@named), 8 bytes or more inside one. (Part of a secret alone is not enough: HOME
 * inside `KEY_FILE = "${HOME}/key"` must stay.) */
static bool
secret_env_matches(const char *val, bool named, char *const *secrets, size_t count)
{
    size_t vlen = strlen(val);

    if (vlen == 0)
        return false;
    for (size_t i = 0; i < count; i++)
        if (strcmp(secrets[i], val) == 0 || (named && vlen >= 8 && strstr(secrets[i], val)))
            return true;
    return false;
}

/* Collect the names first: wiping edits environ while we walk it. */
int
secret_env_take_values(char *const *secrets, size_t count)
{
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0, taken = 0;

    for (char **e = environ; e && *e && rc == 0; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || !secret_env_matches(eq + 1, secret_env_name_is_secret(*e, (size_t)(eq - *e)),
                                       secrets, count))
            continue;
        if (n == cap) {
            char **grown = realloc(names, (cap ? cap * 2 : 8) * sizeof(*grown));
            if (!grown) {
                rc = AB_ENOMEM;
                break;
            }
            names = grown;
            cap = cap ? cap * 2 : 8;
        }
        if (!(names[n] = strndup(*e, (size_t)(eq - *e))))
            rc = AB_ENOMEM;
        else
            n++;
    }
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && secret_env_take(names[i]) == 0)
            taken++;
        else if (rc == 0)
            rc = AB_ENOMEM;
        free(names[i]);
    }
    free(names);
    return rc < 0 ? rc : taken;
}

/* Read the file whole (bounded like a config) and look for each secret. */
size_t
secret_env_in_file(const char *path, char *const *secrets, size_t count)
{
    char *text = NULL;
    size_t len = 0, found = 0;

    if (!path || state_file_read(path, &text, &len) < 0)
        return 0;
    for (size_t i = 0; i < count; i++)
        if (strlen(secrets[i]) >= 8 && memmem(text, len, secrets[i], strlen(secrets[i])))
            found++;
    for (volatile char *p = text; p < text + len; p++)
        *p = '\0';
    free(text);
    return found;
}

/* Zero a string before it is freed. */
static void
secret_env_zero_free(char *s)
{
    if (!s)
        return;
    for (volatile char *p = s; *p; p++)
        *p = '\0';
    free(s);
}

/* Forget everything kept. */
void
secret_env_clear(void)
{
    for (size_t i = 0; i < secret_env_count; i++) {
        free(secret_env_kept[i].name);
        secret_env_zero_free(secret_env_kept[i].value);
    }
    free(secret_env_kept);
    secret_env_kept = NULL;
    secret_env_count = 0;
}
