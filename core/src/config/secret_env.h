/* Secrets that arrive through the process environment (platform tokens, agent API
 * keys): read once into the daemon's own memory, then wiped from the environment in
 * place, so neither /proc/PID/environ nor a later getenv() shows them. A SIGHUP reload
 * and the agent's inherit_env read the kept copies. */
#ifndef AB_CONFIG_SECRET_ENV_H
#define AB_CONFIG_SECRET_ENV_H

#include <stdbool.h>
#include <stddef.h>

/* The value of @name: the kept copy when it was wiped, else getenv(). Lent: valid
 * until secret_env_clear(). */
const char *secret_env_get(const char *name);

/* True when a variable called @name (first @len bytes) holds a credential by its name:
 * it contains KEY, TOKEN, SECRET, PASSWORD or CREDENTIAL. */
bool secret_env_name_is_secret(const char *name, size_t len);

/* Keep a copy of @name's value and overwrite it in the environment: the bytes of the
 * value are zeroed where they are (the original environment block that /proc shows)
 * and the variable is removed. Returns 0, AB_ENOENT when unset, or AB_ENOMEM. */
int secret_env_take(const char *name);

/* Take every variable whose value is one of @secrets (@count values, lent) or, when
 * its name is credential-like and its value 8 bytes or more, part of one
 * (`bot_token = "Bot ${BOT_TOKEN}"`). Returns how many were taken, or AB_ENOMEM. */
int secret_env_take_values(char *const *secrets, size_t count);

/* How many of @secrets (@count values, lent) are written in clear in the file at
 * @path (a config that should say `${NAME}` instead: the agent, running as the same
 * user, can read the file). 0 when the file cannot be read. */
size_t secret_env_in_file(const char *path, char *const *secrets, size_t count);

/* Forget the kept copies (tests, exit); they are zeroed before they are freed. */
void secret_env_clear(void);

#endif
