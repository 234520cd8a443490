/*
 * profile_attach.c — sample a running process from outside with ptrace.
 *
 * Every thread of the target is PTRACE_SEIZE'd (which does not stop it).
 * At each tick, each thread that is running (state R in
 * /proc/PID/task/TID/stat: a CPU profile ignores sleeping threads) is
 * stopped with PTRACE_INTERRUPT, unwound with libunwind-ptrace through one
 * cached address space, and continued; a sample counts the thread's CPU
 * time since its last one, and a thread found waiting in a system call
 * is no sample (see sample_thread). What the threads report on their own
 * is collected at least every DRAIN_NS without blocking: signals the target
 * receives are passed on, a job-control stop is left in place
 * (PTRACE_LISTEN), and exited threads are reaped; when none is left the
 * process ended and sampling stops. Threads created meanwhile are found by
 * rescanning /proc/PID/task. At the end every thread is detached and keeps
 * running, and the stacks are written in the data file format with the
 * modules of /proc/PID/maps (load bias from each ELF's program headers,
 * build-ids).
 *
 * The vDSO is no file, so libunwind-ptrace finds no unwind table for it and
 * a thread stopped there (in clock_gettime: benchmarks time themselves) lost
 * every caller. Its .eh_frame_hdr is read from the target's memory instead
 * and searched with libunwind's own table search (x86-64).
 */
#include "perfbisect/profile.h"
#include "profile_internal.h"
#include "rt/format.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <elfutils/libdwelf.h>
#include <libelf.h>
#include <libunwind-ptrace.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TRACEES 4096
#define RESCAN_NS 100000000ull
#define DRAIN_NS 10000000ull /* the most a signal to the target waits for us */

/*
 * What the unwinder needs besides libunwind-ptrace: the vDSO's unwind table
 * (as libunwind describes a remote one), and a plain libunwind-ptrace
 * address space for everything else: _UPT_find_proc_info calls back through
 * the address space it is given, with the argument it is given.
 */
typedef struct unwind_ctx {
    unw_addr_space_t upt_as;
    int vdso_found;
    unw_dyn_info_t vdso;
    pb_profile_raw_module vdso_module; /* hi 0: none; its path is set when it is kept */
} unwind_ctx;

/* What the unwinder's callbacks get: libunwind-ptrace's handle, and the rest. */
typedef struct unwind_arg {
    void *upt;
    const unwind_ctx *ctx;
} unwind_arg;

typedef struct tracee {
    pid_t tid;
    int stat_fd;
    int sched_fd;       /* /proc/PID/task/TID/schedstat, -1 if it cannot be read */
    int64_t counted_ns; /* its CPU time the samples taken so far stand for */
    unwind_arg ua;      /* ua.upt NULL: cannot be unwound */
    int alive;
} tracee;

typedef struct attach_state {
    const pb_profile_attach_options *o;
    unw_accessors_t accessors;
    unwind_ctx unwind;
    unw_addr_space_t as;
    tracee *t;
    size_t nt;
    pb_profile_raw_process proc;
    size_t stacks_cap;
    uint32_t *index; /* open addressing over proc.stacks: id + 1 */
    size_t index_cap;
    uint64_t period; /* ns of CPU time a sample stands for */
    pb_profile_attach_stats stats;
} attach_state;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t hash_pcs(const uint64_t *pcs, uint32_t depth)
{
    uint64_t h = 0xcbf29ce484222325u ^ depth;
    for (uint32_t i = 0; i < depth; i++) {
        h ^= pcs[i];
        h *= 0x100000001b3u;
        h ^= h >> 29;
    }
    return h;
}

