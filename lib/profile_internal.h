/*
 * profile_internal.h — what the profile_*.c files share: the raw data file
 * (addresses, modules) and the symbolized model behind pb_profile.
 */
#ifndef PB_PROFILE_INTERNAL_H
#define PB_PROFILE_INTERNAL_H

#include <stdint.h>

#include "perfbisect/profile.h"

/* ---- raw data, as in the file (lib/rt/format.h) ---------------------- */

/* The module path attach gives the vDSO; record's runtime gives the
 * loader's name for it, PB_PROFILE_VDSO_LOADER. */
#define PB_PROFILE_VDSO "[vdso]"
#define PB_PROFILE_VDSO_LOADER "linux-vdso.so.1"
/* The file name of record's runtime, whose frames are not the program's. */
#define PB_PROFILE_RUNTIME "libperfprof-rt.so"

/*
 * The binary search table of an .eh_frame_hdr of `len` bytes at `h` in the
 * usual encoding (pc-relative eh_frame pointer, 4-byte count, entries of two
 * 4-byte offsets from `h`: a function's start and its FDE): the number of
 * entries, which begin at h + PB_EH_FRAME_HDR_TABLE; 0 for any other.
 */
#define PB_EH_FRAME_HDR_TABLE 12
uint32_t pb_eh_frame_hdr_entries(const unsigned char *h, size_t len);

typedef struct pb_profile_raw_module {
    uint64_t bias, lo, hi;
    unsigned char build_id[64];
    size_t build_id_len;
    char *path;
} pb_profile_raw_module;

typedef struct pb_profile_raw_stack {
    uint64_t count;
    uint32_t depth;
    uint64_t *pcs; /* leaf first; pcs[0] is the interrupted PC */
} pb_profile_raw_stack;

typedef struct pb_profile_raw_process {
    uint32_t pid, hz, threads, mode;
    uint64_t wall_ns, user_ns, sys_ns, samples, lost;
    uint32_t cut; /* samples whose stack was cut short */
    char *command;
    pb_profile_raw_module *modules;
    size_t nmodules;
    pb_profile_raw_stack *stacks;
    size_t nstacks;
} pb_profile_raw_process;

/* Parse one or more process blocks; appends to *procs / *nprocs. */
int pb_profile_raw_parse(const unsigned char *data, size_t len, pb_profile_raw_process **procs,
                         size_t *nprocs, pb_error *err);
void pb_profile_raw_free(pb_profile_raw_process *procs, size_t nprocs);

/* Encode one process block (the attach sampler writes with this). */
int pb_profile_raw_encode(const pb_profile_raw_process *proc, pb_buf *out, pb_error *err);

/* ---- the symbolized model -------------------------------------------- */

typedef struct pb_profile_frame {
    char *name;
    char *module; /* the file it was found in, until pb_profile_qualify_names */
    char *file;
    unsigned line;
} pb_profile_frame;

typedef struct pb_profile_stack {
    uint64_t count;
    uint32_t depth;
    uint32_t *frames; /* root first */
} pb_profile_stack;

struct pb_profile {
    pb_profile_frame *frames;
    size_t nframes, frames_cap;
    uint32_t *frame_index; /* open addressing by name: frame id + 1, 0 empty */
    size_t frame_index_cap;

    pb_profile_stack *stacks;
    size_t nstacks, stacks_cap;
    uint32_t *stack_index; /* open addressing by frame sequence: stack id + 1 */
    size_t stack_index_cap;

    uint64_t samples, lost, cut;
    unsigned processes, threads, hz;
    double wall_seconds, cpu_seconds, user_seconds;
    unsigned mode_mask; /* bit (1 << PPRT_MODE_*) per process */
};

int pb_profile_new(pb_profile **out, pb_error *err);

/* The id of the frame called `name` (created when new). */
int pb_profile_intern(pb_profile *p, const char *name, const char *file, unsigned line,
                      uint32_t *id, pb_error *err);

/* The same for a function of `module` (a file's base name, or NULL): two
 * modules' functions of one name are two frames. */
int pb_profile_intern_in(pb_profile *p, const char *name, const char *module, const char *file,
                         unsigned line, uint32_t *id, pb_error *err);

/*
 * Once every frame is in: a name that two modules' functions share (main of
 * two programs, a static init of two libraries) becomes "name [module]" in
 * each, so that they are told apart in reports and not merged by name in
 * diffs or folded output. Modules are then forgotten.
 */
int pb_profile_qualify_names(pb_profile *p, pb_error *err);

/* Count `count` samples of the stack `frames` (root first); merges duplicates. */
int pb_profile_add_stack(pb_profile *p, const uint32_t *frames, uint32_t depth, uint64_t count,
                         pb_error *err);

/* The id of stack `frames` (created, with count 0, when new). */
int pb_profile_stack_id(pb_profile *p, const uint32_t *frames, uint32_t depth, uint32_t *id,
                        pb_error *err);

/* Add one raw process's stacks; `symbolize` 0 names frames module+offset. */
int pb_profile_symbolize(pb_profile *p, const pb_profile_raw_process *proc, int symbolize,
                         pb_error *err);

/* Frame id -> (self, total) counts; arrays of p->nframes the caller frees. */
int pb_profile_count(const pb_profile *p, uint64_t **self, uint64_t **total, pb_error *err);

#endif
