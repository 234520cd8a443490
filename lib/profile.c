/*
 * profile.c — the symbolized profile model: interned frames, deduplicated
 * stacks with counts, per-function shares, folded input, and the diff of two
 * profiles matched by function name.
 */
#include "perfbisect/profile.h"
#include "profile_internal.h"
#include "rt/format.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FOLDED_MAX_LINE (1u << 20)

static uint64_t hash_bytes(const void *data, size_t len, uint64_t h)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3u;
    }
    return h;
}

static uint64_t hash_name(const char *name)
{
    return hash_bytes(name, strlen(name), 0xcbf29ce484222325u);
}

static uint64_t hash_frames(const uint32_t *frames, uint32_t depth)
{
    return hash_bytes(frames, depth * sizeof(uint32_t), 0xcbf29ce484222325u ^ depth);
}

int pb_profile_new(pb_profile **out, pb_error *err)
{
    pb_profile *p = calloc(1, sizeof(*p));
    if (!p)
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    *out = p;
    return 0;
}

void pb_profile_free(pb_profile *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nframes; i++) {
        free(p->frames[i].name);
        free(p->frames[i].module);
        free(p->frames[i].file);
    }
    for (size_t i = 0; i < p->nstacks; i++)
        free(p->stacks[i].frames);
    free(p->frames);
    free(p->frame_index);
    free(p->stacks);
    free(p->stack_index);
    free(p);
}

/* (Re)build the frames' open-addressing index with `cap` slots. */
static int index_frames(pb_profile *p, size_t cap)
{
    uint32_t *idx = calloc(cap, sizeof(uint32_t));
    if (!idx)
        return PB_ENOMEM;
    for (size_t i = 0; i < p->nframes; i++) {
        size_t at = hash_name(p->frames[i].name) & (cap - 1);
        while (idx[at])
            at = (at + 1) & (cap - 1);
        idx[at] = (uint32_t)i + 1;
    }
    free(p->frame_index);
    p->frame_index = idx;
    p->frame_index_cap = cap;
    return 0;
}

