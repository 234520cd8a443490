/*
 * profile.h — sampling profiles: read what the perfprof runtime (or the
 * attach sampler) wrote, symbolize it offline, and turn it into hotspots,
 * folded stacks, speedscope JSON, SVG flame graphs, and diffs of two
 * profiles matched by function name.
 *
 * A profile (pb_profile) is a set of symbolized call stacks with sample
 * counts, plus what the recording said about itself (rate asked, CPU time,
 * processes, threads). Every string a profile hands out is owned by the
 * profile and lives until pb_profile_free.
 *
 * Recording a command (what `perfprof record` and `perfbisect run --profile`
 * do):
 *   1. pb_profile_find_runtime() -> path of libperfprof-rt.so
 *   2. pb_profile_clear_parts(out)         (stale parts of an earlier run)
 *   3. pb_profile_record_env(rt, out, hz, &env) -> "KEY=VALUE" strings to
 *      put in the command's environment (LD_PRELOAD is prepended to any
 *      existing LD_PRELOAD), then run the command as usual;
 *   4. every process of the command writes "<out>.part-<pid>-<ns>" at exit;
 *      pb_profile_collect_parts(out) concatenates them into `out`;
 *   5. pb_profile_load(out) -> symbolized profile.
 */
#ifndef PERFBISECT_PROFILE_H
#define PERFBISECT_PROFILE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "perfbisect/buf.h"
#include "perfbisect/error.h"

typedef struct pb_profile pb_profile;

/* Caps on untrusted profile input. */
#define PB_PROFILE_MAX_FILE (512u * 1024u * 1024u)
#define PB_PROFILE_DEFAULT_HZ 999u
#define PB_PROFILE_MAX_HZ 100000u

typedef struct pb_profile_info {
    uint64_t samples;    /* samples in the profile (sum of stack counts) */
    uint64_t lost;       /* samples the recorder had to drop */
    uint64_t cut;        /* samples whose stack was deeper than the recorder's copy of it */
    unsigned processes;  /* process blocks read */
    unsigned threads;    /* threads profiled, over all processes */
    unsigned hz;         /* rate asked for (the highest among processes); 0 if unknown */
    double wall_seconds; /* longest process lifetime while profiled */
    double cpu_seconds;  /* user + system CPU time of the profiled processes */
    double user_seconds; /* user CPU time (the profiler samples user mode) */
    double effective_hz; /* samples per CPU-second (user + system); 0 if unknown */
    const char *mode;    /* "perf", "timer", "ptrace", "mixed" or "unknown" */
} pb_profile_info;

/* One function's share of the samples. */
typedef struct pb_profile_function {
    const char *name; /* symbol, demangled; or "module+0xoffset"; owned by the profile */
    const char *file; /* source file or NULL; owned by the profile */
    unsigned line;    /* line of the first address seen, 0 if unknown */
    uint64_t self;    /* samples with this function as the leaf */
    uint64_t total;   /* samples with this function anywhere on the stack */
    double self_pct;  /* 100 * self / samples */
    double total_pct; /* 100 * total / samples */
} pb_profile_function;

typedef enum pb_profile_format {
    PB_PROFILE_TEXT,
    PB_PROFILE_JSON,
    PB_PROFILE_FOLDED,
    PB_PROFILE_SPEEDSCOPE,
    PB_PROFILE_SVG,
} pb_profile_format;

typedef struct pb_profile_write_options {
    size_t top;        /* text/json: at most this many functions (0 = all) */
    const char *title; /* svg/speedscope title; NULL for a default */
} pb_profile_write_options;

#define PB_PROFILE_WRITE_OPTIONS_INIT                                                              \
    {                                                                                              \
        20, NULL                                                                                   \
    }

/*
 * Read the data file `path` and every "<path>.part-*" next to it (either may
 * be missing, not both), validate it, and symbolize the addresses with the
 * ELF and DWARF of the recorded modules (checked against their build-ids).
 * On success *out is a new profile the caller frees with pb_profile_free.
 */
int pb_profile_load(pb_profile **out, const char *path, pb_error *err);

/*
 * Parse a data file held in memory. `symbolize` 0 names every frame
 * "module+0xoffset" without opening any file (what the fuzzer uses).
 */
int pb_profile_parse(pb_profile **out, const void *data, size_t len, int symbolize, pb_error *err);

/*
 * Build a profile from folded stacks ("root;caller;leaf COUNT" per line),
 * e.g. a FlameGraph file or `perfprof report --format folded` output.
 */
int pb_profile_from_folded(pb_profile **out, const char *text, size_t len, pb_error *err);

/* Free a profile (NULL-safe). */
void pb_profile_free(pb_profile *profile);

/* Totals and what the recorder said about itself. */
void pb_profile_get_info(const pb_profile *profile, pb_profile_info *info);

/*
 * Per-function self and total counts, sorted by self (then total, then
 * name). *out is an array the caller frees with free(); its strings belong
 * to the profile.
 */
int pb_profile_functions(const pb_profile *profile, pb_profile_function **out, size_t *count,
                         pb_error *err);

/*
 * Append the profile in `format` to `out`. Text: header, the top-N table
 * and a warning line when the samples are too few; JSON: `samples`,
 * `functions` [{`name`, `self_pct`, `total_pct`, ...}] per DESIGN.md;
 * folded: FlameGraph's format, sorted; speedscope: its file format;
 * svg: a self-contained interactive flame graph.
 */
