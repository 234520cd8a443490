/*
 * libFuzzer driver for the metric parsers: the spec parser and the number
 * extractors (regex over output, Google Benchmark, hyperfine and
 * pytest-benchmark JSON). The first byte picks the metric; the rest is the
 * text a run printed (or, for choice 4, a spec that is then applied to itself).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perfbisect/metric.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const specs[] = {
        "regex:time: ([0-9.eE+-]+) ?(ms|s)?",
        "gbench:BM_a",
        "hyperfine",
        "pytest-benchmark:test_a",
    };
    pb_metric *m = NULL;
    pb_error err = PB_ERROR_INIT;
    double v = 0;
    char *spec = NULL;
    if (size < 1 || size > (1 << 20))
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    unsigned choice = data[0] % 5;
    if (choice < 4) {
        if (pb_metric_parse(specs[choice], &m, &err) < 0)
            abort(); /* fixed specs must parse */
    } else {
        if (!(spec = malloc(len + 1)))
            return 0;
        memcpy(spec, text, len);
        spec[len] = '\0';
        /* Nested intervals ("((a{0,255}){0,255}){0,255}") make glibc's
         * regcomp allocate without bound; a pattern is the user's own
         * command-line input, so only their text handling is fuzzed. */
        if (!strncmp(spec, "regex:", 6) && strchr(spec, '{'))
            goto done;
        if (pb_metric_parse(spec, &m, &err) < 0)
            goto done;
        (void)pb_metric_spec(m);
        (void)pb_metric_unit(m);
        (void)pb_metric_needs_output(m);
    }
    if (pb_metric_get_kind(m) >= PB_METRIC_REGEX)
        (void)pb_metric_extract_text(m, text, len, &v, &err);
done:
    pb_metric_free(m);
    free(spec);
    return 0;
}
