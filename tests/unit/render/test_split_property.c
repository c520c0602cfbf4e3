/* split.c property tests: thousands of generated documents mixing ASCII, multi-byte
 * UTF-8, ZWJ emoji, variation selectors, combining marks, flags, long unbroken lines
 * and code fences, split at several limits. Every result must satisfy, checked here
 * independently of the implementation:
 *   - each chunk within the limit in code points, valid UTF-8;
 *   - the inserted head/tail are fence lines, and without them the chunks concatenate
 *     back to the input exactly;
 *   - no chunk boundary inside a UTF-8 sequence or a grapheme (ZWJ, VS16, combining
 *     mark, skin tone, flag pair);
 *   - fences balanced in every chunk, a reopened fence carries the original info string
 *     (or none when the limit is too small for it). */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "render/split.h"
#include "render/utf8.h"
#include "../support/check_runner.h"

#define DOCS 2000

/* check's ck_assert records a mark point on every success, far too slow for the
 * hundreds of thousands of checks here: fail through ck_abort_msg only. */
#define PROP(cond, ...)                                                                            \
    do {                                                                                           \
        if (!(cond))                                                                               \
            ck_abort_msg(__VA_ARGS__);                                                             \
    } while (0)
static const size_t limits[] = {20, 33, 64, 200, 2000};

/* xorshift64*: deterministic, so a failure reproduces from its document number. */
static uint64_t prng_state;

static uint32_t
prng_next(void)
{
    prng_state ^= prng_state >> 12;
    prng_state ^= prng_state << 25;
    prng_state ^= prng_state >> 27;
    return (uint32_t)((prng_state * 2685821657736338717ULL) >> 32);
}

static size_t
prng_below(size_t n)
{
    return prng_next() % n;
}

struct doc {
    char *s;
    size_t len, cap;
};

static void
doc_add(struct doc *d, const char *s)
{
    size_t n = strlen(s);

    if (d->len + n + 1 > d->cap) {
        d->cap = (d->len + n + 1) * 2;
        d->s = realloc(d->s, d->cap);
        PROP(d->s != NULL, "out of memory");
    }
    memcpy(d->s + d->len, s, n + 1);
    d->len += n;
}

static const char *const atoms[] = {
    "a",
    "word",
    "split",
    "\xC3\xA9",
    "\xE2\x82\xAC",
    "\xE4\xB8\xAD\xE6\x96\x87",
    "\xF0\x9F\x98\x80",                                                         /* 😀 */
    "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7", /* family */
    "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB",                             /* 👩‍💻 */
    "\xE2\x9D\xA4\xEF\xB8\x8F",                                                 /* ❤️ */
    "e\xCC\x81",                                                                /* é decomposed */
    "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD",                                         /* 👍🏽 */
    "\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7",                                         /* 🇫🇷 */
    "`x`",
    "a~b",
};
static const char *const langs[] = {"", "python", "js", "c++", "rust ignore"};

/* Append a run of text: words, spaces, newlines and the atoms above. */
static void
doc_text(struct doc *d, size_t units)
{
    while (units--) {
        size_t k = prng_below(10);
        if (k < 5)
            doc_add(d, atoms[prng_below(sizeof(atoms) / sizeof(atoms[0]))]);
        else if (k < 8)
            doc_add(d, " ");
        else
            doc_add(d, "\n");
    }
}

/* Append a line with no space at all, longer than small limits. */
static void
doc_long_line(struct doc *d)
{
    size_t n = 20 + prng_below(300);

    while (n--)
        doc_add(d, prng_below(8) ? "x" : atoms[3 + prng_below(11)]);
}

/* Append a fenced code block starting on its own line. */
static void
doc_fence(struct doc *d)
{
    bool tilde = prng_below(5) == 0;
    const char *mark = tilde ? "~~~" : prng_below(5) == 0 ? "````" : "```";
    size_t lines = prng_below(12);

    if (d->len && d->s[d->len - 1] != '\n')
        doc_add(d, "\n");
    doc_add(d, mark);
    doc_add(d, langs[prng_below(sizeof(langs) / sizeof(langs[0]))]);
    doc_add(d, "\n");
    while (lines--) {
        if (prng_below(4) == 0)
            doc_long_line(d);
        else
            doc_text(d, prng_below(12));
        if (!d->len || d->s[d->len - 1] != '\n')
            doc_add(d, "\n");
    }
    if (prng_below(8)) {
        doc_add(d, mark);
        doc_add(d, "\n");
    }
}

