/* Markdown → Telegram text + entities (plugins/chat-telegram/entities.c over the host's
 * md_walk). Exact cases, then a property over thousands of generated documents (fixed
 * seed; TG_CASES / TG_SEED explore further) full of markup, stray markup characters,
 * emoji, raw HTML, odd URLs and invalid UTF-8. Every render must be something the Bot API
 * accepts — otherwise Telegram answers 400 "can't parse entities" and the reply is lost:
 *   - valid UTF-8, no NUL, not empty;
 *   - every entity of a known type, offset >= 0, length > 0, inside the text as UTF-16
 *     code units; entities nest (no partial overlap), nothing inside pre/code, no
 *     blockquote inside a blockquote; text_link only to an http(s) URL without spaces;
 *   - every word of text content kept (what the host's md_plain keeps). */
#include <check.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/host.h"
#include "../unit/support/check_runner.h"
#include "telegram.h"

/* Render @md; the caller frees *text and *ents. */
static void
render(const char *md, char **text, cJSON **ents)
{
    ck_assert_int_eq(tg_entities_render(&host_services, NULL, md, text, ents), 0);
}

/* The UTF-16 slice [off, off+len) of @text as UTF-8, malloc'd. */
static char *
slice(const char *text, int off, int len)
{
    size_t n = strlen(text), a = tg_utf16_to_byte(text, n, (size_t)off),
           b = tg_utf16_to_byte(text, n, (size_t)(off + len));
    char *out = malloc(b - a + 1);

    memcpy(out, text + a, b - a);
    out[b - a] = '\0';
    return out;
}

/* The first entity of @type, or NULL. */
static const cJSON *
entity(const cJSON *ents, const char *type)
{
    const cJSON *e;

    cJSON_ArrayForEach(e, ents) if (strcmp(cJSON_GetObjectItem(e, "type")->valuestring, type) ==
                                    0) return e;
    return NULL;
}

/* The text an entity of @type covers. */
static char *
covered(const char *text, const cJSON *ents, const char *type)
{
    const cJSON *e = entity(ents, type);

    ck_assert_msg(e != NULL, "no %s entity", type);
    return slice(text, cJSON_GetObjectItem(e, "offset")->valueint,
                 cJSON_GetObjectItem(e, "length")->valueint);
}

START_TEST(bold_after_an_emoji_counts_utf16_units)
{
    char *text, *s;
    cJSON *ents;

    render("\xF0\x9F\x98\x80 **bold** and `code`", &text, &ents);
    ck_assert_str_eq(text, "\xF0\x9F\x98\x80 bold and code");
    ck_assert_int_eq(cJSON_GetObjectItem(entity(ents, "bold"), "offset")->valueint, 3);
    ck_assert_str_eq(s = covered(text, ents, "bold"), "bold");
    free(s);
    ck_assert_str_eq(s = covered(text, ents, "code"), "code");
    free(s);
    free(text);
    cJSON_Delete(ents);
}
END_TEST

START_TEST(code_block_language_links_and_quotes)
{
    char *text, *s;
    cJSON *ents;

    render("# Title\n\n```python\nprint(1)\n```\n\n[docs](https://x.test/a) and "
           "[bad](javascript:alert(1))\n\n> quoted\n> > deeper\n\n- one\n- two",
           &text, &ents);
    ck_assert_str_eq(s = covered(text, ents, "bold"), "Title");
    free(s);
    ck_assert_str_eq(s = covered(text, ents, "pre"), "print(1)");
    free(s);
    ck_assert_str_eq(cJSON_GetObjectItem(entity(ents, "pre"), "language")->valuestring, "python");
    ck_assert_str_eq(s = covered(text, ents, "text_link"), "docs");
    free(s);
    ck_assert_ptr_nonnull(strstr(text, "bad (javascript:alert(1))"));
    ck_assert_ptr_nonnull(strstr(text, "• one\n• two"));
    int quotes = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, ents) quotes +=
        strcmp(cJSON_GetObjectItem(e, "type")->valuestring, "blockquote") == 0;
    ck_assert_int_eq(quotes, 1);
    free(text);
    cJSON_Delete(ents);
}
END_TEST