/* Count `n` samples of `pcs` (leaf first) in the deduplicated stack list. */
static int add_sample(attach_state *s, const uint64_t *pcs, uint32_t depth, uint64_t n,
                      pb_error *err)
{
    pb_profile_raw_process *p = &s->proc;
    if ((p->nstacks + 1) * 2 > s->index_cap) {
        size_t cap = s->index_cap ? s->index_cap * 2 : 1024;
        uint32_t *idx = calloc(cap, sizeof(uint32_t));
        if (!idx)
            return pb_error_set(err, PB_ENOMEM, "out of memory");
        for (size_t i = 0; i < p->nstacks; i++) {
            size_t at = hash_pcs(p->stacks[i].pcs, p->stacks[i].depth) & (cap - 1);
            while (idx[at])
                at = (at + 1) & (cap - 1);
            idx[at] = (uint32_t)i + 1;
        }
        free(s->index);
        s->index = idx;
        s->index_cap = cap;
    }
    size_t mask = s->index_cap - 1;
    size_t at = hash_pcs(pcs, depth) & mask;
    for (; s->index[at]; at = (at + 1) & mask) {
        pb_profile_raw_stack *st = &p->stacks[s->index[at] - 1];
        if (st->depth == depth && !memcmp(st->pcs, pcs, depth * sizeof(uint64_t))) {
            st->count += n;
            return 0;
        }
    }
    if (p->nstacks == s->stacks_cap) {
        size_t cap = s->stacks_cap ? s->stacks_cap * 2 : 256;
        pb_profile_raw_stack *st = realloc(p->stacks, cap * sizeof(*st));
        if (!st)
            return pb_error_set(err, PB_ENOMEM, "out of memory");
        p->stacks = st;
        s->stacks_cap = cap;
    }
    uint64_t *copy = malloc(depth * sizeof(uint64_t));
    if (!copy)
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    memcpy(copy, pcs, depth * sizeof(uint64_t));
    p->stacks[p->nstacks] = (pb_profile_raw_stack){n, depth, copy};
    s->index[at] = (uint32_t)p->nstacks + 1;
    p->nstacks++;
    return 0;
}