/* A whole document; a fence may stay open only at the very end. */
static struct doc
doc_generate(void)
{
    struct doc d = {0};
    size_t parts = prng_below(12);

    doc_add(&d, "");
    while (parts--) {
        size_t k = prng_below(6);
        if (k < 3)
            doc_text(&d, prng_below(80));
        else if (k == 3)
            doc_long_line(&d);
        else {
            doc_fence(&d);
            /* doc_fence may leave the fence open: then the document ends there. */
            if (d.len >= 4 && memcmp(d.s + d.len - 4, "```\n", 4) != 0 &&
                memcmp(d.s + d.len - 4, "~~~\n", 4) != 0)
                break;
        }
    }
    return d;
}

/* Test-side fence tracking with the generator's simple rules: a fence line starts a
 * line with ``` or ~~~ (text never does), the closing line is the run alone. */
struct tfence {
    char mark;
    size_t width;
    char info[32];
};

static void
tfence_line(struct tfence *f, const char *line, size_t len)
{
    size_t n = 0;

    if (len < 3 || (line[0] != '`' && line[0] != '~') || line[1] != line[0] || line[2] != line[0])
        return;
    while (n < len && line[n] == line[0])
        n++;
    if (f->mark == 0) {
        f->mark = line[0];
        f->width = n;
        PROP(len - n < sizeof(f->info), "info string too long");
        memcpy(f->info, line + n, len - n);
        f->info[len - n] = '\0';
    } else if (f->mark == line[0] && n >= f->width && n == len) {
        f->mark = 0;
    }
}

/* Run tfence over complete lines of s[0..len) starting at line starts. */
static void
tfence_scan(struct tfence *f, const char *s, size_t len)
{
    size_t ls = 0, le;

    while (ls < len) {
        for (le = ls; le < len && s[le] != '\n'; le++)
            ;
        tfence_line(f, s + ls, le - ls);
        ls = le + 1;
    }
}

/* Whether @s[0..len) holds the bytes @pat at @off. */
static bool
has_at(const char *s, size_t len, size_t off, const char *pat)
{
    size_t n = strlen(pat);

    return off + n <= len && memcmp(s + off, pat, n) == 0;
}

/* Whether the original text may be cut at @off (independent grapheme rules). */
static bool
boundary_ok(const char *s, size_t len, size_t off)
{
    size_t ri = 0, p = off;

    if (off == 0 || off == len)
        return true;
    if (((unsigned char)s[off] & 0xC0) == 0x80)
        return false;
    if (off >= 3 && has_at(s, len, off - 3, "\xE2\x80\x8D"))
        return false; /* after ZWJ */
    if (has_at(s, len, off, "\xE2\x80\x8D") || has_at(s, len, off, "\xEF\xB8\x8F") ||
        has_at(s, len, off, "\xCC\x81") || has_at(s, len, off, "\xF0\x9F\x8F\xBD"))
        return false;
    while (p >= 4 && has_at(s, len, p - 4, "\xF0\x9F\x87")) {
        ri++;
        p -= 4;
    }
    return !(ri % 2 == 1 && has_at(s, len, off, "\xF0\x9F\x87"));
}