static int same_module(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

int pb_profile_intern(pb_profile *p, const char *name, const char *file, unsigned line,
                      uint32_t *id, pb_error *err)
{
    return pb_profile_intern_in(p, name, NULL, file, line, id, err);
}

int pb_profile_intern_in(pb_profile *p, const char *name, const char *module, const char *file,
                         unsigned line, uint32_t *id, pb_error *err)
{
    if ((p->nframes + 1) * 2 > p->frame_index_cap &&
        index_frames(p, p->frame_index_cap ? p->frame_index_cap * 2 : 256) < 0)
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    size_t mask = p->frame_index_cap - 1;
    size_t at = hash_name(name) & mask;
    while (p->frame_index[at]) {
        uint32_t f = p->frame_index[at] - 1;
        if (!strcmp(p->frames[f].name, name) && same_module(p->frames[f].module, module)) {
            *id = f;
            return 0;
        }
        at = (at + 1) & mask;
    }
    if (p->nframes >= UINT32_MAX - 1)
        return pb_error_set(err, PB_EINVAL, "too many distinct functions");
    if (p->nframes == p->frames_cap) {
        size_t cap = p->frames_cap ? p->frames_cap * 2 : 256;
        pb_profile_frame *f = realloc(p->frames, cap * sizeof(*f));
        if (!f)
            return pb_error_set(err, PB_ENOMEM, "out of memory");
        p->frames = f;
        p->frames_cap = cap;
    }
    pb_profile_frame *f = &p->frames[p->nframes];
    f->name = strdup(name);
    f->module = module ? strdup(module) : NULL;
    f->file = file ? strdup(file) : NULL;
    f->line = line;
    if (!f->name || (module && !f->module) || (file && !f->file)) {
        free(f->name);
        free(f->module);
        free(f->file);
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    }
    p->frame_index[at] = (uint32_t)p->nframes + 1;
    *id = (uint32_t)p->nframes++;
    return 0;
}

int pb_profile_qualify_names(pb_profile *p, pb_error *err)
{
    unsigned char *shared = calloc(p->nframes ? p->nframes : 1, 1);
    size_t nshared = 0;
    if (!shared)
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    /* Frames of one name sit on one probe chain of the index. */
    size_t mask = p->frame_index_cap - 1;
    for (size_t i = 0; i < p->nframes; i++) {
        const pb_profile_frame *f = &p->frames[i];
        for (size_t at = hash_name(f->name) & mask; f->module && p->frame_index[at];
             at = (at + 1) & mask) {
            const pb_profile_frame *g = &p->frames[p->frame_index[at] - 1];
            if (g != f && !strcmp(g->name, f->name) && !same_module(g->module, f->module)) {
                shared[i] = 1;
                nshared++;
                break;
            }
        }
    }
    int rc = 0;
    for (size_t i = 0; i < p->nframes; i++) {
        pb_profile_frame *f = &p->frames[i];
        if (shared[i]) {
            size_t len = strlen(f->name) + strlen(f->module) + 4;
            char *q = malloc(len);
            if (!q) {
                rc = pb_error_set(err, PB_ENOMEM, "out of memory");
                break;
            }
            snprintf(q, len, "%s [%s]", f->name, f->module);
            free(f->name);
            f->name = q;
        }
        free(f->module); /* said by the name now, or not needed */
        f->module = NULL;
    }
    free(shared);
    if (rc == 0 && nshared && index_frames(p, p->frame_index_cap) < 0)
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
    return rc;
}

static int grow_stack_index(pb_profile *p)
{
    size_t cap = p->stack_index_cap ? p->stack_index_cap * 2 : 256;
    uint32_t *idx = calloc(cap, sizeof(uint32_t));
    if (!idx)
        return PB_ENOMEM;
    for (size_t i = 0; i < p->nstacks; i++) {
        size_t at = hash_frames(p->stacks[i].frames, p->stacks[i].depth) & (cap - 1);
        while (idx[at])
            at = (at + 1) & (cap - 1);
        idx[at] = (uint32_t)i + 1;
    }
    free(p->stack_index);
    p->stack_index = idx;
    p->stack_index_cap = cap;
    return 0;
}

/* Find or create the stack `frames`, adding `count` samples (which may be 0). */
static int find_or_add(pb_profile *p, const uint32_t *frames, uint32_t depth, uint64_t count,
                       uint32_t *id, pb_error *err)
{
    if (p->samples + count < p->samples)
        return pb_error_set(err, PB_EINVAL, "sample count overflows");
    if ((p->nstacks + 1) * 2 > p->stack_index_cap && grow_stack_index(p) < 0)
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    size_t mask = p->stack_index_cap - 1;
    size_t at = hash_frames(frames, depth) & mask;
    while (p->stack_index[at]) {
        pb_profile_stack *s = &p->stacks[p->stack_index[at] - 1];
        if (s->depth == depth && !memcmp(s->frames, frames, depth * sizeof(uint32_t))) {
            s->count += count;
            p->samples += count;
            *id = p->stack_index[at] - 1;
            return 0;
        }
        at = (at + 1) & mask;
    }
    if (p->nstacks >= UINT32_MAX - 1)
        return pb_error_set(err, PB_EINVAL, "too many distinct stacks");
    if (p->nstacks == p->stacks_cap) {
        size_t cap = p->stacks_cap ? p->stacks_cap * 2 : 256;
        pb_profile_stack *s = realloc(p->stacks, cap * sizeof(*s));
        if (!s)
            return pb_error_set(err, PB_ENOMEM, "out of memory");
        p->stacks = s;
        p->stacks_cap = cap;
    }
    uint32_t *copy = malloc(depth * sizeof(uint32_t));
    if (!copy)
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    memcpy(copy, frames, depth * sizeof(uint32_t));
    p->stacks[p->nstacks] = (pb_profile_stack){count, depth, copy};
    p->stack_index[at] = (uint32_t)p->nstacks + 1;
    *id = (uint32_t)p->nstacks++;
    p->samples += count;
    return 0;
}

int pb_profile_add_stack(pb_profile *p, const uint32_t *frames, uint32_t depth, uint64_t count,
                         pb_error *err)
{
    uint32_t id;
    if (depth == 0 || count == 0)
        return 0;
    return find_or_add(p, frames, depth, count, &id, err);
}

int pb_profile_stack_id(pb_profile *p, const uint32_t *frames, uint32_t depth, uint32_t *id,
                        pb_error *err)
{
    if (depth == 0)
        return pb_error_set(err, PB_EINVAL, "empty stack");
    return find_or_add(p, frames, depth, 0, id, err);
}

void pb_profile_get_info(const pb_profile *p, pb_profile_info *info)
{
    memset(info, 0, sizeof(*info));
    info->samples = p->samples;
    info->lost = p->lost;
    info->cut = p->cut;
    info->processes = p->processes;
    info->threads = p->threads;
    info->hz = p->hz;
    info->wall_seconds = p->wall_seconds;
    info->cpu_seconds = p->cpu_seconds;
    info->user_seconds = p->user_seconds;
    info->effective_hz = p->cpu_seconds > 0 ? (double)p->samples / p->cpu_seconds : 0;
    /* One mode, or "mixed" when the processes sampled differently. */
    unsigned m = p->mode_mask;
    info->mode = m == 0          ? "unknown"
                 : (m & (m - 1)) ? "mixed"
                                 : pprt_mode_name((uint32_t)__builtin_ctz(m));
}

double pb_profile_share_margin(uint64_t samples)
{
    if (samples == 0)
        return INFINITY;
    return 1.96 * sqrt(0.25 / (double)samples) * 100.0;
}

double pb_profile_lost_share(const pb_profile_info *info)
{
    uint64_t all = info->samples + info->lost;
    return all ? (double)info->lost / (double)all : 0;
}

int pb_profile_lost_warning(const pb_profile_info *info, char *out, size_t cap)
{
    double share = pb_profile_lost_share(info);
    if (cap)
        out[0] = '\0';
    if (!(share >= PB_PROFILE_LOST_WARN))
        return 0;
    snprintf(out, cap,
             "%.0f%% of the samples were lost: the recorder could not keep up with %u Hz; "
             "record at a lower -F",
             100 * share, info->hz);
    return 1;
}

int pb_profile_count(const pb_profile *p, uint64_t **self_out, uint64_t **total_out, pb_error *err)
{
    int rc = 0;
    size_t n = p->nframes ? p->nframes : 1;
    uint64_t *self = calloc(n, sizeof(uint64_t));
    uint64_t *total = calloc(n, sizeof(uint64_t));
    uint32_t *seen = calloc(n, sizeof(uint32_t)); /* stack id + 1 that last counted the frame */
    if (!self || !total || !seen) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < p->nstacks; i++) {
        const pb_profile_stack *s = &p->stacks[i];
        self[s->frames[s->depth - 1]] += s->count;
        for (uint32_t k = 0; k < s->depth; k++) {
            uint32_t f = s->frames[k];
            if (seen[f] != i + 1) { /* recursion counts a function once per stack */
                seen[f] = (uint32_t)i + 1;
                total[f] += s->count;
            }
        }
    }
    *self_out = self;
    *total_out = total;
    self = total = NULL;
done:
    free(self);
    free(total);
    free(seen);
    return rc;
}