START_TEST(invalid_utf8_becomes_replacement_and_empty_renders_are_words)
{
    char *text;
    cJSON *ents;

    render("a\xFF"
           "b \xED\xA0\x80",
           &text, &ents);
    ck_assert_str_eq(text, "a\xEF\xBF\xBD"
                           "b \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    free(text);
    cJSON_Delete(ents);
    render("![](https://img.test/a.png)", &text, &ents);
    ck_assert_ptr_nonnull(strstr(text, "https://img.test/a.png"));
    free(text);
    cJSON_Delete(ents);
    render("   \n\n  ", &text, &ents);
    ck_assert_str_eq(text, "…");
    ck_assert_int_eq(cJSON_GetArraySize(ents), 0);
    free(text);
    cJSON_Delete(ents);
}
END_TEST

START_TEST(a_host_without_md_walk_is_refused)
{
    struct ab_host_services old = host_services;
    char *text = NULL;
    cJSON *ents = NULL;

    old.size = offsetof(struct ab_host_services, md_walk);
    ck_assert_int_eq(tg_entities_render(&old, NULL, "x", &text, &ents), AB_ENOTSUP);
}
END_TEST

/* ---- the property ---- */

static uint64_t rng;

static uint32_t
rnd(uint32_t n)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (uint32_t)((rng * 0x2545F4914F6CDD1DULL) >> 33) % n;
}

static const char *const pieces[] = {
    "**",
    "*",
    "_",
    "__",
    "~~",
    "~",
    "`",
    "```",
    "```python\n",
    "```\n",
    "\n",
    "\n\n",
    "> ",
    "> > ",
    "- ",
    "1. ",
    "# ",
    "## ",
    "[",
    "](",
    ")",
    "<",
    ">",
    "&amp;",
    "&#0;",
    "\\",
    "|",
    "---",
    "\xF0\x9F\x98\x80",
    "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x92\xBB",
    "\xC3\xA9",
    "\xFF",
    "\xED\xA0\x80",
    "\xF4\x90\x80\x80",
    "https://x.test/a",
    "javascript:alert(1)",
    "[t](https://ok.test)",
    "[](https://empty.test)",
    "[sp](https://a b)",
    "![alt](https://i.test/a.png)",
    "<b>html</b>",
    " ",
    "\t",
    "- [ ] ",
    "- [x] ",
    "| a | b |\n|---|---|\n| c | d |\n",
    "    indented code\n",
    "<https://auto.test>",
    "x@y.test",
    ".",
    "!",
    "\r\n",
    "\x01",
};

/* A document of random pieces and words w0..; *words says how many words. */
static char *
gen(unsigned *words)
{
    size_t cap = 4096, len = 0;
    char *md = malloc(cap);
    int n = 1 + (int)rnd(60);

    *words = 0;
    for (int i = 0; i < n; i++) {
        char w[32];
        const char *p;
        if (rnd(3) == 0) {
            snprintf(w, sizeof(w), "w%u", (*words)++);
            p = w;
        } else {
            p = pieces[rnd(sizeof(pieces) / sizeof(pieces[0]))];
        }
        size_t pl = strlen(p);
        if (len + pl + 2 >= cap)
            break;
        memcpy(md + len, p, pl);
        len += pl;
        if (rnd(2))
            md[len++] = ' ';
    }
    md[len] = '\0';
    return md;
}

static bool
known_type(const char *t)
{
    static const char *const types[] = {"bold", "italic",    "strikethrough", "code",
                                        "pre",  "text_link", "blockquote",    NULL};
    for (size_t i = 0; types[i]; i++)
        if (strcmp(types[i], t) == 0)
            return true;
    return false;
}

/* True when @word stands right after a code fence in @md (its info string: a
 * language, which an empty block does not show). */
static bool
after_fence(const char *md, const char *word)
{
    for (const char *p = strstr(md, word); p; p = strstr(p + 1, word)) {
        const char *q = p;
        while (q > md && ((q[-1] >= 'a' && q[-1] <= 'z') || (q[-1] >= '0' && q[-1] <= '9')))
            q--; /* w21w22: the same info word */
        while (q > md && (q[-1] == ' ' || q[-1] == '\t'))
            q--;
        if (q - md >= 3 && strncmp(q - 3, "```", 3) == 0)
            return true;
    }
    return false;
}

