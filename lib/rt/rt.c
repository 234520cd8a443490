/*
 * rt.c — libperfprof-rt.so, the sampling runtime `perfprof record` preloads.
 *
 * Configured by the environment (nothing happens without PERFPROF_OUT):
 *   PERFPROF_OUT     base path; each process writes "<base>.part-<pid>-<ns>"
 *   PERFPROF_HZ      samples per CPU-second per thread (default 999)
 *   PERFPROF_MODE    "trap": perf events per thread with SIGTRAP;
 *                    "signal": perf events with a real-time signal;
 *                    "timer": the POSIX CPU timer (capped at the tick)
 *   PERFPROF_STACK   bytes of stack the ring route copies per sample (8192)
 *   PERFPROF_SIGNAL  the signal number to use (default SIGRTMIN+6)
 *   PERFPROF_DEBUG   print one line of statistics to stderr at exit
 *
 * How it samples, by default: without a signal (ring.c). Per-CPU perf
 * events, inherited by every thread, copy each sample's registers and the
 * top of its stack into ring buffers; a reader thread of ours unwinds them.
 * Where the kernel or the memory limits refuse that, it falls back to the
 * signal routes below, which PERFPROF_MODE also chooses.
 *
 * The signal routes: each thread gets its own perf_event_open software
 * cpu-clock event (hrtimer driven, not capped by the kernel tick). By default
 * the event is opened with sigtrap=1: the kernel queues the signal as task
 * work and delivers SIGTRAP (si_code TRAP_PERF, our cookie in si_perf_data)
 * on the thread's way back to user mode. That costs half what the older
 * route costs on a VM (+1.6% CPU instead of +3.4% at 1 kHz with an empty
 * handler, measured here), because the older route, a real-time signal sent
 * through fasync (F_SETOWN_EX with F_OWNER_TID, F_SETSIG, O_ASYNC), raises a
 * self-IPI per sample. SIGTRAP is the program's too, so sigaction and signal
 * are interposed for it: the program's handler is remembered and called (under
 * its own mask) for every SIGTRAP that is not a sample, and SIG_DFL/SIG_IGN
 * are honoured. The masks are interposed too: a thread that blocks SIGTRAP
 * (or is born with it blocked) moves to the fasync route, so a pending
 * sample never swallows the program's own SIGTRAP; so does every thread once
 * the program ignores SIGTRAP, which the kernel then ignores too (children of
 * system() inherit that). PERFPROF_MODE=signal takes the fasync route for
 * every thread (as do kernels before 5.13 and a process started under a
 * tracer, whom SIGTRAP would stop), and it is the fallback. When perf
 * events are not allowed at all it falls back to
 * timer_create(CLOCK_THREAD_CPUTIME_ID) with SIGEV_THREAD_ID. The real-time
 * signal rather than SIGPROF leaves a program's own SIGPROF handler (and its
 * setitimer profiling) alone.
 *
 * The signal handler is async-signal-safe: it unwinds with unw_backtrace
 * into a buffer on its own stack, then counts the stack in a preallocated
 * lock-free hash table (stacks deduplicated, compare-and-swap to claim a
 * slot, a bump allocator for the addresses). No malloc, no locks, no stdio;
 * an initial-exec TLS flag guards against re-entry and marks moments that
 * are unsafe to unwind in (dlopen, dlmopen, dlclose). Every thread
 * unwinds once outside the handler before its timer is armed, so
 * libunwind's first-use initialisation never happens inside the handler.
 *
 * The program's fds are its own: the runtime's (perf events, libunwind's
 * memory-check pipe) are moved high, and none is closed or ioctl'd unless
 * fstat (and PERF_EVENT_IOC_ID) shows it still is ours, since a program may
 * close every fd and reuse the numbers; read, close and pipe2 are
 * interposed to hold libunwind's pipe to the same rule (unw_read).
 *
 * The fd numbers below RLIMIT_NOFILE are the program's: the threads hold
 * perf fds for at most a quarter of the limit (the others sample by a CPU
 * timer, which needs none), and when the program's open, socket, pipe and
 * the like fail with EMFILE/ENFILE while we hold some, one is given back
 * (its thread moves to a CPU timer) and the call is made again.
 *
 * The handler runs on the interrupted stack: within RT_STACK_RESERVE of the
 * thread's stack end (bounds taken at thread start), or off that stack (on
 * an alternate signal stack), it drops the sample rather than overflow it,
 * so a program that catches its own overflow still can.
 *
 * New threads: pthread_create is interposed; a thread's slot is given back
 * when it ends and taken again by a later thread. So is the frame cache
 * libunwind maps for each thread that unwinds (256 KiB, made by the warm-up
 * unwind): up to RT_UNW_CACHES_KEPT of them are kept as their threads end
 * and handed to the next threads, through interposed mmap and munmap that
 * look at those calls only (unw_cache_take); a new mapping's page faults
 * were most of what a short thread cost on the signal routes. fork: a
 * pthread_atfork child handler gives the child a fresh table and re-arms
 * its one thread. exec: the exec family is interposed to write this
 * image's part first; the new image is profiled because LD_PRELOAD and
 * PERFPROF_* stay in its environment. _exit/_Exit are interposed to write
 * the part too.
 *
 * Ctrl-C: SIGINT, SIGTERM and SIGHUP left at their default (the program set
 * no handler) get one of ours that hands the signal to the ring's reader,
 * which writes the part and then dies of the same signal, so a long run
 * stopped by hand keeps its profile and its exit status (the signal routes
 * have no such thread: there the process dies at once, as it would). The
 * program sees SIG_DFL there; its own handler or SIG_IGN replaces ours.
 *
 * This file holds the one documented exception to "no mutable globals": the
 * state shared between the signal handler and the rest of the runtime.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "fd.h"
#include "format.h"
#include "ring.h"

#define RT_EXPORT __attribute__((visibility("default")))
#define RT_TLS __attribute__((tls_model("initial-exec")))

enum {
    RT_MAX_THREADS = 8192,
    RT_TABLE_SIZE = 1 << 16, /* distinct stacks (power of two) */
    RT_POOL_WORDS = 1 << 21, /* addresses stored across all stacks */
    RT_MAX_PROBES = 128,
    RT_SKIP_MAX = 24, /* handler frames to look through for the interrupted PC */
    RT_DEFAULT_HZ = 999,
    RT_STACK_RESERVE = 32 << 10,         /* stack left below on_sample for a sample to be taken */
    RT_DEFAULT_STACK_COPY = 8192,        /* bytes of stack per sample on the ring route */
    RT_UNW_CACHE_BYTES = (1 << 14) * 16, /* libunwind's first frame cache of a thread */
    RT_UNW_CACHES_KEPT = 16,             /* of those, kept for later threads when theirs end */
};

#ifndef TRAP_PERF
#define TRAP_PERF 6 /* si_code of a perf event's SIGTRAP (asm-generic/siginfo.h) */
#endif

/* si_perf_data of our events' SIGTRAPs ("pprt"): other SIGTRAPs are the program's. */
#define RT_TRAP_COOKIE 0x70707274ul
/* si_value of the real-time signal that asks a thread to stop taking SIGTRAP samples. */
#define RT_LEAVE_TRAP_COOKIE 0x6c656176ul
/* si_value of the real-time signal that asks a thread to arm again after a failed exec. */
#define RT_REARM_COOKIE 0x7265726dul
/* si_value of the real-time signal that asks a thread whose perf fd was given back to the
 * program to sample by a CPU timer. */
#define RT_TIMER_COOKIE 0x74696d72ul

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef int (*sigmask_fn)(int, const sigset_t *, sigset_t *);
typedef ssize_t (*read_fn)(int, void *, size_t);
typedef int (*close_fn)(int);
typedef int (*pipe2_fn)(int[2], int);
typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);
typedef int (*munmap_fn)(void *, size_t);
typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

/* A thread slot's life: taken by a thread, given back when it ends, taken again. */
enum {
    RT_SLOT_UNUSED = 0,  /* never handed out */
    RT_SLOT_LIVE = 1,    /* a running thread's */
    RT_SLOT_DEAD = 2,    /* its thread has ended: free to take again */
    RT_SLOT_CLAIMED = 3, /* being set up for a new thread */
};

struct rt_thread {
    _Atomic int state; /* RT_SLOT_* */
    pid_t tid;
    int route;      /* PPRT_MODE_* this thread samples by */
    _Atomic int fd; /* perf event, or -1; whoever swaps it to -1 closes it */
    /* What fd is: the program may have closed the number and reused it. */
    struct rt_fd_id fd_id;
    _Atomic int has_timer; /* whoever swaps it to 0 deletes the timer */
    timer_t timer;
    _Atomic int to_timer; /* its perf fd was given back to the program: take a CPU timer */
    int stopped;          /* the thread has ended (or is ending) */
    int exec_route;       /* the route an exec stopped, to take again if it fails */
    _Atomic uint64_t samples;
};

struct rt_entry {
    _Atomic uint64_t state; /* 0 empty, 1 being written, else the stack's hash */
    _Atomic uint64_t count;
    uint32_t off;
    uint32_t depth;
};

struct out_buf {
    unsigned char *data;
    size_t len, cap;
    int failed;
};

static struct {
    int active;
    int mode;
    int sig;
    _Atomic int trap_installed;  /* our handler is on SIGTRAP; the program's is trap_prev */
    _Atomic int trap_installing; /* 1 while a thread installs it, 2 once done */
    struct sigaction trap_prev;
    _Atomic unsigned trap_seq;  /* odd while trap_prev is being written */
    _Atomic int trap_lock;      /* one writer of trap_prev at a time */
    _Atomic int trap_off;       /* the program ignores SIGTRAP: no thread samples by it */
    _Atomic unsigned stop_ours; /* bit per signal: our on_stop stands in for its SIG_DFL */
    sigaction_fn real_sigaction;
    sighandler_t (*real_signal)(int, sighandler_t);
    sigmask_fn real_pthread_sigmask, real_sigprocmask;
    read_fn real_read;
    close_fn real_close;
    pipe2_fn real_pipe2;
    mmap_fn real_mmap;
    munmap_fn real_munmap;
    pthread_create_fn real_pthread_create;
    /* Frame caches libunwind gave back as their threads ended (unw_cache_take), or NULL. */
    _Atomic(void *) unw_caches[RT_UNW_CACHES_KEPT];
    unsigned hz;
    unsigned stack_bytes; /* copied per sample by the ring route */
    struct rt_ring *ring; /* the ring route's, or NULL */
    int debug;
    pid_t pid;
    char out[PATH_MAX];
    uint64_t start_ns;
    uint64_t start_user_ns, start_sys_ns;
    struct rt_thread *threads;
    _Atomic uint32_t nslots;     /* slots ever handed out (the rest are RT_SLOT_UNUSED) */
    _Atomic uint32_t nthreads;   /* threads registered (sampled) over the lifetime */
    _Atomic uint32_t unsampled;  /* threads that found no free slot */
    _Atomic int perf_fds;        /* perf event fds the threads hold */
    _Atomic uint32_t reuse_hint; /* where to look for a dead slot next */
    struct rt_entry *table;
    /* The table's slots in the order they were taken, each as index + 1 (0:
     * its taker has not written it yet), so that a part is written in time
     * proportional to its stacks, not to the table: a fork child that lives
     * briefly would otherwise scan (and fault in) all of it. */
    _Atomic uint32_t *taken;
    _Atomic uint32_t ntaken;
    uintptr_t *pool;
    _Atomic size_t pool_used;
    _Atomic uint64_t samples;
    _Atomic uint64_t lost;
    _Atomic uint32_t cut; /* samples whose stack went on deeper than the ring's copy */
    _Atomic int stopping;
    _Atomic int written;
    _Atomic int write_done;      /* the part written holds (or failed): written and finished */
    _Atomic int stop_sig;        /* a stop signal on_stop handed to the ring's reader */
    _Atomic int crash_sig;       /* a crash on_crash waits on while the reader writes */
    _Atomic unsigned stop_count; /* stop signals on_stop took; the third ends it at once */
    char part[PATH_MAX + 64];    /* the part write_part wrote, or "" */
    /* Module records of libraries dlclose'd during the run: the part's
     * module list is taken at exit, when they are gone. */
    struct out_buf retired;
    _Atomic int retired_lock;
    int loader_stuck; /* a fork child born with the loader's lock held: never walk (dlopen) */
} g;

static __thread struct rt_thread *tls_self RT_TLS;
static __thread int tls_busy RT_TLS;
static __thread int tls_writing RT_TLS;        /* this thread is in write_part */
static __thread int tls_reader RT_TLS;         /* the ring's reader thread (seen in its idle) */
static __thread int tls_sampling RT_TLS;       /* in on_sample's unwinding */
static __thread sigset_t tls_fork_mask RT_TLS; /* the mask to restore after fork */
static __thread int tls_unwinding RT_TLS;      /* in our unw_backtrace, signals blocked */
static __thread int tls_unw_reopen RT_TLS;     /* libunwind is replacing its pipe (unw_read) */
static __thread int tls_starting_ring RT_TLS;  /* in rt_ring_start: its pipes go high */
static __thread void *tls_unw_cache RT_TLS;    /* libunwind's frame cache of this thread */
/* This thread's stack, [lo, hi); 0, 0 when unknown. */
static __thread uintptr_t tls_stack_lo RT_TLS;
static __thread uintptr_t tls_stack_hi RT_TLS;

typedef void (*any_fn)(void);

/* The next definition of `name` (libc's), as a function pointer. */
static any_fn next_fn(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    any_fn f;
    memcpy(&f, &p, sizeof(f));
    return f;
}

/* ---- small helpers -------------------------------------------------- */