static int cmp_function(const void *a, const void *b)
{
    const pb_profile_function *x = a, *y = b;
    if (x->self != y->self)
        return x->self > y->self ? -1 : 1;
    if (x->total != y->total)
        return x->total > y->total ? -1 : 1;
    return strcmp(x->name, y->name);
}

int pb_profile_functions(const pb_profile *p, pb_profile_function **out, size_t *count,
                         pb_error *err)
{
    uint64_t *self = NULL, *total = NULL;
    pb_profile_function *fns = NULL;
    int rc = pb_profile_count(p, &self, &total, err);
    if (rc < 0)
        goto done;
    fns = calloc(p->nframes ? p->nframes : 1, sizeof(*fns));
    if (!fns) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    double n = p->samples ? (double)p->samples : 1.0;
    for (size_t i = 0; i < p->nframes; i++) {
        fns[i].name = p->frames[i].name;
        fns[i].file = p->frames[i].file;
        fns[i].line = p->frames[i].line;
        fns[i].self = self[i];
        fns[i].total = total[i];
        fns[i].self_pct = 100.0 * (double)self[i] / n;
        fns[i].total_pct = 100.0 * (double)total[i] / n;
    }
    if (p->nframes > 1)
        qsort(fns, p->nframes, sizeof(*fns), cmp_function);
    *out = fns;
    *count = p->nframes;
    fns = NULL;
done:
    free(fns);
    free(self);
    free(total);
    return rc;
}

