/* Streaming cost of the renderer: 10 000 agent chunks rendered with tool updates, the
 * live view computed at most once per simulated 1500 ms edit interval (as the pacer
 * does) and, as a worst case, on every chunk; the final render split for Discord. CPU
 * time (getrusage, user + system) is compared, in the same run, with a baseline that
 * only concatenates the chunks.
 *
 * Usage: bench_render [runs]   (default 20; prints the mean per run) */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "render/render.h"
#include "render/split.h"

#define BENCH_CHUNKS 10000
#define BENCH_CHUNK_GAP_MS 5 /* a chunk every 5 ms: a 50 s reply */
#define BENCH_EDIT_INTERVAL_MS 1500
#define BENCH_LIVE_CHARS 2000
#define BENCH_TARGET_MS 50.0

struct bench_chunk {
    char text[96];
    size_t len;
};

static struct bench_chunk bench_chunks[BENCH_CHUNKS];
static uint64_t bench_sink; /* keeps the optimiser from dropping the work */

/* Deterministic xorshift so every run renders the same stream. */
static uint32_t
bench_rand(void)
{
    static uint64_t s = 0x2545F4914F6CDD1DULL;

    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return (uint32_t)s;
}

/* Fill the chunks with prose, some non-ASCII, newlines and code fences, 10-80 bytes each
 * like the agent_message_chunk events agents send. */
static void
bench_make_chunks(void)
{
    static const char *const words[] = {"the ",
                                        "config ",
                                        "loader ",
                                        "validates ",
                                        "every ",
                                        "field, ",
                                        "r\xC3\xA9sum\xC3\xA9 ",
                                        "\xE2\x9C\xA8 ",
                                        "fn ",
                                        "main() ",
                                        "{ ",
                                        "}\n",
                                        "return ",
                                        "0; ",
                                        "\n",
                                        "tests "};
    bool fence = false;
    size_t i, target;

    for (i = 0; i < BENCH_CHUNKS; i++) {
        struct bench_chunk *c = &bench_chunks[i];
        c->len = 0;
        if (i % 400 == 399) {
            const char *f = fence ? "\n```\n" : "\n```rust\n";
            c->len = strlen(f);
            memcpy(c->text, f, c->len);
            fence = !fence;
            continue;
        }
        target = 10 + bench_rand() % 70;
        while (c->len < target) {
            const char *w = words[bench_rand() % (sizeof(words) / sizeof(words[0]))];
            size_t n = strlen(w);
            if (c->len + n >= sizeof(c->text))
                break;
            memcpy(c->text + c->len, w, n);
            c->len += n;
        }
    }
}

/* CPU time used so far, in milliseconds. */
static double
bench_cpu_ms(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* The baseline: only concatenate the chunks into one growing buffer. */
static void
bench_baseline(void)
{
    size_t len = 0, cap = 0, i;
    char *buf = NULL;

    for (i = 0; i < BENCH_CHUNKS; i++) {
        if (len + bench_chunks[i].len + 1 > cap) {
            cap = cap ? cap * 2 : 256;
            buf = realloc(buf, cap);
            if (buf == NULL)
                abort();
        }
        memcpy(buf + len, bench_chunks[i].text, bench_chunks[i].len);
        len += bench_chunks[i].len;
        buf[len] = '\0';
    }
    bench_sink += len + (uint8_t)buf[len / 2];
    free(buf);
}

/* Render the stream with tool updates; compute the live view every chunk when
 * @every_chunk, else at most once per edit interval and only when the render changed;
 * finish with the full render split into Discord messages. */
static void
bench_render(bool every_chunk)
{
    struct render_state *r = render_new(RENDER_TOOLS_FULL);
    uint64_t last_gen = 0, now = 0, last_edit = 0;
    struct split_result parts;
    char id[16], *live;
    size_t i;

    if (r == NULL)
        abort();
    for (i = 0; i < BENCH_CHUNKS; i++, now += BENCH_CHUNK_GAP_MS) {
        if (i % 250 == 0) {
            snprintf(id, sizeof(id), "call_%zu", i);
            render_tool_upsert(r, id, "cargo test --workspace", RENDER_TOOL_IN_PROGRESS);
        }
        if (i % 250 == 50) {
            snprintf(id, sizeof(id), "call_%zu", i - 50);
            render_tool_upsert(r, id, NULL, RENDER_TOOL_COMPLETED);
        }
        if (render_append_text(r, bench_chunks[i].text, bench_chunks[i].len) < 0)
            abort();
        if (every_chunk ||
            (now - last_edit >= BENCH_EDIT_INTERVAL_MS && render_generation(r) != last_gen)) {
            if (render_live(r, BENCH_LIVE_CHARS, &live) < 0)
                abort();
            bench_sink += strlen(live);
            free(live);
            last_gen = render_generation(r);
            last_edit = now;
        }
    }
    if (split_message(render_text(r), BENCH_LIVE_CHARS, &parts) < 0)
        abort();
    bench_sink += parts.count;
    split_result_free(&parts);
    render_free(r);
}

/* Mean CPU milliseconds per run of @fn. */
static double
bench_measure(void (*fn)(bool), bool arg, int runs)
{
    double start = bench_cpu_ms();
    int i;

    for (i = 0; i < runs; i++)
        fn(arg);
    return (bench_cpu_ms() - start) / runs;
}

/* Adapter so the baseline has the same shape as the render variants. */
static void
bench_baseline_run(bool unused)
{
    (void)unused;
    bench_baseline();
}

int
main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 20;
    double base, paced, every;
    size_t bytes = 0, i;

    if (runs <= 0) {
        fprintf(stderr, "usage: %s [runs > 0]\n", argv[0]);
        return 2;
    }
    bench_make_chunks();
    for (i = 0; i < BENCH_CHUNKS; i++)
        bytes += bench_chunks[i].len;
    bench_render(false); /* warm the allocator and caches */
    base = bench_measure(bench_baseline_run, false, runs);
    paced = bench_measure(bench_render, false, runs);
    every = bench_measure(bench_render, true, runs);
    printf("chunks: %d (%zu bytes), edit interval %d ms, live limit %d chars, runs: %d\n",
           BENCH_CHUNKS, bytes, BENCH_EDIT_INTERVAL_MS, BENCH_LIVE_CHARS, runs);
    printf("baseline concatenate:            %8.3f ms CPU\n", base);
    printf("render + live per edit interval: %8.3f ms CPU  (x%.1f baseline)\n", paced,
           base > 0 ? paced / base : 0.0);
    printf("render + live on every chunk:    %8.3f ms CPU  (x%.1f baseline)\n", every,
           base > 0 ? every / base : 0.0);
    printf("target < %.0f ms for render + coalescing: %s\n", BENCH_TARGET_MS,
           paced < BENCH_TARGET_MS ? "met" : "MISSED");
    return bench_sink == 0; /* never true; uses the sink */
}