static uint64_t now_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void cpu_times(uint64_t *user, uint64_t *sys)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user = (uint64_t)ru.ru_utime.tv_sec * 1000000000u + (uint64_t)ru.ru_utime.tv_usec * 1000u;
    *sys = (uint64_t)ru.ru_stime.tv_sec * 1000000000u + (uint64_t)ru.ru_stime.tv_usec * 1000u;
}

static void debug_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void debug_line(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0) {
        size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
        ssize_t w = write(STDERR_FILENO, line, len);
        (void)w;
    }
}

static void *map_zeroed(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* How many thread slots have ever been handed out (the others are unused). */
static uint32_t slots_used(void)
{
    uint32_t n = atomic_load(&g.nslots);
    return n > RT_MAX_THREADS ? RT_MAX_THREADS : n;
}

/* Slot i if a running thread holds it, else NULL. */
static struct rt_thread *live_slot(uint32_t i)
{
    struct rt_thread *t = &g.threads[i];
    return atomic_load_explicit(&t->state, memory_order_acquire) == RT_SLOT_LIVE ? t : NULL;
}

/* ---- the runtime's own fds (also signal context) -------------------- */

/*
 * A program may close any fd, ours too (closefrom(3), a loop up to 1024, a
 * daemon's start), and then get the number back from open or dup2. So the
 * runtime keeps its fds (perf events, libunwind's pipe) high, away from the
 * numbers programs are given, and never closes or ioctls a number without
 * checking that it still is the file it opened: the same st_dev/st_ino, and
 * for a perf event the same PERF_EVENT_IOC_ID (every anon-inode fd, eventfd
 * and epoll alike, has the one inode). fstat, fcntl, ioctl and close are
 * system calls, safe in the handler. A thread whose event the program closed
 * is not sampled until it next arms (leave_trap, fork, a failed exec).
 */

/* Publish `fd` as t's event (what it is first, then the number). */
static void note_perf_fd(struct rt_thread *t, int fd)
{
    t->fd_id = rt_fd_id_of(fd);
    atomic_fetch_add(&g.perf_fds, 1);
    atomic_store_explicit(&t->fd, fd, memory_order_release);
}

/*
 * Take t's event away and close it if it still is ours. The number is
 * swapped out first: the thread itself and another (give_back_fd, exec)
 * may both try, and only one may close it, or the second would close a
 * file the program opened on the freed number meanwhile. Returns whether
 * an fd was closed.
 */
static int close_perf_fd(struct rt_thread *t)
{
    int fd = atomic_exchange(&t->fd, -1);
    if (fd < 0)
        return 0;
    atomic_fetch_sub(&g.perf_fds, 1);
    if (!rt_fd_is(fd, &t->fd_id))
        return 0;
    rt_fd_close(fd);
    return 1;
}

/*
 * libunwind 1.6.2 checks memory before reading it (when DWARF unwinding
 * fails, through signal frames) by writing a byte of it into a private pipe
 * and reading it back (x86_64/Ginit.c write_validate). It keeps the pipe's
 * two numbers in a static array: it reads one byte from the first; if that
 * fails (not EAGAIN) it closes both numbers and opens a new pipe; then it
 * writes to the second. Once the program had closed the pipe and reopened
 * the numbers, that read its input, wrote NULs into its output, or closed
 * its files. Its read, close and pipe2 go through the interposers below:
 * while our thread is inside unw_backtrace (tls_unwinding, its signals
 * blocked), a one-byte read is that check and passes only when both numbers
 * still are our pipe; otherwise it fails with EBADF, the closes that follow
 * close only what still is the pipe, and the new pipe is put high.
 */
static struct {
    _Atomic int r, w; /* the pipe we gave libunwind, or -1 */
    _Atomic dev_t dev;
    _Atomic ino_t ino;
} unw_pipe = {-1, -1, 0, 0};

static int is_unw_pipe(int fd)
{
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
           st.st_dev == atomic_load(&unw_pipe.dev) && st.st_ino == atomic_load(&unw_pipe.ino);
}

static ssize_t unw_read(int fd, void *buf)
{
    int r = atomic_load(&unw_pipe.r), w = atomic_load(&unw_pipe.w);
    if (fd != r || !is_unw_pipe(r) || !is_unw_pipe(w)) {
        tls_unw_reopen = 1;
        errno = EBADF;
        return -1;
    }
    ssize_t n = syscall(SYS_read, fd, buf, 1);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        tls_unw_reopen = 1;
    return n;
}

static int unw_close(int fd)
{
    int r = atomic_load(&unw_pipe.r), w = atomic_load(&unw_pipe.w);
    if (fd >= 0 && (fd == r || fd == w)) {
        if (!is_unw_pipe(fd))
            return errno = EBADF, -1; /* the program's now */
        int expect = fd;
        atomic_compare_exchange_strong(fd == r ? &unw_pipe.r : &unw_pipe.w, &expect, -1);
        return (int)syscall(SYS_close, fd);
    }
    if (tls_unw_reopen)
        return errno = EBADF, -1;       /* a number libunwind had before the pipe was ours */
    return (int)syscall(SYS_close, fd); /* a file libunwind opened itself */
}

static int unw_pipe2(int fds[2], int flags)
{
    if (syscall(SYS_pipe2, fds, flags) < 0) {
        /* libunwind writes to fds[1] anyway: not to the old number, which is not ours. */
        fds[0] = fds[1] = -1;
        return -1;
    }
    fds[0] = rt_fd_move_high(fds[0]);
    fds[1] = rt_fd_move_high(fds[1]);
    struct stat st;
    if (fstat(fds[0], &st) == 0) {
        atomic_store(&unw_pipe.dev, st.st_dev);
        atomic_store(&unw_pipe.ino, st.st_ino);
        atomic_store(&unw_pipe.r, fds[0]);
        atomic_store(&unw_pipe.w, fds[1]);
    }
    tls_unw_reopen = 0;
    return 0;
}

/* unw_backtrace with the pipe guarded; the caller has blocked the signals (all but
 * SIGSEGV in the handler, sampling_action). */
static int guarded_backtrace(void **buf, int n)
{
    int old = tls_unwinding;
    tls_unwinding = 1;
    tls_unw_reopen = 0;
    int got = unw_backtrace(buf, n);
    tls_unwinding = old;
    return got;
}

/* ---- libunwind's frame caches (also signal context) ------------------ */

/*
 * libunwind 1.6.2 gives each thread that calls unw_backtrace a frame cache
 * of its own (x86_64/Gtrace.c): RT_UNW_CACHE_BYTES mmap'ed and written
 * whole at the thread's first unwind (ours, in thread_start), munmap'ed by
 * a thread-specific-data destructor when the thread ends. A fresh mapping
 * costs 64 page faults and an munmap: about 75 us of the 85 us the signal
 * routes added to a short thread's life here. So the caches of ended
 * threads are kept (up to RT_UNW_CACHES_KEPT) for the threads that come
 * next. mmap and munmap are interposed, and only two calls are looked at:
 * an mmap of exactly that size, anonymous, private, read-write, anywhere,
 * made inside our unw_backtrace (tls_unwinding), gets a kept mapping,
 * zeroed as a new one would be, and the thread notes its address; a munmap
 * of exactly that address and size by the same thread (libunwind's
 * destructor, or its cache growing) keeps the mapping. Every other call
 * goes to libc. Taking and keeping are an exchange per slot: lock-free, as
 * the handler may unwind in a thread whose cache is not made yet.
 */
static void *unw_cache_take(void)
{
    for (int i = 0; i < RT_UNW_CACHES_KEPT; i++) {
        void *p = atomic_exchange_explicit(&g.unw_caches[i], NULL, memory_order_acquire);
        if (p)
            return p;
    }
    return NULL;
}

/* Keep p for a later thread; 0 when every slot is full (the caller unmaps it). */
static int unw_cache_keep(void *p)
{
    for (int i = 0; i < RT_UNW_CACHES_KEPT; i++) {
        void *empty = NULL;
        if (atomic_load_explicit(&g.unw_caches[i], memory_order_relaxed) == NULL &&
            atomic_compare_exchange_strong_explicit(&g.unw_caches[i], &empty, p,
                                                    memory_order_release, memory_order_relaxed))
            return 1;
    }
    return 0;
}

static int is_unw_cache_map(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return tls_unwinding && !addr && len == RT_UNW_CACHE_BYTES &&
           prot == (PROT_READ | PROT_WRITE) && flags == (MAP_PRIVATE | MAP_ANONYMOUS) && fd == -1 &&
           off == 0;
}

/* ---- the stack table (signal context) ------------------------------- */

static uint64_t hash_stack(void *const *pcs, uint32_t depth)
{
    uint64_t h = 0xcbf29ce484222325u ^ depth;
    for (uint32_t i = 0; i < depth; i++) {
        h ^= (uint64_t)(uintptr_t)pcs[i];
        h *= 0x100000001b3u;
        h ^= h >> 29;
    }
    return h | (1ull << 63); /* never 0 or 1 */
}

static int same_stack(const uintptr_t *stored, void *const *pcs, uint32_t depth)
{
    for (uint32_t i = 0; i < depth; i++)
        if (stored[i] != (uintptr_t)pcs[i])
            return 0;
    return 1;
}

/* Count one sample of `pcs` (leaf first). Lock-free; 0 or -1 when full. */
static int table_add(void *const *pcs, uint32_t depth, uint64_t weight)
{
    uint64_t h = hash_stack(pcs, depth);
    for (uint32_t probe = 0; probe < RT_MAX_PROBES; probe++) {
        uint32_t slot = (uint32_t)((h + probe) & (RT_TABLE_SIZE - 1));
        struct rt_entry *e = &g.table[slot];
        uint64_t s = atomic_load_explicit(&e->state, memory_order_acquire);
        if (s == 0) {
            uint64_t expect = 0;
            if (atomic_compare_exchange_strong(&e->state, &expect, 1)) {
                /* Each slot is taken once: k stays below RT_TABLE_SIZE. */
                uint32_t k = atomic_fetch_add(&g.ntaken, 1);
                atomic_store_explicit(&g.taken[k], slot + 1, memory_order_relaxed);
                size_t off = atomic_fetch_add(&g.pool_used, depth);
                if (off + depth > RT_POOL_WORDS)
                    return -1; /* the slot stays "being written": skipped forever */
                for (uint32_t i = 0; i < depth; i++)
                    g.pool[off + i] = (uintptr_t)pcs[i];
                e->off = (uint32_t)off;
                e->depth = depth;
                atomic_store_explicit(&e->count, weight, memory_order_relaxed);
                atomic_store_explicit(&e->state, h, memory_order_release);
                return 0;
            }
            s = expect;
        }
        /* A slot another thread is still writing (state 1) is passed over:
         * at worst the same stack gets two slots, which the reader merges. */
        if (s == h && e->depth == depth && same_stack(g.pool + e->off, pcs, depth)) {
            atomic_fetch_add_explicit(&e->count, weight, memory_order_relaxed);
            return 0;
        }
    }
    return -1;
}

/* si_perf_data: glibc 2.36's siginfo_t lacks the field; the kernel puts it
 * right after si_addr (asm-generic/siginfo.h, _sigfault._perf._data). */
static unsigned long perf_data_of(const siginfo_t *si)
{
    unsigned long data;
    memcpy(&data, (const char *)&si->si_addr + sizeof(void *), sizeof(data));
    return data;
}

static int is_sample_trap(const siginfo_t *si)
{
    return si->si_signo == SIGTRAP && si->si_code == TRAP_PERF &&
           perf_data_of(si) == RT_TRAP_COOKIE;
}

/* libc's pthread_sigmask (looked up here if a constructor before ours calls). */
static sigmask_fn real_pthread_sigmask(void)
{
    return g.real_pthread_sigmask ? g.real_pthread_sigmask : (sigmask_fn)next_fn("pthread_sigmask");
}

/* The runtime's own mask changes: never through the interposed one below. */
static int set_mask(int how, const sigset_t *set, sigset_t *old)
{
    sigmask_fn real = real_pthread_sigmask();
    return real ? real(how, set, old) : -1;
}

/*
 * The program's SIGTRAP disposition, read in any thread's handler while
 * another thread may be replacing it: a sequence count, and the reader
 * copies again if a write overlapped. Writers block every signal in their
 * thread first, so a handler never waits for its own thread.
 */
static struct sigaction trap_disposition(void)
{
    struct sigaction a;
    unsigned seq;
    do {
        seq = atomic_load_explicit(&g.trap_seq, memory_order_acquire);
        memcpy(&a, (const void *)&g.trap_prev, sizeof(a));
        atomic_thread_fence(memory_order_acquire);
    } while ((seq & 1) || seq != atomic_load_explicit(&g.trap_seq, memory_order_relaxed));
    return a;
}

static void set_trap_disposition(const struct sigaction *a)
{
    while (atomic_exchange_explicit(&g.trap_lock, 1, memory_order_acquire))
        ;
    atomic_fetch_add_explicit(&g.trap_seq, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    memcpy((void *)&g.trap_prev, a, sizeof(*a));
    atomic_fetch_add_explicit(&g.trap_seq, 1, memory_order_release);
    atomic_store_explicit(&g.trap_lock, 0, memory_order_release);
}

/*
 * A SIGTRAP that is not one of our samples: do what the program asked for,
 * under the mask its handler would have run with (its sa_mask, and SIGTRAP
 * itself unless SA_NODEFER), not ours that blocks everything.
 */
static void pass_trap(siginfo_t *si, void *ucv)
{
    struct sigaction prev = trap_disposition(), dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    if (prev.sa_handler == SIG_IGN) /* SIG_DFL and SIG_IGN whatever sa_flags say */
        return;
    if (prev.sa_handler == SIG_DFL) {
        /* Die of SIGTRAP as the program would have: pending until we return. */
        g.real_sigaction(SIGTRAP, &dfl, NULL);
        raise(SIGTRAP);
        return;
    }
    if (prev.sa_flags & SA_RESETHAND)
        set_trap_disposition(&dfl);
    sigset_t mask = ((ucontext_t *)ucv)->uc_sigmask;
    sigorset(&mask, &mask, &prev.sa_mask);
    if (!(prev.sa_flags & SA_NODEFER))
        sigaddset(&mask, SIGTRAP);
    set_mask(SIG_SETMASK, &mask, NULL);
    if (prev.sa_flags & SA_SIGINFO)
        prev.sa_sigaction(SIGTRAP, si, ucv);
    else
        prev.sa_handler(SIGTRAP);
}

static void leave_trap(struct rt_thread *t);
static void rearm(struct rt_thread *t);
static int arm_timer(struct rt_thread *t);
static int in_vfork_child(void);
static void lookup_fd_fns(void);
static int traced(void);

/* Unwind the interrupted thread and count its stack. Not inlined: its
 * buffers take stack only once on_sample has seen there is room for them. */
static __attribute__((noinline)) void take_sample(const ucontext_t *uc, uint64_t weight)
{
    tls_busy = tls_sampling = 1;
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    void *raw[PPRT_MAX_DEPTH + RT_SKIP_MAX];
    int n = guarded_backtrace(raw, (int)(sizeof(raw) / sizeof(raw[0])));
    int first = -1;
    for (int i = 0; i < n && i < RT_SKIP_MAX; i++)
        if ((uintptr_t)raw[i] == pc) {
            first = i;
            break;
        }
    void *const *pcs = raw;
    uint32_t depth = 1;
    if (first < 0) {
        raw[0] = (void *)pc; /* unwinding through the signal frame failed: keep the leaf */
    } else {
        pcs = raw + first;
        depth = (uint32_t)(n - first);
        if (depth > PPRT_MAX_DEPTH)
            depth = PPRT_MAX_DEPTH;
    }
    if (table_add(pcs, depth, weight) == 0) {
        atomic_fetch_add_explicit(&g.samples, weight, memory_order_relaxed);
        atomic_fetch_add_explicit(&tls_self->samples, weight, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&g.lost, weight, memory_order_relaxed);
    }
    tls_busy = tls_sampling = 0;
}

static void on_sample(int sig, siginfo_t *si, void *ucv)
{
    int saved_errno = errno;
    if (sig == SIGTRAP) {
        if (!is_sample_trap(si)) {
            pass_trap(si, ucv);
            goto done;
        }
    } else if (si->si_code == SI_QUEUE && si->si_pid == g.pid &&
               (uintptr_t)si->si_value.sival_ptr == RT_LEAVE_TRAP_COOKIE) {
        if (tls_self && !tls_busy && !atomic_load_explicit(&g.stopping, memory_order_relaxed))
            leave_trap(tls_self);
        goto done;
    } else if (si->si_code == SI_QUEUE && si->si_pid == g.pid &&
               (uintptr_t)si->si_value.sival_ptr == RT_REARM_COOKIE) {
        if (tls_self && !tls_self->stopped && tls_self->route == PPRT_MODE_NONE &&
            !tls_self->has_timer && !atomic_load_explicit(&g.stopping, memory_order_relaxed))
            rearm(tls_self);
        goto done;
    } else if (si->si_code == SI_QUEUE && si->si_pid == g.pid &&
               (uintptr_t)si->si_value.sival_ptr == RT_TIMER_COOKIE) {
        /* give_back_fd took this thread's perf fd (and left its route as it was). */
        if (tls_self && atomic_exchange(&tls_self->to_timer, 0) && !tls_self->stopped &&
            atomic_load(&tls_self->fd) < 0 && !atomic_load(&tls_self->has_timer) &&
            !atomic_load_explicit(&g.stopping, memory_order_relaxed))
            arm_timer(tls_self);
        goto done;
    } else if (si->si_code != POLL_IN && si->si_code != SI_TIMER) {
        goto done; /* not ours: someone sent our signal by hand */
    }
    uint64_t weight = 1;
    if (si->si_code == SI_TIMER && si->si_overrun > 0)
        weight += (uint64_t)si->si_overrun;
    if (tls_busy || !tls_self || atomic_load_explicit(&g.stopping, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&g.lost, weight, memory_order_relaxed);
        goto done;
    }
    /*
     * A sample takes about 9 KB of stack below this frame (the kernel's
     * signal frame is above it already). Near the end of the thread's stack
     * that would overflow it, and kill a program that catches its own
     * overflow on a sigaltstack; on an alternate stack (a handler of the
     * program's was interrupted) it would write below a buffer of perhaps
     * 8 KB. Both samples are dropped, before any flag is set, so a fault
     * here leaves the thread as it was; so is every sample of a thread
     * whose whole stack is smaller than the reserve.
     */
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    if (tls_stack_hi && (here >= tls_stack_hi || here < tls_stack_lo + RT_STACK_RESERVE)) {
        atomic_fetch_add_explicit(&g.lost, weight, memory_order_relaxed);
        goto done;
    }
    take_sample(ucv, weight);
done:
    errno = saved_errno;
}

/* ---- arming and disarming threads ----------------------------------- */

/*
 * A per-thread cpu-clock event at the asked rate, opened disabled; EMFILE
 * when the program's fds could run short. The fd numbers below
 * RLIMIT_NOFILE are the program's budget: each perf fd is one fewer for its
 * open, socket and pipe. So the threads hold at most a quarter of the limit,
 * and none once the lowest free number (the number the kernel hands out)
 * is past half of it, i.e. the program itself uses much of it; such a
 * thread samples by a POSIX CPU timer, which needs no fd. Should the
 * program still run out, the fd creating calls below give our fds back
 * (give_back_fd).
 */
static int open_cpu_clock(int sigtrap)
{
    rlim_t lim = rt_fd_limit();
    if ((rlim_t)atomic_load(&g.perf_fds) >= lim / 4) {
        errno = EMFILE;
        return -1;
    }
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.size = sizeof(attr);
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    attr.sample_period = 1000000000u / g.hz;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    attr.disabled = 1;
    attr.wakeup_events = 1;
    if (sigtrap) {
        attr.sigtrap = 1;
        attr.remove_on_exec = 1; /* the kernel asks it of sigtrap events */
        attr.sig_data = RT_TRAP_COOKIE;
    }
    int fd = (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
    if (fd >= 0 && (rlim_t)fd >= lim / 2) {
        rt_fd_close(fd);
        errno = EMFILE;
        return -1;
    }
    return rt_fd_move_high(fd);
}

/* on_sample as a handler: with siginfo, every signal but SIGSEGV blocked while it runs. */
static struct sigaction sampling_action(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sample;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    /* But SIGSEGV: when the kernel's signal frame fits in what is left of the
     * stack and on_sample's own small frame, before its check, does not, the
     * fault must reach the program's handler (on its sigaltstack) as it would
     * have bare; blocked, the kernel kills the process instead. */
    sigdelset(&sa.sa_mask, SIGSEGV);
    return sa;
}

/* on_sample standing in for the program's SIGTRAP handler: with its
 * SA_RESTART and SA_ONSTACK, which the kernel applies before we are called. */
static struct sigaction trap_action(const struct sigaction *program)
{
    struct sigaction sa = sampling_action();
    if (program->sa_handler != SIG_DFL && program->sa_handler != SIG_IGN)
        sa.sa_flags = SA_SIGINFO | (program->sa_flags & (SA_RESTART | SA_ONSTACK));
    return sa;
}

static int is_on_sample(const struct sigaction *a)
{
    return (a->sa_flags & SA_SIGINFO) && a->sa_sigaction == on_sample;
}

/* Put on_sample on SIGTRAP, remembering the program's disposition. */
static int install_trap_handler(void)
{
    int idle = 0;
    if (!atomic_compare_exchange_strong(&g.trap_installing, &idle, 1)) {
        while (atomic_load(&g.trap_installing) == 1)
            ; /* another thread is installing it: once, so it never records ours as prev */
        return atomic_load(&g.trap_installed) ? 0 : -1;
    }
    int rc = -1;
    struct sigaction prev, sa;
    if (g.real_sigaction(SIGTRAP, NULL, &prev) < 0) {
        goto done;
    } else if (prev.sa_handler == SIG_IGN) {
        /* Inherited ignored: it stays so (for our children too), samples go by the
         * real-time signal. */
        atomic_store(&g.trap_off, 1);
        errno = EPERM;
        goto done;
    }
    sa = trap_action(&prev);
    if (is_on_sample(&prev) || g.real_sigaction(SIGTRAP, &sa, NULL) < 0)
        goto done;
    set_trap_disposition(&prev);
    atomic_store(&g.trap_installed, 1);
    rc = 0;
done:
    atomic_store(&g.trap_installing, rc == 0 ? 2 : 0);
    return rc;
}

static int arm_trap(struct rt_thread *t)
{
    int fd = open_cpu_clock(1);
    if (fd < 0)
        return -1;
    if ((!g.trap_installed && install_trap_handler() < 0) ||
        ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) < 0) {
        rt_fd_close(fd);
        return -1;
    }
    t->route = PPRT_MODE_TRAP; /* first: once published, the fd may be given back */
    note_perf_fd(t, fd);
    return 0;
}

static int arm_perf(struct rt_thread *t)
{
    int fd = open_cpu_clock(0);
    if (fd < 0)
        return -1;
    struct f_owner_ex owner = {F_OWNER_TID, t->tid};
    if (fcntl(fd, F_SETOWN_EX, &owner) < 0 || fcntl(fd, F_SETSIG, g.sig) < 0 ||
        fcntl(fd, F_SETFL, O_ASYNC | O_NONBLOCK) < 0 || ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) < 0) {
        rt_fd_close(fd);
        return -1;
    }
    t->route = PPRT_MODE_PERF; /* first: once published, the fd may be given back */
    note_perf_fd(t, fd);
    return 0;
}

static int arm_timer(struct rt_thread *t)
{
    struct sigevent sev;
    memset(&sev, 0, sizeof(sev));
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = g.sig;
    sev._sigev_un._tid = t->tid;
    if (timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &t->timer) < 0)
        return -1;
    struct itimerspec its;
    long period = 1000000000L / (long)g.hz;
    its.it_interval.tv_sec = period / 1000000000L;
    its.it_interval.tv_nsec = period % 1000000000L;
    its.it_value = its.it_interval;
    if (timer_settime(t->timer, 0, &its, NULL) < 0) {
        timer_delete(t->timer);
        return -1;
    }
    t->route = PPRT_MODE_TIMER;
    atomic_store(&t->has_timer, 1);
    return 0;
}