/* ---- folded input ---------------------------------------------------- */

static int add_folded_line(pb_profile *p, const char *line, size_t len, size_t lineno,
                           uint32_t **frames, size_t *frames_cap, pb_error *err)
{
    int rc = 0;
    char *copy = NULL;
    while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    if (len == 0)
        goto done;
    size_t sp = len;
    while (sp && line[sp - 1] != ' ')
        sp--;
    if (sp == 0 || sp == len) {
        rc = pb_error_set(err, PB_EINVAL, "folded line %zu: expected 'stack COUNT'", lineno);
        goto done;
    }
    uint64_t count = 0;
    for (size_t i = sp; i < len; i++) {
        if (line[i] < '0' || line[i] > '9' || count > (UINT64_MAX - 9) / 10) {
            rc = pb_error_set(err, PB_EINVAL, "folded line %zu: bad count", lineno);
            goto done;
        }
        count = count * 10 + (uint64_t)(line[i] - '0');
    }
    size_t stack_len = sp - 1;
    while (stack_len && line[stack_len - 1] == ' ')
        stack_len--;
    copy = malloc(stack_len + 1);
    if (!copy) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    memcpy(copy, line, stack_len);
    copy[stack_len] = '\0';
    uint32_t depth = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        if (depth >= PPRT_MAX_DEPTH * 16u) {
            rc = pb_error_set(err, PB_EINVAL, "folded line %zu: stack too deep", lineno);
            goto done;
        }
        if (depth == *frames_cap) {
            size_t cap = *frames_cap ? *frames_cap * 2 : 64;
            uint32_t *f = realloc(*frames, cap * sizeof(uint32_t));
            if (!f) {
                rc = pb_error_set(err, PB_ENOMEM, "out of memory");
                goto done;
            }
            *frames = f;
            *frames_cap = cap;
        }
        if ((rc = pb_profile_intern(p, tok, NULL, 0, &(*frames)[depth], err)) < 0)
            goto done;
        depth++;
    }
    if (depth == 0) {
        rc = pb_error_set(err, PB_EINVAL, "folded line %zu: empty stack", lineno);
        goto done;
    }
    rc = pb_profile_add_stack(p, *frames, depth, count, err);
done:
    free(copy);
    return rc;
}

int pb_profile_from_folded(pb_profile **out, const char *text, size_t len, pb_error *err)
{
    pb_profile *p = NULL;
    uint32_t *frames = NULL;
    size_t frames_cap = 0;
    int rc = pb_profile_new(&p, err);
    if (rc < 0)
        goto done;
    size_t lineno = 0;
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t line_len = nl ? (size_t)(nl - (text + at)) : len - at;
        lineno++;
        if (line_len > FOLDED_MAX_LINE) {
            rc = pb_error_set(err, PB_EINVAL, "folded line %zu: too long", lineno);
            goto done;
        }
        if (memchr(text + at, '\0', line_len)) {
            rc = pb_error_set(err, PB_EINVAL, "folded line %zu: NUL byte", lineno);
            goto done;
        }
        if ((rc = add_folded_line(p, text + at, line_len, lineno, &frames, &frames_cap, err)) < 0)
            goto done;
        at += line_len + 1;
    }
    p->processes = 0;
    *out = p;
    p = NULL;
