/* rt_lim_threads.c — a long-running program that recycles threads: it
 * creates and joins N short threads (default 9000, more than the runtime
 * has thread slots), then one last thread spends about a CPU-second in
 * rt_lim_late. That last thread must be sampled like the first. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *short_one(void *arg)
{
    sink += (unsigned long)(size_t)arg;
    return NULL;
}

__attribute__((noinline)) static void rt_lim_late(double seconds)
{
    double t0 = thread_cpu();
    while (thread_cpu() - t0 < seconds)
        for (int i = 0; i < 10000; i++)
            sink += (unsigned long)i;
}

static void *late(void *arg)
{
    (void)arg;
    rt_lim_late(1.0);
    return NULL;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 9000;
    pthread_t t;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&t, NULL, short_one, (void *)(size_t)i) != 0)
            return 2;
        pthread_join(t, NULL);
    }
    if (pthread_create(&t, NULL, late, NULL) != 0)
        return 2;
    pthread_join(t, NULL);
    printf("threads %d\n", n + 1);
    return 0;
}