/* Check one document at one limit. */
static void
check_split(const char *doc, size_t len, size_t max, size_t docno)
{
    struct split_result r;
    struct tfence orig = {0}, inchunk;
    size_t i, at = 0;

    PROP(split_message(doc, max, &r) == 0, "doc %zu limit %zu: split failed", docno, max);
    PROP(len > 0 || r.count == 0, "empty doc gave chunks");
    for (i = 0; i < r.count; i++) {
        const struct split_chunk *c = &r.chunks[i];
        size_t body = c->len - c->head - c->tail;

        PROP(c->chars <= max, "doc %zu limit %zu chunk %zu: %zu chars", docno, max, i, c->chars);
        PROP(utf8_count(c->text, c->len) == c->chars, "doc %zu chunk %zu: chars miscounted", docno,
             i);
        PROP(utf8_valid(c->text, c->len), "doc %zu chunk %zu invalid", docno, i);
        PROP(body > 0, "doc %zu chunk %zu: no content", docno, i);
        PROP(at + body <= len && memcmp(c->text + c->head, doc + at, body) == 0,
             "doc %zu limit %zu chunk %zu does not continue the input", docno, max, i);
        PROP(boundary_ok(doc, len, at), "doc %zu limit %zu: cut inside a grapheme at %zu", docno,
             max, at);
        if (c->head) {
            /* The reopening line: the open fence's run, its info string or none. */
            PROP(orig.mark != 0 && c->head >= orig.width + 1 && c->text[c->head - 1] == '\n',
                 "doc %zu chunk %zu: head is not a reopening line", docno, i);
            PROP(c->head == orig.width + 1 ||
                     (c->head == orig.width + 1 + strlen(orig.info) &&
                      memcmp(c->text + orig.width, orig.info, strlen(orig.info)) == 0),
                 "doc %zu chunk %zu reopens with another info string", docno, i);
        } else if (orig.mark && max >= 20) {
            ck_abort_msg("doc %zu limit %zu chunk %zu starts inside a fence without "
                         "reopening it",
                         docno, max, i);
        }
        /* Fences balance inside the chunk as it will be posted. */
        inchunk = (struct tfence){0};
        tfence_scan(&inchunk, c->text, c->len);
        if (max >= 20)
            PROP(inchunk.mark == 0, "doc %zu limit %zu chunk %zu leaves a fence open", docno, max,
                 i);
        if (c->tail) {
            PROP(c->tail <= 5 &&
                     (c->text[c->len - c->tail] == '\n' || c->text[c->len - c->tail] == '`' ||
                      c->text[c->len - c->tail] == '~'),
                 "doc %zu chunk %zu: tail is not a closing line", docno, i);
        }
        /* Advance the original's fence state over the body's lines, judging a line cut
         * by this chunk whole, as a reader of the original would. */
        {
            size_t ls = at, le;
            if (ls > 0 && doc[ls - 1] != '\n') {
                while (ls < len && doc[ls] != '\n')
                    ls++;
                ls++;
            }
            while (ls < at + body) {
                for (le = ls; le < len && doc[le] != '\n'; le++)
                    ;
                tfence_line(&orig, doc + ls, le - ls);
                ls = le + 1;
            }
        }
        at += body;
    }
    PROP(at == len, "doc %zu limit %zu: chunks cover %zu of %zu bytes", docno, max, at, len);
    split_result_free(&r);
}

START_TEST(random_documents_split_correctly_at_every_limit)
{
    size_t n, l, total_chunks = 0;

    prng_state = 0x9E3779B97F4A7C15ULL + (uint64_t)_i;
    for (n = 0; n < DOCS; n++) {
        struct doc d = doc_generate();
        for (l = 0; l < sizeof(limits) / sizeof(limits[0]); l++)
            check_split(d.s, d.len, limits[l], n);
        total_chunks += d.len;
        free(d.s);
    }
    ck_assert_uint_gt(total_chunks, 0);
}
END_TEST

/* The generator really produces what the properties are about. */
START_TEST(generator_covers_the_interesting_cases)
{
    size_t n, fences = 0, zwj = 0, vs = 0, long_lines = 0;

    prng_state = 0x9E3779B97F4A7C15ULL;
    for (n = 0; n < 200; n++) {
        struct doc d = doc_generate();
        fences += strstr(d.s, "```python\n") != NULL;
        zwj += strstr(d.s, "\xE2\x80\x8D") != NULL;
        vs += strstr(d.s, "\xEF\xB8\x8F") != NULL;
        long_lines += strstr(d.s, "xxxxxxxxxxxxxxxxxxxxxxxxx") != NULL;
        free(d.s);
    }
    ck_assert_uint_gt(fences, 10);
    ck_assert_uint_gt(zwj, 50);
    ck_assert_uint_gt(vs, 50);
    ck_assert_uint_gt(long_lines, 20);
}
END_TEST

int
main(void)
{
    TCase *tc = tcase_create("property");

    /* Three seeds of DOCS documents each: 6000 documents, 30000 splits. */
    tcase_add_loop_test(tc, random_documents_split_correctly_at_every_limit, 0, 3);
    tcase_add_test(tc, generator_covers_the_interesting_cases);
    tcase_set_timeout(tc, 500);
    return check_run_case("render_split_property", tc);
}