/* Whether the calling thread has SIGTRAP blocked. */
static int trap_blocked(void)
{
    sigset_t cur;
    return set_mask(SIG_BLOCK, NULL, &cur) == 0 && sigismember(&cur, SIGTRAP) == 1;
}

/*
 * Arm the best mechanism the process is in (a thread born with SIGTRAP
 * blocked takes the real-time signal, so the program's SIGTRAPs stay
 * blocked and are not swallowed by samples), falling back a step when the
 * first thread cannot have it (SIGTRAP events need Linux 5.13, perf events
 * need perf_event_paranoid <= 2 or CAP_PERFMON).
 */
static void arm(struct rt_thread *t)
{
    int first = atomic_load(&g.nthreads) <= 1;
    int trap_error = 0;
    if (g.mode == PPRT_MODE_RING) {
        t->route = PPRT_MODE_RING; /* the process's events sample it: nothing of its own */
        return;
    }
    if (g.mode == PPRT_MODE_TRAP) {
        if (trap_blocked() || atomic_load(&g.trap_off))
            first = 0; /* this thread only: SIGTRAP is blocked, or the program ignores it */
        else if (arm_trap(t) == 0) {
            /* The program may have ignored SIGTRAP since we looked: then it did
             * not know to ask this thread to leave. */
            atomic_thread_fence(memory_order_seq_cst);
            if (atomic_load(&g.trap_off))
                leave_trap(t);
            return;
        } else
            trap_error = errno;
    }
    if (g.mode != PPRT_MODE_TIMER && arm_perf(t) == 0) {
        if (first && g.mode == PPRT_MODE_TRAP) {
            g.mode = PPRT_MODE_PERF;
            if (g.debug && atomic_load(&g.trap_off))
                debug_line("perfprof-rt: SIGTRAP is ignored, using a real-time signal\n");
            else if (g.debug)
                debug_line("perfprof-rt: perf events with sigtrap unavailable (%s), "
                           "using a real-time signal\n",
                           strerror(trap_error));
        }
        return;
    }
    if (first && g.mode != PPRT_MODE_TIMER) {
        g.mode = PPRT_MODE_TIMER;
        if (g.debug)
            debug_line("perfprof-rt: perf_event_open unavailable (%s), using CPU timers\n",
                       strerror(errno));
    }
    arm_timer(t);
}

/*
 * Arm a thread again by the route a failed exec took from it (in its own
 * signal handler, where the mask arm() would look at is the handler's): a
 * thread that had SIGTRAP blocked stays on the real-time signal.
 */
static void rearm(struct rt_thread *t)
{
    int route = t->exec_route;
    t->exec_route = PPRT_MODE_NONE;
    if (route == PPRT_MODE_TRAP && !atomic_load(&g.trap_off) && arm_trap(t) == 0) {
        atomic_thread_fence(memory_order_seq_cst); /* as in arm() */
        if (atomic_load(&g.trap_off))
            leave_trap(t);
        return;
    }
    if (route != PPRT_MODE_TIMER && arm_perf(t) == 0)
        return;
    arm_timer(t);
}

