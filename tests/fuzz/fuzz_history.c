/*
 * libFuzzer driver for the history importer: the first byte picks the
 * report's format (JUnit XML, Google Benchmark, hyperfine or
 * pytest-benchmark JSON), the rest is the report.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perfbisect/history.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const pb_history_format formats[] = {PB_HISTORY_JUNIT, PB_HISTORY_GBENCH,
                                                PB_HISTORY_HYPERFINE, PB_HISTORY_PYTEST_BENCHMARK};
    pb_history_import_options opt = {NULL, NULL, 0, 1700000000};
    pb_history_rows rows = PB_HISTORY_ROWS_INIT;
    pb_error err = PB_ERROR_INIT;
    if (size < 1 || size > (1 << 20))
        return 0;
    pb_history_format f = formats[data[0] % 4];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    size_t sum = 0;
    if (pb_history_read_mem(f, "fuzz", text, len, &opt, &rows, &err) == 0 && rows.n == 0)
        abort(); /* success means at least one value */
    for (size_t i = 0; i < rows.n; i++) {
        const pb_store_history_row *r = &rows.rows[i];
        /* every string is set; the value is a finite number */
        sum += strlen(r->benchmark) + strlen(r->commit) + strlen(r->branch) + strlen(r->unit) +
               strlen(r->source);
        if (!isfinite(r->value))
            abort();
    }
    (void)sum;
    pb_history_rows_free(&rows);
    return 0;
}
