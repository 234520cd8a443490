/*
 * rt_forkchurn.c: forks while other threads dlopen and dlclose, for
 * tests/cli/test_perfprof_record.sh.
 *
 *   rt_forkchurn PLUGIN N   two threads dlopen and dlclose PLUGIN in a loop;
 *                           the main thread forks N children that _exit(0)
 *                           at once, one after the other.
 *
 * glibc 2.36 resets dl_load_lock in a fork child but not dl_load_write_lock,
 * which a dlopen or dlclose of another thread (or its dl_iterate_phdr) holds
 * a good part of the time here: a child born then has it taken for ever. Bare,
 * these children never touch it; the runtime's _exit writes the child's part,
 * and once waited for it there (the module list comes from dl_iterate_phdr).
 * A child that has not ended after 60 s hung: it is killed and reported.
 *
 * Prints "forkchurn done" and exits 0; 1 when a child hung or failed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { CHURN_THREADS = 2, HANG_MS = 60000 };

static atomic_int stop;
static atomic_long rounds; /* dlopen+dlclose pairs done by the churn threads */

static void *churn(void *arg)
{
    const char *plugin = arg;
    while (!atomic_load(&stop)) {
        void *h = dlopen(plugin, RTLD_NOW);
        if (!h) {
            fprintf(stderr, "dlopen: %s\n", dlerror());
            exit(1);
        }
        dlclose(h);
        atomic_fetch_add(&rounds, 1);
    }
    return NULL;
}

static void nap_ms(void)
{
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
}

/* The child's status, or -1 when it has not ended in HANG_MS (then it is killed). */
static int wait_child(pid_t pid)
{
    int status;
    for (int ms = 0; ms < HANG_MS; ms++) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid)
            return status;
        if (got < 0)
            return -2;
        nap_ms();
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: rt_forkchurn PLUGIN N\n");
        return 2;
    }
    int n = atoi(argv[2]);
    pthread_t t[CHURN_THREADS];
    for (int i = 0; i < CHURN_THREADS; i++)
        pthread_create(&t[i], NULL, churn, argv[1]);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        /* Some churn between two forks, even when the machine is busy. */
        long seen = atomic_load(&rounds);
        while (atomic_load(&rounds) < seen + 2)
            nap_ms();
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            rc = 1;
            break;
        }
        if (pid == 0)
            _exit(0);
        int status = wait_child(pid);
        if (status == -1) {
            fprintf(stderr, "child %d of %d (pid %d) hung\n", i + 1, n, (int)pid);
            rc = 1;
        } else if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "child %d of %d: status %#x\n", i + 1, n, status);
            rc = 1;
        }
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < CHURN_THREADS; i++)
        pthread_join(t[i], NULL);
    if (rc == 0)
        printf("forkchurn done\n");
    return rc;
}