static void disarm(struct rt_thread *t)
{
    t->route = PPRT_MODE_NONE; /* first: a late request to leave SIGTRAP finds nothing */
    close_perf_fd(t);
    if (atomic_exchange(&t->has_timer, 0))
        timer_delete(t->timer);
}

/* Our real-time signal reaches the thread even if it was born with it blocked. */
static void unblock_signal(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, g.sig);
    set_mask(SIG_UNBLOCK, &set, NULL);
}

/* A SIGTRAP of the program's own that we took off the queue: back to this
 * thread with its siginfo (the kernel refuses that for a thread other than
 * the main one to keep kill()'s codes honest: then a plain one). */
static void requeue_trap(siginfo_t *si)
{
    if (syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)syscall(SYS_gettid), SIGTRAP, si) < 0)
        raise(SIGTRAP);
}

/*
 * Take the pending signals of `set` (blocked by the caller) off the queue:
 * our samples are dropped, a SIGTRAP of the program's own is queued again.
 */
static void drop_pending_samples(const sigset_t *set)
{
    struct timespec zero = {0, 0};
    siginfo_t si, programs;
    int programs_trap = 0;
    while (sigtimedwait(set, &si, &zero) > 0)
        if (si.si_signo == SIGTRAP && !is_sample_trap(&si)) {
            programs = si;
            programs_trap = 1;
        }
    if (programs_trap)
        requeue_trap(&programs);
}

/*
 * Move the calling thread from SIGTRAP samples to the real-time signal:
 * the program is about to block SIGTRAP (a sample pending behind the block
 * would swallow its own SIGTRAP, or be handed to its sigwait), or ignores
 * it. A sample already pending is dropped; one of the program's own is
 * raised again, to stay pending under its mask.
 */
static void leave_trap(struct rt_thread *t)
{
    int saved_errno = errno;
    sigset_t all, old, trap;
    sigfillset(&all);
    set_mask(SIG_BLOCK, &all, &old);
    if (t->route == PPRT_MODE_TRAP) { /* read with signals blocked: no request runs in between */
        close_perf_fd(t);
        t->route = PPRT_MODE_NONE;
        if (arm_perf(t) < 0)
            arm_timer(t);
        sigemptyset(&trap);
        sigaddset(&trap, SIGTRAP);
        drop_pending_samples(&trap);
    }
    set_mask(SIG_SETMASK, &old, NULL);
    errno = saved_errno;
}

/* Queue our real-time signal to thread `tid` with a request (a cookie) for its handler. */
static void send_request(pid_t tid, unsigned long cookie)
{
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    si.si_signo = g.sig;
    si.si_code = SI_QUEUE;
    si.si_pid = g.pid;
    si.si_uid = getuid();
    si.si_value.sival_ptr = (void *)cookie;
    syscall(SYS_rt_tgsigqueueinfo, g.pid, tid, g.sig, &si);
}

/* The program ignores SIGTRAP from now on: every thread leaves it. */
static void ignore_traps(void)
{
    int saved_errno = errno;
    atomic_store(&g.trap_off, 1);
    atomic_thread_fence(memory_order_seq_cst); /* pairs with the fence in arm() */
    if (tls_self)
        leave_trap(tls_self);
    uint32_t nslots = slots_used();
    for (uint32_t i = 0; i < nslots; i++) {
        struct rt_thread *t = live_slot(i);
        if (!t || t == tls_self || t->route != PPRT_MODE_TRAP)
            continue;
        send_request(t->tid, RT_LEAVE_TRAP_COOKIE);
    }
    errno = saved_errno;
}

/*
 * The program ran out of fd numbers (EMFILE, or ENFILE system-wide): give it
 * one of ours. A thread's perf fd is swapped out and closed (close_perf_fd:
 * if it still is ours), and the thread is asked to sample by a CPU timer
 * from its own handler. Returns whether an fd was closed, with errno as it
 * was. Not while this thread unwinds (libunwind's own opens fail as they
 * would bare).
 */
static int give_back_fd(void)
{
    int saved = errno;
    if ((saved != EMFILE && saved != ENFILE) || !g.active || tls_unwinding || in_vfork_child() ||
        atomic_load(&g.perf_fds) <= 0)
        return 0;
    int freed = 0;
    uint32_t nslots = slots_used();
    /* Only a number below the current limit is one the program can get
     * (it may have lowered the limit under our high fds). */
    struct rlimit rl;
    rlim_t lim = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : RLIM_INFINITY;
    for (uint32_t i = 0; i < nslots && !freed; i++) {
        struct rt_thread *t = live_slot(i);
        int fd = t ? atomic_load(&t->fd) : -1;
        if (fd < 0 || (rlim_t)fd >= lim || !atomic_compare_exchange_strong(&t->fd, &fd, -1))
            continue;
        atomic_fetch_sub(&g.perf_fds, 1);
        if (rt_fd_is(fd, &t->fd_id)) {
            rt_fd_close(fd);
            freed = 1;
        }
        atomic_store(&t->to_timer, 1);
        send_request(t->tid, RT_TIMER_COOKIE);
    }
    errno = saved;
    return freed;
}

/*
 * A slot for a new thread: one never used, else one whose thread has ended
 * (RT_SLOT_DEAD, so a program that keeps creating and joining threads is
 * sampled all its life). A slot is dead only once its thread is past all
 * use of it: its fd closed, its timer deleted and its tls_self cleared (its
 * handler then touches no slot). Other threads that walk the slots look at
 * live ones only, and what they may still do to a slot taken again meanwhile
 * is harmless to its new thread: a request signal its handler checks against
 * its own state, or a swap of the fd number (close_perf_fd). NULL when every
 * slot is in use by a running thread.
 */
static struct rt_thread *claim_slot(void)
{
    uint32_t i = atomic_load(&g.nslots);
    while (i < RT_MAX_THREADS)
        if (atomic_compare_exchange_weak(&g.nslots, &i, i + 1))
            return &g.threads[i];
    uint32_t start = atomic_load_explicit(&g.reuse_hint, memory_order_relaxed);
    for (uint32_t k = 0; k < RT_MAX_THREADS; k++) {
        uint32_t j = (start + k) % RT_MAX_THREADS;
        int dead = RT_SLOT_DEAD;
        if (atomic_load_explicit(&g.threads[j].state, memory_order_relaxed) == dead &&
            atomic_compare_exchange_strong(&g.threads[j].state, &dead, RT_SLOT_CLAIMED)) {
            atomic_store_explicit(&g.reuse_hint, j + 1, memory_order_relaxed);
            return &g.threads[j];
        }
    }
    return NULL;
}

/* Where this thread's stack ends, for on_sample's check (outside the handler:
 * pthread_getattr_np reads /proc/self/maps for the main thread). */
static void note_stack_bounds(void)
{
    pthread_attr_t attr;
    void *addr = NULL;
    size_t size = 0;
    if (tls_stack_lo || pthread_getattr_np(pthread_self(), &attr) != 0)
        return; /* known already (a forked child keeps its parent thread's) */
    if (pthread_attr_getstack(&attr, &addr, &size) == 0 && addr && size) {
        tls_stack_lo = (uintptr_t)addr;
        tls_stack_hi = (uintptr_t)addr + size;
    }
    pthread_attr_destroy(&attr);
}

/* Register the calling thread: claim a slot, warm libunwind up, arm. */
static void thread_start(void)
{
    struct rt_thread *t = claim_slot();
    if (!t) {
        atomic_fetch_add(&g.unsampled, 1); /* as many threads running as slots */
        return;
    }
    atomic_fetch_add(&g.nthreads, 1);
    t->tid = (pid_t)syscall(SYS_gettid);
    t->route = PPRT_MODE_NONE;
    atomic_store(&t->fd, -1);
    atomic_store(&t->has_timer, 0);
    atomic_store(&t->to_timer, 0);
    t->stopped = 0;
    t->exec_route = PPRT_MODE_NONE;
    atomic_store(&t->samples, 0);
    atomic_store_explicit(&t->state, RT_SLOT_LIVE, memory_order_release);
    note_stack_bounds();
    if (g.mode != PPRT_MODE_RING) {
        /* Signals blocked: a handler of the program's must not run with tls_unwinding set. */
        sigset_t all, old;
        sigfillset(&all);
        set_mask(SIG_BLOCK, &all, &old);
        void *warm[PPRT_MAX_DEPTH];
        guarded_backtrace(warm, PPRT_MAX_DEPTH);
        set_mask(SIG_SETMASK, &old, NULL);
    }
    tls_self = t;
    arm(t);
    unblock_signal();
}

static void thread_stop(void *unused)
{
    (void)unused;
    struct rt_thread *t = tls_self;
    if (!t)
        return;
    tls_busy = 1; /* the thread is going: drop anything still in flight */
    t->stopped = 1;
    disarm(t);
    tls_self = NULL; /* before the slot is free: a late request finds no slot */
    atomic_signal_fence(memory_order_seq_cst);
    atomic_store_explicit(&t->state, RT_SLOT_DEAD, memory_order_release);
}

/* ---- the ring route ---------------------------------------------------- */

static void ring_sink(void *const *pcs, uint32_t depth, int cut, void *ctx)
{
    (void)ctx;
    if (table_add(pcs, depth, 1) == 0) {
        atomic_fetch_add_explicit(&g.samples, 1, memory_order_relaxed);
        if (cut)
            atomic_fetch_add_explicit(&g.cut, 1, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&g.lost, 1, memory_order_relaxed);
    }
}

/*
 * Sample without a signal (ring.h) where the kernel and the limits allow it;
 * otherwise by SIGTRAP (or, under a debugger, which would stop at every
 * SIGTRAP, the real-time signal), whose fallbacks arm() takes.
 */
static void stop_from_reader(void);

static void start_ring(void)
{
    struct rt_ring_config config = {g.hz, g.stack_bytes, ring_sink, NULL, stop_from_reader};
    char why[160];
    tls_starting_ring = 1;
    g.ring = rt_ring_start(&config, why, sizeof(why));
    tls_starting_ring = 0;
    if (g.ring)
        return;
    g.mode = traced() ? PPRT_MODE_PERF : PPRT_MODE_TRAP;
    if (g.debug)
        debug_line("perfprof-rt: sampling without a signal unavailable (%s)\n", why);
}

/* ---- writing the part ------------------------------------------------ */

static void ob_put(struct out_buf *b, const void *p, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *d = realloc(b->data, cap);
        if (!d) {
            b->failed = 1;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void ob_u8(struct out_buf *b, uint8_t v)
{
    ob_put(b, &v, 1);
}

static void ob_u16(struct out_buf *b, uint16_t v)
{
    unsigned char x[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    ob_put(b, x, 2);
}

static void ob_u32(struct out_buf *b, uint32_t v)
{
    unsigned char x[4];
    for (int i = 0; i < 4; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    ob_put(b, x, 4);
}

static void ob_u64(struct out_buf *b, uint64_t v)
{
    unsigned char x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    ob_put(b, x, 8);
}

static void ob_uleb(struct out_buf *b, uint64_t v)
{
    unsigned char x[10];
    size_t n = 0;
    do {
        unsigned char byte = v & 0x7f;
        v >>= 7;
        x[n++] = byte | (v ? 0x80 : 0);
    } while (v);
    ob_put(b, x, n);
}

static void ob_set_u32(struct out_buf *b, size_t at, uint32_t v)
{
    if (b->failed)
        return;
    for (int i = 0; i < 4; i++)
        b->data[at + (size_t)i] = (unsigned char)(v >> (8 * i));
}

/* Start a record; returns where its length goes. */
static size_t ob_record(struct out_buf *b, uint32_t tag)
{
    ob_u32(b, tag);
    size_t at = b->len;
    ob_u32(b, 0);
    return at;
}

static void ob_end_record(struct out_buf *b, size_t at)
{
    ob_set_u32(b, at, (uint32_t)(b->len - at - 4));
}

static size_t build_id_of(const struct dl_phdr_info *info, const unsigned char **id)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
        size_t left = ph->p_memsz;
        while (left >= sizeof(ElfW(Nhdr))) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            size_t name_sz = (nh->n_namesz + 3u) & ~3u;
            size_t desc_sz = (nh->n_descsz + 3u) & ~3u;
            size_t total = sizeof(*nh) + name_sz + desc_sz;
            if (total > left)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
                memcmp(p + sizeof(*nh), "GNU", 4) == 0 && nh->n_descsz <= PPRT_MAX_BUILD_ID) {
                *id = p + sizeof(*nh) + name_sz;
                return nh->n_descsz;
            }
            p += total;
            left -= total;
        }
    }
    return 0;
}

/*
 * The absolute path of the file mapped at addr, from /proc/self/maps: a
 * library loaded by a relative name ("./libx.so", LD_LIBRARY_PATH=.) has
 * that name in dlpi_name, which the report cannot open. 0 when found.
 */
static int mapped_path(uint64_t addr, char *out, size_t cap)
{
    char line[PATH_MAX + 128];
    int found = -1;
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return -1;
    int whole = 1; /* the last fgets ended its line */
    while (found < 0 && fgets(line, sizeof line, f)) {
        int starts = whole;
        whole = strchr(line, '\n') != NULL;
        unsigned long start, end;
        int at = 0;
        if (!starts || !whole ||
            sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &start, &end, &at) != 2 || at == 0)
            continue; /* a line too long for us, in pieces */
        if (addr < start || addr >= end || line[at] != '/')
            continue;
        size_t len = strcspn(line + at, "\n");
        static const char deleted[] = " (deleted)"; /* replaced since: not what was loaded */
        if (len >= sizeof deleted - 1 &&
            !memcmp(line + at + len - (sizeof deleted - 1), deleted, sizeof deleted - 1))
            break;
        if (len < cap) {
            memcpy(out, line + at, len);
            out[len] = '\0';
            found = 0;
        }
    }
    fclose(f);
    return found;
}

