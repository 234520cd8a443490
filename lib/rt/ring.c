/*
 * ring.c — sampling without a signal: see ring.h.
 *
 * Why: on this machine kind the timer interrupt alone costs about 2% of a
 * thread's time at 1 kHz, whatever is done with the sample; a signal per
 * sample adds its frame, sigreturn and the unwinding in the handler, about
 * 0.5 to 1 point more (scripts/bench-prof.sh, perf-trap against perf-ring).
 * Written into a ring buffer, the sample costs the kernel a copy of the
 * stack's top, as `perf record --call-graph dwarf` does; the unwinding
 * moves to a thread of ours, on another CPU when there is one.
 *
 * One software cpu-clock event per CPU on the calling thread, with inherit
 * (so threads created later sample into the same rings) and inherit_thread
 * (not forked children: they start rings of their own), remove_on_exec
 * (the new image starts its own). Each sample carries the thread's user
 * registers and `stack_bytes` of its stack from the stack pointer up. The
 * events' fds are closed once the rings are mapped (a map holds its event),
 * so the runtime takes none of the program's fd numbers for them.
 *
 * The reader wakes every few milliseconds and unwinds every record with
 * libunwind's remote interface over accessors of ours: stack reads come
 * from the copy, other reads (.eh_frame_hdr, .eh_frame, code) only from the
 * loaded objects' readable segments, found by dl_iterate_phdr, and through
 * process_vm_readv into a small page cache: an object may be gone by the
 * time its samples are unwound (a dlclose, or one of glibc's own, such as
 * iconv's modules, which no interposer sees), and a read of it then fails
 * instead of faulting. So nothing the program does waits for the reader
 * but a fork (which must not copy the reader's lock, nor the loader's lock
 * taken by its dl_iterate_phdr), an exec and the exit (which unwind what
 * is left themselves).
 *
 * The reader is a thread the program did not make, and the process lives
 * as long as it does: when the program's main thread has called
 * pthread_exit and every other thread has ended, the reader ends the
 * process with exit(0), as glibc's last thread would.
 */
#include "ring.h"
#include "fd.h"
#include "format.h"

#include <asm/perf_regs.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* The generic (remote-capable) library, not the local-only one rt.c uses. */
#include <libunwind.h>

/* Exported by libunwind but in none of its headers (perf declares it the same way). */
extern int UNW_OBJ(dwarf_search_unwind_table)(unw_addr_space_t as, unw_word_t ip,
                                              unw_dyn_info_t *di, unw_proc_info_t *pi,
                                              int need_unwind_info, void *arg);

enum {
    RING_MAX_CPUS = 4096,
    RING_SAMPLES = 24,         /* a ring holds this many samples, when the memory limits allow */
    RING_MIN_SAMPLES = 6,      /* and at least this many, or there is no ring */
    RING_RECORD_MAX = 65536,   /* a record's size is a u16 */
    RING_SAMPLE_EXTRA = 256,   /* a sample's bytes besides the stack copy */
    RING_STACK_NEAR = 1 << 20, /* a read this far above the stack pointer is of the stack */
    RING_PAGE = 4096,          /* what the page cache reads at once */
    RING_PAGES = 64,           /* pages it holds */
};

/* The registers asked for: every general-purpose one, in this order in a sample. */
#define RING_REG_MASK (((1ull << (PERF_REG_X86_IP + 1)) - 1) | (0xffull << PERF_REG_X86_R8))

struct ring_cpu {
    struct perf_event_mmap_page *meta; /* NULL: the CPU is offline */
    unsigned char *data;
    uint64_t size; /* of data: a power of two */
    size_t map_bytes;
    uint64_t pause_stop; /* a pause drains up to here (data_head when it was asked) */
};

/* A readable segment of a loaded object, page-rounded. */
struct ring_seg {
    uintptr_t lo, hi;
    uint32_t obj;
    int exec;
};

/* A loaded object's unwind table (.eh_frame_hdr's binary search table). */
struct ring_obj {
    uintptr_t eh_hdr, table;
    uint64_t fdes; /* 0: no table we can search */
};

struct ring_objects {
    unsigned long long adds, subs; /* dl_iterate_phdr's counts when taken */
    size_t nseg, nobj, seg_cap, obj_cap;
    struct ring_seg *seg; /* sorted by lo */
    struct ring_obj *obj;
};