static int stopping_signal(int sig)
{
    return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/* The thread's state in /proc/PID/task/TID/stat (R running, S sleeping,
 * t traced, Z zombie...), 0 if it cannot be read. */
static char thread_state(const tracee *t)
{
    char buf[512];
    if (t->stat_fd < 0)
        return 0;
    ssize_t n = pread(t->stat_fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');
    return paren && paren[1] == ' ' ? paren[2] : 0;
}

/*
 * From /proc/PID/task/TID/schedstat: the CPU time the thread has had so far
 * in ns (exact for a stopped thread, for a running one it may lag by a
 * scheduler tick) and how many times it was switched in. -1 if it cannot
 * be read.
 */
static int thread_sched(const tracee *t, int64_t *cpu_ns, uint64_t *switched_in)
{
    char buf[128];
    if (t->sched_fd < 0)
        return -1;
    ssize_t n = pread(t->sched_fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    unsigned long long ns, delay, count;
    if (sscanf(buf, "%llu %llu %llu", &ns, &delay, &count) != 3 || ns > INT64_MAX)
        return -1;
    *cpu_ns = (int64_t)ns;
    *switched_in = count;
    return 0;
}

/* Is the thread on a CPU (or ready to run)? */
static int running(const tracee *t)
{
    return t->stat_fd < 0 || thread_state(t) == 'R';
}

/*
 * Was the thread, stopped by our interrupt, inside a system call? A stop
 * happens on the way back to user space, where the kernel's record of the
 * call being made (orig_rax on x86-64, the first field of
 * /proc/PID/task/TID/syscall elsewhere) is still set. 0 no, 1 yes, 2 in one
 * that slept until our interrupt ended it (x86-64: it returns -EINTR or
 * one of the kernel's -ERESTART* codes, 512 to 516).
 */
static int in_syscall(const attach_state *s, const tracee *t)
{
#if defined(__x86_64__)
    errno = 0;
    long nr =
        ptrace(PTRACE_PEEKUSER, t->tid, (void *)offsetof(struct user_regs_struct, orig_rax), NULL);
    if (errno == 0 && nr < 0)
        return 0;
    if (errno == 0) {
        long ret =
            ptrace(PTRACE_PEEKUSER, t->tid, (void *)offsetof(struct user_regs_struct, rax), NULL);
        return errno == 0 && (ret == -EINTR || (ret <= -512 && ret >= -516)) ? 2 : 1;
    }
#endif
    char path[64], buf[32];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)s->o->pid, (int)t->tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    return n > 0 && buf[0] >= '0' && buf[0] <= '9'; /* "-1 ..." when in none */
}

/*
 * Wait until `t` is in a ptrace-stop we asked for. Signals on their way
 * to the thread are delivered (continue with the signal, keep waiting).
 * The wait polls: a thread group leader that exited is reported only after
 * its other threads are reaped, by us, so a blocking wait for it could last
 * as long as the process (for ever when they have exited too).
 * 0 stopped by our interrupt, 1 in a job-control group-stop, -1 gone or
 * exiting (drain() reaps it).
 */
static int wait_stop(const tracee *t)
{
    for (;;) {
        int st = 0;
        pid_t r = waitpid(t->tid, &st, WNOHANG | __WALL);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0) {
            char state = thread_state(t);
            if (state == 'Z' || state == 'X' || (state == 0 && t->stat_fd >= 0))
                return -1;
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
            continue;
        }
        if (WIFEXITED(st) || WIFSIGNALED(st))
            return -1;
        if (!WIFSTOPPED(st))
            continue;
        int sig = WSTOPSIG(st);
        if ((st >> 16) == PTRACE_EVENT_STOP)
            return stopping_signal(sig);
        if (ptrace(PTRACE_CONT, t->tid, NULL, (void *)(long)sig) < 0)
            return -1;
    }
}

/*
 * Collect, without blocking, the stops and exits the threads reported on
 * their own. A thread in a signal-delivery-stop is not running, so the
 * sampler never looks at it: left alone it would stay stopped until the
 * detach. Its signal is passed on (never swallowed). A group-stop (someone
 * sent SIGSTOP, SIGTSTP...) is kept with PTRACE_LISTEN so the process stays
 * stopped until SIGCONT, which then reports a PTRACE_EVENT_STOP with
 * SIGTRAP that is continued. An exited thread is reaped: a traced zombie is
 * handed to its parent only then, and the thread no longer counts as alive.
 * One wait per thread and pass, so a flood of signals cannot hold us here;
 * another pass after an exit, as a thread group leader becomes reapable only
 * after its other threads are. Returns how many threads are alive.
 */
static size_t drain(attach_state *s)
{
    size_t alive, ended;
    do {
        alive = ended = 0;
        for (size_t i = 0; i < s->nt; i++) {
            tracee *t = &s->t[i];
            if (!t->alive)
                continue;
            int st = 0;
            pid_t r;
            while ((r = waitpid(t->tid, &st, WNOHANG | __WALL)) < 0 && errno == EINTR)
                ;
            if (r < 0 || (r > 0 && (WIFEXITED(st) || WIFSIGNALED(st)))) {
                t->alive = 0;
                ended++;
                continue;
            }
            /* A restart that fails (ESRCH) means the thread was killed
             * meanwhile: its exit is collected by a later wait. */
            if (r > 0 && WIFSTOPPED(st)) {
                int sig = WSTOPSIG(st), event = st >> 16;
                if (event == PTRACE_EVENT_STOP && stopping_signal(sig))
                    ptrace(PTRACE_LISTEN, t->tid, NULL, NULL);
                else
                    ptrace(PTRACE_CONT, t->tid, NULL, (void *)(long)(event ? 0 : sig));
            }
            alive++;
        }
    } while (ended > 0 && alive > 0);
    return alive;
}

static int seize(attach_state *s, pid_t tid, pb_error *err)
{
    for (size_t i = 0; i < s->nt; i++)
        if (s->t[i].tid == tid)
            return 0;
    if (s->nt >= MAX_TRACEES)
        return 0;
    if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) < 0) {
        if (errno == ESRCH)
            return 0; /* already gone */
        return pb_error_set_errno(err, errno == EPERM ? PB_EINVAL : PB_ERROR, errno,
                                  "attach: cannot trace thread %d of process %d", (int)tid,
                                  (int)s->o->pid);
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)s->o->pid, (int)tid);
    tracee *t = &s->t[s->nt++];
    t->tid = tid;
    t->stat_fd = open(path, O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int)s->o->pid, (int)tid);
    t->sched_fd = open(path, O_RDONLY | O_CLOEXEC);
    uint64_t switched_in;
    if (thread_sched(t, &t->counted_ns, &switched_in) < 0)
        t->counted_ns = -1;
    t->ua.upt = _UPT_create(tid);
    t->ua.ctx = &s->unwind;
    t->alive = 1;
    s->stats.threads++;
    return 0;
}

