/* UTF-8 code points: decoding, counting, validation and safe cut points.
 *
 * A "safe cut" is a byte offset where text may be split without breaking what a reader
 * sees as one character: never inside a UTF-8 sequence, never before a combining mark,
 * variation selector, emoji modifier, tag or ZWJ, never after a ZWJ, never between the
 * two regional indicators of a flag, never between CR and LF. Invalid bytes count as
 * one code point each, so every function is total over arbitrary bytes. */
#ifndef AB_RENDER_UTF8_H
#define AB_RENDER_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* U+FFFD, substituted for bytes that are not valid UTF-8. */
#define UTF8_REPLACEMENT "\xEF\xBF\xBD"
/* U+2026 HORIZONTAL ELLIPSIS, one code point. */
#define UTF8_ELLIPSIS "\xE2\x80\xA6"

/* Decode the code point at @s (@len bytes available, lent). Store it in *cp and return
 * its length (1..4), or 0 when the bytes are not a valid shortest-form sequence
 * (overlong, surrogate, above U+10FFFF, truncated). */
size_t utf8_decode(const char *s, size_t len, uint32_t *cp);

/* Whether @s[0..len) is entirely valid UTF-8. */
bool utf8_valid(const char *s, size_t len);

/* Number of code points in @s[0..len); an invalid byte counts as one. */
size_t utf8_count(const char *s, size_t len);

/* Length of the unit (code point, or one invalid byte) starting at @s[off]. */
size_t utf8_unit_len(const char *s, size_t len, size_t off);

/* Start of the unit that ends at @off (off > 0). */
size_t utf8_unit_start(const char *s, size_t len, size_t off);

/* Offset reached from @off after at most @n units; *taken (may be NULL) gets how many
 * were passed. */
size_t utf8_skip(const char *s, size_t len, size_t off, size_t n, size_t *taken);

/* Offset reached going back from @off by at most @n units. */
size_t utf8_skip_back(const char *s, size_t len, size_t off, size_t n);

/* Whether a split at byte @off of @s[0..len) is a safe cut (0 and len always are). */
bool utf8_is_cut(const char *s, size_t len, size_t off);

/* The largest safe cut in (@floor, @off], or @floor when there is none. */
size_t utf8_cut_before(const char *s, size_t len, size_t off, size_t floor);

/* The smallest safe cut in [@off, len]. */
size_t utf8_cut_after(const char *s, size_t len, size_t off);

/* Bytes of the longest prefix of @s[0..len) holding at most @max_chars units and at
 * most @max_bytes bytes, never ending inside a valid UTF-8 sequence; with
 * @whole_graphemes it also ends at a safe cut, falling back to a code point boundary
 * when the first grapheme alone is over the limits. (The host's utf8_truncate service.) */
size_t utf8_prefix(const char *s, size_t len, size_t max_chars, size_t max_bytes,
                   bool whole_graphemes);

/* Bytes of the longest prefix of @s[0..len) holding at most @max code points and
 * ending at a safe cut; falls back to a code point boundary when a single grapheme is
 * longer than @max. */
size_t utf8_truncate(const char *s, size_t len, size_t max);

#endif
