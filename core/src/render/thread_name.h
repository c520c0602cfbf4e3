/* The title of the thread opened for a conversation, derived from its first prompt
 * (the plugin's clean_text: the bot's mention already removed): whitespace collapsed to single
 * spaces, GitHub issue and pull request URLs (https://github.com/owner/repo/issues/N or /pull/N,
 * with or without
 * <> or a trailing path/#anchor) shortened to owner/repo#N, then at most
 * THREAD_NAME_MAX_CHARS code points: when cut, at the last space if that keeps at least
 * half of them, else at a grapheme boundary, and "…" (counted) appended. Never empty:
 * THREAD_NAME_FALLBACK when nothing is left. */
#ifndef AB_RENDER_THREAD_NAME_H
#define AB_RENDER_THREAD_NAME_H

#define THREAD_NAME_MAX_CHARS 40
#define THREAD_NAME_FALLBACK "agent-broker"

/* Build the title of @prompt (lent) into *out (owned; free()). Returns 0, AB_EINVAL or
 * AB_ENOMEM. */
int thread_name_from_prompt(const char *prompt, char **out);

#endif