/* ---- libunwind-ptrace's callbacks, with the vDSO's table added ---------- */

#if defined(__x86_64__)
/* libunwind's search of a remote .eh_frame_hdr table (exported, as
 * libunwind-ptrace calls it, but in no header). */
int _Ux86_64_dwarf_search_unwind_table(unw_addr_space_t as, unw_word_t ip, unw_dyn_info_t *di,
                                       unw_proc_info_t *pi, int need_unwind_info, void *arg);
#define search_remote_table _Ux86_64_dwarf_search_unwind_table
#endif

static int ua_find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi, int need,
                             void *arg)
{
    unwind_arg *ua = arg;
#ifdef search_remote_table
    const unw_dyn_info_t *di = &ua->ctx->vdso;
    if (ua->ctx->vdso_found && ip >= di->start_ip && ip < di->end_ip) {
        unw_dyn_info_t copy = *di;
        return search_remote_table(as, ip, &copy, pi, need, arg);
    }
#endif
    return _UPT_find_proc_info(ua->ctx->upt_as, ip, pi, need, ua->upt);
}

static void ua_put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
    (void)as;
    _UPT_put_unwind_info(((unwind_arg *)arg)->ctx->upt_as, pi, ((unwind_arg *)arg)->upt);
}

/* The rest go to libunwind-ptrace as they would without us: with its own
 * address space, so whatever it calls back is its own too. */
#define UPT_AS(arg) (((unwind_arg *)(arg))->ctx->upt_as)
#define UPT(arg) (((unwind_arg *)(arg))->upt)

static int ua_get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *addr, void *arg)
{
    (void)as;
    return _UPT_get_dyn_info_list_addr(UPT_AS(arg), addr, UPT(arg));
}

static int ua_access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write,
                         void *arg)
{
    (void)as;
    return _UPT_access_mem(UPT_AS(arg), addr, val, write, UPT(arg));
}

static int ua_access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write,
                         void *arg)
{
    (void)as;
    return _UPT_access_reg(UPT_AS(arg), reg, val, write, UPT(arg));
}

static int ua_access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val, int write,
                           void *arg)
{
    (void)as;
    return _UPT_access_fpreg(UPT_AS(arg), reg, val, write, UPT(arg));
}

static int ua_resume(unw_addr_space_t as, unw_cursor_t *c, void *arg)
{
    (void)as;
    return _UPT_resume(UPT_AS(arg), c, UPT(arg));
}

static int ua_get_proc_name(unw_addr_space_t as, unw_word_t ip, char *buf, size_t len,
                            unw_word_t *off, void *arg)
{
    (void)as;
    return _UPT_get_proc_name(UPT_AS(arg), ip, buf, len, off, UPT(arg));
}

/*
 * Find the vDSO in /proc/PID/maps, read its image from the target and
 * describe its module (bias, build-id) and its .eh_frame_hdr binary search
 * table for libunwind's remote table search.
 * Without one the vDSO stays unknown to the unwinder, as to libunwind.
 */
