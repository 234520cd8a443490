/* rt_lim_overflow.c — catches its own stack overflow, as language runtimes
 * do: a SIGSEGV handler on an alternate signal stack (sigaltstack,
 * SA_ONSTACK) siglongjmps out of a recursion that does CPU work at every
 * level until the stack runs out. `main` recurses on the main thread (run
 * it under a small `ulimit -s`), `thread` in a thread with a 512 KiB stack,
 * `small` 500 times in a thread with a 24 KiB stack, reading a byte from
 * /dev/zero after each (a sample that overflowed mid-unwinding left the
 * runtime's read interposer switched to libunwind's pipe: EBADF).
 * Prints "caught stack overflow" and exits 0; a profiler whose sample
 * handler overflows the stack kills it with SIGSEGV instead. */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile unsigned long sink;
static __thread sigjmp_buf escape;

static void on_segv(int sig)
{
    (void)sig;
    siglongjmp(escape, 1);
}

__attribute__((noinline)) static unsigned long rt_lim_deep(unsigned long n)
{
    volatile char pad[480];
    memset((char *)pad, (int)n, sizeof(pad));
    for (unsigned long i = 0; i < 60000; i++)
        sink += i;
    return rt_lim_deep(n + 1) + pad[n % sizeof(pad)];
}

static void *overflow(void *arg)
{
    int rounds = arg ? *(int *)arg : 1, fd = open("/dev/zero", O_RDONLY);
    stack_t ss = {.ss_sp = malloc(1 << 16), .ss_size = 1 << 16, .ss_flags = 0};
    if (!ss.ss_sp || sigaltstack(&ss, NULL) < 0 || fd < 0)
        return (void *)1;
    for (int i = 0; i < rounds; i++) {
        char c;
        if (sigsetjmp(escape, 1) == 0)
            sink += rt_lim_deep(0);
        if (read(fd, &c, 1) != 1) {
            perror("read after an overflow");
            return (void *)1;
        }
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_segv;
    sa.sa_flags = SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, NULL) < 0)
        return 2;
    void *rc = NULL;
    int small = argc > 1 && strcmp(argv[1], "small") == 0, rounds = small ? 500 : 1;
    if (argc > 1 && (small || strcmp(argv[1], "thread") == 0)) {
        pthread_attr_t attr;
        pthread_t t;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, small ? 24 << 10 : 512 << 10);
        if (pthread_create(&t, &attr, overflow, &rounds) != 0)
            return 2;
        pthread_join(t, &rc);
    } else {
        rc = overflow(NULL);
    }
    if (rc)
        return 2;
    printf("caught stack overflow\n");
    return 0;
}
