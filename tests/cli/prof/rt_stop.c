/*
 * rt_stop.c — a program stopped by hand. It prints how it sees SIGINT's
 * disposition ("sigint: dfl", "ign" or "handler"), then spins in spin()
 * until a signal ends it.
 *
 *   rt_stop [-h|-m]
 *     -h  install its own SIGINT handler with signal(), print what signal()
 *         returned ("previous: dfl" or "other"), and on SIGINT print
 *         "caught" and exit 3
 *     -m  spin in malloc and free instead (a signal lands in malloc)
 *     -a  after 0.5 s of CPU time, abort()
 *     -s  after 0.5 s of CPU time, write through a null pointer (SIGSEGV)
 *     -S  the same with its own SIGSEGV handler, which prints "segv" and
 *         exits 5; it first prints how it saw SIGSEGV ("sigsegv: dfl")
 *     -t  four threads spin 0.5 s of CPU time each, then all write through
 *         a null pointer; main, unaware, returns 0 5 ms after the first does
 *         (only the crash may end the process: status of SIGSEGV)
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t caught;

static void on_int(int sig)
{
    (void)sig;
    caught = 1;
}

static int in_malloc;

static void on_segv(int sig)
{
    (void)sig;
    static const char msg[] = "segv\n";
    (void)!write(STDOUT_FILENO, msg, sizeof msg - 1);
    _exit(5);
}

static double cpu_seconds(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

__attribute__((noinline)) static unsigned long spin(unsigned long x)
{
    for (int i = 0; i < 1000000; i++) {
        x = x * 6364136223846793005ul + 1442695040888963407ul;
        if (in_malloc) {
            char *volatile p = malloc(16 + (x >> 56));
            free(p);
        }
    }
    return x;
}

static unsigned long *volatile nowhere;
static volatile int about_to_crash;

static void *crash_worker(void *arg)
{
    unsigned long x = (unsigned long)arg;
    while (cpu_seconds(CLOCK_THREAD_CPUTIME_ID) < 0.5)
        x = spin(x);
    about_to_crash = 1;
    *nowhere = x;
    return NULL;
}

int main(int argc, char **argv)
{
    int own = argc > 1 && !strcmp(argv[1], "-h");
    in_malloc = argc > 1 && !strcmp(argv[1], "-m");
    char crash = argc > 1 && argv[1][0] == '-' && strchr("asSt", argv[1][1]) ? argv[1][1] : 0;
    struct sigaction cur;
    sigaction(SIGINT, NULL, &cur);
    printf("sigint: %s\n", cur.sa_handler == SIG_DFL   ? "dfl"
                           : cur.sa_handler == SIG_IGN ? "ign"
                                                       : "handler");
    if (own)
        printf("previous: %s\n", signal(SIGINT, on_int) == SIG_DFL ? "dfl" : "other");
    if (crash == 'S') {
        struct sigaction act, old;
        memset(&act, 0, sizeof act);
        act.sa_handler = on_segv;
        sigaction(SIGSEGV, &act, &old);
        printf("sigsegv: %s\n", old.sa_handler == SIG_DFL ? "dfl" : "other");
    }
    fflush(stdout);
    unsigned long x = 1;
    while (!caught) {
        x = spin(x);
        if (crash == 't') {
            pthread_t t[4];
            for (unsigned long i = 0; i < 4; i++)
                pthread_create(&t[i], NULL, crash_worker, (void *)(i + 1));
            while (!about_to_crash)
                usleep(100);
            usleep(5000);
            return 0;
        }
        if (crash && cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) >= 0.5) {
            if (crash == 'a')
                abort();
            *(volatile unsigned long *)(x & 1) = x; /* a null (or 1) pointer: SIGSEGV */
        }
    }
    printf("caught\n");
    return x == 0 ? 4 : 3;
}
