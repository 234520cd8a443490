/*
 * rt_fds: programs that close or take over fd numbers the profiler's
 * runtime uses, for tests/cli/test_perfprof_record.sh. Each exits 0 when
 * its files came through untouched, 1 (with a line on stderr) otherwise.
 *
 *   rt_fds copy IN OUT   close every fd >= 3, open IN (fd 3) and OUT (fd 4),
 *                        run a thread, copy IN to OUT
 *   rt_fds mask          close every fd >= 3, open three files (fds 3-5),
 *                        block every signal, write a line to each
 *   rt_fds fork FILE     close every fd >= 3, open FILE, compute, fork; the
 *                        child writes to the inherited fd
 *   rt_fds squat FILE    put FILE (or an eventfd where the number is a perf
 *                        event) at every fd number >= 3 the process has
 *                        not opened itself, wherever the runtime put them;
 *                        then start threads, block signals, end threads,
 *                        fork and exec, and check after each that every
 *                        number still is the program's, FILE unchanged
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { MAX_SQUAT = 256 };
static const char content[] = "squat\n";

static volatile unsigned long sink;

__attribute__((noinline)) static unsigned long spin(int depth)
{
    if (depth > 0)
        return spin(depth - 1) + 1;
    unsigned long x = 0;
    for (unsigned long i = 0; i < 2000; i++)
        x += i * i;
    return x;
}

/* About `ms` milliseconds of CPU in a few frames, for samples to land in. */
static void compute(int ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    do {
        for (int r = 0; r < 200; r++)
            sink += spin(r % 20);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
}

static void close_from_3(void)
{
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
}

static void *work(void *arg)
{
    compute((int)(intptr_t)arg);
    return NULL;
}

static int run_copy(const char *in_path, const char *out_path)
{
    close_from_3();
    int in = open(in_path, O_RDONLY);
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in != 3 || out != 4) {
        fprintf(stderr, "copy: in=fd %d out=fd %d, want 3 and 4\n", in, out);
        return 1;
    }
    pthread_t t;
    pthread_create(&t, NULL, work, (void *)(intptr_t)200);
    pthread_join(t, NULL);
    char buf[4096];
    ssize_t n;
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)n) != n) {
            perror("copy: write");
            return 1;
        }
    return n < 0 ? (perror("copy: read"), 1) : 0;
}

static int run_mask(void)
{
    close_from_3();
    int fds[3];
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof(name), "mask-%d.txt", i);
        fds[i] = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    }
    compute(50);
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    int bad = 0;
    for (int i = 0; i < 3; i++)
        if (write(fds[i], "hello\n", 6) != 6) {
            fprintf(stderr, "mask: write to fd %d: %s\n", fds[i], strerror(errno));
            bad = 1;
        }
    return bad;
}

static int run_fork(const char *path)
{
    close_from_3();
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    compute(100);
    pid_t pid = fork();
    if (pid == 0) {
        compute(20);
        if (write(fd, "child\n", 6) != 6) {
            fprintf(stderr, "fork: child's write to fd %d: %s\n", fd, strerror(errno));
            _exit(1);
        }
        _exit(0);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return 1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

/* ---- squat ------------------------------------------------------------ */

struct squat {
    int fd;
    char kind; /* 'f' the file, 'e' the eventfd */
};

static struct squat squats[MAX_SQUAT];
static int nsquats, file_fd = -1, event_fd = -1;
static atomic_int stage;

static int link_is(int fd, const char *want)
{
    char path[64], target[256];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    if (n < 0)
        return 0;
    target[n] = '\0';
    return strstr(target, want) != NULL;
}

/* Every squatted number still the program's, and the file unchanged: failures. */
static int check_all(const char *when)
{
    int bad = 0;
    struct stat want, st;
    if (fstat(file_fd, &want) < 0) {
        fprintf(stderr, "%s: the file's own fd %d: %s\n", when, file_fd, strerror(errno));
        return 1;
    }
    for (int i = 0; i < nsquats; i++) {
        int fd = squats[i].fd;
        if (squats[i].kind == 'f') {
            if (fstat(fd, &st) < 0 || st.st_dev != want.st_dev || st.st_ino != want.st_ino) {
                fprintf(stderr, "%s: fd %d is no longer the program's file\n", when, fd);
                bad++;
            }
            continue;
        }
        /* The same eventfd: a count added through event_fd is read through fd. */
        uint64_t one = 1, got = 0;
        int flags = fcntl(fd, F_GETFL);
        if (!link_is(fd, "[eventfd]") || flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
            write(event_fd, &one, 8) != 8 || read(fd, &got, 8) != 8 || got != 1) {
            fprintf(stderr, "%s: fd %d is no longer the program's eventfd\n", when, fd);
            bad++;
        }
        if (flags >= 0)
            fcntl(fd, F_SETFL, flags);
    }
    char buf[64];
    ssize_t n = pread(file_fd, buf, sizeof(buf), 0);
    off_t at = lseek(file_fd, 0, SEEK_CUR);
    if (n != (ssize_t)strlen(content) || memcmp(buf, content, strlen(content)) != 0 ||
        at != (off_t)strlen(content)) {
        fprintf(stderr, "%s: the file changed (%zd bytes, offset %lld)\n", when, n, (long long)at);
        bad++;
    }
    return bad;
}

/* Put the file (an eventfd on a perf event's number) on every fd we did not open. */
static void squat_all(void)
{
    int numbers[MAX_SQUAT], n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        perror("opendir /proc/self/fd");
        exit(1);
    }
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_SQUAT) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && fd > 2 && fd != file_fd &&
            fd != event_fd && fd != dirfd(d))
            numbers[n++] = fd;
    }
    closedir(d);
    for (int i = 0; i < n; i++) {
        char kind = link_is(numbers[i], "perf_event") ? 'e' : 'f';
        if (dup2(kind == 'e' ? event_fd : file_fd, numbers[i]) < 0)
            continue;
        squats[nsquats].fd = numbers[i];
        squats[nsquats].kind = kind;
        nsquats++;
    }
}

