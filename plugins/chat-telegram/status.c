/* chat-telegram status reactions: bots may set only the emoji of Telegram's
 * ReactionTypeEmoji list (one per message), so each of the core's status emoji maps to
 * one of those, and a user's reaction maps back to the core's emoji it stands for. */
#include <string.h>

#include "telegram.h"

/* The core's emoji (its defaults) and the reaction a bot may set for it; the first pair
 * naming a Telegram emoji is also how a user's reaction reads back. */
static const struct {
    const char *core;
    const char *tg;
    bool working; /* the turn is still running */
} tg_status_map[] = {
    {"👀", "👀", true},                     /* queued */
    {"🤔", "🤔", true},               /* thinking */
    {"🔥", "🔥", true},                     /* tool */
    {"👨‍💻", "👨‍💻", true}, /* coding */
    {"⚡", "⚡", true},                     /* web */
    {"🥱", "🥱", true},               /* stall (soft) */
    {"😨", "😨", true},                     /* stall (hard) */
    {"🆗", "👌", false},                    /* done */
    {"😱", "😱", false},                    /* error */
    {"😊", "😁", false},                    /* done with a reply */
    {"🤷", "🤷", false},              /* done without text */
    {"😅", "🤓", false},                 /* some tools failed */
    {"🫡", "🫡", false},              /* cancelled */
    {"🛑", "💔", false},                 /* the user's cancel */
    {"🚫", "🙊", false},                    /* a user outside allowed_users */
    {"✅", "👍", false},                    /* allow once */
    {"♾️", "💯", false},               /* allow always */
    {"❌", "👎", false},                    /* reject */
};

/* Telegram's ReactionTypeEmoji values (Bot API), as the spec writes them. */
static const char *const tg_allowed[] = {
    "❤",    "👍",          "👎",    "🔥",    "🥰",        "👏", "😁",    "🤔", "🤯", "😱",
    "🤬", "😢",          "🎉",    "🤩", "🤮",        "💩", "🙏",    "👌",    "🕊", "🤡",
    "🥱", "🥴",       "😍",    "🐳",    "❤‍🔥",  "🌚", "🌭", "💯",    "🤣", "⚡",
    "🍌",    "🏆",          "💔",    "🤨", "😐",           "🍓", "🍾", "💋",    "🖕", "😈",
    "😴",    "😭",          "🤓", "👻",    "👨‍💻", "👀", "🎃",    "🙈",    "😇",    "😨",
    "🤝", "✍",          "🤗", "🫡", "🎅",           "🎄", "☃",    "💅",    "🤪", "🗿",
    "🆒",    "💘",          "🙉",    "🦄", "😘",           "💊", "🙊",    "😎",    "👾",    "🤷‍♂",
    "🤷", "🤷‍♀", "😡",    NULL,
};

/* @a equals @b, a trailing U+FE0F of either ignored. */
static bool
tg_emoji_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (la >= 3 && strcmp(a + la - 3, "\xEF\xB8\x8F") == 0)
        la -= 3;
    if (lb >= 3 && strcmp(b + lb - 3, "\xEF\xB8\x8F") == 0)
        lb -= 3;
    return la == lb && memcmp(a, b, la) == 0;
}

/* The reaction a bot may set for @emoji, or NULL. */
const char *
tg_status_emoji(const char *emoji)
{
    for (size_t i = 0; i < sizeof(tg_status_map) / sizeof(tg_status_map[0]); i++)
        if (tg_emoji_eq(emoji, tg_status_map[i].core))
            return tg_status_map[i].tg;
    for (size_t i = 0; tg_allowed[i]; i++)
        if (tg_emoji_eq(emoji, tg_allowed[i]))
            return tg_allowed[i];
    return NULL;
}

/* True when @emoji says the turn still runs. */
bool
tg_status_is_working(const char *emoji)
{
    for (size_t i = 0; i < sizeof(tg_status_map) / sizeof(tg_status_map[0]); i++)
        if (tg_emoji_eq(emoji, tg_status_map[i].core))
            return tg_status_map[i].working;
    return false;
}

/* The core's emoji a user's reaction stands for. */
const char *
tg_status_from_user(const char *emoji)
{
    for (size_t i = 0; i < sizeof(tg_status_map) / sizeof(tg_status_map[0]); i++)
        if (tg_emoji_eq(emoji, tg_status_map[i].tg))
            return tg_status_map[i].core;
    return emoji;
}