static void find_vdso(attach_state *s)
{
    char path[64], line[512];
    elf_version(EV_CURRENT);
    unsigned long long lo = 0, hi = 0;
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)s->o->pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f))
        if (strstr(line, " [vdso]") && sscanf(line, "%llx-%llx", &lo, &hi) == 2)
            break;
    fclose(f);
    if (!lo || hi <= lo || hi - lo > (1u << 20))
        return;
    snprintf(path, sizeof(path), "/proc/%d/mem", (int)s->o->pid);
    int mem = open(path, O_RDONLY | O_CLOEXEC);
    size_t size = (size_t)(hi - lo);
    unsigned char *image = mem >= 0 ? malloc(size) : NULL;
    int got = image && pread(mem, image, size, (off_t)lo) == (ssize_t)size;
    if (mem >= 0)
        close(mem);
    Elf *elf = got ? elf_memory((char *)image, size) : NULL;
    GElf_Ehdr eh;
    size_t phnum = 0;
    uint64_t text_lo = 0, text_hi = 0, hdr = 0;
    if (elf && gelf_getehdr(elf, &eh) && elf_getphdrnum(elf, &phnum) == 0) {
        for (size_t i = 0; i < phnum; i++) {
            GElf_Phdr ph;
            if (!gelf_getphdr(elf, (int)i, &ph))
                break;
            if (ph.p_type == PT_LOAD && !text_hi) {
                text_lo = ph.p_vaddr;
                text_hi = ph.p_vaddr + ph.p_memsz;
            } else if (ph.p_type == PT_GNU_EH_FRAME) {
                hdr = ph.p_vaddr;
            }
        }
    }
    /* The vDSO is one segment from file offset 0: an address's offset in
     * the image is its vaddr less the segment's page. */
    uint64_t page = text_lo & ~4095ull, bias = lo - page;
    if (text_hi > text_lo) {
        pb_profile_raw_module *m = &s->unwind.vdso_module;
        m->lo = lo;
        m->hi = hi;
        m->bias = bias;
        const void *id = NULL;
        ssize_t n = dwelf_elf_gnu_build_id(elf, &id);
        if (n > 0 && (size_t)n <= sizeof(m->build_id)) {
            memcpy(m->build_id, id, (size_t)n);
            m->build_id_len = (size_t)n;
        }
    }
    uint32_t count = text_hi > text_lo && hdr > page && hdr - page < size
                         ? pb_eh_frame_hdr_entries(image + (hdr - page), size - (hdr - page))
                         : 0;
    if (count > 0) {
        unw_dyn_info_t *di = &s->unwind.vdso;
        di->format = UNW_INFO_FORMAT_REMOTE_TABLE;
        di->start_ip = bias + text_lo;
        di->end_ip = bias + text_hi;
        di->u.rti.segbase = bias + hdr;
        di->u.rti.table_data = bias + hdr + PB_EH_FRAME_HDR_TABLE;
        di->u.rti.table_len = count * 8 / sizeof(unw_word_t);
        s->unwind.vdso_found = 1;
    }
    if (elf)
        elf_end(elf);
    free(image);
}

static int scan_tasks(attach_state *s, pb_error *err)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)s->o->pid);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        char *end = NULL;
        long tid = strtol(de->d_name, &end, 10);
        if (end && !*end && tid > 0)
            rc = seize(s, (pid_t)tid, err);
    }
    closedir(d);
    return rc;
}

/*
 * One tick for one thread. A thread that is not R is off CPU; one that is R
 * is stopped with PTRACE_INTERRUPT and unwound. But R means runnable, not
 * on a CPU, and our ticks are not independent of the target: the kernel
 * lets a thread finish a short burst before our woken sampler runs on the
 * CPU they share, so with ~1 ms of work between usleep(1000)s the ticks came
 * at the target's sleeps, many as it woke, R but still in clock_nanosleep,
 * waiting for the CPU we held (measured: each such stop had been switched
 * in after we read R; 25-70% of the samples, 0.1% with record), and few in
 * its work. Hence:
 * - a stop inside a system call is no sample if the call slept until our
 *   interrupt ended it, or if the thread was switched in (schedstat) after
 *   we read R: it was waiting, not running. (A thread running in a system
 *   call, such as a CPU clock read, stops without a switch; one stopped in
 *   user space was preempted there, by us: both are samples.)
 * - a sample counts the thread's CPU time since its last one in periods
 *   (rounded, none below half a period, the rest carried over), not 1, so a
 *   thread's samples add up to its CPU time whichever ticks found it
 *   running, as with record's CPU clock. Without schedstat it counts 1.
 */