static int module_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct out_buf *b = data;
    char exe[PATH_MAX];
    const char *path = info->dlpi_name;
    if (!path || !*path) {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n <= 0)
            return 0;
        exe[n] = '\0';
        path = exe;
    }
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uint64_t start = info->dlpi_addr + ph->p_vaddr;
        if (start < lo)
            lo = start;
        if (start + ph->p_memsz > hi)
            hi = start + ph->p_memsz;
    }
    if (lo >= hi)
        return 0;
    if (path[0] != '/' && strncmp(path, "linux-", 6) != 0 && mapped_path(lo, exe, sizeof exe) == 0)
        path = exe;
    size_t path_len = strlen(path);
    if (path_len > PPRT_MAX_PATH)
        return 0;
    const unsigned char *id = NULL;
    size_t id_len = build_id_of(info, &id);
    size_t at = ob_record(b, PPRT_TAG_MODULE);
    ob_u64(b, info->dlpi_addr);
    ob_u64(b, lo);
    ob_u64(b, hi);
    ob_u8(b, (uint8_t)id_len);
    if (id_len)
        ob_put(b, id, id_len);
    ob_u16(b, (uint16_t)path_len);
    ob_put(b, path, path_len);
    ob_end_record(b, at);
    return 0;
}

static void retired_lock(void)
{
    while (atomic_exchange(&g.retired_lock, 1))
        sched_yield();
}

static void retired_unlock(void)
{
    atomic_store(&g.retired_lock, 0);
}

/* Little-endian, as ob_put writes: n bytes at p. */
static uint64_t le_bytes(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* The whole size of the record at r: its tag, its length, then that many bytes. */
static size_t record_size(const unsigned char *r)
{
    return 8 + (size_t)le_bytes(r + 4, 4);
}

/* Is the record at rec (tag, length, payload) one of b's, byte for byte? */
static int has_record(const struct out_buf *b, const unsigned char *rec, size_t n)
{
    for (size_t at = 0; at + 8 <= b->len; at += record_size(b->data + at))
        if (record_size(b->data + at) == n && memcmp(b->data + at, rec, n) == 0)
            return 1;
    return 0;
}

/* The library a dlclose may unload: found by its bias, copied out of the
 * loader's walk (which holds the loader's lock: a fork meanwhile leaves the
 * child with it held), its record made after. */
struct closing {
    uintptr_t bias;
    int seen;
    struct dl_phdr_info info;
    struct out_buf rec;
};

/* Has this library (bias and build-id) been retired already, e.g. a
 * plugin opened and closed in a loop? Then its record is not made again.
 * A record: tag, length, bias, lo, hi (u64 each), build-id length and bytes. */
static int retired_already(uintptr_t bias, const unsigned char *id, size_t id_len)
{
    int found = 0;
    retired_lock();
    for (size_t at = 0; !found && at + 33 <= g.retired.len;) {
        const unsigned char *r = g.retired.data + at;
        size_t len = record_size(r);
        found = le_bytes(r + 8, 8) == bias && id_len > 0 && r[32] == id_len && 33 + id_len <= len &&
                memcmp(r + 33, id, id_len) == 0;
        at += len;
    }
    retired_unlock();
    return found;
}

static int closing_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    struct closing *c = data;
    if (info->dlpi_addr != c->bias)
        return 0;
    c->seen = 1;
    memcpy(&c->info, info, size < sizeof c->info ? size : sizeof c->info);
    return 1; /* the walk stops here */
}

/*
 * After the dlclose: when the library is gone, its record joins g.retired,
 * so that the samples taken in it while it was loaded keep a name (the
 * part's module list is taken at exit). A library loaded at the same
 * addresses later still takes them over: samples carry no time.
 */
static void retire_closed(struct closing *c)
{
    c->seen = 0;
    dl_iterate_phdr(closing_cb, c);
    if (c->seen || c->rec.failed)
        return;
    retired_lock();
    if (!has_record(&g.retired, c->rec.data, c->rec.len))
        ob_put(&g.retired, c->rec.data, c->rec.len);
    retired_unlock();
}

static void write_stacks(struct out_buf *b)
{
    size_t at = ob_record(b, PPRT_TAG_STACKS);
    uint32_t ntaken = atomic_load(&g.ntaken);
    for (uint32_t t = 0; t < ntaken; t++) {
        uint32_t slot = atomic_load_explicit(&g.taken[t], memory_order_relaxed);
        if (!slot)
            continue; /* being taken: its state is still 1, skipped as such */
        struct rt_entry *e = &g.table[slot - 1];
        uint64_t s = atomic_load_explicit(&e->state, memory_order_acquire);
        if (s <= 1)
            continue;
        uint64_t count = atomic_load_explicit(&e->count, memory_order_relaxed);
        const uintptr_t *pcs = g.pool + e->off;
        ob_uleb(b, count);
        ob_uleb(b, e->depth);
        ob_uleb(b, pcs[0]);
        for (uint32_t k = 1; k < e->depth; k++) {
            int64_t d = (int64_t)(pcs[k] - pcs[k - 1]);
            ob_uleb(b, ((uint64_t)d << 1) ^ (uint64_t)(d >> 63));
        }
    }
    ob_end_record(b, at);
}

static void die_of(int sig);

/* The waits below poll in steps of a millisecond (async-signal-safe). */
static void nap_ms(void)
{
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
}

/* A stop signal came (and was handed to the ring's reader): once the part
 * is written, whatever thread wrote or waited for it ends the process as
 * that signal's SIG_DFL would have, not as the program goes on to. */
static void die_if_stopped(void)
{
    int sig = atomic_load(&g.crash_sig);
    if (sig) {
        /* Another thread crashed and dies once the part is written: this
         * one, on its way out (exit, exec), must not end the process as if
         * nothing happened. It waits for that death, else dies of it. */
        if (tls_reader)
            return;
        for (int i = 0; i < 3000; i++)
            nap_ms();
        die_of(sig);
    }
    sig = atomic_load(&g.stop_sig);
    if (sig)
        die_of(sig);
}

static void write_part(void)
{
    if (!g.active)
        return;
    if (atomic_exchange(&g.written, 1)) {
        /* Another thread writes it (the ring's reader, for a stop signal):
         * the process must not end under it. At most ~5 s. */
        for (int i = 0; i < 5000 && !tls_writing && !atomic_load(&g.write_done); i++)
            nap_ms();
        if (!tls_writing)
            die_if_stopped();
        return;
    }
    tls_writing = 1;
    atomic_store(&g.stopping, 1);
    g.part[0] = '\0';
    int old_busy = tls_busy;
    tls_busy = 1;

    if (g.ring) {
        rt_ring_pause(g.ring); /* every sample taken so far is in the table */
        atomic_fetch_add(&g.lost, rt_ring_take_lost(g.ring));
    }
    uint64_t user, sys;
    cpu_times(&user, &sys);
    uint32_t nthreads = atomic_load(&g.nthreads), nslots = slots_used();
    for (uint32_t i = 0; i < nslots; i++) {
        struct rt_thread *t = live_slot(i);
        int fd = t ? atomic_load(&t->fd) : -1;
        if (fd >= 0 && rt_fd_is(fd, &t->fd_id))
            ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
    }

    struct out_buf b = {0};
    ob_put(&b, PPRT_MAGIC, PPRT_MAGIC_LEN);
    ob_u32(&b, PPRT_VERSION);
    ob_u32(&b, PPRT_HEADER_SIZE);
    ob_u32(&b, (uint32_t)getpid());
    ob_u32(&b, g.hz);
    ob_u64(&b, now_ns(CLOCK_MONOTONIC) - g.start_ns);
    ob_u64(&b, user - g.start_user_ns);
    ob_u64(&b, sys - g.start_sys_ns);
    ob_u64(&b, atomic_load(&g.samples));
    ob_u64(&b, atomic_load(&g.lost));
    ob_u32(&b, nthreads);
    ob_u32(&b, (uint32_t)g.mode);
    ob_u32(&b, atomic_load(&g.cut));
    ob_u32(&b, 0);

    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        size_t at = ob_record(&b, PPRT_TAG_COMMAND);
        ob_put(&b, exe, (size_t)n);
        ob_end_record(&b, at);
    }
    dl_iterate_phdr(module_cb, &b);
    retired_lock();
    if (!g.retired.failed)
        ob_put(&b, g.retired.data, g.retired.len);
    retired_unlock();
    write_stacks(&b);
    ob_u32(&b, PPRT_TAG_END);
    ob_u32(&b, 0);

    char path[PATH_MAX + 64], tmp[PATH_MAX + 80];
    snprintf(path, sizeof(path), "%s.part-%d-%llu", g.out, (int)getpid(),
             (unsigned long long)now_ns(CLOCK_REALTIME));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int ok = 0;
    if (!b.failed) {
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            size_t off = 0;
            while (off < b.len) {
                ssize_t w = write(fd, b.data + off, b.len - off);
                if (w < 0 && errno == EINTR)
                    continue;
                if (w <= 0)
                    break;
                off += (size_t)w;
            }
            ok = off == b.len;
            if (close(fd) < 0)
                ok = 0;
            if (ok && rename(tmp, path) < 0)
                ok = 0;
            if (ok)
                snprintf(g.part, sizeof(g.part), "%s", path);
            if (!ok)
                unlink(tmp);
        }
    }
    if (!ok)
        debug_line("perfprof-rt: cannot write %s: %s\n", path, strerror(errno));
    else if (g.debug)
        debug_line("perfprof-rt: pid %d mode %s hz %u samples %llu lost %llu threads %u "
                   "(%u without a slot) cpu %.3fs stacks %zu bytes -> %s\n",
                   (int)getpid(), pprt_mode_name(g.mode), g.hz,
                   (unsigned long long)atomic_load(&g.samples),
                   (unsigned long long)atomic_load(&g.lost), nthreads, atomic_load(&g.unsampled),
                   (double)(user - g.start_user_ns) / 1e9, b.len, path);
    free(b.data);
    tls_busy = old_busy;
    tls_writing = 0;
    atomic_store(&g.write_done, 1);
    die_if_stopped();
}

/* ---- setting up ------------------------------------------------------ */

static int setup_memory(void)
{
    g.threads = map_zeroed(sizeof(struct rt_thread) * RT_MAX_THREADS);
    g.table = map_zeroed(sizeof(struct rt_entry) * RT_TABLE_SIZE);
    g.taken = map_zeroed(sizeof(*g.taken) * RT_TABLE_SIZE);
    g.pool = map_zeroed(sizeof(uintptr_t) * RT_POOL_WORDS);
    atomic_store(&g.ntaken, 0);
    return g.threads && g.table && g.taken && g.pool ? 0 : -1;
}

static void release_memory(void)
{
    if (g.threads)
        munmap(g.threads, sizeof(struct rt_thread) * RT_MAX_THREADS);
    if (g.table)
        munmap(g.table, sizeof(struct rt_entry) * RT_TABLE_SIZE);
    if (g.taken)
        munmap((void *)g.taken, sizeof(*g.taken) * RT_TABLE_SIZE);
    if (g.pool)
        munmap(g.pool, sizeof(uintptr_t) * RT_POOL_WORDS);
    g.threads = NULL;
    g.table = NULL;
    g.taken = NULL;
    atomic_store(&g.ntaken, 0);
    g.pool = NULL;
}

static void start_clocks(void)
{
    g.pid = getpid();
    g.start_ns = now_ns(CLOCK_MONOTONIC);
    cpu_times(&g.start_user_ns, &g.start_sys_ns);
}

/* Whether a tracer (a debugger) is attached: TracerPid in /proc/self/status. */
static int traced(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return 0;
    char line[256];
    int tracer = 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "TracerPid: %d", &tracer) == 1)
            break;
    fclose(f);
    return tracer != 0;
}

/* Before fork: hold the disposition's lock, so no child is born with it taken. */
static void atfork_prepare(void)
{
    if (!g.active)
        return;
    sigset_t all;
    sigfillset(&all);
    set_mask(SIG_BLOCK, &all, &tls_fork_mask);
    while (atomic_exchange_explicit(&g.trap_lock, 1, memory_order_acquire))
        ;
    retired_lock(); /* a child must not start with it held */
    if (g.ring)
        rt_ring_fork_prepare(g.ring);
}

static void atfork_parent(void)
{
    if (!g.active)
        return;
    if (g.ring)
        rt_ring_fork_parent(g.ring);
    retired_unlock();
    atomic_store_explicit(&g.trap_lock, 0, memory_order_release);
    set_mask(SIG_SETMASK, &tls_fork_mask, NULL);
}

/*
 * An atfork handler that ran before ours (g.pid was still the parent's, so
 * the child looked like a vfork child) may have set SIGTRAP behind us:
 * take its disposition as the program's and put ours back.
 */
static void adopt_trap_disposition(void)
{
    struct sigaction cur;
    if (!atomic_load(&g.trap_installed) || g.real_sigaction(SIGTRAP, NULL, &cur) < 0 ||
        is_on_sample(&cur))
        return;
    set_trap_disposition(&cur);
    if (cur.sa_handler == SIG_IGN) {
        atomic_store(&g.trap_off, 1);
    } else {
        struct sigaction sa = trap_action(&cur);
        g.real_sigaction(SIGTRAP, &sa, NULL);
    }
}