int pb_profile_write(const pb_profile *profile, pb_profile_format format,
                     const pb_profile_write_options *options, pb_buf *out, pb_error *err);

/*
 * Half-width, in percentage points, of the 95% interval of a share
 * estimated from `samples` samples in the worst case (share 50%):
 * 1.96 * sqrt(0.25 / samples) * 100. Infinity for 0 samples.
 */
double pb_profile_share_margin(uint64_t samples);

/*
 * From this share of lost samples on (lost / (kept + lost)) a report
 * warns: the recorder could not keep up with the rate asked, and the
 * samples it dropped are not a random part of the run.
 */
#define PB_PROFILE_LOST_WARN 0.05
double pb_profile_lost_share(const pb_profile_info *info);

/* That warning, for a text report and for stderr alike, in `out`: 1 when
 * there is one, else 0 (and `out` is ""). */
int pb_profile_lost_warning(const pb_profile_info *info, char *out, size_t cap);

/* ---- diff ----------------------------------------------------------- */

typedef enum pb_profile_change {
    PB_PROFILE_CHANGED, /* in both profiles */
    PB_PROFILE_NEW,     /* only in the new profile */
    PB_PROFILE_VANISHED /* only in the base profile */
} pb_profile_change;

typedef struct pb_profile_delta {
    const char *name; /* owned by one of the two profiles */
    pb_profile_change change;
    double self_before, self_after;   /* percent of each profile's samples */
    double total_before, total_after; /* percent */
    double self_delta, total_delta;   /* after - before, percentage points */
    double z; /* self_delta over its standard error (two-proportion); 0 if undefined */
} pb_profile_delta;

/*
 * Compare two profiles function by function, matched by name (never by
 * address), shares normalised by each profile's own sample count. Sorted by
 * growth: self_delta descending, then total_delta descending, then name.
 * *out is an array the caller frees with free(); names belong to the
 * profiles, which must outlive it.
 */
int pb_profile_diff(const pb_profile *base, const pb_profile *cur, pb_profile_delta **out,
                    size_t *count, pb_error *err);

/*
 * Append the diff in `format`: TEXT (table), JSON (`base_samples`,
 * `new_samples`, `functions` [{`name`, `change`, `self_before`,
 * `self_after`, `self_delta`, `total_before`, `total_after`,
 * `total_delta`, `z`}]), FOLDED ("stack BASE NEW" per line, as
 * FlameGraph's difffolded.pl), SVG (differential flame graph of the new
 * profile: red grew, blue shrank). TEXT and JSON keep, when options->top
 * is set, the `top` largest changes of self share either way, by growth.
 */
int pb_profile_diff_write(const pb_profile *base, const pb_profile *cur, pb_profile_format format,
                          const pb_profile_write_options *options, pb_buf *out, pb_error *err);

/* ---- recording ------------------------------------------------------ */

/*
 * Find libperfprof-rt.so: $PERFPROF_RT if set; else next to the build tree
 * of the running program (<dir of /proc/self/exe>/../libperfprof-rt.so, and
 * the same directory); else `libdir`/libperfprof-rt.so. The path is
 * appended to `out`. PB_ENOTFOUND when none exists.
 */
int pb_profile_find_runtime(const char *libdir, pb_buf *out, pb_error *err);

/*
 * The environment a command needs to be profiled: appends to `env` three
 * NUL-terminated "KEY=VALUE" strings, back to back: LD_PRELOAD (rt_path
 * prepended to the current $LD_PRELOAD), PERFPROF_OUT (out_path made
 * absolute, since the command may change directory) and PERFPROF_HZ.
 * Walk them with `for (p = env.data; p < env.data + env.len; p += strlen(p) + 1)`
 * and putenv/setenv them in the child, or add them to an envp.
 */
int pb_profile_record_env(const char *rt_path, const char *out_path, unsigned hz, pb_buf *env,
                          pb_error *err);

/* Delete "<out_path>.part-*" files left by an earlier run. */
int pb_profile_clear_parts(const char *out_path, pb_error *err);

/*
 * Concatenate every "<out_path>.part-*" into `out_path` (replacing it) and
 * delete the parts. *parts (may be NULL) receives how many were merged;
 * PB_ENOTFOUND when there were none.
 */
int pb_profile_collect_parts(const char *out_path, unsigned *parts, pb_error *err);

/* ---- attaching to a running process --------------------------------- */

typedef struct pb_profile_attach_options {
    pid_t pid;
    double seconds;              /* how long to sample; <= 0 until *stop */
    unsigned hz;                 /* samples per second per running thread */
    const char *out_path;        /* the data file to write */
    volatile sig_atomic_t *stop; /* optional: set to non-zero to stop early */
} pb_profile_attach_options;

typedef struct pb_profile_attach_stats {
    uint64_t samples; /* stacks recorded */
    uint64_t skipped; /* ticks where a thread was not running (off CPU) */
    unsigned threads; /* threads seen */
    double seconds;   /* time spent sampling */
    int ended;        /* the process ended before the time was up */
} pb_profile_attach_stats;

/*
 * Sample every thread of the running process `pid` from outside with ptrace
 * (PTRACE_SEIZE, PTRACE_INTERRUPT, libunwind-ptrace), only threads that are
 * on a CPU at each tick, for `seconds`, then detach: the process keeps
 * running. Threads created meanwhile are picked up. Writes a data file
 * pb_profile_load reads. `stats` may be NULL.
 */
int pb_profile_attach(const pb_profile_attach_options *options, pb_profile_attach_stats *stats,
                      pb_error *err);

#endif
