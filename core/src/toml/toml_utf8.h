/* Internal to core/src/toml: UTF-8 validation and encoding. */
#ifndef AB_TOML_UTF8_H
#define AB_TOML_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* 0 when @s[0..len) is well-formed UTF-8 (no overlong forms, no surrogates, nothing
 * above U+10FFFF); otherwise -1 with *bad set to the offset of the offending byte. */
int toml_utf8_validate(const char *s, size_t len, size_t *bad);

/* Write the UTF-8 form of the scalar value @cp into @out; returns its length (1-4),
 * or 0 when @cp is a surrogate or above U+10FFFF. */
size_t toml_utf8_encode(uint32_t cp, char out[4]);

#endif