struct rt_ring {
    struct rt_ring_config cfg;
    pthread_mutex_t lock; /* held while taking the table and unwinding (a fork waits for it) */
    pid_t pid;
    _Atomic int main_gone; /* the main thread called pthread_exit */
    _Atomic int armed;     /* the rings are set up: the reader may read them */
    int paused;            /* under lock: the reader leaves the rings alone */
    pthread_t reader;
    _Atomic uint64_t poll_ns; /* the reader's sleep between reads */
    unw_addr_space_t as;
    struct ring_objects *objs;
    struct ring_page *pages; /* RING_PAGES of the objects' memory, read by process_vm_readv */
    unsigned page_gen;       /* bumped with each new table: older pages are not used */
    unsigned char *rec;      /* a record that wraps around a ring's end, copied whole */
    _Atomic uint64_t lost;
    unsigned ncpu;
    struct ring_cpu cpu[];
};

struct ring_page {
    uintptr_t addr;
    unsigned gen;
    unsigned char data[RING_PAGE];
};

/* What the accessors unwind: one sample. */
struct ring_sample {
    struct rt_ring *r;
    const struct ring_objects *objs;
    const uint64_t *regs;
    uint64_t sp;
    const unsigned char *stack;
    uint64_t stack_len;
    int beyond; /* a read just above the copy: the stack went on */
};

/* ---- loaded objects --------------------------------------------------- */

static uint64_t read_encoded(const unsigned char **p, unsigned enc, int *ok)
{
    uint64_t v = 0;
    switch (enc & 0x0f) {
    case 0x00: /* absptr */
    case 0x04: /* udata8 */
    case 0x0c: /* sdata8 */
        memcpy(&v, *p, 8);
        *p += 8;
        break;
    case 0x03:   /* udata4 */
    case 0x0b: { /* sdata4 */
        uint32_t u;
        memcpy(&u, *p, 4);
        *p += 4;
        v = (enc & 0x0f) == 0x0b ? (uint64_t)(int64_t)(int32_t)u : u;
        break;
    }
    case 0x02:   /* udata2 */
    case 0x0a: { /* sdata2 */
        uint16_t u;
        memcpy(&u, *p, 2);
        *p += 2;
        v = (enc & 0x0f) == 0x0a ? (uint64_t)(int64_t)(int16_t)u : u;
        break;
    }
    default:
        *ok = 0;
    }
    return v;
}

/* The search table of the .eh_frame_hdr at `hdr`: only the encoding
 * libunwind searches (datarel sdata4), which every toolchain here emits. */
static struct ring_obj parse_eh_hdr(uintptr_t hdr)
{
    struct ring_obj o = {hdr, 0, 0};
    const unsigned char *h = (const unsigned char *)hdr;
    if (h[0] != 1 || h[1] == 0xff || h[2] == 0xff || h[3] != 0x3b)
        return o;
    const unsigned char *p = h + 4;
    int ok = 1;
    read_encoded(&p, h[1], &ok); /* eh_frame_ptr */
    uint64_t fdes = read_encoded(&p, h[2], &ok);
    if (ok) {
        o.table = (uintptr_t)p;
        o.fdes = fdes;
    }
    return o;
}

static int grow(void **array, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 64;
    void *p = realloc(*array, n * elem);
    if (!p)
        return -1;
    *array = p;
    *cap = n;
    return 0;
}

struct take {
    struct ring_objects *o;
    const struct ring_objects *known; /* the table in use, or NULL */
    int unchanged;                    /* nothing loaded or unloaded since `known` */
};

static int object_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    struct take *t = data;
    struct ring_objects *o = t->o;
    (void)size;
    if (o->nobj == 0 && t->known && t->known->adds == info->dlpi_adds &&
        t->known->subs == info->dlpi_subs) {
        t->unchanged = 1;
        return 1; /* the first object tells: no need to read the others */
    }
    o->adds = info->dlpi_adds;
    o->subs = info->dlpi_subs;
    if (grow((void **)&o->obj, &o->obj_cap, o->nobj + 1, sizeof(*o->obj)) < 0)
        return 1;
    struct ring_obj obj = {0, 0, 0};
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_GNU_EH_FRAME)
            obj = parse_eh_hdr(info->dlpi_addr + ph->p_vaddr);
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_R) || ph->p_memsz == 0)
            continue;
        if (grow((void **)&o->seg, &o->seg_cap, o->nseg + 1, sizeof(*o->seg)) < 0)
            return 1;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        o->seg[o->nseg++] = (struct ring_seg){lo & ~(uintptr_t)4095, (hi + 4095) & ~(uintptr_t)4095,
                                              (uint32_t)o->nobj, (ph->p_flags & PF_X) != 0};
    }
    o->obj[o->nobj++] = obj;
    return 0;
}

