/* Agent environment assembly; see agent_env.h. */
#include "acp/agent_env.h"

#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "config/secret_env.h"

struct agent_env {
    char **v;   /* owned "K=V" strings, NULL-terminated */
    size_t n;   /* entries */
    size_t cap; /* slots, terminator included */
};

/* Set @name (@nlen bytes) to @value, replacing an earlier entry of that name. */
static int
agent_env_set(struct agent_env *e, const char *name, size_t nlen, const char *value)
{
    size_t vlen = strlen(value), i;
    char *kv, **nv;

    if (!(kv = malloc(nlen + vlen + 2)))
        return AB_ENOMEM;
    memcpy(kv, name, nlen);
    kv[nlen] = '=';
    memcpy(kv + nlen + 1, value, vlen + 1);
    for (i = 0; i < e->n; i++)
        if (strncmp(e->v[i], name, nlen) == 0 && e->v[i][nlen] == '=') {
            free(e->v[i]);
            e->v[i] = kv;
            return 0;
        }
    if (e->n + 1 >= e->cap) {
        nv = realloc(e->v, (e->cap ? e->cap * 2 : 16) * sizeof(*nv));
        if (!nv) {
            free(kv);
            return AB_ENOMEM;
        }
        e->v = nv;
        e->cap = e->cap ? e->cap * 2 : 16;
    }
    e->v[e->n++] = kv;
    e->v[e->n] = NULL;
    return 0;
}

/* Copy each name of @names that the broker's environment holds. */
static int
agent_env_inherit(struct agent_env *e, const char *const *names)
{
    const char *val;
    int rc;

    for (; names && *names; names++) {
        if (!**names || strchr(*names, '='))
            return AB_EINVAL;
        if ((val = secret_env_get(*names)) &&
            (rc = agent_env_set(e, *names, strlen(*names), val)) < 0)
            return rc;
    }
    return 0;
}

/* Add each "K=V" of @kvs. */
static int
agent_env_assign(struct agent_env *e, const char *const *kvs)
{
    const char *eq;
    int rc;

    for (; kvs && *kvs; kvs++) {
        eq = strchr(*kvs, '=');
        if (!eq || eq == *kvs)
            return AB_EINVAL;
        if ((rc = agent_env_set(e, *kvs, (size_t)(eq - *kvs), eq + 1)) < 0)
            return rc;
    }
    return 0;
}

/* Build the envp; see the header. */
int
agent_env_build(const struct agent_launch *launch, char ***out)
{
    static const char *const base[] = {"HOME", "PATH", "USER", "LANG", "TZ", NULL};
    struct agent_env e = {0};
    int rc;

    if ((rc = agent_env_inherit(&e, base)) < 0)
        goto fail;
    /* no HOME to pass on (a container started with an arbitrary uid): the preset's */
    if (!getenv("HOME") && launch->home && *launch->home &&
        (rc = agent_env_set(&e, "HOME", 4, launch->home)) < 0)
        goto fail;
    if ((rc = agent_env_inherit(&e, launch->inherit_env)) < 0 ||
        (rc = agent_env_assign(&e, launch->preset_env)) < 0 ||
        (rc = agent_env_assign(&e, launch->config_env)) < 0)
        goto fail;
    if (!e.v && !(e.v = calloc(1, sizeof(*e.v)))) {
        rc = AB_ENOMEM;
        goto fail;
    }
    *out = e.v;
    return 0;

fail:
    agent_env_free(e.v);
    return rc;
}

/* Look @name up in @env. */
const char *
agent_env_get(const char *const *env, const char *name)
{
    size_t nlen = strlen(name);

    for (; env && *env; env++)
        if (strncmp(*env, name, nlen) == 0 && (*env)[nlen] == '=')
            return *env + nlen + 1;
    return NULL;
}

/* Free an envp. */
void
agent_env_free(char **env)
{
    char **p;

    for (p = env; p && *p; p++)
        free(*p);
    free(env);
}