/*
 * Whether this fork child was born with one of the loader's locks held by a
 * thread that stayed in the parent. glibc (2.36, and later ones too) resets
 * dl_load_lock in the child, not dl_load_write_lock: dl_iterate_phdr takes
 * it, and another thread holds it while its dlopen or dlclose links or
 * unlinks an object, or while its dl_iterate_phdr walks. Then every walk in
 * the child waits for ever: the reader's, the part's module list, libunwind's
 * (a child that only called _exit hung in write_part). The locks are
 * recursive mutexes in ld.so's _rtld_global, whose layout is glibc's own: only
 * the public shape of a pthread_mutex_t is looked for there (inside
 * dl_iterate_phdr exactly one is locked, outside none). Any lock word but 0
 * counts: the holder may have been caught between taking the word and
 * writing __owner (seen: 2, with no owner), and no thread of the child holds
 * one here. Not found: 0, as before.
 */
static int loader_lock_inherited(void)
{
    void *rtld = dlsym(RTLD_DEFAULT, "_rtld_global");
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (!rtld || !dladdr1(rtld, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym)
        return 0;
    for (size_t off = 0; off + sizeof(pthread_mutex_t) <= sym->st_size; off += 8) {
        pthread_mutex_t m;
        memcpy(&m, (const char *)rtld + off, sizeof m);
        if (m.__data.__kind == PTHREAD_MUTEX_RECURSIVE_NP && m.__data.__lock != 0 &&
            !m.__data.__list.__prev && !m.__data.__list.__next)
            return 1; /* its holder is not in this process: it never comes free */
    }
    return 0;
}

/* In a forked child: the parent's perf fds and stacks are not ours. */
static void atfork_child(void)
{
    if (!g.active)
        return;
    g.pid = getpid();
    retired_unlock();
    atomic_store_explicit(&g.trap_lock, 0, memory_order_release);
    adopt_trap_disposition();
    uint32_t nslots = slots_used();
    for (uint32_t i = 0; i < nslots; i++)
        close_perf_fd(&g.threads[i]);
    if (g.ring) {
        rt_ring_forget(g.ring);
        g.ring = NULL;
    }
    release_memory();
    atomic_store(&g.nslots, 0);
    atomic_store(&g.nthreads, 0);
    atomic_store(&g.unsampled, 0);
    atomic_store(&g.perf_fds, 0);
    atomic_store(&g.reuse_hint, 0);
    atomic_store(&g.pool_used, 0);
    atomic_store(&g.samples, 0);
    atomic_store(&g.lost, 0);
    atomic_store(&g.cut, 0);
    atomic_store(&g.stopping, 0);
    atomic_store(&g.written, 0);
    atomic_store(&g.write_done, 0);
    atomic_store(&g.stop_sig, 0);
    atomic_store(&g.crash_sig, 0);
    atomic_store(&g.stop_count, 0);
    g.part[0] = '\0'; /* the parent's */
    tls_self = NULL;
    g.loader_stuck = loader_lock_inherited();
    if (g.loader_stuck) {
        /* Unprofiled: anything of ours that needs the loader would hang it. */
        g.active = 0;
        if (g.debug)
            debug_line("perfprof-rt: pid %d forked while the loader was busy: not profiled\n",
                       (int)g.pid);
    } else if (setup_memory() < 0) {
        g.active = 0;
    } else {
        start_clocks();
        if (g.mode == PPRT_MODE_RING)
            start_ring();
        thread_start();
    }
    set_mask(SIG_SETMASK, &tls_fork_mask, NULL);
}

/* The decimal number in environment variable `name` if it is one in [lo, hi], else `fallback`. */
static long env_number(const char *name, long lo, long hi, long fallback)
{
    const char *text = getenv(name);
    char *end = NULL;
    long v = text && *text ? strtol(text, &end, 10) : 0;
    return end && !*end && v >= lo && v <= hi ? v : fallback;
}

/* Signals whose default ends the process with a core: a crash, abort(). */
static int is_crash_signal(int sig)
{
    return sig == SIGABRT || sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL;
}

static int is_stop_signal(int sig)
{
    return sig == SIGINT || sig == SIGTERM || sig == SIGHUP || is_crash_signal(sig);
}

static void on_stop(int sig);
static void on_crash(int sig, siginfo_t *si, void *uc);

/* Is `cur` the handler we installed for `sig`? */
static int ours_installed(int sig, const struct sigaction *cur)
{
    if (is_crash_signal(sig))
        return (cur->sa_flags & SA_SIGINFO) && cur->sa_sigaction == on_crash;
    return !(cur->sa_flags & SA_SIGINFO) && cur->sa_handler == on_stop;
}

/*
 * Whether our on_stop still stands in for `sig`'s SIG_DFL. The bit alone is
 * not enough: sigset, bsd_signal, sysv_signal (glibc calls its internal
 * sigaction there, not ours) and a raw rt_sigaction replace our handler
 * without our knowing. So the kernel's disposition is asked too; when it no
 * longer is ours, the bit goes and the program's calls pass through.
 */
static int stop_is_ours(int sig)
{
    if (!is_stop_signal(sig) || !(atomic_load(&g.stop_ours) & (1u << sig)) || in_vfork_child())
        return 0;
    struct sigaction cur;
    if (g.real_sigaction(sig, NULL, &cur) == 0 && ours_installed(sig, &cur))
        return 1;
    atomic_fetch_and(&g.stop_ours, ~(1u << sig));
    return 0;
}

/* Give `sig` back its SIG_DFL: ours no longer stands in for it. */
static void restore_default(int sig)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    if (!in_vfork_child()) /* a vfork child shares our memory: the bit is the parent's */
        atomic_fetch_and(&g.stop_ours, ~(1u << sig));
    g.real_sigaction(sig, &dfl, NULL);
}

/* Die of stop signal `sig` as its SIG_DFL would: from a handler that blocks
 * it, or from the ring's reader, which blocks every signal. */
static void die_of(int sig)
{
    restore_default(sig);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    raise(sig);                        /* pending while blocked here, */
    set_mask(SIG_UNBLOCK, &one, NULL); /* delivered here */
}

/* The ring's reader, between reads: a stop signal on_stop handed over, or
 * a crash whose thread waits in on_crash for the part and then dies itself. */
static void stop_from_reader(void)
{
    tls_reader = 1;
    int sig = atomic_load(&g.stop_sig);
    if (atomic_load(&g.crash_sig))
        write_part();
    else if (sig) {
        write_part();
        die_of(sig);
    }
}

/*
 * A stop signal at its default: the ring's reader writes the part, then
 * ends the process as SIG_DFL would. Not here: the interrupted code may
 * hold malloc's or the loader's lock, which write_part takes (a handler
 * that wrote hung for ever, in malloc). So the handler only hands the
 * signal over and returns. A part already being written (by the reader,
 * or at an exit) is finished first too: `perfprof record` passes SIGTERM
 * on to a process group that got it as well, and the second one killed
 * the process in the middle of the write. A third signal ends it at once
 * (a writer that hangs must not make it unkillable), as does any without
 * a reader (the signal routes).
 */
static void on_stop(int sig)
{
    int saved = errno;
    int expected = 0;
    if (!in_vfork_child() && g.ring && atomic_fetch_add(&g.stop_count, 1) < 2) {
        atomic_compare_exchange_strong(&g.stop_sig, &expected, sig);
        errno = saved;
        return;
    }
    die_of(sig);
    errno = saved;
}

/*
 * A crash (a fault, abort()) at its default: every crashing thread waits
 * while the ring's reader writes the part (not here: the crash may be
 * inside malloc, which write_part needs); half a second when the reader
 * does not even start (what it needs is held), else at most 3 s. Then it
 * dies of it as SIG_DFL would, where it was: the same signal, with the same
 * siginfo, is queued to the thread, blocked until the handler returns, so a
 * fault dies at its instruction (with its core) and abort() or a kill()ed
 * signal dies too, also one with si_code > 0 that would not come again
 * (an asynchronous memory error).
 */
static void on_crash(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    int saved = errno, expected = 0;
    if (!in_vfork_child() && g.ring && !tls_writing && !tls_reader) {
        atomic_compare_exchange_strong(&g.crash_sig, &expected, sig);
        for (int i = 0; i < 3000 && !atomic_load(&g.write_done); i++) {
            if (i == 500 && !atomic_load(&g.written))
                break;
            nap_ms();
        }
    }
    restore_default(sig);
    if (syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)syscall(SYS_gettid), sig, si) != 0)
        die_of(sig);
    errno = saved;
}

static void catch_stop_signals(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
    struct sigaction ours, cur;
    memset(&ours, 0, sizeof(ours));
    sigemptyset(&ours.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        if (!is_crash_signal(sigs[i])) /* the stop signals wait while either handler runs */
            sigaddset(&ours.sa_mask, sigs[i]);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        if (is_crash_signal(sigs[i])) {
            ours.sa_sigaction = on_crash;
            ours.sa_flags = SA_SIGINFO | SA_RESTART;
        } else {
            ours.sa_handler = on_stop;
            ours.sa_flags = SA_RESTART;
        }
        if (g.real_sigaction(sigs[i], NULL, &cur) == 0 && !(cur.sa_flags & SA_SIGINFO) &&
            cur.sa_handler == SIG_DFL && g.real_sigaction(sigs[i], &ours, NULL) == 0)
            atomic_fetch_or(&g.stop_ours, 1u << sigs[i]);
    }
}

/* The program's sigaction on a stop signal we stand in for: it sees SIG_DFL;
 * SIG_DFL keeps ours, anything else replaces it. */
static int stop_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (act && ((act->sa_flags & SA_SIGINFO) || act->sa_handler != SIG_DFL)) {
        if (g.real_sigaction(sig, act, NULL) < 0)
            return -1;
        atomic_fetch_and(&g.stop_ours, ~(1u << sig));
    }
    if (old) {
        memset(old, 0, sizeof(*old));
        old->sa_handler = SIG_DFL;
    }
    return 0;
}

__attribute__((constructor)) static void rt_init(void)
{
    /* First: the interposed functions use these even when we do not profile. */
    g.real_sigaction = (sigaction_fn)next_fn("sigaction");
    g.real_signal = (sighandler_t(*)(int, sighandler_t))next_fn("signal");
    g.real_pthread_sigmask = (sigmask_fn)next_fn("pthread_sigmask");
    g.real_sigprocmask = (sigmask_fn)next_fn("sigprocmask");
    g.real_read = (read_fn)next_fn("read");
    g.real_close = (close_fn)next_fn("close");
    g.real_pipe2 = (pipe2_fn)next_fn("pipe2");
    g.real_mmap = (mmap_fn)next_fn("mmap");
    g.real_munmap = (munmap_fn)next_fn("munmap");
    g.real_pthread_create = (pthread_create_fn)next_fn("pthread_create");
    lookup_fd_fns();
    const char *out = getenv("PERFPROF_OUT");
    if (!out || !*out || strlen(out) >= sizeof(g.out))
        return;
    snprintf(g.out, sizeof(g.out), "%s", out);
    g.debug = getenv("PERFPROF_DEBUG") != NULL;
    g.hz = (unsigned)env_number("PERFPROF_HZ", 1, 100000, RT_DEFAULT_HZ);
    g.sig = (int)env_number("PERFPROF_SIGNAL", 1, SIGRTMAX, SIGRTMIN + 6);
    if (g.sig == SIGKILL || g.sig == SIGSTOP)
        g.sig = SIGRTMIN + 6;
    g.stack_bytes = (unsigned)env_number("PERFPROF_STACK", 512, 65000, RT_DEFAULT_STACK_COPY) & ~7u;
    const char *mode = getenv("PERFPROF_MODE");
    g.mode = !mode || !*mode           ? PPRT_MODE_RING
             : !strcmp(mode, "timer")  ? PPRT_MODE_TIMER
             : !strcmp(mode, "signal") ? PPRT_MODE_PERF
             : !strcmp(mode, "trap")   ? PPRT_MODE_TRAP
                                       : PPRT_MODE_RING;
    if (g.mode == PPRT_MODE_TRAP && traced())
        g.mode = PPRT_MODE_PERF; /* a debugger would stop at every SIGTRAP sample */
    if (!g.real_sigaction || !g.real_signal || !g.real_pthread_sigmask || !g.real_sigprocmask)
        return;
    if (setup_memory() < 0) {
        release_memory();
        return;
    }
    struct sigaction sa = sampling_action();
    if (g.real_sigaction(g.sig, &sa, NULL) < 0) {
        release_memory();
        return;
    }
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    start_clocks();
    g.active = 1;
    if (g.mode == PPRT_MODE_RING)
        start_ring();
    thread_start();
    if (g.ring) /* the signal routes have no thread to write from */
        catch_stop_signals();
}

__attribute__((destructor)) static void rt_fini(void)
{
    write_part();
}

/* ---- interposed functions -------------------------------------------- */

struct start_arg {
    void *(*fn)(void *);
    void *arg;
};

static void *trampoline(void *p)
{
    struct start_arg a = *(struct start_arg *)p;
    free(p);
    thread_start();
    void *ret = NULL;
    pthread_cleanup_push(thread_stop, NULL);
    ret = a.fn(a.arg);
    pthread_cleanup_pop(1);
    return ret;
}

RT_EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *),
                             void *arg)
{
    pthread_create_fn real = g.real_pthread_create;
    if (!real)
        real = g.real_pthread_create = (pthread_create_fn)next_fn("pthread_create");
    if (!real)
        return EAGAIN;
    if (!g.active || atomic_load(&g.stopping))
        return real(thread, attr, fn, arg);
    struct start_arg *a = malloc(sizeof(*a));
    if (!a)
        return real(thread, attr, fn, arg);
    a->fn = fn;
    a->arg = arg;
    int rc = real(thread, attr, trampoline, a);
    if (rc != 0)
        free(a);
    return rc;
}