static int seg_order(const void *a, const void *b)
{
    const struct ring_seg *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static void free_objects(struct ring_objects *o)
{
    if (!o)
        return;
    free(o->seg);
    free(o->obj);
    free(o);
}

/* The loaded objects now; NULL when they are still `known`'s (or out of memory). */
static struct ring_objects *take_objects(const struct ring_objects *known)
{
    struct take t = {calloc(1, sizeof(*t.o)), known, 0};
    if (!t.o)
        return NULL;
    dl_iterate_phdr(object_cb, &t);
    if (t.unchanged) {
        free_objects(t.o);
        return NULL;
    }
    qsort(t.o->seg, t.o->nseg, sizeof(*t.o->seg), seg_order);
    return t.o;
}

static const struct ring_seg *seg_at(const struct ring_objects *o, uintptr_t addr)
{
    size_t lo = 0, hi = o->nseg;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (addr < o->seg[mid].lo)
            hi = mid;
        else if (addr >= o->seg[mid].hi)
            lo = mid + 1;
        else
            return &o->seg[mid];
    }
    return NULL;
}

/*
 * Take the lock with a table of the objects loaded now: under the lock, so
 * a fork (which waits for it) never copies the loader's lock taken by
 * dl_iterate_phdr. A new table drops libunwind's cache and ours of the old
 * objects.
 */
static void lock_with_objects(struct rt_ring *r)
{
    pthread_mutex_lock(&r->lock);
    struct ring_objects *fresh = take_objects(r->objs);
    if (!fresh)
        return; /* unchanged (or out of memory: the old table will do) */
    free_objects(r->objs);
    r->objs = fresh;
    unw_flush_cache(r->as, 0, 0);
    r->page_gen++;
}

/* A word of the process's memory, or -UNW_EINVAL where nothing is mapped now. */
static int read_mapped(struct rt_ring *r, uintptr_t addr, unw_word_t *val)
{
    uintptr_t page = addr & ~(uintptr_t)(RING_PAGE - 1);
    size_t off = (size_t)(addr - page);
    if (off + sizeof(*val) > RING_PAGE) { /* across two pages: rare (libunwind reads aligned) */
        struct iovec to = {val, sizeof(*val)}, from = {(void *)addr, sizeof(*val)};
        return process_vm_readv(r->pid, &to, 1, &from, 1, 0) == (ssize_t)sizeof(*val) ? 0
                                                                                      : -UNW_EINVAL;
    }
    struct ring_page *p = &r->pages[(page / RING_PAGE) % RING_PAGES];
    if (p->addr != page || p->gen != r->page_gen) {
        struct iovec to = {p->data, RING_PAGE}, from = {(void *)page, RING_PAGE};
        p->addr = 0;
        if (process_vm_readv(r->pid, &to, 1, &from, 1, 0) != RING_PAGE)
            return -UNW_EINVAL;
        p->addr = page;
        p->gen = r->page_gen;
    }
    memcpy(val, p->data + off, sizeof(*val));
    return 0;
}

/* ---- libunwind's accessors -------------------------------------------- */

static int find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
                          int need_unwind_info, void *arg)
{
    const struct ring_sample *s = arg;
    const struct ring_seg *seg = s->objs ? seg_at(s->objs, ip) : NULL;
    if (!seg || !seg->exec || !s->objs->obj[seg->obj].fdes)
        return -UNW_ENOINFO;
    const struct ring_obj *o = &s->objs->obj[seg->obj];
    unw_dyn_info_t di;
    memset(&di, 0, sizeof(di));
    di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
    di.start_ip = seg->lo;
    di.end_ip = seg->hi;
    di.u.rti.segbase = o->eh_hdr;
    di.u.rti.table_data = o->table;
    di.u.rti.table_len = o->fdes * 8 / sizeof(unw_word_t); /* entries of two int32 */
    return UNW_OBJ(dwarf_search_unwind_table)(as, ip, &di, pi, need_unwind_info, arg);
}