done:
    free(frames);
    pb_profile_free(p);
    return rc;
}

/* ---- diff ------------------------------------------------------------ */

static int cmp_delta(const void *a, const void *b)
{
    const pb_profile_delta *x = a, *y = b;
    if (x->self_delta != y->self_delta)
        return x->self_delta > y->self_delta ? -1 : 1;
    if (x->total_delta != y->total_delta)
        return x->total_delta > y->total_delta ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Index of frame `name` in `p`, or -1. */
static long find_frame(const pb_profile *p, const char *name)
{
    if (!p->frame_index_cap)
        return -1;
    size_t mask = p->frame_index_cap - 1;
    for (size_t at = hash_name(name) & mask; p->frame_index[at]; at = (at + 1) & mask) {
        uint32_t f = p->frame_index[at] - 1;
        if (!strcmp(p->frames[f].name, name))
            return (long)f;
    }
    return -1;
}

static double two_proportion_z(uint64_t k1, uint64_t n1, uint64_t k2, uint64_t n2)
{
    if (n1 == 0 || n2 == 0)
        return 0;
    double p1 = (double)k1 / (double)n1, p2 = (double)k2 / (double)n2;
    double pooled = (double)(k1 + k2) / (double)(n1 + n2);
    double se = sqrt(pooled * (1 - pooled) * (1.0 / (double)n1 + 1.0 / (double)n2));
    return se > 0 ? (p2 - p1) / se : 0;
}

int pb_profile_diff(const pb_profile *base, const pb_profile *cur, pb_profile_delta **out,
                    size_t *count, pb_error *err)
{
    uint64_t *bself = NULL, *btotal = NULL, *cself = NULL, *ctotal = NULL;
    pb_profile_delta *d = NULL;
    size_t n = 0;
    int rc = pb_profile_count(base, &bself, &btotal, err);
    if (rc < 0 || (rc = pb_profile_count(cur, &cself, &ctotal, err)) < 0)
        goto done;
    d = calloc(base->nframes + cur->nframes + 1, sizeof(*d));
    if (!d) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    double nb = base->samples ? (double)base->samples : 1.0;
    double nc = cur->samples ? (double)cur->samples : 1.0;
    for (size_t i = 0; i < cur->nframes; i++) {
        long j = find_frame(base, cur->frames[i].name);
        pb_profile_delta *e = &d[n++];
        e->name = cur->frames[i].name;
        e->change = j < 0 ? PB_PROFILE_NEW : PB_PROFILE_CHANGED;
        uint64_t bs = j < 0 ? 0 : bself[j], bt = j < 0 ? 0 : btotal[j];
        e->self_before = 100.0 * (double)bs / nb;
        e->total_before = 100.0 * (double)bt / nb;
        e->self_after = 100.0 * (double)cself[i] / nc;
        e->total_after = 100.0 * (double)ctotal[i] / nc;
        e->z = two_proportion_z(bs, base->samples, cself[i], cur->samples);
    }
    for (size_t j = 0; j < base->nframes; j++) {
        if (find_frame(cur, base->frames[j].name) >= 0)
            continue;
        pb_profile_delta *e = &d[n++];
        e->name = base->frames[j].name;
        e->change = PB_PROFILE_VANISHED;
        e->self_before = 100.0 * (double)bself[j] / nb;
        e->total_before = 100.0 * (double)btotal[j] / nb;
        e->z = two_proportion_z(bself[j], base->samples, 0, cur->samples);
    }
    for (size_t i = 0; i < n; i++) {
        d[i].self_delta = d[i].self_after - d[i].self_before;
        d[i].total_delta = d[i].total_after - d[i].total_before;
    }
    if (n > 1)
        qsort(d, n, sizeof(*d), cmp_delta);
    *out = d;
    *count = n;
    d = NULL;
done:
    free(d);
    free(bself);
    free(btotal);
    free(cself);
    free(ctotal);
    return rc;
}
