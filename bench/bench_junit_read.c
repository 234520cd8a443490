/*
 * bench_junit_read — perfbisect's JUnit reader alone (no per-test store), one
 * thread: what the reader costs over the bare expat scan.
 * usage: bench_junit_read FILE...   (prints bytes, testcases, seconds, MB/s)
 */
#include <stdio.h>
#include <time.h>

#include "perfbisect/junit.h"

static int on_case(void *ctx, const pb_junit_case *c)
{
    (void)c;
    (*(size_t *)ctx)++;
    return 0;
}

int main(int argc, char **argv)
{
    size_t attempts = 0, bytes = 0, cases = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 1; i < argc; i++) {
        pb_junit_info info;
        pb_error err = PB_ERROR_INIT;
        if (pb_junit_parse_file(argv[i], on_case, &attempts, &info, &err) < 0)
            fprintf(stderr, "%s\n", pb_error_message(&err));
        bytes += info.bytes;
        cases += info.testcases;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("bytes %zu testcases %zu seconds %.3f MB/s %.1f\n", bytes, cases, s,
           (double)bytes / 1e6 / s);
    return 0;
}