/*
 * libunwind's memory check (unw_read and its neighbours above): only calls
 * made inside our unw_backtrace are looked at; every other call, the
 * program's, goes straight to libc. A one-byte read is the check's; the
 * reads libunwind makes of files it opened itself are larger.
 */
RT_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
    if (tls_unwinding && n == 1)
        return unw_read(fd, buf);
    if (!g.real_read)
        g.real_read = (read_fn)next_fn("read");
    return g.real_read ? g.real_read(fd, buf, n) : (errno = ENOSYS, -1);
}

RT_EXPORT int close(int fd)
{
    if (tls_unwinding)
        return unw_close(fd);
    if (!g.real_close)
        g.real_close = (close_fn)next_fn("close");
    return g.real_close ? g.real_close(fd) : (errno = ENOSYS, -1);
}

/* libunwind's frame caches (unw_cache_take above): kept across threads. */
RT_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    int cache = is_unw_cache_map(addr, len, prot, flags, fd, off);
    void *p = cache ? unw_cache_take() : NULL;
    if (p) {
        memset(p, 0, len);
        tls_unw_cache = p;
        return p;
    }
    if (!g.real_mmap)
        g.real_mmap = (mmap_fn)next_fn("mmap");
    if (!g.real_mmap) {
        errno = ENOSYS;
        return MAP_FAILED;
    }
    p = g.real_mmap(addr, len, prot, flags, fd, off);
    if (cache && p != MAP_FAILED)
        tls_unw_cache = p;
    return p;
}

RT_EXPORT int munmap(void *addr, size_t len)
{
    if (addr && addr == tls_unw_cache && len == RT_UNW_CACHE_BYTES) {
        tls_unw_cache = NULL;
        if (unw_cache_keep(addr))
            return 0;
    }
    if (!g.real_munmap)
        g.real_munmap = (munmap_fn)next_fn("munmap");
    return g.real_munmap ? g.real_munmap(addr, len) : (errno = ENOSYS, -1);
}

RT_EXPORT int pipe2(int fds[2], int flags)
{
    if (tls_unwinding)
        return unw_pipe2(fds, flags);
    if (tls_starting_ring) { /* the remote libunwind's memory-check pipe, which it never uses */
        if (syscall(SYS_pipe2, fds, flags) < 0)
            return -1;
        fds[0] = rt_fd_move_high(fds[0]);
        fds[1] = rt_fd_move_high(fds[1]);
        return 0;
    }
    if (!g.real_pipe2)
        g.real_pipe2 = (pipe2_fn)next_fn("pipe2");
    int rc;
    do
        rc = g.real_pipe2 ? g.real_pipe2(fds, flags) : (errno = ENOSYS, -1);
    while (rc < 0 && give_back_fd());
    return rc;
}

/*
 * The calls that make an fd: when one fails for want of a number (EMFILE,
 * ENFILE) while our threads hold perf fds, give_back_fd frees one and the
 * call is made again, so the program's open, socket or pipe never fails
 * because of the profiler. libc's own pointers are looked up at start
 * (rt_init), not in a signal handler.
 */
enum {
    FD_OPEN,
    FD_OPEN64,
    FD_OPEN_2,
    FD_OPEN64_2,
    FD_OPENAT,
    FD_OPENAT64,
    FD_OPENAT_2,
    FD_OPENAT64_2,
    FD_CREAT,
    FD_CREAT64,
    FD_FOPEN,
    FD_FOPEN64,
    FD_OPENDIR,
    FD_SOCKET,
    FD_SOCKETPAIR,
    FD_ACCEPT,
    FD_ACCEPT4,
    FD_PIPE,
    FD_DUP,
    FD_EPOLL_CREATE,
    FD_EPOLL_CREATE1,
    FD_EVENTFD,
    FD_TIMERFD_CREATE,
    FD_SIGNALFD,
    FD_INOTIFY_INIT,
    FD_INOTIFY_INIT1,
    FD_MEMFD_CREATE,
    FD_COUNT,
};

static const char *const fd_fn_names[FD_COUNT] = {
    "open",         "open64",        "__open_2",      "__open64_2", "openat",         "openat64",
    "__openat_2",   "__openat64_2",  "creat",         "creat64",    "fopen",          "fopen64",
    "opendir",      "socket",        "socketpair",    "accept",     "accept4",        "pipe",
    "dup",          "epoll_create",  "epoll_create1", "eventfd",    "timerfd_create", "signalfd",
    "inotify_init", "inotify_init1", "memfd_create",
};

static any_fn fd_fns[FD_COUNT];

static any_fn fd_fn(int which)
{
    if (!fd_fns[which])
        fd_fns[which] = next_fn(fd_fn_names[which]);
    return fd_fns[which];
}

static void lookup_fd_fns(void)
{
    for (int i = 0; i < FD_COUNT; i++)
        fd_fn(i);
}

/* `name` PARAMS returning an fd (or 0/-1), calling libc's as (*real) ARGS. */
#define RT_FD_CALL(name, which, params, args)                                                      \
    RT_EXPORT int name params                                                                      \
    {                                                                                              \
        int(*real) params = (int(*) params)fd_fn(which);                                           \
        int rc;                                                                                    \
        do                                                                                         \
            rc = real ? real args : (errno = ENOSYS, -1);                                          \
        while (rc < 0 && give_back_fd());                                                          \
        return rc;                                                                                 \
    }

/* open's mode argument, there when the flags need one (glibc's __OPEN_NEEDS_MODE). */
#define RT_OPEN_MODE(flags, last)                                                                  \
    mode_t mode = 0;                                                                               \
    if (((flags)&O_CREAT) || ((flags)&O_TMPFILE) == O_TMPFILE) {                                   \
        va_list ap;                                                                                \
        va_start(ap, last);                                                                        \
        mode = va_arg(ap, mode_t);                                                                 \
        va_end(ap);                                                                                \
    }

static int open_with(int which, int dirfd, const char *path, int flags, mode_t mode)
{
    any_fn f = fd_fn(which);
    int rc;
    do {
        if (!f)
            return errno = ENOSYS, -1;
        if (which == FD_OPEN || which == FD_OPEN64)
            rc = ((int (*)(const char *, int, ...))f)(path, flags, mode);
        else
            rc = ((int (*)(int, const char *, int, ...))f)(dirfd, path, flags, mode);
    } while (rc < 0 && give_back_fd());
    return rc;
}

RT_EXPORT int open(const char *path, int flags, ...)
{
    RT_OPEN_MODE(flags, flags)
    return open_with(FD_OPEN, AT_FDCWD, path, flags, mode);
}

RT_EXPORT int open64(const char *path, int flags, ...)
{
    RT_OPEN_MODE(flags, flags)
    return open_with(FD_OPEN64, AT_FDCWD, path, flags, mode);
}

RT_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
    RT_OPEN_MODE(flags, flags)
    return open_with(FD_OPENAT, dirfd, path, flags, mode);
}

RT_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
    RT_OPEN_MODE(flags, flags)
    return open_with(FD_OPENAT64, dirfd, path, flags, mode);
}

/* The _FORTIFY_SOURCE entries (flags unknown at compile time, no mode). */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
RT_FD_CALL(__open_2, FD_OPEN_2, (const char *path, int flags), (path, flags))
RT_FD_CALL(__open64_2, FD_OPEN64_2, (const char *path, int flags), (path, flags))
RT_FD_CALL(__openat_2, FD_OPENAT_2, (int dirfd, const char *path, int flags), (dirfd, path, flags))
RT_FD_CALL(__openat64_2, FD_OPENAT64_2, (int dirfd, const char *path, int flags),
           (dirfd, path, flags))
RT_FD_CALL(creat, FD_CREAT, (const char *path, mode_t mode), (path, mode))
RT_FD_CALL(creat64, FD_CREAT64, (const char *path, mode_t mode), (path, mode))
RT_FD_CALL(socket, FD_SOCKET, (int domain, int type, int protocol), (domain, type, protocol))
RT_FD_CALL(socketpair, FD_SOCKETPAIR, (int domain, int type, int protocol, int fds[2]),
           (domain, type, protocol, fds))
RT_FD_CALL(accept, FD_ACCEPT, (int fd, __SOCKADDR_ARG addr, socklen_t *restrict len),
           (fd, addr, len))
RT_FD_CALL(accept4, FD_ACCEPT4, (int fd, __SOCKADDR_ARG addr, socklen_t *restrict len, int flags),
           (fd, addr, len, flags))
RT_FD_CALL(pipe, FD_PIPE, (int fds[2]), (fds))
RT_FD_CALL(dup, FD_DUP, (int fd), (fd))
RT_FD_CALL(epoll_create, FD_EPOLL_CREATE, (int size), (size))
RT_FD_CALL(epoll_create1, FD_EPOLL_CREATE1, (int flags), (flags))
RT_FD_CALL(eventfd, FD_EVENTFD, (unsigned int count, int flags), (count, flags))
RT_FD_CALL(timerfd_create, FD_TIMERFD_CREATE, (int clock, int flags), (clock, flags))
RT_FD_CALL(signalfd, FD_SIGNALFD, (int fd, const sigset_t *mask, int flags), (fd, mask, flags))
RT_FD_CALL(inotify_init, FD_INOTIFY_INIT, (void), ())
RT_FD_CALL(inotify_init1, FD_INOTIFY_INIT1, (int flags), (flags))
RT_FD_CALL(memfd_create, FD_MEMFD_CREATE, (const char *name, unsigned int flags), (name, flags))

/* The stdio and dirent calls that open an fd inside libc. */
static void *ptr_with(int which, const char *a, const char *b)
{
    any_fn f = fd_fn(which);
    void *p;
    do {
        if (!f)
            return errno = ENOSYS, NULL;
        p = which == FD_OPENDIR ? (void *)((DIR * (*)(const char *)) f)(a)
                                : (void *)((FILE * (*)(const char *, const char *)) f)(a, b);
    } while (!p && give_back_fd());
    return p;
}

RT_EXPORT FILE *fopen(const char *path, const char *how)
{
    return ptr_with(FD_FOPEN, path, how);
}

RT_EXPORT FILE *fopen64(const char *path, const char *how)
{
    return ptr_with(FD_FOPEN64, path, how);
}

RT_EXPORT DIR *opendir(const char *path)
{
    return ptr_with(FD_OPENDIR, path, NULL);
}

/*
 * dlopen and dlmopen: libunwind walks the loaded objects, so this thread
 * never samples while they change. But glibc's dlopen is not a plain
 * function of its arguments: it takes the calling object from its return
 * address (dlfcn/dlopen.c RETURN_ADDRESS (0), elf/dl-open.c
 * _dl_find_dso_for_object, the main program when no object holds it) and
 * searches a bare name by that object's DT_RPATH/DT_RUNPATH with $ORIGIN,
 * expands $ORIGIN in any name, and loads into its namespace. Called from
 * here, the caller was this runtime, so a plugin the program finds through
 * its RUNPATH ($ORIGIN/plugins) was not found. Rebuilding glibc's search
 * (RPATH of the loader chain, LD_LIBRARY_PATH, RUNPATH, hwcaps
 * subdirectories, the cache, names already loaded) would be an
 * approximation, and no exported glibc entry takes a caller; not guarding
 * dlopen at all would let a sample unwind while the link map changes
 * (_r_debug.r_state is still RT_CONSISTENT while glibc 2.36 links in the
 * first new object). So the real dlopen is entered with a return address
 * inside the caller's own object: a `ret` byte (0xc3) in its executable
 * segment, which returns into rt_call_as below and from there to us.
 * glibc then sees exactly the caller it would have seen, and its results,
 * errors and dlerror() are its own. Where that cannot be done (a shadow
 * stack would refuse the borrowed return, no such byte is found, or a fork
 * child has the loader's lock held for ever, loader_lock_inherited, so the
 * search would never return) the real function is called directly, as
 * before. While the call runs, an unwinder walking out of dlopen sees the
 * caller's frame at the borrowed address; ours never does (tls_busy drops
 * this thread's samples).
 */
void *rt_call_as(void *fn, uintptr_t a, uintptr_t b, uintptr_t c, const void *ret)
    __attribute__((visibility("hidden")));
/* rt_call_as(fn, a, b, c, ret): fn(a, b, c), entered with `ret` as its return
 * address and the address after it pointing back here (x86-64 SysV). */
__asm__(".pushsection .text\n"
        ".p2align 4\n"
        ".globl rt_call_as\n"
        ".hidden rt_call_as\n"
        ".type rt_call_as, @function\n"
        "rt_call_as:\n"
        ".cfi_startproc\n"
        "pushq %rbp\n"
        ".cfi_def_cfa_offset 16\n"
        ".cfi_offset %rbp, -16\n"
        "movq %rsp, %rbp\n"
        ".cfi_def_cfa_register %rbp\n"
        "subq $8, %rsp\n" /* fn is entered with %rsp = 8 mod 16 */
        "movq %rdi, %r11\n"
        "leaq 1f(%rip), %rax\n"
        "pushq %rax\n" /* where the borrowed `ret` returns to */
        "pushq %r8\n"  /* fn's return address: the borrowed `ret` */
        "movq %rsi, %rdi\n"
        "movq %rdx, %rsi\n"
        "movq %rcx, %rdx\n"
        "jmp *%r11\n"
        "1:\n"
        "leave\n"
        ".cfi_def_cfa %rsp, 8\n"
        "ret\n"
        ".cfi_endproc\n"
        ".size rt_call_as, .-rt_call_as\n"
        ".popsection\n");

