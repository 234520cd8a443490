/*
 * attach_ticks.c — a busy target for perfprof attach that receives a signal
 * every 10 ms, to check the profiler passes the target's signals on at once
 * and lets go of the target when it exits. Built by test_perfprof_attach.sh.
 *
 *   attach_ticks [-n] [-l] [-w] SECONDS [STATUS [THREADS]]
 *     the main thread computes for SECONDS of wall time while a 10 ms
 *     ITIMER_REAL SIGALRM handler counts ticks, then the process exits with
 *     STATUS (default 0), THREADS - 1 more threads (default none) computing
 *     until then
 *     -n  no timer (no signals at all)
 *     -l  the main thread leaves with pthread_exit instead, and the process
 *         exits one second later from another thread (needs THREADS >= 2)
 *     -w  wait for a tracer (up to a minute) before the SECONDS begin and
 *         the other threads start, so a slow attach cannot miss a short life
 * Prints "ticks N" each time 10 more ticks arrived, "done N" when the main
 * thread is done, and at exit "cpu S", the process's CPU seconds since the
 * SECONDS began, line-buffered. A stopped target (SIGSTOP, or a tracer
 * that holds its signals) runs no handler, so its count stands still.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t ticks;
static volatile unsigned long sink;
static double end, cpu0;
static int leave, status;

static void on_alarm(int sig)
{
    (void)sig;
    ticks++;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void print_cpu(void)
{
    printf("cpu %.3f\n", cpu_now() - cpu0);
}

/* Whether a tracer is attached (TracerPid in /proc/self/status). */
static int traced(void)
{
    char line[256];
    int tracer = 1; /* cannot tell: do not wait */
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return tracer;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "TracerPid: %d", &tracer) == 1)
            break;
    fclose(f);
    return tracer != 0;
}

static void *spin(void *arg)
{
    (void)arg;
    while (!leave || now() < end + 1)
        for (int i = 0; i < 10000; i++)
            sink += (unsigned long)i;
    exit(status);
}

int main(int argc, char **argv)
{
    int timer = 1, wait_tracer = 0, opt;
    while ((opt = getopt(argc, argv, "nlw")) != -1) {
        if (opt == 'n')
            timer = 0;
        else if (opt == 'l')
            leave = 1;
        else if (opt == 'w')
            wait_tracer = 1;
        else
            return 2;
    }
    if (optind >= argc)
        return 2;
    double seconds = atof(argv[optind]);
    status = optind + 1 < argc ? atoi(argv[optind + 1]) : 0;
    int threads = optind + 2 < argc ? atoi(argv[optind + 2]) : 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    /* SIGALRM only for the main thread: the others are created blocking it. */
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alrm, NULL);
    for (int i = 0; wait_tracer && i < 60000 && !traced(); i++)
        usleep(1000);
    cpu0 = cpu_now();
    atexit(print_cpu);
    end = now() + seconds;
    for (int i = 0; i < threads - 1; i++) {
        pthread_t tid;
        if (pthread_create(&tid, NULL, spin, NULL) != 0)
            return 3;
    }
    pthread_sigmask(SIG_UNBLOCK, &alrm, NULL);
    struct itimerval it = {{0, 10000}, {0, 10000}};
    if (timer)
        setitimer(ITIMER_REAL, &it, NULL);
    int shown = 0;
    while (now() < end) {
        for (int i = 0; i < 10000; i++)
            sink += (unsigned long)i;
        int t = ticks;
        if (t >= shown + 10) {
            printf("ticks %d\n", t);
            shown = t;
        }
    }
    printf("done %d\n", (int)ticks);
    if (leave)
        pthread_exit(NULL);
    return status;
}
