/* libFuzzer driver: the pytest console-log reader. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "perfbisect/ctlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int touch(void *ctx, const pb_junit_case *c)
{
    size_t *sum = ctx;
    *sum += strlen(c->classname) + strlen(c->name) + (c->message ? strlen(c->message) : 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t sum = 0;
    pb_error err = PB_ERROR_INIT;
    pb_junit_info info;
    pb_ctlog_parse_mem("fuzz.log", (const char *)data, size, touch, &sum, &info, &err);
    return 0;
}