static void sample_thread(attach_state *s, tracee *t, pb_error *err, int *rc)
{
    if (!running(t)) {
        s->stats.skipped++;
        return;
    }
    int64_t cpu = 0, cpu_stopped = 0;
    uint64_t in = 0, in_stopped = 0;
    int known = thread_sched(t, &cpu, &in) == 0;
    if (ptrace(PTRACE_INTERRUPT, t->tid, NULL, NULL) < 0)
        return; /* killed meanwhile: drain() reaps it */
    int stop = wait_stop(t);
    if (stop < 0)
        return; /* drain() reaps it */
    uint64_t due = 0;
    if (stop == 0 && t->ua.upt) {
        known = known && thread_sched(t, &cpu_stopped, &in_stopped) == 0;
        int sys = in_syscall(s, t);
        if (sys == 2 || (sys == 1 && known && in_stopped != in))
            due = 0; /* off CPU at the tick */
        else if (!known || t->counted_ns < 0)
            due = 1;
        else if (cpu_stopped - t->counted_ns >= (int64_t)(s->period / 2))
            due = ((uint64_t)(cpu_stopped - t->counted_ns) + s->period / 2) / s->period;
    }
    if (stop == 0 && due == 0)
        s->stats.skipped++;
    if (due > 0) {
        uint64_t pcs[PPRT_MAX_DEPTH];
        uint32_t depth = 0;
        unw_cursor_t c;
        if (unw_init_remote(&c, s->as, &t->ua) == 0) {
            do {
                unw_word_t ip = 0;
                if (unw_get_reg(&c, UNW_REG_IP, &ip) < 0 || ip == 0)
                    break;
                pcs[depth++] = ip;
            } while (depth < PPRT_MAX_DEPTH && unw_step(&c) > 0);
        }
        if (depth > 0) {
            if (add_sample(s, pcs, depth, due, err) < 0) {
                *rc = PB_ENOMEM;
            } else {
                s->stats.samples += due;
                if (known && t->counted_ns >= 0)
                    t->counted_ns += (int64_t)(due * s->period);
            }
        }
    }
    ptrace(stop == 1 ? PTRACE_LISTEN : PTRACE_CONT, t->tid, NULL, NULL);
}

static void detach_all(attach_state *s)
{
    drain(s); /* threads that exited since the last tick go to their parent now */
    for (size_t i = 0; i < s->nt; i++) {
        tracee *t = &s->t[i];
        if (t->alive && ptrace(PTRACE_INTERRUPT, t->tid, NULL, NULL) == 0 && wait_stop(t) >= 0)
            ptrace(PTRACE_DETACH, t->tid, NULL, NULL);
        if (t->ua.upt)
            _UPT_destroy(t->ua.upt);
        if (t->stat_fd >= 0)
            close(t->stat_fd);
        if (t->sched_fd >= 0)
            close(t->sched_fd);
        t->ua.upt = NULL;
        t->stat_fd = -1;
        t->sched_fd = -1;
        t->alive = 0;
    }
}

/* Load bias and build-id of the ELF file `path` mapped with its offset-0
 * page at `start`. */
static int elf_facts(const char *path, uint64_t start, pb_profile_raw_module *m)
{
    int ok = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    size_t phnum = 0;
    if (elf && elf_kind(elf) == ELF_K_ELF && elf_getphdrnum(elf, &phnum) == 0) {
        for (size_t i = 0; i < phnum; i++) {
            GElf_Phdr ph;
            if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
                continue;
            uint64_t align = ph.p_align > 1 ? ph.p_align : 4096;
            if (ph.p_offset / align != 0)
                continue;
            m->bias = start - (ph.p_vaddr & ~(align - 1));
            ok = 0;
            break;
        }
        const void *id = NULL;
        ssize_t n = dwelf_elf_gnu_build_id(elf, &id);
        if (n > 0 && (size_t)n <= sizeof(m->build_id)) {
            memcpy(m->build_id, id, (size_t)n);
            m->build_id_len = (size_t)n;
        }
    }
    if (elf)
        elf_end(elf);
    close(fd);
    return ok;
}

