/* Removing the bot's own mention from a message before it becomes a prompt. */
#ifndef AB_RENDER_MENTION_H
#define AB_RENDER_MENTION_H

#include <stdbool.h>

/* Whether @text (lent) mentions @bot_id (lent): <@ID> or <@!ID> markup
 * or <@UID|name>. */
bool mention_has(const char *text, const char *bot_id);

/* Copy @text (lent) into *out (owned; free()) without any mention of @bot_id (lent),
 * joining the words around a removed mention with one space and trimming whitespace
 * at both ends. Returns how many mentions were removed (>= 0), AB_EINVAL (NULL
 * argument, empty id) or AB_ENOMEM. Other users' mentions are kept. */
int mention_strip(const char *text, const char *bot_id, char **out);

#endif
