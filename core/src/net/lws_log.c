/* libwebsockets' log lines into ours. */
#include "net/lws_log.h"

#include <string.h>

#include <uv.h> /* before libwebsockets.h */

#include <libwebsockets.h>

#include "log.h"

/* One lws line, trailing newline dropped. */
static void
net_lws_log_line(int level, const char *line)
{
    size_t n = strlen(line);

    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    if (level & LLL_ERR)
        log_warn("lws", "%.*s", (int)n, line);
    else
        log_debug("lws", "%.*s", (int)n, line);
}

/* Route lws' log. */
void
net_lws_log_init(void)
{
    lws_set_log_level(LLL_ERR | LLL_WARN, net_lws_log_line);
}