static void put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
    (void)as, (void)pi, (void)arg; /* libunwind frees what it found in a table itself */
}

static int get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *addr, void *arg)
{
    (void)as, (void)addr, (void)arg;
    return -UNW_ENOINFO;
}

/* From the stack copy, or a loaded object's readable segment; nothing else. */
static int access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write, void *arg)
{
    (void)as;
    struct ring_sample *s = arg;
    if (write)
        return -UNW_EREADONLYREG;
    if (addr >= s->sp && addr - s->sp + sizeof(*val) <= s->stack_len) {
        memcpy(val, s->stack + (addr - s->sp), sizeof(*val));
        return 0;
    }
    if (addr >= s->sp && addr - s->sp < RING_STACK_NEAR) {
        s->beyond = 1;
        return -UNW_EINVAL;
    }
    const struct ring_seg *seg = s->objs ? seg_at(s->objs, addr) : NULL;
    if (!seg || addr + sizeof(*val) > seg->hi)
        return -UNW_EINVAL;
    return read_mapped(s->r, addr, val);
}

/* libunwind's x86-64 register numbers as perf's, and where perf's are in a sample. */
static int sample_reg(unw_regnum_t reg)
{
    static const signed char perf_reg[] = {
        PERF_REG_X86_AX,  PERF_REG_X86_DX,  PERF_REG_X86_CX,  PERF_REG_X86_BX,  PERF_REG_X86_SI,
        PERF_REG_X86_DI,  PERF_REG_X86_BP,  PERF_REG_X86_SP,  PERF_REG_X86_R8,  PERF_REG_X86_R9,
        PERF_REG_X86_R10, PERF_REG_X86_R11, PERF_REG_X86_R12, PERF_REG_X86_R13, PERF_REG_X86_R14,
        PERF_REG_X86_R15, PERF_REG_X86_IP,
    };
    if (reg < 0 || (size_t)reg >= sizeof(perf_reg))
        return -1;
    uint64_t below = RING_REG_MASK & ((1ull << perf_reg[reg]) - 1);
    return __builtin_popcountll(below);
}

static int access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write, void *arg)
{
    (void)as;
    const struct ring_sample *s = arg;
    int at = sample_reg(reg);
    if (write)
        return -UNW_EREADONLYREG;
    if (at < 0)
        return -UNW_EBADREG;
    *val = s->regs[at];
    return 0;
}

static int access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val, int write,
                        void *arg)
{
    (void)as, (void)reg, (void)val, (void)write, (void)arg;
    return -UNW_EBADREG;
}

static int resume(unw_addr_space_t as, unw_cursor_t *c, void *arg)
{
    (void)as, (void)c, (void)arg;
    return -UNW_EINVAL;
}

static int get_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf, size_t len,
                         unw_word_t *off, void *arg)
{
    (void)as, (void)addr, (void)buf, (void)len, (void)off, (void)arg;
    return -UNW_ENOINFO;
}

static unw_accessors_t accessors = {
    .find_proc_info = find_proc_info,
    .put_unwind_info = put_unwind_info,
    .get_dyn_info_list_addr = get_dyn_info_list_addr,
    .access_mem = access_mem,
    .access_reg = access_reg,
    .access_fpreg = access_fpreg,
    .resume = resume,
    .get_proc_name = get_proc_name,
};

/* ---- reading the rings ------------------------------------------------ */

