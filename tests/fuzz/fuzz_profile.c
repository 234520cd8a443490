/*
 * fuzz_profile.c — the perfprof data file reader and the folded-stacks
 * reader on arbitrary bytes. Symbolization is off, so no file named in the
 * input is ever opened; every writer runs on what was read.
 */
#include <stddef.h>
#include <stdint.h>

#include "perfbisect/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const pb_profile *p)
{
    pb_buf out = PB_BUF_INIT;
    pb_profile_write(p, PB_PROFILE_TEXT, NULL, &out, NULL);
    pb_profile_write(p, PB_PROFILE_FOLDED, NULL, &out, NULL);
    pb_profile_write(p, PB_PROFILE_SVG, NULL, &out, NULL);
    pb_profile_diff_write(p, p, PB_PROFILE_JSON, NULL, &out, NULL);
    pb_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pb_profile *p = NULL;
    if (pb_profile_parse(&p, data, size, 0, NULL) == 0)
        exercise(p);
    pb_profile_free(p);
    p = NULL;
    if (size < 65536 && pb_profile_from_folded(&p, (const char *)data, size, NULL) == 0)
        exercise(p);
    pb_profile_free(p);
    return 0;
}
