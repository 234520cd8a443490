/*
 * rt_ring.c: what the runtime's ring route (lib/rt/ring.c) must survive,
 * for tests/cli/test_perfprof_record.sh. In churn and forks a second thread
 * burns CPU all the time, so samples keep coming and the reader keeps
 * unwinding.
 *
 *   rt_ring churn PLUGIN N  dlopen PLUGIN (rt_dlplug.c), run its code for
 *                           5 ms of CPU, dlclose it; N times. The reader
 *                           must never read the unwind tables of an object
 *                           that is gone (it would die of SIGSEGV).
 *   rt_ring deep DEPTH      burn CPU at the bottom of a recursion DEPTH
 *                           calls deep (about 128 bytes a frame), in main:
 *                           stacks deeper than the ring's copy are cut.
 *   rt_ring forks N LIB...  dlopen every LIB (many objects make the reader's
 *                           dl_iterate_phdr long), then fork N children
 *                           that exec /bin/true. A child born while the
 *                           reader was in dl_iterate_phdr inherited the
 *                           loader's lock taken, and hung at its exec.
 *
 * Prints "<mode> done" and exits 0.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static atomic_int stop;

static void *burn(void *arg)
{
    (void)arg;
    volatile unsigned long x = 1;
    while (!atomic_load(&stop))
        for (int i = 0; i < 100000; i++)
            x = x * 6364136223846793005ul + 1442695040888963407ul;
    return NULL;
}

__attribute__((noinline)) static unsigned long rt_ring_deep(int depth)
{
    volatile unsigned long frame[12];
    for (int i = 0; i < 12; i++)
        frame[i] = (unsigned long)depth * (unsigned long)i;
    if (depth > 0)
        return rt_ring_deep(depth - 1) + frame[depth % 12];
    volatile unsigned long x = 1; /* about half a second */
    for (long i = 0; i < 400000000; i++)
        x = x * 6364136223846793005ul + 1442695040888963407ul;
    return x + frame[0];
}

static int churn(const char *plugin, int n)
{
    for (int i = 0; i < n; i++) {
        void *h = dlopen(plugin, RTLD_NOW);
        if (!h) {
            fprintf(stderr, "dlopen: %s\n", dlerror());
            return 1;
        }
        unsigned long (*work)(unsigned) = (unsigned long (*)(unsigned))dlsym(h, "rt_dlplug_work");
        if (!work) {
            fprintf(stderr, "dlsym: %s\n", dlerror());
            return 1;
        }
        work(5);
        dlclose(h);
    }
    return 0;
}

static int forks(int n, char **libs, int nlibs)
{
    for (int i = 0; i < nlibs; i++)
        if (!dlopen(libs[i], RTLD_NOW)) {
            fprintf(stderr, "dlopen: %s\n", dlerror());
            return 1;
        }
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            execl("/bin/true", "true", (char *)NULL);
            _exit(127);
        }
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "child %d: status %#x\n", i, status);
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: rt_ring deep DEPTH | churn PLUGIN N | forks N LIB...\n");
        return 2;
    }
    if (!strcmp(argv[1], "deep")) {
        rt_ring_deep(atoi(argv[2]));
        printf("deep done\n");
        return 0;
    }
    pthread_t t;
    pthread_create(&t, NULL, burn, NULL);
    int rc = 2;
    if (!strcmp(argv[1], "churn") && argc == 4)
        rc = churn(argv[2], atoi(argv[3]));
    else if (!strcmp(argv[1], "forks"))
        rc = forks(atoi(argv[2]), argv + 3, argc - 3);
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    if (rc == 0)
        printf("%s done\n", argv[1]);
    return rc;
}