/* Unwind one PERF_RECORD_SAMPLE (TID, REGS_USER, STACK_USER) and sink it. */
static void take_sample(struct rt_ring *r, const unsigned char *p, const unsigned char *end)
{
    enum { NREGS = __builtin_popcountll(RING_REG_MASK) };
    uint64_t abi, size, dyn_size = 0;
    p += 8; /* pid, tid */
    if (end - p < 8)
        return;
    memcpy(&abi, p, 8);
    p += 8;
    if (abi == PERF_SAMPLE_REGS_ABI_NONE || end - p < (ptrdiff_t)(NREGS * 8 + 8)) {
        atomic_fetch_add(&r->lost, 1); /* no user registers: nothing to unwind */
        return;
    }
    uint64_t regs[NREGS];
    memcpy(regs, p, sizeof(regs));
    p += sizeof(regs);
    memcpy(&size, p, 8);
    p += 8;
    if (size > (uint64_t)(end - p))
        return;
    const unsigned char *stack = p;
    if (size && end - (p + size) >= 8)
        memcpy(&dyn_size, p + size, 8);
    if (dyn_size > size)
        dyn_size = size;

    struct ring_sample s = {r, r->objs, regs, regs[sample_reg(UNW_X86_64_RSP)], stack, dyn_size, 0};
    void *pcs[PPRT_MAX_DEPTH];
    uint32_t depth = 0;
    int step = 0;
    unw_cursor_t c;
    if (unw_init_remote(&c, r->as, &s) == 0) {
        do {
            unw_word_t ip;
            if (unw_get_reg(&c, UNW_REG_IP, &ip) < 0 || (depth && ip == 0))
                break;
            pcs[depth++] = (void *)ip;
        } while (depth < PPRT_MAX_DEPTH && (step = unw_step(&c)) > 0);
    }
    if (depth == 0)
        pcs[depth++] = (void *)regs[sample_reg(UNW_X86_64_RIP)];
    r->cfg.sink(pcs, depth, step < 0 && s.beyond, r->cfg.ctx);
}

static void copy_out(const struct ring_cpu *c, uint64_t at, void *to, size_t n)
{
    size_t off = (size_t)(at & (c->size - 1)), first = (size_t)c->size - off;
    if (first > n)
        first = n;
    memcpy(to, c->data + off, first);
    memcpy((unsigned char *)to + first, c->data, n - first);
}

/* Every record before `head` in one ring (under the lock). */
static void drain_cpu(struct rt_ring *r, struct ring_cpu *c, uint64_t head)
{
    uint64_t tail = c->meta->data_tail;
    while ((int64_t)(head - tail) >= (int64_t)sizeof(struct perf_event_header)) {
        struct perf_event_header h;
        copy_out(c, tail, &h, sizeof(h));
        if (h.size < sizeof(h) || h.size > head - tail)
            break;
        size_t off = (size_t)(tail & (c->size - 1));
        const unsigned char *rec = c->data + off;
        if (off + h.size > c->size) {
            copy_out(c, tail, r->rec, h.size);
            rec = r->rec;
        }
        if (h.type == PERF_RECORD_SAMPLE) {
            take_sample(r, rec + sizeof(h), rec + h.size);
        } else if (h.type == PERF_RECORD_LOST && h.size >= sizeof(h) + 16) {
            uint64_t lost;
            memcpy(&lost, rec + sizeof(h) + 8, 8);
            atomic_fetch_add(&r->lost, lost);
        }
        tail += h.size;
    }
    __atomic_store_n(&c->meta->data_tail, tail, __ATOMIC_RELEASE);
}

/* The reader's drain: everything so far (the reader itself is never sampled). */
static void drain(struct rt_ring *r)
{
    for (unsigned i = 0; i < r->ncpu; i++)
        if (r->cpu[i].meta)
            drain_cpu(r, &r->cpu[i], __atomic_load_n(&r->cpu[i].meta->data_head, __ATOMIC_ACQUIRE));
}

/* Whether every thread but the calling one has ended (the main thread that
 * called pthread_exit stays a zombie until the process ends). Raw system
 * calls: the runtime's interposers are for the program's calls. */