static int read_modules(attach_state *s, pb_error *err)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)s->o->pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0; /* the process is gone: stacks stay unnamed */
    pb_profile_raw_process *p = &s->proc;
    int rc = 0;
    char line[PPRT_MAX_PATH + 256];
    elf_version(EV_CURRENT);
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        unsigned long long lo, hi, off;
        int name_at = 0;
        if (sscanf(line, "%llx-%llx %*s %llx %*s %*s %n", &lo, &hi, &off, &name_at) < 3 || !name_at)
            continue;
        char *name = line + name_at;
        name[strcspn(name, "\n")] = '\0';
        if (name[0] != '/' || strstr(name, " (deleted)"))
            continue;
        pb_profile_raw_module *m = NULL;
        for (size_t i = 0; i < p->nmodules; i++)
            if (!strcmp(p->modules[i].path, name))
                m = &p->modules[i];
        if (m) {
            if (lo < m->lo)
                m->lo = lo;
            if (hi > m->hi)
                m->hi = hi;
            continue;
        }
        if (off != 0)
            continue; /* the first mapping of a file has offset 0 */
        pb_profile_raw_module mod;
        memset(&mod, 0, sizeof(mod));
        mod.lo = lo;
        mod.hi = hi;
        if (elf_facts(name, lo, &mod) < 0)
            continue;
        mod.path = strdup(name);
        pb_profile_raw_module *grown =
            realloc(p->modules, (p->nmodules + 1) * sizeof(pb_profile_raw_module));
        if (!mod.path || !grown) {
            free(mod.path);
            if (grown)
                p->modules = grown;
            rc = pb_error_set(err, PB_ENOMEM, "out of memory");
            break;
        }
        p->modules = grown;
        p->modules[p->nmodules++] = mod;
    }
    fclose(f);
    const pb_profile_raw_module *vdso = &s->unwind.vdso_module;
    if (rc == 0 && vdso->hi) { /* named at report time from the reader's own vDSO */
        pb_profile_raw_module *grown =
            realloc(p->modules, (p->nmodules + 1) * sizeof(pb_profile_raw_module));
        char *name = strdup(PB_PROFILE_VDSO);
        if (!grown || !name) {
            free(name);
            if (grown)
                p->modules = grown;
            return pb_error_set(err, PB_ENOMEM, "out of memory");
        }
        p->modules = grown;
        p->modules[p->nmodules] = *vdso;
        p->modules[p->nmodules++].path = name;
    }
    return rc;
}

static int write_data(attach_state *s, pb_error *err)
{
    pb_buf data = PB_BUF_INIT;
    int rc = pb_profile_raw_encode(&s->proc, &data, err);
    if (rc == 0) {
        FILE *f = fopen(s->o->out_path, "wb");
        if (!f) {
            rc = pb_error_set_errno(err, PB_EIO, errno, "%s", s->o->out_path);
        } else {
            size_t n = fwrite(data.data, 1, data.len, f);
            if (fclose(f) != 0 || n != data.len)
                rc = pb_error_set(err, PB_EIO, "%s: write failed", s->o->out_path);
        }
    }
    pb_buf_free(&data);
    return rc;
}

