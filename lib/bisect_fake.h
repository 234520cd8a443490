/*
 * bisect_fake.h — private: a fake oracle for the bisection, shared by the
 * unit tests (tests/unit/test_bisect.c) and the simulator
 * (bench/bisect_sim.c). Not part of the library.
 *
 * Commit c (candidate index, or n for good) has a log-level level[c]; each
 * run is base * exp(level + noise * N(0,1)), times outlier_mult with
 * probability outlier_rate (or the inverse of all that when the metric is
 * higher-is-better). Commits with skip[c] set cannot be built. Values come
 * from a pb_rng seeded by the caller, in the order they are asked for, so a
 * run is reproducible. Builds are counted the way the tool pays for them:
 * PB_REPO_SLOTS worktrees keep the commits built last, and a commit not in
 * one is built in the least recently used (an unbuildable one leaves it
 * empty).
 */
#ifndef PERFBISECT_BISECT_FAKE_H
#define PERFBISECT_BISECT_FAKE_H

#include "perfbisect/bisect.h"
#include "perfbisect/repo.h"
#include "perfbisect/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct pb_fake {
    size_t n;
    double *level;       /* n + 1 log-levels, owned */
    unsigned char *skip; /* n + 1 flags, owned */
    double base, noise, outlier_rate, outlier_mult;
    double drift; /* log-change of every level per value made: a machine slowing down */
    size_t made;  /* values made so far */
    int higher_is_better;
    pb_rng rng;
    double **vals; /* values given so far per commit */
    size_t *nvals;
    size_t slot[PB_REPO_SLOTS];            /* commit each worktree holds built, SIZE_MAX: none */
    size_t slot_used[PB_REPO_SLOTS], tick; /* for least-recently-used reuse */
    size_t builds, runs, measures, compares;
    size_t compare_runs; /* of runs: those of compare(), both sides */
    size_t abort_at;     /* measure() call number (1-based) that aborts; 0 never */
    size_t order[4096];  /* commits in measure() order (first 4096 calls) */
} pb_fake;

/* Flat history: every level 0, no skips, base 1, 5% noise, no outliers. */
static inline int pb_fake_init(pb_fake *f, size_t n, uint64_t seed)
{
    memset(f, 0, sizeof *f);
    f->n = n;
    f->level = calloc(n + 1, sizeof(double));
    f->skip = calloc(n + 1, 1);
    f->vals = calloc(n + 1, sizeof(double *));
    f->nvals = calloc(n + 1, sizeof(size_t));
    f->base = 1;
    f->noise = 0.05;
    f->outlier_mult = 3;
    for (size_t i = 0; i < PB_REPO_SLOTS; i++)
        f->slot[i] = (size_t)-1;
    pb_rng_seed(&f->rng, seed);
    return f->level && f->skip && f->vals && f->nvals ? 0 : -1;
}

static inline void pb_fake_free(pb_fake *f)
{
    if (f->vals)
        for (size_t i = 0; i <= f->n; i++)
            free(f->vals[i]);
    free(f->vals);
    free(f->nvals);
    free(f->level);
    free(f->skip);
    memset(f, 0, sizeof *f);
}

/* Candidates step..n-1 are `log_step` worse than the rest (and good). */
static inline void pb_fake_step(pb_fake *f, size_t step, double log_step)
{
    for (size_t i = step; i < f->n; i++)
        f->level[i] += log_step;
}

static inline double pb_fake_value(pb_fake *f, size_t c)
{
    double l = f->level[c] + f->drift * (double)f->made++ + f->noise * pb_rng_normal(&f->rng);
    double v = f->base * exp(f->higher_is_better ? -l : l);
    if (f->outlier_rate > 0 && pb_rng_uniform(&f->rng) < f->outlier_rate)
        v = f->higher_is_better ? v / f->outlier_mult : v * f->outlier_mult;
    return v;
}

/* Like the real oracle: a commit already built in a worktree costs no build;
 * otherwise the least recently used one not holding `keep` is rebuilt (and
 * left empty when the commit cannot be built: then 1 is returned). */
static inline int pb_fake_build(pb_fake *f, size_t commit, size_t keep)
{
    size_t none = (size_t)-1;
    unsigned holds = 0, keeps = 0;
    for (unsigned i = 0; i < PB_REPO_SLOTS; i++) {
        holds |= (unsigned)(f->slot[i] == commit) << i;
        keeps |= (unsigned)(keep != none && f->slot[i] == keep) << i;
    }
    unsigned use = pb_repo_slot_pick(holds, keeps, f->slot_used);
    if (holds >> use & 1u) {
        f->slot_used[use] = ++f->tick;
        return 0;
    }
    f->builds++;
    if (f->skip[commit]) {
        f->slot[use] = none;
        f->slot_used[use] = 0;
        return 1;
    }
    f->slot[use] = commit;
    f->slot_used[use] = ++f->tick;
    return 0;
}

static inline int pb_fake_measure(void *ctx, size_t commit, unsigned runs, const double **values,
                                  size_t *n, pb_error *err)
{
    pb_fake *f = ctx;
    f->measures++;
    if (f->abort_at && f->measures >= f->abort_at)
        return pb_error_set(err, PB_EINTR, "fake oracle: interrupted");
    if (commit > f->n)
        return pb_error_set(err, PB_EINVAL, "fake oracle: no commit %zu", commit);
    if (f->measures <= sizeof f->order / sizeof f->order[0])
        f->order[f->measures - 1] = commit;
    if (pb_fake_build(f, commit, (size_t)-1))
        return PB_BISECT_SKIP;
    double *v = realloc(f->vals[commit], (f->nvals[commit] + runs + 1) * sizeof(double));
    if (!v)
        return pb_error_set(err, PB_ENOMEM, "fake oracle: out of memory");
    f->vals[commit] = v;
    for (unsigned r = 0; r < runs; r++)
        v[f->nvals[commit]++] = pb_fake_value(f, commit);
    f->runs += runs;
    *values = v;
    *n = f->nvals[commit];
    return 0;
}

static inline int pb_fake_compare(void *ctx, size_t before, size_t after, unsigned runs,
                                  double *before_values, double *after_values, pb_error *err)
{
    pb_fake *f = ctx;
    if (before > f->n || after > f->n)
        return pb_error_set(err, PB_EINVAL, "fake oracle: no such commit");
    f->compares++;
    if (pb_fake_build(f, before, after) || pb_fake_build(f, after, before))
        return PB_BISECT_SKIP;
    for (unsigned r = 0; r < runs; r++) {
        before_values[r] = pb_fake_value(f, before);
        after_values[r] = pb_fake_value(f, after);
    }
    f->runs += 2 * (size_t)runs;
    f->compare_runs += 2 * (size_t)runs;
    return 0;
}

static inline pb_bisect_oracle pb_fake_oracle(pb_fake *f)
{
    pb_bisect_oracle o = {f, pb_fake_measure, pb_fake_compare, NULL};
    return o;
}

/* A linear history: candidate i's parent is i - 1 (candidate 0's is good). */
static inline pb_bisect_node *pb_fake_linear(size_t n, size_t **parents_out)
{
    pb_bisect_node *nodes = calloc(n, sizeof *nodes);
    size_t *parents = calloc(n, sizeof(size_t));
    *parents_out = NULL;
    if (!nodes || !parents) {
        free(nodes);
        free(parents);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        parents[i] = i - 1;
        nodes[i].nparents = i > 0;
        nodes[i].parents = i > 0 ? &parents[i] : NULL;
    }
    *parents_out = parents;
    return nodes;
}

#endif
