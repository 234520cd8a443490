/*
 * rt_dlplug.c: the plugin tests/cli/test_perfprof_record.sh builds into
 * plugins/librt_dlplug.so for rt_dlmain.c. It burns some CPU, so the
 * profile has samples in a dlopen'ed object.
 */
#include <time.h>

unsigned long rt_dlplug_work(unsigned ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    unsigned long x = 1;
    do {
        for (int i = 0; i < 100000; i++)
            x = x * 6364136223846793005ul + 1442695040888963407ul;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < (long)ms);
    return x;
}

int rt_dlplug_value(void)
{
    return 42;
}
