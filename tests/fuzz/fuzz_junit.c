/* libFuzzer driver: the JUnit reader and the message-number scanner. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perfbisect/junit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int touch(void *ctx, const pb_junit_case *c)
{
    size_t *sum = ctx;
    double v, l;
    *sum += strlen(c->classname) + strlen(c->name) + c->attempt + c->nprops;
    if (c->message)
        *sum += (size_t)pb_junit_message_numbers(c->message, &v, &l);
    if (c->system_out)
        *sum += strlen(c->system_out);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t sum = 0;
    pb_error err = PB_ERROR_INIT;
    pb_junit_info info;
    pb_junit_parse_mem("fuzz.xml", (const char *)data, size, touch, &sum, &info, &err);
    char *s = malloc(size + 1);
    if (s) {
        memcpy(s, data, size);
        s[size] = '\0';
        double v, l;
        pb_junit_message_numbers(s, &v, &l);
        pb_junit_parse_time(s);
        free(s);
    }
    return 0;
}
