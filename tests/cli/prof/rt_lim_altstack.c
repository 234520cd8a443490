/*
 * rt_lim_altstack — the runtime's samples must stay within an alternate
 * signal stack's bounds: a SIGUSR1 handler on an 8 KB sigaltstack (inside a
 * larger buffer painted with a pattern) burns 300 ms of CPU, so samples
 * interrupt it there; then the buffer shows how deep the stack was used.
 * Prints "ok" when nothing was written below the alternate stack.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { REGION = 256 * 1024, ALT = 8192 };

static void burn(int sig)
{
    (void)sig;
    struct timespec t0, t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    do
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 300000000L);
}

int main(void)
{
    unsigned char *region = malloc(REGION);
    if (!region)
        return 1;
    memset(region, 0xAB, REGION);
    stack_t ss = {.ss_sp = region + REGION - ALT, .ss_size = ALT, .ss_flags = 0};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = burn;
    sa.sa_flags = SA_ONSTACK;
    if (sigaltstack(&ss, NULL) < 0 || sigaction(SIGUSR1, &sa, NULL) < 0)
        return 1;
    raise(SIGUSR1);
    size_t low = REGION;
    for (size_t i = 0; i < REGION; i++)
        if (region[i] != 0xAB) {
            low = i;
            break;
        }
    size_t used = REGION - low;
    if (used > ALT) {
        printf("%zu bytes used of an %d-byte alternate stack\n", used, ALT);
        return 1;
    }
    printf("ok\n");
    return 0;
}
