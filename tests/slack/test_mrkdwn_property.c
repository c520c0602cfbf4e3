/* Markdown → Slack mrkdwn, as a property: thousands of generated Markdown documents
 * (fixed seed, so every run checks the same ones) are converted, and every output must
 *   - escape & < > outside Slack's own syntax: & only as &amp; &lt; &gt;, < only
 *     opening a <url> or <url|label> on one line, > only closing one or as a quote
 *     marker at the start of a line;
 *   - keep every word of the input's text content (headings, emphasis, code, link
 *     labels, image alt text, table cells, quotes, lists, raw HTML);
 *   - be valid UTF-8;
 *   - and, for documents without stray markup characters, pair every formatting
 *     marker it emits (* _ ~) on one line, opening before and closing after non-space.
 * Set MRKDWN_CASES / MRKDWN_SEED to explore further. */
#include <check.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/host.h"
#include "render/textbuf.h"
#include "render/utf8.h"
#include "mrkdwn_check.h"
#include "slack.h"
#include "../unit/support/check_runner.h"

/* One generated document and the words it holds as text. */
struct gen {
    uint64_t rng;
    struct textbuf md;
    unsigned words; /* w0 .. w(words-1) were written as text */
    unsigned urls;  /* distinct URLs */
    bool wild;      /* stray markup characters, raw HTML */
};

/* xorshift64*: deterministic across platforms. */
static uint32_t
gen_rand(struct gen *g, uint32_t n)
{
    g->rng ^= g->rng >> 12;
    g->rng ^= g->rng << 25;
    g->rng ^= g->rng >> 27;
    return (uint32_t)((g->rng * 0x2545F4914F6CDD1DULL) >> 33) % n;
}

