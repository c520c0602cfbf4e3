/* Shared by the plugin fuzz targets: the input is a sequence of frames, one per line
 * ('\n' separated), so seed files are readable payloads, one per line. */
#ifndef AB_FUZZ_LINES_H
#define AB_FUZZ_LINES_H

#include <stddef.h>
#include <string.h>

/* Call @fn(@arg, frame, len) for every '\n'-separated piece of @data, empty ones too. */
static inline void
fuzz_lines(const char *data, size_t size, void (*fn)(void *arg, const char *line, size_t len),
           void *arg)
{
    size_t start = 0;

    for (size_t i = 0; i <= size; i++) {
        if (i == size || data[i] == '\n') {
            fn(arg, data + start, i - start);
            start = i + 1;
        }
    }
}

#endif
