/* rt_lim_fds.c — a program that uses nearly all of a small fd limit: run
 * under `ulimit -n 256`, it starts N threads (default 250) that each open a
 * file and keep it open, then spend CPU time in rt_lim_spin while all files
 * are open. Every open must succeed: the profiler's fds are not the
 * program's to lose. Exits 1 if any open failed.
 *
 * `rt_lim_fds fill N`: N threads (under 64, so each can hold a perf fd) are
 * started and wait; then the main thread opens /dev/null until the limit
 * refuses it, which takes back every fd the profiler lent, and only then do
 * the threads spend 16 ms of CPU each in rt_lim_spin: the samples there are
 * those of threads whose perf fd was given back. Prints how many it opened. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_barrier_t opened, done;
static volatile unsigned long sink;
static int failures, first_errno;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static void rt_lim_spin(double seconds)
{
    double t0 = thread_cpu();
    while (thread_cpu() - t0 < seconds)
        for (int i = 0; i < 10000; i++)
            sink += (unsigned long)i;
}

static void *worker(void *arg)
{
    const char *path = arg;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        pthread_mutex_lock(&lock);
        if (!failures++)
            first_errno = errno;
        pthread_mutex_unlock(&lock);
    }
    pthread_barrier_wait(&opened); /* every file open at once */
    rt_lim_spin(0.012);
    pthread_barrier_wait(&done);
    if (fd >= 0)
        close(fd);
    return NULL;
}

static pthread_barrier_t ready, go;

static void *filler_worker(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&ready); /* started, and armed by the profiler */
    pthread_barrier_wait(&go);    /* every number taken */
    rt_lim_spin(0.016);
    return NULL;
}

/* The fill scenario (see the top). */
static int fill(int n)
{
    pthread_t t[64];
    if (n < 1 || n > 64)
        return 2;
    pthread_barrier_init(&ready, NULL, (unsigned)n + 1);
    pthread_barrier_init(&go, NULL, (unsigned)n + 1);
    for (int i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, filler_worker, NULL) != 0)
            return 2;
    pthread_barrier_wait(&ready);
    static int fds[1 << 16];
    int opened = 0, fd;
    while (opened < (int)(sizeof(fds) / sizeof(fds[0])) &&
           (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        fds[opened++] = fd;
    int err = errno;
    pthread_barrier_wait(&go);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < opened; i++)
        close(fds[i]); /* the profile is written at exit: it needs a number */
    printf("filled %d: %s\n", opened, strerror(err));
    return err == EMFILE ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc > 2 && !strcmp(argv[1], "fill"))
        return fill(atoi(argv[2]));
    int n = argc > 1 ? atoi(argv[1]) : 250;
    const char *path = argc > 2 ? argv[2] : "/dev/null";
    if (n < 1 || n > 4096)
        return 2;
    pthread_t *t = calloc((size_t)n, sizeof(*t));
    pthread_barrier_init(&opened, NULL, (unsigned)n);
    pthread_barrier_init(&done, NULL, (unsigned)n);
    int started = 0;
    for (int i = 0; i < n; i++) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 256 << 10);
        int rc = pthread_create(&t[i], &attr, worker, (void *)path);
        pthread_attr_destroy(&attr);
        if (rc != 0) {
            fprintf(stderr, "pthread_create: %s\n", strerror(rc));
            return 2;
        }
        started++;
    }
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    printf("opened %d of %d%s%s\n", n - failures, n, failures ? ": " : "",
           failures ? strerror(first_errno) : "");
    free(t);
    return failures ? 1 : 0;
}
