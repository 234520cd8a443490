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
 *   rt_ring nested OUTER N  dlopen and dlclose OUTER (rt_ringouter.c) N times:
 *                           its destructor calls dlclose, inside ours.
 *   rt_ring iconv N         open, use and close an iconv conversion to
 *                           each of 12 EBCDIC charsets, N times: glibc
 *                           loads and unloads their modules itself,
 *                           where no interposer sees it.
 *   rt_ring mainexit        the main thread calls pthread_exit while a
 *                           thread burns CPU for half a second: the
 *                           process must end when that thread does.
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
#include <iconv.h>
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

static int nested(const char *outer, int n)
{
    for (int i = 0; i < n; i++) {
        void *h = dlopen(outer, RTLD_NOW);
        int (*loaded)(void) = h ? (int (*)(void))dlsym(h, "rt_ringouter_loaded") : NULL;
        if (!loaded || !loaded()) {
            fprintf(stderr, "%s: %s\n", outer, h ? "no inner plugin" : dlerror());
            return 1;
        }
        dlclose(h);
    }
    return 0;
}

static int conversions(int n)
{
    static const char *const charsets[] = {"EBCDIC-US", "IBM037", "IBM1047", "IBM500",
                                           "IBM273",    "IBM277", "IBM278",  "IBM280",
                                           "IBM284",    "IBM285", "IBM297",  "IBM871"};
    static char in[32768], out[4 * sizeof(in)];
    memset(in, 'A', sizeof(in));
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < sizeof(charsets) / sizeof(charsets[0]); k++) {
            iconv_t c = iconv_open("UTF-8", charsets[k]);
            if (c == (iconv_t)-1) {
                perror(charsets[k]);
                return 1;
            }
            for (int r = 0; r < 2; r++) {
                char *ip = in, *op = out;
                size_t il = sizeof(in), ol = sizeof(out);
                iconv(c, &ip, &il, &op, &ol);
            }
            iconv_close(c);
        }
    return 0;
}

static void *burn_half_second(void *arg)
{
    (void)arg;
    volatile unsigned long x = 1;
    for (long i = 0; i < 400000000; i++)
        x = x * 6364136223846793005ul + 1442695040888963407ul;
    printf("mainexit done\n");
    fflush(stdout);
    return NULL;
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
    if (argc < 2) {
        fprintf(stderr, "usage: rt_ring deep DEPTH | churn PLUGIN N | nested OUTER N | iconv N | "
                        "mainexit | forks N LIB...\n");
        return 2;
    }
    if (!strcmp(argv[1], "mainexit")) {
        pthread_t t;
        pthread_create(&t, NULL, burn_half_second, NULL);
        pthread_exit(NULL);
    }
    if (!strcmp(argv[1], "deep") && argc == 3) {
        rt_ring_deep(atoi(argv[2]));
        printf("deep done\n");
        return 0;
    }
    pthread_t t;
    pthread_create(&t, NULL, burn, NULL);
    int rc = 2;
    if (!strcmp(argv[1], "churn") && argc == 4)
        rc = churn(argv[2], atoi(argv[3]));
    else if (!strcmp(argv[1], "nested") && argc == 4)
        rc = nested(argv[2], atoi(argv[3]));
    else if (!strcmp(argv[1], "iconv") && argc == 3)
        rc = conversions(atoi(argv[2]));
    else if (!strcmp(argv[1], "forks") && argc >= 3)
        rc = forks(atoi(argv[2]), argv + 3, argc - 3);
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    if (rc == 0)
        printf("%s done\n", argv[1]);
    return rc;
}
