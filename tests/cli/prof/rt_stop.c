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
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t caught;

static void on_int(int sig)
{
    (void)sig;
    caught = 1;
}

static int in_malloc;

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

int main(int argc, char **argv)
{
    int own = argc > 1 && !strcmp(argv[1], "-h");
    in_malloc = argc > 1 && !strcmp(argv[1], "-m");
    struct sigaction cur;
    sigaction(SIGINT, NULL, &cur);
    printf("sigint: %s\n", cur.sa_handler == SIG_DFL   ? "dfl"
                           : cur.sa_handler == SIG_IGN ? "ign"
                                                       : "handler");
    if (own)
        printf("previous: %s\n", signal(SIGINT, on_int) == SIG_DFL ? "dfl" : "other");
    fflush(stdout);
    unsigned long x = 1;
    while (!caught)
        x = spin(x);
    printf("caught\n");
    return x == 0 ? 4 : 3;
}
