/*
 * format.h — the perfprof data file, shared by the preloaded runtime (which
 * writes it) and lib/profile_file.c (which reads and validates it).
 *
 * A data file is one or more process blocks back to back; each process that
 * was profiled (the command, its forked children, programs they exec'd)
 * writes its own block to its own part file, and `perfprof record`
 * concatenates the parts. All integers are little-endian.
 *
 *   header (PPRT_HEADER_SIZE bytes, fixed layout below)
 *   records: u32 tag, u32 length, `length` bytes of payload; ends with
 *            PPRT_TAG_END (length 0).
 *
 *   PPRT_TAG_MODULE  u64 bias, u64 lo, u64 hi, u8 build-id length,
 *                    build-id bytes, u16 path length, path bytes (no NUL).
 *                    `bias` is the load bias (runtime address minus ELF
 *                    vaddr); [lo, hi) spans the module's loaded segments.
 *   PPRT_TAG_STACKS  a sequence of stacks until the payload ends, each:
 *                    uleb count, uleb depth, then `depth` addresses, leaf
 *                    first: the first as a uleb, the others as zigzag
 *                    sleb deltas from the previous address. The leaf is
 *                    the interrupted PC; the others are return addresses.
 *   PPRT_TAG_COMMAND the program path (bytes, no NUL), informational.
 *
 * Unknown tags are skipped, so later versions can add records.
 */
#ifndef PPRT_FORMAT_H
#define PPRT_FORMAT_H

#define PPRT_MAGIC "PBPROF\r\n"
#define PPRT_MAGIC_LEN 8
#define PPRT_VERSION 1u
#define PPRT_HEADER_SIZE 80u

/* Header field offsets. */
#define PPRT_OFF_VERSION 8      /* u32 */
#define PPRT_OFF_HEADER_SIZE 12 /* u32 */
#define PPRT_OFF_PID 16         /* u32 */
#define PPRT_OFF_HZ 20          /* u32 requested rate */
#define PPRT_OFF_WALL_NS 24     /* u64 time from start of profiling to the write */
#define PPRT_OFF_USER_NS 32     /* u64 process user CPU time */
#define PPRT_OFF_SYS_NS 40      /* u64 process system CPU time */
#define PPRT_OFF_SAMPLES 48     /* u64 samples recorded (sum of stack counts) */
#define PPRT_OFF_LOST 56        /* u64 samples dropped (table full, unsafe moment) */
#define PPRT_OFF_THREADS 64     /* u32 threads profiled */
#define PPRT_OFF_MODE 68        /* u32 PPRT_MODE_* */
#define PPRT_OFF_CUT 72         /* u32 samples whose stack was cut (deeper than the ring's copy) */
#define PPRT_OFF_PAD 76         /* u32 reserved, 0 */

enum {
    PPRT_MODE_NONE = 0,
    PPRT_MODE_PERF = 1,   /* perf_event_open cpu-clock per thread, signal to the thread */
    PPRT_MODE_TIMER = 2,  /* timer_create(CLOCK_THREAD_CPUTIME_ID): capped at the tick */
    PPRT_MODE_PTRACE = 3, /* perfprof attach */
    PPRT_MODE_TRAP = 4,   /* perf_event_open cpu-clock per thread, sigtrap=1: SIGTRAP */
    PPRT_MODE_RING = 5,   /* perf_event_open cpu-clock per CPU, inherited: stacks in a ring */
};

/* The name reports and the runtime's debug line use for a mode. */
static inline const char *pprt_mode_name(uint32_t mode)
{
    switch (mode) {
    case PPRT_MODE_PERF:
        return "perf";
    case PPRT_MODE_TIMER:
        return "timer";
    case PPRT_MODE_PTRACE:
        return "ptrace";
    case PPRT_MODE_TRAP:
        return "perf-trap";
    case PPRT_MODE_RING:
        return "perf-ring";
    default:
        return "unknown";
    }
}

enum {
    PPRT_TAG_END = 0,
    PPRT_TAG_MODULE = 1,
    PPRT_TAG_STACKS = 2,
    PPRT_TAG_COMMAND = 3,
};

/* Caps the reader enforces (and the writers respect). */
#define PPRT_MAX_DEPTH 256
#define PPRT_MAX_PATH 4096
#define PPRT_MAX_BUILD_ID 64

#endif
