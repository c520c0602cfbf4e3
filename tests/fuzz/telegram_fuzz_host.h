/* Shared by the chat-telegram fuzz targets: the fake Bot API's answers that let the
 * plugin start, so the input's lines answer everything else. */
#ifndef AB_TELEGRAM_FUZZ_HOST_H
#define AB_TELEGRAM_FUZZ_HOST_H

#include <stdbool.h>
#include <string.h>

/* Answer getMe as the bot "broker_bot" (id 999), and @ok_method (e.g. "/setWebhook")
 * with true — only once per input when @ok_once (cleared per input) is given. Returns
 * whether @url was answered. */
static inline bool
telegram_fuzz_answer(const char *url, const char *ok_method, bool *ok_once, long *status,
                     const char **resp)
{
    if (strstr(url, ok_method) && !(ok_once && *ok_once)) {
        if (ok_once)
            *ok_once = true;
        *status = 200;
        *resp = "{\"ok\":true,\"result\":true}";
        return true;
    }
    if (!strstr(url, "/getMe"))
        return false;
    *status = 200;
    *resp = "{\"ok\":true,\"result\":{\"id\":999,\"is_bot\":true,\"first_name\":\"B\","
            "\"username\":\"broker_bot\"}}";
    return true;
}

#endif