struct ret_search {
    uintptr_t pc;    /* the caller's return address */
    int main_only;   /* second pass: the main program (glibc's choice for no object) */
    int seen;        /* an object holds pc */
    uintptr_t found; /* a 0xc3 byte in that object's code, or 0 */
};

/* A 0xc3 byte in a readable, executable segment of `info`: from `from` on if
 * it lies in one, else anywhere. */
static uintptr_t find_ret_byte(const struct dl_phdr_info *info, uintptr_t from)
{
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < info->dlpi_phnum; i++) {
            const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
            if (ph->p_type != PT_LOAD || (ph->p_flags & (PF_X | PF_R)) != (PF_X | PF_R))
                continue;
            uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_filesz;
            int holds = from >= lo && from < hi;
            if (pass == 0 && !holds)
                continue;
            uintptr_t start = pass == 0 ? from : lo;
            const void *p = memchr((const void *)start, 0xc3, hi - start);
            if (p)
                return (uintptr_t)p;
        }
    return 0;
}

static int ret_search_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct ret_search *s = data;
    if (s->main_only) { /* the first object listed is the main program */
        s->found = find_ret_byte(info, 0);
        return 1;
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && s->pc >= lo && s->pc < lo + ph->p_memsz) {
            s->seen = 1;
            s->found = find_ret_byte(info, s->pc);
            return 1;
        }
    }
    return 0;
}

/* The return address to give glibc for a call made from `pc`, or NULL. */
static const void *borrowed_return(const void *pc)
{
    int saved_errno = errno;
    struct ret_search s = {(uintptr_t)pc, 0, 0, 0};
    /* A shadow stack (ARCH_SHSTK_STATUS 0x5005, ARCH_SHSTK_SHSTK 1) would
     * refuse a return to an address no call pushed. */
    unsigned long shstk = 0;
    if (syscall(SYS_arch_prctl, 0x5005, &shstk) == 0 && (shstk & 1)) {
        errno = saved_errno;
        return NULL;
    }
    dl_iterate_phdr(ret_search_cb, &s);
    if (!s.seen) {
        s.main_only = 1;
        dl_iterate_phdr(ret_search_cb, &s);
    }
    errno = saved_errno;
    return (const void *)s.found;
}

RT_EXPORT void *dlopen(const char *file, int mode)
{
    const void *caller = __builtin_return_address(0);
    void *(*real)(const char *, int) = (void *(*)(const char *, int))next_fn("dlopen");
    if (!real)
        return NULL;
    int old = tls_busy;
    tls_busy = 1;
    const void *ret = g.loader_stuck ? NULL : borrowed_return(caller);
    void *fn;
    memcpy(&fn, &real, sizeof(fn));
    void *h =
        ret ? rt_call_as(fn, (uintptr_t)file, (uintptr_t)(unsigned)mode, 0, ret) : real(file, mode);
    tls_busy = old;
    return h;
}

RT_EXPORT void *dlmopen(Lmid_t lmid, const char *file, int mode)
{
    const void *caller = __builtin_return_address(0);
    void *(*real)(Lmid_t, const char *, int) =
        (void *(*)(Lmid_t, const char *, int))next_fn("dlmopen");
    if (!real)
        return NULL;
    int old = tls_busy;
    tls_busy = 1;
    const void *ret = g.loader_stuck ? NULL : borrowed_return(caller);
    void *fn;
    memcpy(&fn, &real, sizeof(fn));
    void *h = ret ? rt_call_as(fn, (uintptr_t)lmid, (uintptr_t)file, (uintptr_t)(unsigned)mode, ret)
                  : real(lmid, file, mode);
    tls_busy = old;
    return h;
}

RT_EXPORT int dlclose(void *handle)
{
    int (*real)(void *) = (int (*)(void *))next_fn("dlclose");
    int old = tls_busy;
    tls_busy = 1;
    struct closing c = {0};
    struct link_map *lm = NULL;
    if (g.active && !atomic_load(&g.stopping) && dlinfo(handle, RTLD_DI_LINKMAP, &lm) == 0 && lm) {
        c.bias = lm->l_addr;
        dl_iterate_phdr(closing_cb, &c);
        const unsigned char *id = NULL;
        size_t id_len = c.seen ? build_id_of(&c.info, &id) : 0;
        /* Still mapped until the real dlclose: its record is made here. */
        if (c.seen && !retired_already(c.bias, id, id_len))
            module_cb(&c.info, sizeof c.info, &c.rec);
    }
    int rc = real ? real(handle) : -1;
    if (rc == 0 && c.rec.len)
        retire_closed(&c);
    free(c.rec.data);
    tls_busy = old;
    return rc;
}

/* The main thread leaving while others go on: the ring's reader, a thread
 * of ours, must not keep the process alive after the program's last. */
RT_EXPORT void pthread_exit(void *value)
{
    void (*real)(void *) = (void (*)(void *))next_fn("pthread_exit");
    if (g.ring && !in_vfork_child() && syscall(SYS_gettid) == g.pid)
        rt_ring_main_exits(g.ring);
    if (real)
        real(value);
    abort(); /* no pthread_exit to call: as unreachable as after it */
}

/*
 * A vfork child runs in our memory until it execs or exits: the table, the
 * threads and the part are the parent's, so it must leave them alone (it is
 * not sampled; the image it execs has a runtime of its own).
 */
static int in_vfork_child(void)
{
    return getpid() != g.pid;
}

/*
 * Before an exec replaces this image: write its part, stop every timer and
 * swallow any of our signals still pending (a real-time signal or SIGTRAP
 * pending across exec would kill the new image before its runtime installs
 * the handler). A SIGTRAP of the program's own stays pending, and an ignored
 * SIGTRAP stays ignored in the new image. If the exec fails, profile on with
 * a fresh table.
 */
static void before_exec(void)
{
    if (!g.active || in_vfork_child())
        return;
    write_part();
    uint32_t nslots = slots_used();
    for (uint32_t i = 0; i < nslots; i++) {
        struct rt_thread *t = live_slot(i);
        if (!t)
            continue;
        t->exec_route = t->route;
        disarm(t);
    }
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, g.sig);
    if (g.trap_installed)
        sigaddset(&set, SIGTRAP);
    set_mask(SIG_BLOCK, &set, &old);
    drop_pending_samples(&set); /* a SIGTRAP of the program's stays pending for the new image */
    set_mask(SIG_SETMASK, &old, NULL);
}

/*
 * The exec failed and this image goes on: take back the part written for
 * it (the process ends with one part holding all its samples, not two
 * that read as two processes) and arm every thread the exec disarmed,
 * each in its own handler by a request signal as ignore_traps() does.
 */
static void after_failed_exec(void)
{
    if (!g.active || in_vfork_child())
        return;
    int saved = errno;
    if (g.part[0] && unlink(g.part) < 0) {
        /* It stays: count from here on into a part of its own. */
        for (uint32_t k = 0, n = atomic_load(&g.ntaken); k < n; k++) {
            uint32_t slot = atomic_load(&g.taken[k]);
            if (slot)
                atomic_store(&g.table[slot - 1].count, 0);
        }
        atomic_store(&g.samples, 0);
        atomic_store(&g.lost, 0);
        atomic_store(&g.cut, 0);
        start_clocks();
    }
    g.part[0] = '\0';
    atomic_store(&g.written, 0);
    atomic_store(&g.write_done, 0);
    atomic_store(&g.stopping, 0);
    if (g.ring)
        rt_ring_resume(g.ring);
    if (tls_self) {
        tls_self->exec_route = PPRT_MODE_NONE;
        arm(tls_self);
    }
    uint32_t nslots = slots_used();
    for (uint32_t i = 0; i < nslots; i++) {
        struct rt_thread *t = live_slot(i);
        if (!t || t == tls_self || t->exec_route == PPRT_MODE_NONE)
            continue;
        send_request(t->tid, RT_REARM_COOKIE);
    }
    errno = saved;
}

/*
 * SIGTRAP carries our samples while the runtime is on it: the program's
 * sigaction and signal calls for SIGTRAP set and read the disposition
 * pass_trap honours, and our handler stays. (sigset, bsd_signal and
 * sysv_signal are not interposed.)
 */
RT_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (stop_is_ours(sig))
        return stop_sigaction(sig, act, old);
    if (sig != SIGTRAP || !g.trap_installed || in_vfork_child()) {
        sigaction_fn real =
            g.real_sigaction ? g.real_sigaction : (sigaction_fn)next_fn("sigaction");
        return real ? real(sig, act, old) : (errno = ENOSYS, -1);
    }
    /* Keep this thread's samples out while the disposition is half copied. */
    sigset_t all, mask;
    sigfillset(&all);
    set_mask(SIG_BLOCK, &all, &mask);
    struct sigaction prev = trap_disposition();
    if (act) {
        set_trap_disposition(act);
        /* Ignored is the kernel's too, so children started by system(), popen
         * or posix_spawn (which reset handled signals) inherit it. */
        struct sigaction ours = trap_action(act);
        int ignore = act->sa_handler == SIG_IGN;
        g.real_sigaction(SIGTRAP, ignore ? act : &ours, NULL);
        if (ignore && prev.sa_handler != SIG_IGN)
            ignore_traps();
    }
    set_mask(SIG_SETMASK, &mask, NULL);
    if (old)
        *old = prev;
    return 0;
}

RT_EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
    int ours = stop_is_ours(sig);
    if (!ours && (sig != SIGTRAP || !g.trap_installed)) {
        sighandler_t (*real)(int, sighandler_t) =
            g.real_signal ? g.real_signal : (sighandler_t(*)(int, sighandler_t))next_fn("signal");
        return real ? real(sig, handler) : SIG_ERR;
    }
    /* glibc's signal(): BSD semantics, the signal blocked in its handler. */
    struct sigaction act, old;
    memset(&act, 0, sizeof(act));
    act.sa_handler = handler;
    act.sa_flags = SA_RESTART;
    sigemptyset(&act.sa_mask);
    sigaddset(&act.sa_mask, sig);
    sigaction(sig, &act, &old);
    return old.sa_handler;
}

/* A thread that blocks SIGTRAP takes its samples by the real-time signal from then on. */
static int program_mask(sigmask_fn real, int how, const sigset_t *set, sigset_t *old)
{
    if (set && how != SIG_UNBLOCK && tls_self && !tls_sampling &&
        tls_self->route == PPRT_MODE_TRAP && sigismember(set, SIGTRAP) == 1 && !in_vfork_child())
        leave_trap(tls_self);
    return real ? real(how, set, old) : (errno = ENOSYS, -1);
}

RT_EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
    return program_mask(real_pthread_sigmask(), how, set, old);
}

RT_EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
    return program_mask(g.real_sigprocmask ? g.real_sigprocmask
                                           : (sigmask_fn)next_fn("sigprocmask"),
                        how, set, old);
}

typedef int (*execve_fn)(const char *, char *const[], char *const[]);

RT_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    execve_fn real = (execve_fn)next_fn("execve");
    before_exec();
    int rc = real(path, argv, envp);
    after_failed_exec();
    return rc;
}

RT_EXPORT int execv(const char *path, char *const argv[])
{
    int (*real)(const char *, char *const[]) =
        (int (*)(const char *, char *const[]))next_fn("execv");
    before_exec();
    int rc = real(path, argv);
    after_failed_exec();
    return rc;
}

RT_EXPORT int execvp(const char *file, char *const argv[])
{
    int (*real)(const char *, char *const[]) =
        (int (*)(const char *, char *const[]))next_fn("execvp");
    before_exec();
    int rc = real(file, argv);
    after_failed_exec();
    return rc;
}

RT_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    execve_fn real = (execve_fn)next_fn("execvpe");
    before_exec();
    int rc = real(file, argv, envp);
    after_failed_exec();
    return rc;
}

/* execl, execlp, execle: gather the variable arguments into an argv. */
static char **collect_args(const char *arg0, va_list ap, char ***envp_out)
{
    va_list count;
    va_copy(count, ap);
    size_t n = 1;
    while (va_arg(count, char *))
        n++;
    va_end(count);
    char **argv = malloc((n + 1) * sizeof(char *));
    if (!argv)
        return NULL;
    argv[0] = (char *)arg0;
    for (size_t i = 1; i <= n; i++)
        argv[i] = i < n ? va_arg(ap, char *) : NULL;
    if (envp_out) {
        (void)va_arg(ap, char *); /* the terminating NULL */
        *envp_out = va_arg(ap, char **);
    }
    return argv;
}

RT_EXPORT int execl(const char *path, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    char **argv = collect_args(arg, ap, NULL);
    va_end(ap);
    if (!argv)
        return errno = ENOMEM, -1;
    int rc = execv(path, argv);
    free(argv);
    return rc;
}

RT_EXPORT int execlp(const char *file, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    char **argv = collect_args(arg, ap, NULL);
    va_end(ap);
    if (!argv)
        return errno = ENOMEM, -1;
    int rc = execvp(file, argv);
    free(argv);
    return rc;
}

RT_EXPORT int execle(const char *path, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    char **envp = NULL;
    char **argv = collect_args(arg, ap, &envp);
    va_end(ap);
    if (!argv)
        return errno = ENOMEM, -1;
    int rc = execve(path, argv, envp);
    free(argv);
    return rc;
}

RT_EXPORT void _exit(int status)
{
    void (*real)(int) = (void (*)(int))next_fn("_exit");
    if (!in_vfork_child())
        write_part();
    if (real)
        real(status);
    syscall(SYS_exit_group, status);
    for (;;)
        ;
}

RT_EXPORT void _Exit(int status)
{
    _exit(status);
}
