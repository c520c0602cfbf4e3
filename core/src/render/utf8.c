/* UTF-8 decoding, counting and the safe-cut rules described in utf8.h. */
#include "render/utf8.h"

#include <stdint.h>

/* Decode one code point strictly (RFC 3629): shortest form, no surrogates. */
size_t
utf8_decode(const char *s, size_t len, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    uint32_t c, min;
    size_t n, i;

    if (len == 0)
        return 0;
    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    }
    if ((u[0] & 0xE0) == 0xC0) {
        n = 2, c = u[0] & 0x1F, min = 0x80;
    } else if ((u[0] & 0xF0) == 0xE0) {
        n = 3, c = u[0] & 0x0F, min = 0x800;
    } else if ((u[0] & 0xF8) == 0xF0) {
        n = 4, c = u[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (i = 1; i < n; i++) {
        if ((u[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (u[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return n;
}

/* Validate a whole buffer. */
bool
utf8_valid(const char *s, size_t len)
{
    size_t off = 0, n;
    uint32_t cp;

    while (off < len) {
        if ((unsigned char)s[off] < 0x80) {
            off++;
            continue;
        }
        if ((n = utf8_decode(s + off, len - off, &cp)) == 0)
            return false;
        off += n;
    }
    return true;
}

/* Length of the unit at @off: a valid sequence, or one stray byte. */
size_t
utf8_unit_len(const char *s, size_t len, size_t off)
{
    uint32_t cp;
    size_t n;

    if ((unsigned char)s[off] < 0x80)
        return 1;
    n = utf8_decode(s + off, len - off, &cp);
    return n ? n : 1;
}

/* Count units; ASCII takes the fast path because most text is ASCII. */
size_t
utf8_count(const char *s, size_t len)
{
    size_t off = 0, count = 0;

    while (off < len) {
        off += (unsigned char)s[off] < 0x80 ? 1 : utf8_unit_len(s, len, off);
        count++;
    }
    return count;
}

/* Find where the unit ending at @off starts: a lead byte up to 3 bytes back whose
 * valid sequence ends exactly at @off, else the single byte before @off. */
size_t
utf8_unit_start(const char *s, size_t len, size_t off)
{
    size_t back;

    if ((unsigned char)s[off - 1] < 0x80)
        return off - 1;
    for (back = 2; back <= 4 && back <= off; back++) {
        size_t start = off - back;
        if (((unsigned char)s[start] & 0xC0) == 0x80)
            continue;
        return utf8_unit_len(s, len, start) == back ? start : off - 1;
    }
    return off - 1;
}

/* Walk forward @n units. */
size_t
utf8_skip(const char *s, size_t len, size_t off, size_t n, size_t *taken)
{
    size_t i = 0;

    while (i < n && off < len) {
        off += (unsigned char)s[off] < 0x80 ? 1 : utf8_unit_len(s, len, off);
        i++;
    }
    if (taken)
        *taken = i;
    return off;
}

/* Walk back @n units. */
size_t
utf8_skip_back(const char *s, size_t len, size_t off, size_t n)
{
    while (n > 0 && off > 0) {
        off = utf8_unit_start(s, len, off);
        n--;
    }
    return off;
}

/* Code points that attach to the one before them (a practical subset of
 * Grapheme_Cluster_Break=Extend plus ZWJ and emoji modifiers). */
static bool
utf8_is_extender(uint32_t c)
{
    return c == 0x200D || (c >= 0x0300 && c <= 0x036F) || (c >= 0x0483 && c <= 0x0489) ||
           (c >= 0x0591 && c <= 0x05BD) || (c >= 0x0610 && c <= 0x061A) ||
           (c >= 0x064B && c <= 0x065F) || c == 0x0670 || (c >= 0x06D6 && c <= 0x06DC) ||
           (c >= 0x0900 && c <= 0x0903) || (c >= 0x093A && c <= 0x094F) || c == 0x0E31 ||
           (c >= 0x0E34 && c <= 0x0E3A) || (c >= 0x0E47 && c <= 0x0E4E) ||
           (c >= 0x1AB0 && c <= 0x1AFF) || (c >= 0x1DC0 && c <= 0x1DFF) ||
           (c >= 0x20D0 && c <= 0x20FF) || (c >= 0x3099 && c <= 0x309A) ||
           (c >= 0xFE00 && c <= 0xFE0F) || (c >= 0xFE20 && c <= 0xFE2F) ||
           (c >= 0x1F3FB && c <= 0x1F3FF) || (c >= 0xE0020 && c <= 0xE007F) ||
           (c >= 0xE0100 && c <= 0xE01EF);
}

/* Regional indicators pair up into flags. */
static bool
utf8_is_regional(uint32_t c)
{
    return c >= 0x1F1E6 && c <= 0x1F1FF;
}

/* The code point of the unit at @off, or U+FFFD for a stray byte. */
static uint32_t
utf8_cp_at(const char *s, size_t len, size_t off)
{
    uint32_t cp;

    if ((unsigned char)s[off] < 0x80)
        return (unsigned char)s[off];
    return utf8_decode(s + off, len - off, &cp) ? cp : 0xFFFD;
}

/* Whether @off falls after the first byte of a valid multi-byte sequence. */
static bool
utf8_is_inside(const char *s, size_t len, size_t off)
{
    size_t back;

    for (back = 1; back <= 3 && back <= off; back++) {
        if (((unsigned char)s[off - back] & 0xC0) != 0x80)
            return utf8_unit_len(s, len, off - back) > back;
    }
    return false;
}

/* Apply the rules listed in utf8.h around @off. */
bool
utf8_is_cut(const char *s, size_t len, size_t off)
{
    uint32_t next, prev;
    size_t start, odd = 0;

    if (off == 0 || off >= len)
        return true;
    if (utf8_is_inside(s, len, off))
        return false;
    start = utf8_unit_start(s, len, off);
    next = utf8_cp_at(s, len, off);
    prev = utf8_cp_at(s, len, start);
    if (utf8_is_extender(next) || prev == 0x200D || (prev == '\r' && next == '\n'))
        return false;
    if (!utf8_is_regional(next) || !utf8_is_regional(prev))
        return true;
    /* Between two indicators: a cut is safe only after an even run of them. */
    while (off > 0 && utf8_is_regional(utf8_cp_at(s, len, utf8_unit_start(s, len, off)))) {
        off = utf8_unit_start(s, len, off);
        odd ^= 1;
    }
    return !odd;
}

/* Scan back for a safe cut. */
size_t
utf8_cut_before(const char *s, size_t len, size_t off, size_t floor)
{
    while (off > floor) {
        if (utf8_is_cut(s, len, off))
            return off;
        off--;
    }
    return floor;
}

/* Scan forward for a safe cut. */
size_t
utf8_cut_after(const char *s, size_t len, size_t off)
{
    while (off < len && !utf8_is_cut(s, len, off))
        off++;
    return off;
}

/* Walk whole units while both limits hold, then back off to a grapheme boundary. */
size_t
utf8_prefix(const char *s, size_t len, size_t max_chars, size_t max_bytes, bool whole_graphemes)
{
    size_t end = 0, n = 0, unit, cut;

    while (end < len && n < max_chars) {
        unit = utf8_unit_len(s, len, end);
        if (unit > max_bytes - end)
            break;
        end += unit;
        n++;
    }
    if (end >= len || !whole_graphemes)
        return end;
    cut = utf8_cut_before(s, len, end, 0);
    return cut > 0 ? cut : end;
}

/* Longest prefix within @max code points, preferring a grapheme boundary. */
size_t
utf8_truncate(const char *s, size_t len, size_t max)
{
    return utf8_prefix(s, len, max, SIZE_MAX, true);
}
