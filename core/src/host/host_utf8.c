/* The utf8_truncate service over the core's UTF-8 rules (core/src/render/utf8.c). */
#include "host/services.h"

#include "render/utf8.h"

/* service: the longest prefix within both limits, optionally whole graphemes. */
size_t
host_utf8_truncate(const char *s, size_t len, size_t max_chars, size_t max_bytes, unsigned flags)
{
    if (!s)
        return 0;
    return utf8_prefix(s, len, max_chars, max_bytes, (flags & AB_UTF8_WHOLE_GRAPHEMES) != 0);
}