static int last_thread(void)
{
    int dir =
        (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return 0;
    pid_t self = (pid_t)syscall(SYS_gettid);
    int others = 0;
    char buf[4096];
    long n;
    while (!others && (n = syscall(SYS_getdents64, dir, buf, sizeof(buf))) > 0)
        for (long at = 0; at < n && !others;) {
            struct {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[];
            } *d = (void *)(buf + at);
            at += d->reclen;
            pid_t tid = (pid_t)atoi(d->name);
            if (tid <= 0 || tid == self)
                continue;
            char path[64], stat[512];
            snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
            int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                continue; /* ended meanwhile */
            long len = syscall(SYS_read, fd, stat, sizeof(stat) - 1);
            syscall(SYS_close, fd);
            stat[len > 0 ? len : 0] = '\0';
            const char *state = strrchr(stat, ')');
            others = !state || (state[1] == ' ' && state[2] != 'Z' && state[2] != 'X');
        }
    syscall(SYS_close, dir);
    return !others;
}

static void *reader_main(void *arg)
{
    struct rt_ring *r = arg;
    prctl(PR_SET_NAME, "perfprof-ring", 0, 0, 0);
    for (;;) {
        struct timespec ts = {0, (long)atomic_load(&r->poll_ns)};
        nanosleep(&ts, NULL);
        if (r->cfg.idle)
            r->cfg.idle();
        if (atomic_load(&r->main_gone) && last_thread())
            exit(0); /* what glibc does when the last thread ends: the part is written */
        if (!atomic_load(&r->armed))
            continue;
        lock_with_objects(r);
        if (!r->paused)
            drain(r);
        pthread_mutex_unlock(&r->lock);
    }
    return NULL;
}

/* ---- setting up ------------------------------------------------------- */

/* Open CPU `cpu`'s event and map its ring: `pages` of data, fewer down to
 * `min_pages` while the locked-memory limit refuses more. */
static int open_cpu(struct rt_ring *r, unsigned cpu, size_t pages, size_t min_pages, char *why,
                    size_t why_size)
{
    struct ring_cpu *c = &r->cpu[cpu];
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.size = sizeof(attr);
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    attr.sample_period = 1000000000u / r->cfg.hz;
    attr.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
    attr.sample_regs_user = RING_REG_MASK;
    attr.sample_stack_user = r->cfg.stack_bytes;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    attr.inherit = 1;
    attr.inherit_thread = 1;
    attr.remove_on_exec = 1;
    int fd = (int)syscall(SYS_perf_event_open, &attr, (pid_t)syscall(SYS_gettid), (int)cpu, -1,
                          PERF_FLAG_FD_CLOEXEC);
    if (fd < 0 && errno == ENODEV)
        return 0; /* offline: no thread runs there */
    if (fd < 0) {
        snprintf(why, why_size, "perf_event_open: %s", strerror(errno));
        return -1;
    }
    long page = sysconf(_SC_PAGESIZE);
    for (; pages >= min_pages; pages /= 2) {
        size_t bytes = (pages + 1) * (size_t)page;
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
            continue; /* over the locked-memory limit: a smaller ring */
        c->meta = p;
        c->data = (unsigned char *)p + page;
        c->size = pages * (uint64_t)page;
        c->map_bytes = bytes;
        /* The map holds the event: the fd is not needed, and not the program's to lose. */
        rt_fd_close(fd);
        return 0;
    }
    snprintf(why, why_size, "mmap of a perf ring: %s", strerror(errno));
    rt_fd_close(fd);
    return -1;
}

static void unmap_cpus(struct rt_ring *r)
{
    for (unsigned i = 0; i < r->ncpu; i++) {
        struct ring_cpu *c = &r->cpu[i];
        if (c->meta)
            munmap(c->meta, c->map_bytes);
        c->meta = NULL;
    }
}

/* The reader, started with every signal blocked: the program's are not for it. */
static int start_reader(struct rt_ring *r)
{
    typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
    void *sym = dlsym(RTLD_NEXT, "pthread_create"); /* not our interposer: not a program thread */
    create_fn create;
    memcpy(&create, &sym, sizeof(create));
    if (!create)
        return -1;
    sigset_t all, old;
    sigfillset(&all);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, _NSIG / 8);
    int rc = create(&r->reader, NULL, reader_main, r);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, _NSIG / 8);
    return rc == 0 ? 0 : -1;
}

