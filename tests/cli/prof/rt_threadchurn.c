/* rt_threadchurn.c — rounds of threads that start and end together: each
 * round starts N threads at once (default 40, more than the runtime keeps
 * libunwind frame caches for), each spends about 4 ms of CPU in
 * churn_worker, and all are joined; after R rounds (default 5) one last
 * thread spends about half a CPU-second in churn_late. Threads that take a
 * kept cache must be sampled like the first ones. */
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

static void spin(double seconds)
{
    double t0 = thread_cpu();
    while (thread_cpu() - t0 < seconds)
        for (int i = 0; i < 10000; i++)
            sink += (unsigned long)i;
}

static void *churn_worker(void *arg)
{
    spin(0.004);
    return arg;
}

static void *churn_late(void *arg)
{
    spin(0.5);
    return arg;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 40;
    int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 5;
    pthread_t t[256];
    if (n < 1 || n > 256)
        return 2;
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < n; i++)
            if (pthread_create(&t[i], NULL, churn_worker, NULL) != 0)
                return 2;
        for (int i = 0; i < n; i++)
            pthread_join(t[i], NULL);
    }
    if (pthread_create(&t[0], NULL, churn_late, NULL) != 0)
        return 2;
    pthread_join(t[0], NULL);
    printf("threads %d\n", n * rounds + 1);
    return 0;
}