int pb_profile_attach(const pb_profile_attach_options *o, pb_profile_attach_stats *stats,
                      pb_error *err)
{
    int rc = 0;
    attach_state s;
    memset(&s, 0, sizeof(s));
    s.o = o;
    if (!o || o->pid <= 0 || o->hz == 0 || o->hz > PB_PROFILE_MAX_HZ || !o->out_path)
        return pb_error_set(err, PB_EINVAL, "attach: need a pid, a rate and an output path");
    if (kill(o->pid, 0) < 0 && errno == ESRCH)
        return pb_error_set(err, PB_ENOTFOUND, "attach: no process %d", (int)o->pid);
    s.t = calloc(MAX_TRACEES, sizeof(tracee));
    s.accessors =
        (unw_accessors_t){ua_find_proc_info, ua_put_unwind_info, ua_get_dyn_info_list_addr,
                          ua_access_mem,     ua_access_reg,      ua_access_fpreg,
                          ua_resume,         ua_get_proc_name};
    s.as = unw_create_addr_space(&s.accessors, 0);
    s.unwind.upt_as = unw_create_addr_space(&_UPT_accessors, 0);
    if (!s.t || !s.as || !s.unwind.upt_as) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    unw_set_caching_policy(s.as, UNW_CACHE_GLOBAL);
    s.proc.pid = (uint32_t)o->pid;
    s.proc.hz = o->hz;
    s.proc.mode = PPRT_MODE_PTRACE;
    char exe_link[64], exe[PPRT_MAX_PATH];
    snprintf(exe_link, sizeof(exe_link), "/proc/%d/exe", (int)o->pid);
    ssize_t n = readlink(exe_link, exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        s.proc.command = strdup(exe);
    }
    find_vdso(&s);
    if ((rc = read_modules(&s, err)) < 0 || (rc = scan_tasks(&s, err)) < 0)
        goto done;
    if (s.nt == 0) {
        rc = pb_error_set(err, PB_ENOTFOUND, "attach: no threads in process %d", (int)o->pid);
        goto done;
    }
    uint64_t period = 1000000000ull / o->hz;
    s.period = period;
    uint64_t start = mono_ns(), next = start, last_scan = start;
    uint64_t limit = o->seconds > 0 ? (uint64_t)(o->seconds * 1e9) : UINT64_MAX;
    for (;;) {
        if (o->stop && *o->stop)
            break;
        uint64_t now = mono_ns();
        if (now - start >= limit)
            break;
        if (now - last_scan >= RESCAN_NS) {
            last_scan = now;
            if ((rc = scan_tasks(&s, err)) < 0)
                goto done;
        }
        size_t alive = drain(&s);
        if (alive > 0 && now >= next) {
            for (size_t i = 0; i < s.nt && rc == 0; i++)
                if (s.t[i].alive)
                    sample_thread(&s, &s.t[i], err, &rc);
            if (rc < 0)
                goto done;
            next += period;
            now = mono_ns();
            if (next < now)
                next = now; /* behind: do not try to catch up */
        }
        if (alive == 0) {
            if ((rc = scan_tasks(&s, err)) < 0)
                goto done;
            size_t again = 0;
            for (size_t i = 0; i < s.nt; i++)
                again += s.t[i].alive;
            if (again == 0) {
                s.stats.ended = 1;
                break;
            }
        }
        /* Between ticks, wake up often enough to pass the target's signals on. */
        uint64_t wake = next < now + DRAIN_NS ? next : now + DRAIN_NS;
        struct timespec ts = {(time_t)(wake / 1000000000u), (long)(wake % 1000000000u)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR &&
               !(o->stop && *o->stop))
            ;
    }
    s.stats.seconds = (double)(mono_ns() - start) / 1e9;
    s.proc.wall_ns = mono_ns() - start;
    /* A sample stands for a period of its thread's CPU time (see
     * sample_thread), user and system time alike. */
    s.proc.user_ns = s.stats.samples * period;
    s.proc.threads = s.stats.threads;
    s.proc.samples = s.stats.samples;
    detach_all(&s);
    if (s.proc.nmodules == 0 && (rc = read_modules(&s, err)) < 0)
        goto done;
    rc = write_data(&s, err);
done:
    detach_all(&s);
    if (stats)
        *stats = s.stats;
    if (s.as)
        unw_destroy_addr_space(s.as);
    if (s.unwind.upt_as)
        unw_destroy_addr_space(s.unwind.upt_as);
    free(s.t);
    free(s.index);
    for (size_t i = 0; i < s.proc.nmodules; i++)
        free(s.proc.modules[i].path);
    for (size_t i = 0; i < s.proc.nstacks; i++)
        free(s.proc.stacks[i].pcs);
    free(s.proc.modules);
    free(s.proc.stacks);
    free(s.proc.command);
    return rc;
}