struct rt_ring *rt_ring_start(const struct rt_ring_config *config, char *why, size_t why_size)
{
    long n = sysconf(_SC_NPROCESSORS_CONF);
    if (n < 1 || n > RING_MAX_CPUS) {
        snprintf(why, why_size, "%ld CPUs", n);
        return NULL;
    }
    struct rt_ring *r = calloc(1, sizeof(*r) + (size_t)n * sizeof(r->cpu[0]));
    if (!r || !(r->rec = malloc(RING_RECORD_MAX))) {
        free(r);
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    r->cfg = *config;
    r->ncpu = (unsigned)n;
    r->pid = getpid();
    r->page_gen = 1;
    if (!(r->pages = calloc(RING_PAGES, sizeof(*r->pages)))) {
        free(r->rec);
        free(r);
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    r->as = unw_create_addr_space(&accessors, 0);
    if (!r->as) {
        snprintf(why, why_size, "unw_create_addr_space failed");
        goto fail;
    }
    unw_set_caching_policy(r->as, UNW_CACHE_GLOBAL);

    /* Rings of a power of two pages; the reader reads each twice while it fills at the
     * full rate (one thread on the CPU all the time). */
    size_t sample_bytes = config->stack_bytes + RING_SAMPLE_EXTRA;
    size_t page = (size_t)sysconf(_SC_PAGESIZE), pages = 1, min_pages = 1;
    while (pages * page < RING_SAMPLES * sample_bytes)
        pages *= 2;
    while (min_pages * page < RING_MIN_SAMPLES * sample_bytes)
        min_pages *= 2;
    /* The reader first: started after the events, it would inherit them. It waits for `armed`. */
    atomic_store(&r->poll_ns, 1000000);
    if (start_reader(r) < 0) {
        snprintf(why, why_size, "cannot start the reader thread");
        goto fail;
    }
    uint64_t smallest = UINT64_MAX;
    for (unsigned i = 0; i < r->ncpu; i++) {
        if (open_cpu(r, i, pages, min_pages, why, why_size) < 0)
            goto fail_reader;
        if (r->cpu[i].meta && r->cpu[i].size < smallest)
            smallest = r->cpu[i].size;
    }
    if (smallest == UINT64_MAX) {
        snprintf(why, why_size, "no CPU online");
        goto fail_reader;
    }
    uint64_t poll_ns = 1000000000ull * (smallest / sample_bytes) / config->hz / 2;
    atomic_store(&r->poll_ns, poll_ns < 1000000    ? 1000000
                              : poll_ns > 50000000 ? 50000000
                                                   : poll_ns);
    atomic_store(&r->armed, 1);
    return r;

fail_reader:
    unmap_cpus(r);
    pthread_cancel(r->reader); /* it only sleeps while not armed */
    pthread_join(r->reader, NULL);
fail:
    if (r->as)
        unw_destroy_addr_space(r->as);
    free(r->pages);
    free(r->rec);
    free(r);
    return NULL;
}

/*
 * Unwind what was recorded before the exit or exec began, and drop what
 * comes after: samples of this thread's exit path (the table, the drain,
 * the profile's writing), not of the program, and deeper than the copy.
 */
void rt_ring_pause(struct rt_ring *r)
{
    for (unsigned i = 0; i < r->ncpu; i++)
        if (r->cpu[i].meta)
            r->cpu[i].pause_stop = __atomic_load_n(&r->cpu[i].meta->data_head, __ATOMIC_ACQUIRE);
    lock_with_objects(r);
    for (unsigned i = 0; i < r->ncpu; i++) {
        struct ring_cpu *c = &r->cpu[i];
        if (!c->meta)
            continue;
        drain_cpu(r, c, c->pause_stop);
        __atomic_store_n(&c->meta->data_tail,
                         __atomic_load_n(&c->meta->data_head, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
    }
    r->paused = 1;
    pthread_mutex_unlock(&r->lock);
}

void rt_ring_resume(struct rt_ring *r)
{
    pthread_mutex_lock(&r->lock);
    r->paused = 0;
    pthread_mutex_unlock(&r->lock);
}

void rt_ring_main_exits(struct rt_ring *r)
{
    atomic_store(&r->main_gone, 1);
}

/*
 * A fork waits until the reader is out of dl_iterate_phdr and libunwind.
 * It cannot wait forever, even from a constructor inside dlopen: the
 * reader's dl_iterate_phdr takes glibc's dl_load_write_lock, which glibc
 * holds only while it links or unlinks an object, never while the
 * program's code runs (constructors run under dl_load_lock only).
 */
void rt_ring_fork_prepare(struct rt_ring *r)
{
    pthread_mutex_lock(&r->lock);
}

void rt_ring_fork_parent(struct rt_ring *r)
{
    pthread_mutex_unlock(&r->lock);
}

void rt_ring_forget(struct rt_ring *r)
{
    /* The child has no reader and no rings: perf maps are not copied. */
    unw_destroy_addr_space(r->as);
    free_objects(r->objs);
    free(r->pages);
    free(r->rec);
    free(r);
}

uint64_t rt_ring_take_lost(struct rt_ring *r)
{
    return atomic_exchange(&r->lost, 0);
}