static void
gen_put(struct gen *g, const char *fmt, ...)
{
    char buf[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    ck_assert_int_eq(textbuf_append_str(&g->md, buf), 0);
}

/* A word of text content: w<N>, sometimes with a non-ASCII letter (é). */
static void
gen_word(struct gen *g)
{
    gen_put(g, gen_rand(g, 8) == 0 ? "w%u\xC3\xA9" : "w%u", g->words++);
}

static void gen_inline(struct gen *g, int depth, bool in_link, bool one_line);

/* @n inline tokens separated by spaces (and now and then a line break). */
static void
gen_inlines(struct gen *g, int n, int depth, bool in_link, bool one_line)
{
    for (int i = 0; i < n; i++) {
        if (i > 0) {
            uint32_t r = gen_rand(g, 20);
            gen_put(g, r == 0 && !one_line ? "\n" : r == 1 && !one_line ? "  \n" : " ");
        }
        gen_inline(g, depth, in_link, one_line);
    }
}

/* One inline token. */
static void
gen_inline(struct gen *g, int depth, bool in_link, bool one_line)
{
    static const char *const wraps[] = {"**", "*", "_", "__", "~~", "~"};
    static const char noise[] = "&<>*_~`[]()!#\\";
    uint32_t r = gen_rand(g, depth > 2 ? 4 : 16);

    if (r < 4) {
        gen_word(g);
    } else if (r < 8) {
        const char *w = wraps[gen_rand(g, 6)];
        gen_put(g, "%s", w);
        if (g->wild) {
            gen_inlines(g, 1 + (int)gen_rand(g, 3), depth + 1, in_link, one_line);
        } else { /* words at both ends: no marker touches another one */
            gen_word(g);
            if (gen_rand(g, 2)) {
                gen_put(g, " ");
                gen_inlines(g, 1 + (int)gen_rand(g, 3), depth + 1, in_link, one_line);
                gen_put(g, " ");
                gen_word(g);
            }
        }
        gen_put(g, "%s", w);
    } else if (r == 8) {
        gen_put(g, "`");
        gen_word(g);
        if (gen_rand(g, 2)) {
            gen_put(g, " ");
            gen_word(g);
        }
        gen_put(g, "`");
    } else if (r == 9 && !in_link) {
        gen_put(g, "[");
        gen_inlines(g, 1 + (int)gen_rand(g, 3), depth + 1, true, one_line);
        gen_put(g, "](http://u%u.test/p?a=1&b=2)", g->urls++);
    } else if (r == 10 && !in_link) {
        gen_put(g, "![");
        gen_word(g);
        gen_put(g, "](http://u%u.test/i.png \"t\")", g->urls++);
    } else if (r == 11 && !in_link) {
        gen_put(g, "<http://u%u.test/a>", g->urls++);
    } else if (r == 12 && g->wild) {
        char c = noise[gen_rand(g, sizeof(noise) - 1)];
        gen_put(g, "%c", c);
        if (c == '\\')
            gen_put(g, "%c", noise[gen_rand(g, sizeof(noise) - 1)]);
    } else if (r == 13 && g->wild) {
        gen_put(g, "<b>");
        gen_word(g);
        gen_put(g, "</b> &amp; &#60;");
    } else {
        gen_word(g);
    }
}

/* One block. */
static void
gen_block(struct gen *g, int depth)
{
    uint32_t r = gen_rand(g, depth > 0 ? 4 : 9);
    const char *fence;
    int n;

    switch (r) {
    case 0:
    case 1: gen_inlines(g, 1 + (int)gen_rand(g, 12), 0, false, false); break;
    case 2: /* list, maybe nested */
        n = 1 + (int)gen_rand(g, 4);
        for (int i = 0; i < n; i++) {
            gen_put(g, gen_rand(g, 2) ? "%s- " : "%s%d. ", depth ? "  " : "", i + 1);
            if (gen_rand(g, 6) == 0)
                gen_put(g, "[%c] ", gen_rand(g, 2) ? 'x' : ' ');
            gen_inlines(g, 1 + (int)gen_rand(g, 5), 0, false, false);
            gen_put(g, "\n");
            if (depth == 0 && gen_rand(g, 5) == 0) {
                gen_block(g, 1);
                gen_put(g, "\n");
            }
        }
        break;
    case 3: /* quote */
        n = 1 + (int)gen_rand(g, 3);
        for (int i = 0; i < n; i++) {
            gen_put(g, "> ");
            gen_inlines(g, 1 + (int)gen_rand(g, 5), 0, false, false);
            gen_put(g, "\n");
        }
        break;
    case 4: /* a heading is one line */
        gen_put(g, "%.*s ", 1 + (int)gen_rand(g, 6), "######");
        gen_inlines(g, 1 + (int)gen_rand(g, 5), 0, false, true);
        break;
    case 5: /* fenced code: words, and in wild documents markup and fences */
        fence = gen_rand(g, 2) ? "```" : "~~~";
        gen_put(g, "%s%s\n", fence, *fence == '`' ? "c" : "");
        n = 1 + (int)gen_rand(g, 4);
        for (int i = 0; i < n; i++) {
            gen_word(g);
            gen_put(g, g->wild ? " <a> & **b** `` ```x\n" : " x = y;\n");
        }
        gen_put(g, "%s", fence);
        break;
    case 6: /* table */
        n = 1 + (int)gen_rand(g, 3);
        for (int row = 0; row < 2 + (int)gen_rand(g, 3); row++) {
            gen_put(g, "|");
            for (int c = 0; c < n; c++) {
                if (row == 1) {
                    gen_put(g, gen_rand(g, 2) ? " --- |" : " :-: |");
                    continue;
                }
                gen_put(g, " ");
                gen_inlines(g, 1 + (int)gen_rand(g, 3), 0, false, true);
                gen_put(g, " |");
            }
            gen_put(g, "\n");
        }
        break;
    case 7: gen_put(g, "---"); break;
    default: /* indented code */
        gen_put(g, "    ");
        gen_word(g);
        gen_put(g, " <x>\n");
        break;
    }
}

/* A whole document of 1..6 blocks. */
static void
gen_doc(struct gen *g)
{
    int n = 1 + (int)gen_rand(g, 6);

    g->md.len = 0;
    g->words = 0;
    g->urls = 0;
    g->wild = gen_rand(g, 2);
    gen_put(g, "");
    for (int i = 0; i < n; i++) {
        if (i > 0)
            gen_put(g, "\n\n");
        gen_block(g, 0);
    }
}

/* The failure message: the case, its input and output. */
static char failure[8192];

static bool
fail_case(int i, const char *md, const char *out, const char *why, size_t at)
{
    snprintf(failure, sizeof(failure), "case %d: %s at byte %zu\n--- markdown\n%s\n--- mrkdwn\n%s",
             i, why, at, md, out);
    return false;
}

/* & < > only as Slack syntax. */
static bool
check_escaping(int i, const char *md, const char *out)
{
    size_t at;
    const char *why = mrkdwn_check_escaping(out, &at);

    return !why || fail_case(i, md, out, why, at);
}

/* The visitor that lists the words of the parsed input's text content. */
struct words {
    struct textbuf list; /* " w1 w7 ..." */
};

/* Note every w<N> in a text, code or HTML literal. */
static int
words_enter(void *arg, const struct ab_md_node *n)
{
    struct words *w = arg;

    if (!n->literal)
        return 0;
    for (size_t i = 0; i < n->literal_len; i++) {
        size_t k = i + 1;
        if (n->literal[i] != 'w' || (i > 0 && isalnum((unsigned char)n->literal[i - 1])))
            continue;
        while (k < n->literal_len && isdigit((unsigned char)n->literal[k]))
            k++;
        if (k > i + 1 && (k == n->literal_len || !isalnum((unsigned char)n->literal[k]))) {
            textbuf_append(&w->list, " ", 1);
            textbuf_append(&w->list, n->literal + i, k - i);
        }
    }
    return 0;
}

/* Every word of the input's text content (as the parser reads it, so that what
 * CommonMark makes a fence's info string or a URL does not count) is in the output,
 * whole. */
static bool
check_words(int i, const char *md, const char *out)
{
    static const struct ab_md_visitor visitor = {.size = sizeof(visitor), .enter = words_enter};
    struct words w = {0};
    bool ok = true;

    ck_assert_int_eq(host_services.md_walk(NULL, md, strlen(md), &visitor, &w), 0);
    for (char *word = w.list.data ? strtok(w.list.data, " ") : NULL; word && ok;
         word = strtok(NULL, " ")) {
        size_t len = strlen(word);
        const char *p = out;
        for (; (p = strstr(p, word)); p++)
            if ((p == out || !isalnum((unsigned char)p[-1])) && !isdigit((unsigned char)p[len]))
                break;
        if (!p)
            ok = fail_case(i, md, out, word, 0);
    }
    textbuf_free(&w.list);
    return ok;
}

/* In documents without stray markup: markers pair up on each line, outside code and
 * links, opening before non-space and closing after it, properly nested. */
static bool
check_markers(int i, const char *md, const char *out)
{
    char stack[64];
    size_t depth = 0;
    bool in_block = false;

    for (const char *p = out; *p; p++) {
        const char *eol = strchr(p, '\n');
        size_t n;
        if (p == out || p[-1] == '\n') {
            const char *q = p;
            size_t len;
            while (*q && strchr(" >", *q))
                q++;
            len = eol ? (size_t)(eol - q) : strlen(q);
            if (len == 3 && strncmp(q, "```", 3) == 0)
                in_block = !in_block;
            else if (!in_block)
                goto content;
            if (!eol)
                break;
            p = eol;
            continue;
        }
    content:
        if (*p == '\n') {
            if (depth)
                return fail_case(i, md, out, "marker open at end of line", (size_t)(p - out));
            continue;
        }
        if (*p == '`') {
            const char *close = strchr(p + 1, '`');
            if (!close || (eol && close > eol))
                return fail_case(i, md, out, "unpaired backtick", (size_t)(p - out));
            p = close;
            continue;
        }
        if (*p == '<' && (n = mrkdwn_check_link_len(p))) {
            p += n - 1;
            continue;
        }
        if (!strchr("*_~", *p))
            continue;
        if (depth && stack[depth - 1] == *p && p > out && p[-1] != ' ') {
            depth--;
        } else if (p[1] && p[1] != ' ' && p[1] != '\n' && depth < sizeof(stack)) {
            for (size_t k = 0; k < depth; k++)
                if (stack[k] == *p)
                    return fail_case(i, md, out, "marker nested in itself", (size_t)(p - out));
            stack[depth++] = *p;
        } else {
            return fail_case(i, md, out, "marker that neither opens nor closes", (size_t)(p - out));
        }
    }
    if (depth)
        return fail_case(i, md, out, "marker open at the end", strlen(out));
    return true;
}

START_TEST(generated_markdown_converts_to_valid_mrkdwn)
{
    const char *env_cases = getenv("MRKDWN_CASES"), *env_seed = getenv("MRKDWN_SEED");
    int cases = env_cases ? atoi(env_cases) : 5000;
    struct gen g = {.rng = env_seed ? strtoull(env_seed, NULL, 0) : 0x5EED5EED12345678ULL};
    int wild = 0;

    for (int i = 0; i < cases; i++) {
        char *out = NULL;
        bool ok;

        gen_doc(&g);
        wild += g.wild;
        ck_assert_int_eq(mrkdwn_from_markdown(&host_services, NULL, g.md.data, &out), 0);
        ok = check_escaping(i, g.md.data, out) && check_words(i, g.md.data, out) &&
             (utf8_valid(out, strlen(out)) || fail_case(i, g.md.data, out, "invalid UTF-8", 0)) &&
             (g.wild || check_markers(i, g.md.data, out));
        free(out);
        ck_assert_msg(ok, "%s", failure);
    }
    /* both kinds of document were generated */
    ck_assert_int_gt(wild, cases / 4);
    ck_assert_int_lt(wild, cases - cases / 4);
    textbuf_free(&g.md);
}
END_TEST

int
main(void)
{
    TCase *tc = tcase_create("generated");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, generated_markdown_converts_to_valid_mrkdwn);
    return check_run_case("mrkdwn_property", tc);
}