/* What Telegram checks, as fake-telegram.js does. */
static void
check_render(const char *md, const char *text, const cJSON *ents, unsigned words)
{
    size_t n = strlen(text), units = tg_utf16_len(text, n);
    int count = cJSON_GetArraySize(ents);
    int off[256], end[256];
    const char *type[256];

    ck_assert_msg(n > 0, "empty text for %s", md);
    for (size_t i = 0; i < n;) {
        size_t k = tg_utf8_valid_len(text + i, n - i);
        ck_assert_msg(k > 0 && text[i] != '\0', "invalid UTF-8 at %zu for %s", i, md);
        i += k;
    }
    ck_assert_int_le(count, 256);
    for (int i = 0; i < count; i++) {
        const cJSON *e = cJSON_GetArrayItem(ents, i);
        const cJSON *o = cJSON_GetObjectItem(e, "offset"), *l = cJSON_GetObjectItem(e, "length");
        const cJSON *t = cJSON_GetObjectItem(e, "type");
        ck_assert(cJSON_IsString(t) && known_type(t->valuestring));
        ck_assert(cJSON_IsNumber(o) && cJSON_IsNumber(l));
        ck_assert_msg(o->valueint >= 0 && l->valueint > 0 &&
                          (size_t)(o->valueint + l->valueint) <= units,
                      "entity out of range in %s", md);
        if (strcmp(t->valuestring, "text_link") == 0) {
            const char *u = cJSON_GetObjectItem(e, "url")->valuestring;
            ck_assert(strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0);
            ck_assert(!strchr(u, ' '));
        }
        off[i] = o->valueint;
        end[i] = o->valueint + l->valueint;
        type[i] = t->valuestring;
    }
    for (int i = 0; i < count; i++) {
        for (int j = 0; j < count; j++) {
            if (i == j)
                continue;
            bool inside = off[j] >= off[i] && end[j] <= end[i];
            bool apart = end[j] <= off[i] || off[j] >= end[i];
            ck_assert_msg(inside || apart || (off[i] >= off[j] && end[i] <= end[j]),
                          "entities overlap in %s", md);
            if (inside && !(off[j] == off[i] && end[j] == end[i])) {
                ck_assert_msg(strcmp(type[i], "pre") != 0 && strcmp(type[i], "code") != 0,
                              "an entity inside %s in %s", type[i], md);
                ck_assert_msg(strcmp(type[i], "blockquote") != 0 ||
                                  strcmp(type[j], "blockquote") != 0,
                              "nested blockquotes in %s", md);
            }
        }
    }
    /* the words the host's parser sees as text (GitHub tables drop excess cells) */
    char *plain = NULL;
    ck_assert_int_eq(host_services.md_plain(NULL, md, strlen(md), &plain), 0);
    for (unsigned w = 0; w < words; w++) {
        char word[32];
        snprintf(word, sizeof(word), "w%u", w);
        if (!strstr(plain, word))
            continue;
        bool is_language = false; /* ```w3: the fence's language, not text */
        const cJSON *e;
        cJSON_ArrayForEach(e, ents)
        {
            const cJSON *lang = cJSON_GetObjectItem(e, "language");
            is_language = is_language || (cJSON_IsString(lang) && strstr(lang->valuestring, word));
        }
        ck_assert_msg(strstr(text, word) != NULL || is_language || after_fence(md, word),
                      "%s lost from %s → %s", word, md, text);
    }
    free(plain);
}

START_TEST(any_agent_text_renders_to_something_telegram_accepts)
{
    const char *cases_env = getenv("TG_CASES"), *seed_env = getenv("TG_SEED");
    long cases = cases_env ? atol(cases_env) : 4000;

    rng = seed_env ? strtoull(seed_env, NULL, 10) : 0x7e1e6a3dULL;
    for (long c = 0; c < cases; c++) {
        unsigned words;
        char *md = gen(&words), *text;
        cJSON *ents;
        render(md, &text, &ents);
        if (getenv("TG_DUMP")) {
            FILE *f = fopen(getenv("TG_DUMP"), "w");
            char *ej = cJSON_PrintUnformatted(ents);
            fprintf(f, "%s\n=====\n%s\n=====\n%s\n", md, text, ej);
            free(ej);
            fclose(f);
        }
        check_render(md, text, ents, words);
        free(text);
        cJSON_Delete(ents);
        free(md);
    }
}
END_TEST

int
main(void)
{
    TCase *tc = tcase_create("telegram-entities");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, bold_after_an_emoji_counts_utf16_units);
    tcase_add_test(tc, code_block_language_links_and_quotes);
    tcase_add_test(tc, invalid_utf8_becomes_replacement_and_empty_renders_are_words);
    tcase_add_test(tc, a_host_without_md_walk_is_refused);
    tcase_add_test(tc, any_agent_text_renders_to_something_telegram_accepts);
    return check_run_case("telegram-entities", tc);
}