static void wait_stage(int s)
{
    struct timespec ms = {0, 1000000};
    while (atomic_load(&stage) < s)
        nanosleep(&ms, NULL);
}

/* Started before the squat: blocks every signal after it, then exits. */
static void *blocker(void *arg)
{
    (void)arg;
    compute(20);
    wait_stage(1);
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    compute(20);
    return (void *)(intptr_t)check_all("after a thread blocked its signals");
}

/* Started before the squat: just ends after it. */
static void *ender(void *arg)
{
    (void)arg;
    compute(20);
    wait_stage(1);
    return NULL;
}

/* Started before the squat: still alive at fork and exec. */
static void *sleeper(void *arg)
{
    (void)arg;
    compute(20);
    for (;;)
        pause();
    return NULL;
}

static int run_squat(const char *path, const char *self)
{
    file_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    event_fd = eventfd(0, 0);
    if (file_fd < 0 || event_fd < 0 || write(file_fd, content, strlen(content)) != 6) {
        perror("squat: setup");
        return 1;
    }
    pthread_t b, e, s, w;
    pthread_create(&b, NULL, blocker, NULL);
    pthread_create(&e, NULL, ender, NULL);
    pthread_create(&s, NULL, sleeper, NULL);
    compute(60); /* the three have started and computed */
    squat_all();
    int bad = check_all("after the squat");

    /* A new thread unwinds (libunwind checks memory through its pipe) and is sampled. */
    pthread_create(&w, NULL, work, (void *)(intptr_t)200);
    pthread_join(w, NULL);
    bad += check_all("after a new thread");

    atomic_store(&stage, 1);
    void *ret;
    pthread_join(b, &ret);
    bad += (int)(intptr_t)ret;
    pthread_join(e, NULL);
    bad += check_all("after a thread ended");

    sigset_t trap;
    sigemptyset(&trap);
    sigaddset(&trap, SIGTRAP);
    sigprocmask(SIG_BLOCK, &trap, NULL);
    compute(100);
    bad += check_all("after the main thread blocked SIGTRAP");

    pid_t pid = fork();
    if (pid == 0) {
        compute(50);
        _exit(check_all("in a forked child") ? 1 : 0);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        bad++;
    bad += check_all("after fork");
    if (bad)
        return 1;

    /* exec: the squatted numbers are not close-on-exec and must arrive intact. */
    char **argv = calloc((size_t)nsquats + 6, sizeof(char *));
    char num[3][16];
    snprintf(num[0], sizeof(num[0]), "%d", file_fd);
    snprintf(num[1], sizeof(num[1]), "%d", event_fd);
    int a = 0;
    argv[a++] = (char *)self;
    argv[a++] = "squat-check";
    argv[a++] = num[0];
    argv[a++] = num[1];
    for (int i = 0; i < nsquats; i++) {
        char *arg = malloc(16);
        snprintf(arg, 16, "%c%d", squats[i].kind, squats[i].fd);
        argv[a++] = arg;
    }
    argv[a] = NULL;
    execv(self, argv);
    perror("squat: exec");
    return 1;
}

static int run_squat_check(int argc, char **argv)
{
    file_fd = atoi(argv[2]);
    event_fd = atoi(argv[3]);
    for (int i = 4; i < argc && nsquats < MAX_SQUAT; i++) {
        squats[nsquats].kind = argv[i][0];
        squats[nsquats].fd = atoi(argv[i] + 1);
        nsquats++;
    }
    if (check_all("after exec"))
        return 1;
    printf("squat: %d fds checked\n", nsquats);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "copy"))
        return run_copy(argv[2], argv[3]);
    if (argc == 2 && !strcmp(argv[1], "mask"))
        return run_mask();
    if (argc == 3 && !strcmp(argv[1], "fork"))
        return run_fork(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "squat"))
        return run_squat(argv[2], argv[0]);
    if (argc >= 4 && !strcmp(argv[1], "squat-check"))
        return run_squat_check(argc, argv);
    fprintf(stderr, "usage: rt_fds copy IN OUT | mask | fork FILE | squat FILE\n");
    return 2;
}
