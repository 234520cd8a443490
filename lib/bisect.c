/*
 * bisect.c — the statistical search for the commit(s) that made a benchmark
 * worse. Pure: every number comes from the oracle; nothing is printed.
 *
 * How it decides (tuned with bench/bisect_sim.c; knobs in bisect_tune.h):
 *
 *  1. Endpoints. Good and bad get `runs` each, then more (bad first: it is
 *     the one built) until a one-sided Mann-Whitney "bad is worse" is
 *     significant, asked every `runs` runs (later at wider steps; see
 *     plan_looks) up to 3*max_runs against a group-sequential bound
 *     whose looks together spend `alpha`; at
 *     max_runs a look where bad is no worse (p above 0.5) is the last, at
 *     2*max_runs one whose p is above `futility`.
 *     Never significant, or bad better: verdict `none`. Once significant
 *     they get about ref_k/d^2 runs each (d = change / noise, at most
 *     max_runs), because every probe is judged against them.
 *
 *  2. Search. Values are taken as logs (when all positive) and oriented so
 *     that higher is worse. For the interval between a good-side reference
 *     `lo` and a bad-side reference `hi`, a posterior over "commit k is the
 *     first bad one" is kept for every k that is an ancestor-or-self of hi
 *     and not of lo (commit c is bad under k iff k is an ancestor-or-self of
 *     c). It is recomputed from every run measured so far at every commit of
 *     the interval: under hypothesis k the commits fall into a good group
 *     (lo and the non-descendants of k) and a bad group, each a normal
 *     sample around its own unknown level, the levels integrated out; the
 *     noise sigma is pooled over all commits; runs further than reject_z
 *     sigmas from their commit's median (outliers) are left out.
 *     The next probe is the commit whose "bad" mass is closest to half
 *     (softly moving away from skipped commits). A probe gets `runs` values
 *     (fewer, first_k/d^2 but at least 5, when the change is d >> 1 sigmas),
 *     then batches while its own P(bad) lies between 1-conf and conf (a
 *     sequential test), or while it still is the best split and the
 *     likeliest commit or its parent, up to max_runs
 *     (then it is UNKNOWN: weak evidence, kept). A probe significantly
 *     between both references (z-test of outlier-free means, or
 *     Mann-Whitney, at alpha/strict_factor) and still so at max_runs sits
 *     between two steps: the interval is split there and both halves
 *     searched (meanwhile the references get as many runs as it, so that
 *     their own chance offsets cannot make it look in between). (conf is
 *     only 0.9: a wrong call is soon contradicted by the next probes, and
 *     the stop rule, not conf, bounds the error.)
 *     A search ends when one commit holds stop_mass of the posterior (or
 *     verify_mass before its verification, step 3), or
 *     when nothing left to measure can split it: skipped commits among the
 *     likely ones make the answer ambiguous (`candidates`); otherwise the
 *     likeliest commit is the answer, with its posterior as the doubt.
 *
 *  3. Verification. Once the likeliest commit holds verify_mass of the
 *     posterior (a search stops there too), it is verified against its
 *     (first) parent with fresh, interleaved runs from compare(), in
 *     batches of a probe's first batch until they differ at alpha2 or
 *     reach verify_runs a side: change %, a bootstrap CI of the ratio of
 *     medians, Mann-Whitney p. Those runs
 *     join the evidence (the two commits the end of a search measures most
 *     anyway), and the search goes on until stop_mass; if they move the
 *     posterior to another commit, that one is verified too.
 *
 *  4. More steps. If the parent is still significantly worse than lo, or the
 *     culprit significantly better than hi (at alpha/strict_factor, and
 *     again once both ends have max_runs: a search where no step is costs
 *     many undecided probes), those intervals are searched too, and so is
 *     a merge culprit's other parent worse than lo (than good when its
 *     branch forked before lo); up to `max_steps` culprits.
 *
 *  5. Gradual. When the culprits cannot explain half the total change (the
 *     upper ends of their intervals, from all their runs, add up to less),
 *     evenly spaced commits are sampled and Mann-Kendall run on their
 *     medians: a significant worsening trend gives `gradual`, with the range
 *     where the medians left good's level for bad's and the change per
 *     commit of that range (so that the two give the whole change back).
 *
 *  6. Drift guard (options->drift_guard). Every run has a time (its number
 *     in the bisection). The references get 2 more runs each every
 *     ref_every runs (scaled as a probe's first batch is), and the
 *     posterior's model adds a linear drift in time, common to all commits,
 *     with a normal prior (drift sigmas over the bisection), integrated out
 *     with the levels. Without the guard the drift term is off: it costs
 *     evidence (time and side of the step are confounded in a sequential
 *     search), about 1.3x the runs.
 *
 * Everything is deterministic given the oracle's values and the seed.
 */
#include "perfbisect/bisect.h"
#include "perfbisect/buf.h"
#include "perfbisect/stats.h"

#include "bisect_tune.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONE_IDX SIZE_MAX
/* The oracle may hand back at most this many values for one commit. */
#define MAX_COMMIT_VALUES 1000000
/* Histories longer than this are refused (the search keeps O(n) arrays). */
#define MAX_NODES ((size_t)1 << 26)
#define BOOTSTRAP_ITERATIONS 2000
/* An ambiguous answer longer than this is no answer. */
#define MAX_CANDIDATES 64
/* A search stops after this many probes that max_runs could not decide. */
#define UNKNOWN_GUARD 12
/* The endpoints' test looks at most this many times. */
#define MAX_LOOKS 27

enum probe_outcome { PR_GOOD, PR_BAD, PR_UNKNOWN, PR_SKIP, PR_INTERMEDIATE };

enum search_outcome { SO_FOUND, SO_AMBIGUOUS, SO_INTERMEDIATE, SO_FAILED };

typedef struct commit_data {
    double *raw; /* every value the oracle gave for it, as given */
    size_t nraw;
    double *xraw; /* fresh values from compare() */
    size_t nxraw;
    double *traw, *txraw; /* when each was measured: the run's number in the bisection */
    double *v;            /* raw then xraw, transformed (log, higher is worse) */
    double *t;            /* their times, in the same order */
    size_t nv;
    size_t asked; /* runs asked of measure() */
    int skipped;
    int verified; /* fresh interleaved runs of it and its parent were taken */
    size_t probe; /* its entry in the probes, NONE_IDX when none */
} commit_data;

/* Sufficient statistics of some runs: count, sums of y, y^2, t, t^2, t*y. */
typedef struct sums {
    double m, s, q, t, tt, ty;
} sums;

typedef struct interval {
    size_t lo, hi;
} interval;

typedef struct ctx {
    const pb_bisect_node *nodes;
    size_t n;
    pb_bisect_options opt;
    pb_bisect_tuning tune;
    const pb_bisect_oracle *oracle;
    pb_bisect_result *out;
    pb_error *err;
    commit_data *cd; /* n + 1: candidates, then good */
    int log_mode;
    double sign; /* -1 when higher is better */
    int has_merge;
    unsigned batch;
    unsigned first_runs; /* a probe's first batch */
    size_t probe_cap;    /* most runs of a probe */
    double alpha2;       /* level of secondary decisions */
    double z2;           /* two-sided normal critical value at alpha2 */
    /* the current search */
    size_t lo, hi;
    unsigned char *in_set;
    size_t *set;
    size_t nset;
    double *p;  /* posterior by commit (members only) */
    double *mb; /* posterior mass of "this commit is bad" (members only) */
    double sigma;
    sums *bad_side;   /* per hypothesis: the sums of its bad side's members */
    double clock;     /* runs measured so far: the time of the next one */
    double ref_clock; /* when the references were last measured */
    size_t remaining;
    size_t cand[MAX_CANDIDATES];
    size_t ncand;
    /* graph walks */
    size_t *stack, *anc;
    uint32_t *mark;
    uint32_t gen;
    double *scratch;
    size_t scap;
    /* results being built */
    pb_buf probes, culprits, candidates, skipped;
    size_t probes_estimate;
    const char *phase;
    size_t intermediates, unknowns;
} ctx;

const char *pb_bisect_verdict_name(pb_bisect_verdict v)
{
    switch (v) {
    case PB_VERDICT_REGRESSION:
        return "regression";
    case PB_VERDICT_GRADUAL:
        return "gradual";
    case PB_VERDICT_NONE:
        return "none";
    case PB_VERDICT_INCONCLUSIVE:
        return "inconclusive";
    }
    return "unknown";
}

const char *pb_probe_state_name(pb_probe_state s)
{
    switch (s) {
    case PB_PROBE_GOOD:
        return "good";
    case PB_PROBE_BAD:
        return "bad";
    case PB_PROBE_SKIP:
        return "skip";
    case PB_PROBE_UNKNOWN:
        return "unknown";
    }
    return "unknown";
}

void pb_bisect_tuning_init(pb_bisect_tuning *t)
{
    t->probe_conf = 0.9;
    t->stop_mass = 0.99;
    t->endpoint_runs = 0;
    t->batch = 0;
    t->verify_runs = 0;
    t->first_k = 10;
    t->gradual_samples = 10;
    t->strict_factor = 10;
    t->dominant_share = 0.5;
    t->reject_z = 4;
    t->endpoint_max = 0;
    t->one_sided = 1;
    t->probe_cap = 0;
    t->ref_k = 60;
    t->drift = 0.5;
    t->ref_every = 60;
    t->verify_mass = 0.85;
    t->futility = 0.2;
    t->look_shape = 0.45;
}

void pb_bisect_result_free(pb_bisect_result *result)
{
    if (!result)
        return;
    free(result->culprits);
    free(result->candidates);
    free(result->skipped);
    free(result->probes);
    result->culprits = NULL;
    result->candidates = NULL;
    result->skipped = NULL;
    result->probes = NULL;
    result->nculprits = result->ncandidates = result->nskipped = result->nprobes = 0;
}

/* ---- values ------------------------------------------------------------ */

static double transform(const ctx *x, double raw)
{
    double y = x->log_mode ? log(raw > DBL_MIN ? raw : DBL_MIN) : raw;
    return x->sign * y;
}

/* Recompute the transformed values of commit i from its raw ones. */
static int rebuild(ctx *x, size_t i)
{
    commit_data *d = &x->cd[i];
    size_t n = d->nraw + d->nxraw;
    double *v = realloc(d->v, (n ? n : 1) * sizeof(double));
    if (v)
        d->v = v;
    double *t = v ? realloc(d->t, (n ? n : 1) * sizeof(double)) : NULL;
    if (!t)
        return pb_error_set(x->err, PB_ENOMEM, "bisect: out of memory");
    d->t = t;
    for (size_t j = 0; j < d->nraw; j++) {
        v[j] = transform(x, d->raw[j]);
        t[j] = d->traw[j];
    }
    for (size_t j = 0; j < d->nxraw; j++) {
        v[d->nraw + j] = transform(x, d->xraw[j]);
        t[d->nraw + j] = d->txraw[j];
    }
    d->nv = n;
    return 0;
}

static int check_values(ctx *x, const double *vals, size_t n)
{
    int rc = 0;
    if (n > MAX_COMMIT_VALUES) {
        rc =
            pb_error_set(x->err, PB_EINVAL, "bisect: the oracle gave %zu values for one commit", n);
        goto done;
    }
    for (size_t j = 0; j < n; j++) {
        if (!isfinite(vals[j])) {
            rc = pb_error_set(x->err, PB_EINVAL, "bisect: the oracle gave a non-finite value");
            goto done;
        }
    }
done:
    return rc;
}

static int store_values(ctx *x, size_t i, const double *vals, size_t n)
{
    int rc = 0;
    commit_data *d = &x->cd[i];
    double *raw = NULL;
    if ((rc = check_values(x, vals, n)) < 0)
        goto done;
    if (n && !vals) {
        rc = pb_error_set(x->err, PB_EINVAL, "bisect: the oracle gave no value array");
        goto done;
    }
    raw = realloc(d->raw, (n ? n : 1) * sizeof(double));
    if (raw)
        d->raw = raw;
    double *t = raw ? realloc(d->traw, (n ? n : 1) * sizeof(double)) : NULL;
    if (!t) {
        rc = pb_error_set(x->err, PB_ENOMEM, "bisect: out of memory");
        goto done;
    }
    d->traw = t;
    for (size_t j = d->nraw; j < n; j++)
        t[j] = x->clock++;
    if (n)
        memcpy(raw, vals, n * sizeof(double));
    d->nraw = n;
    rc = rebuild(x, i);
done:
    return rc;
}

/* Fresh values of commit i, the j-th measured at time t0 + j * stride. */
static int add_extra(ctx *x, size_t i, const double *vals, size_t n, double t0, double stride)
{
    int rc = 0;
    commit_data *d = &x->cd[i];
    double *xr = NULL;
    if (d->nxraw + n > MAX_COMMIT_VALUES) {
        rc = pb_error_set(x->err, PB_EINVAL, "bisect: too many values for one commit");
        goto done;
    }
    xr = realloc(d->xraw, (d->nxraw + n + 1) * sizeof(double));
    if (xr)
        d->xraw = xr;
    double *t = xr ? realloc(d->txraw, (d->nxraw + n + 1) * sizeof(double)) : NULL;
    if (!t) {
        rc = pb_error_set(x->err, PB_ENOMEM, "bisect: out of memory");
        goto done;
    }
    d->txraw = t;
    for (size_t j = 0; j < n; j++)
        t[d->nxraw + j] = t0 + (double)j * stride;
    memcpy(xr + d->nxraw, vals, n * sizeof(double));
    d->nxraw += n;
    rc = rebuild(x, i);
done:
    return rc;
}

static int grow_scratch(ctx *x, size_t need)
{
    if (need <= x->scap)
        return 0;
    double *s = realloc(x->scratch, need * sizeof(double));
    if (!s)
        return pb_error_set(x->err, PB_ENOMEM, "bisect: out of memory");
    x->scratch = s;
    x->scap = need;
    return 0;
}

static size_t runs_of(const commit_data *d)
{
    return d->asked > d->nraw ? d->asked : d->nraw;
}

static int exhausted(const ctx *x, size_t i)
{
    return runs_of(&x->cd[i]) >= x->probe_cap;
}

/* Two-sided Mann-Whitney p of two value sets; NAN when either is empty. */
static double mw_p(const double *a, size_t na, const double *b, size_t nb)
{
    pb_mwu r;
    if (na == 0 || nb == 0 || pb_stats_mann_whitney(a, na, b, nb, &r, NULL) < 0)
        return NAN;
    return r.p_value;
}

/* ---- probes, skipped --------------------------------------------------- */

static pb_bisect_probe *probe_at(ctx *x, size_t idx)
{
    return (pb_bisect_probe *)(void *)x->probes.data + idx;
}

/* The probe entry of commit i, created (in measuring order) when missing. */
static int probe_entry(ctx *x, size_t i, pb_bisect_probe **out)
{
    int rc = 0;
    commit_data *d = &x->cd[i];
    if (d->probe == NONE_IDX) {
        pb_bisect_probe pr = {i, PB_PROBE_UNKNOWN, 0, NAN, NAN, NAN};
        if (pb_buf_put(&x->probes, &pr, sizeof pr) < 0) {
            rc = pb_error_set(x->err, PB_ENOMEM, "bisect: out of memory");
            goto done;
        }
        d->probe = x->probes.len / sizeof pr - 1;
    }
    *out = probe_at(x, d->probe);
done:
    return rc;
}

static void set_state(ctx *x, size_t i, pb_probe_state s)
{
    if (x->cd[i].probe != NONE_IDX)
        probe_at(x, x->cd[i].probe)->state = s;
}

static int mark_skipped(ctx *x, size_t i)
{
    int rc = 0;
    pb_bisect_probe *pr = NULL;
    if (x->cd[i].skipped)
        goto done;
    x->cd[i].skipped = 1;
    if ((rc = probe_entry(x, i, &pr)) < 0)
        goto done;
    pr->state = PB_PROBE_SKIP;
    if (pb_buf_put(&x->skipped, &i, sizeof i) < 0)
        rc = pb_error_set(x->err, PB_ENOMEM, "bisect: out of memory");
done:
    return rc;
}

/* ---- the oracle -------------------------------------------------------- */

static void progress(ctx *x, size_t commit)
{
    if (!x->oracle->progress)
        return;
    size_t nprobes = x->probes.len / sizeof(pb_bisect_probe);
    pb_bisect_progress pg;
    pg.probe = nprobes + (x->cd[commit].probe == NONE_IDX);
    pg.probes_estimate = x->probes_estimate > pg.probe ? x->probes_estimate : pg.probe;
    pg.commit = commit;
    pg.remaining = x->remaining;
    pg.runs = runs_of(&x->cd[commit]);
    pg.phase = x->phase;
    x->oracle->progress(x->oracle->ctx, &pg);
}

static int oracle_failed(ctx *x, int rc, const char *what)
{
    if (rc > 0)
        return pb_error_set(x->err, PB_EINVAL, "bisect: the oracle's %s returned %d", what, rc);
    if (x->err && x->err->code == 0)
        pb_error_set(x->err, rc, "bisect: the oracle's %s failed", what);
    return rc;
}

/*
 * `runs` more runs of commit i; *skip says the commit cannot be measured
 * (it is then marked skipped). Updates the commit's probe entry.
 */
static int measure(ctx *x, size_t i, unsigned runs, int *skip)
{
    int rc = 0;
    const double *vals = NULL;
    size_t nvals = 0;
    pb_bisect_probe *pr = NULL;
    *skip = 0;
    progress(x, i);
    x->cd[i].asked += runs;
    rc = x->oracle->measure(x->oracle->ctx, i, runs, &vals, &nvals, x->err);
    if (rc == 0)
        x->out->bench_runs += runs; /* a skipped commit's runs never happened */
    if (rc == PB_BISECT_SKIP) {
        *skip = 1;
        rc = mark_skipped(x, i);
        goto done;
    }
    if (rc != 0) {
        rc = oracle_failed(x, rc, "measure");
        goto done;
    }
    if ((rc = store_values(x, i, vals, nvals)) < 0)
        goto done;
    if ((rc = probe_entry(x, i, &pr)) < 0)
        goto done;
    pr->runs = x->cd[i].nraw;
    pr->median = pb_stats_median(x->cd[i].raw, x->cd[i].nraw);
done:
    return rc;
}

/* ---- graph ------------------------------------------------------------- */

/*
 * Collect the ancestors-or-self of candidate c into x->anc (only members of
 * the current set when `members_only`); returns how many.
 */
static size_t ancestors(ctx *x, size_t c, int members_only)
{
    size_t nanc = 0, top = 0;
    if (++x->gen == 0) {
        memset(x->mark, 0, x->n * sizeof(uint32_t));
        x->gen = 1;
    }
    if (members_only && !x->in_set[c])
        return 0;
    x->mark[c] = x->gen;
    x->stack[top++] = c;
    while (top) {
        size_t i = x->stack[--top];
        x->anc[nanc++] = i;
        const pb_bisect_node *nd = &x->nodes[i];
        for (size_t j = 0; j < nd->nparents; j++) {
            size_t p = nd->parents[j];
            if (x->mark[p] == x->gen || (members_only && !x->in_set[p]))
                continue;
            x->mark[p] = x->gen;
            x->stack[top++] = p;
        }
    }
    return nanc;
}

/* Members of the search lo..hi: ancestors-or-self of hi, not of lo. */
static void build_set(ctx *x, size_t lo, size_t hi)
{
    memset(x->in_set, 0, x->n);
    size_t na = ancestors(x, hi, 0);
    for (size_t j = 0; j < na; j++)
        x->in_set[x->anc[j]] = 1;
    if (lo < x->n) {
        na = ancestors(x, lo, 0);
        for (size_t j = 0; j < na; j++)
            x->in_set[x->anc[j]] = 0;
    }
    x->nset = 0;
    for (size_t i = 0; i < x->n; i++)
        if (x->in_set[i])
            x->set[x->nset++] = i;
    x->lo = lo;
    x->hi = hi;
    x->remaining = x->nset;
}

/* ---- the posterior ----------------------------------------------------- */

/*
 * The noise scale. A first, robust guess: MAD * 1.4826 of every commit's runs
 * around its own median. Then, leaving out runs further than reject_z
 * guesses from their commit's median (outliers), the pooled within-commit
 * standard deviation, which wastes far fewer runs than the MAD does.
 */
static int noise_sigma(ctx *x, double *out)
{
    int rc = 0;
    size_t total = 0, k = 0;
    for (size_t i = 0; i <= x->n; i++)
        if (x->cd[i].nv >= 3)
            total += x->cd[i].nv;
    *out = 0;
    if (total == 0)
        goto done;
    if ((rc = grow_scratch(x, total)) < 0)
        goto done;
    for (size_t i = 0; i <= x->n; i++) {
        const commit_data *d = &x->cd[i];
        if (d->nv < 3)
            continue;
        double med = pb_stats_median(d->v, d->nv);
        /* Deviations from a sample's own median run small; undo most of it. */
        double corr = sqrt((double)d->nv / (double)(d->nv - 1));
        for (size_t j = 0; j < d->nv; j++)
            x->scratch[k++] = fabs(d->v[j] - med) * corr;
    }
    double guess = 1.4826 * pb_stats_median(x->scratch, k);
    double lim = x->tune.reject_z * guess, ss = 0, df = 0;
    for (size_t i = 0; i <= x->n && guess > 0; i++) {
        const commit_data *d = &x->cd[i];
        if (d->nv < 3)
            continue;
        double med = pb_stats_median(d->v, d->nv), sum = 0, sq = 0, m = 0;
        for (size_t j = 0; j < d->nv; j++) {
            double y = d->v[j] - med;
            if (fabs(y) <= lim) {
                sum += y;
                sq += y * y;
                m += 1;
            }
        }
        if (m >= 2) {
            ss += sq - sum * sum / m;
            df += m - 1;
        }
    }
    *out = df > 0 ? sqrt(ss / df) : guess;
done:
    return rc;
}

static void sums_add(sums *a, const sums *b)
{
    a->m += b->m;
    a->s += b->s;
    a->q += b->q;
    a->t += b->t;
    a->tt += b->tt;
    a->ty += b->ty;
}

/*
 * The sums of commit c's values (shifted by c0) and times (centred and
 * scaled to the bisection so far), leaving out runs further than reject_z
 * sigmas from the commit's own median: an outlier run says nothing about
 * which side of the step the commit is on.
 */
static void suff(const ctx *x, size_t c, double c0, sums *o)
{
    const commit_data *d = &x->cd[c];
    double med = pb_stats_median(d->v, d->nv), lim = x->tune.reject_z * x->sigma;
    double tc = x->clock / 2, ts = x->clock > 1 ? x->clock : 1;
    memset(o, 0, sizeof *o);
    for (size_t r = 0; r < d->nv; r++) {
        double y = d->v[r] - c0, t = (d->t[r] - tc) / ts;
        if (fabs(d->v[r] - med) > lim)
            continue;
        o->m += 1;
        o->s += y;
        o->q += y * y;
        o->t += t;
        o->tt += t * t;
        o->ty += t * y;
    }
}

/*
 * log P(values | first bad = k) for every member k, written to x->p. Under
 * k the good side holds lo and the members that are not descendants-or-self
 * of k, the bad side hi and the others; every run is its side's level plus
 * (when tune.drift > 0) a drift in time common to all, plus noise. The
 * levels (flat priors) and the drift (normal prior) are integrated out: a
 * least-squares fit whose residual and determinant give the likelihood.
 */
static void marginal(ctx *x, double c0)
{
    sums lo, hi, members = {0}, all;
    suff(x, x->lo, c0, &lo);
    suff(x, x->hi, c0, &hi);
    for (size_t j = 0; j < x->nset; j++) {
        size_t c = x->set[j];
        memset(&x->bad_side[c], 0, sizeof x->bad_side[c]);
    }
    for (size_t j = 0; j < x->nset; j++) {
        size_t c = x->set[j];
        sums sc;
        if (c == x->hi || x->cd[c].nv == 0)
            continue;
        suff(x, c, c0, &sc);
        sums_add(&members, &sc);
        size_t na = ancestors(x, c, 1);
        for (size_t a = 0; a < na; a++)
            sums_add(&x->bad_side[x->anc[a]], &sc);
    }
    all = members;
    sums_add(&all, &lo);
    sums_add(&all, &hi);
    double s2 = x->sigma * x->sigma, tau2 = x->tune.drift * x->tune.drift;
    for (size_t j = 0; j < x->nset; j++) {
        size_t k = x->set[j];
        const sums *a = &x->bad_side[k];
        double bm = hi.m + a->m, bs = hi.s + a->s, bq = hi.q + a->q, bt = hi.t + a->t;
        double gm = lo.m + members.m - a->m, gs = lo.s + members.s - a->s;
        double gq = lo.q + members.q - a->q, gt = lo.t + members.t - a->t;
        double rss = 0, ll = 0, stt = all.tt, sty = all.ty;
        if (gm > 0) {
            rss += gq - gs * gs / gm;
            ll -= 0.5 * log(gm);
            stt -= gt * gt / gm;
            sty -= gt * gs / gm;
        }
        if (bm > 0) {
            rss += bq - bs * bs / bm;
            ll -= 0.5 * log(bm);
            stt -= bt * bt / bm;
            sty -= bt * bs / bm;
        }
        if (tau2 > 0 && stt > 0) {
            rss -= sty * sty / (stt + 1 / tau2);
            ll -= 0.5 * log(1 + tau2 * stt);
        }
        x->p[k] = ll - rss / (2 * s2);
    }
}

/* Recompute the noise, the posterior over the members and every mb[]. */
static int posterior(ctx *x)
{
    int rc = 0;
    double med_lo = pb_stats_median(x->cd[x->lo].v, x->cd[x->lo].nv);
    double med_hi = pb_stats_median(x->cd[x->hi].v, x->cd[x->hi].nv);
    double gap = fabs(med_hi - med_lo);
    if ((rc = noise_sigma(x, &x->sigma)) < 0)
        goto done;
    /* A benchmark without noise still needs a finite likelihood. */
    if (!(x->sigma >= 0.02 * gap))
        x->sigma = 0.02 * gap;
    if (!(x->sigma > 1e-12 * (1 + fabs(med_lo))))
        x->sigma = 1e-12 * (1 + fabs(med_lo));
    marginal(x, med_lo);
    double mx = -INFINITY, sum = 0;
    for (size_t j = 0; j < x->nset; j++)
        if (x->p[x->set[j]] > mx)
            mx = x->p[x->set[j]];
    for (size_t j = 0; j < x->nset; j++) {
        double e = exp(x->p[x->set[j]] - mx);
        x->p[x->set[j]] = e;
        sum += e;
    }
    x->remaining = 0;
    for (size_t j = 0; j < x->nset; j++) {
        x->p[x->set[j]] /= sum;
        x->remaining += x->p[x->set[j]] >= 1e-3;
    }
    /* Mass of "c is bad" = posterior of c's ancestors-or-self; a chain
     * (no merges) sums along the parents, a DAG walks each one. */
    for (size_t j = 0; j < x->nset; j++) {
        size_t c = x->set[j];
        if (!x->has_merge) {
            const pb_bisect_node *nd = &x->nodes[c];
            double up = nd->nparents && x->in_set[nd->parents[0]] ? x->mb[nd->parents[0]] : 0;
            x->mb[c] = x->p[c] + up;
        } else {
            double s = 0;
            size_t na = ancestors(x, c, 1);
            for (size_t a = 0; a < na; a++)
                s += x->p[x->anc[a]];
            x->mb[c] = s;
        }
    }
done:
    return rc;
}

static size_t top_member(const ctx *x)
{
    size_t top = x->set[0];
    for (size_t j = 1; j < x->nset; j++)
        if (x->p[x->set[j]] > x->p[top])
            top = x->set[j];
    return top;
}

/*
 * The commit to measure next: the one whose "bad" mass is closest to half,
 * a little less attractive near skipped commits (build failures cluster).
 * *score is min(mass, 1 - mass) of the choice; NONE_IDX when none is left.
 */
static size_t choose_probe(ctx *x, double *score)
{
    size_t best = NONE_IDX;
    double bs = -1;
    const size_t *sk = (const size_t *)(void *)x->skipped.data;
    size_t nsk = x->skipped.len / sizeof(size_t);
    for (size_t j = 0; j < x->nset; j++) {
        size_t c = x->set[j];
        if (c == x->hi || x->cd[c].skipped || exhausted(x, c))
            continue;
        double s = x->mb[c] < 1 - x->mb[c] ? x->mb[c] : 1 - x->mb[c];
        if (nsk) {
            size_t dist = SIZE_MAX;
            for (size_t k = 0; k < nsk; k++) {
                size_t d = sk[k] > c ? sk[k] - c : c - sk[k];
                if (d < dist)
                    dist = d;
            }
            s *= 1 - 0.5 / (1 + (double)dist);
        }
        if (s > bs + 1e-12) {
            bs = s;
            best = c;
        }
    }
    *score = bs;
    return best;
}

/* ---- probing ----------------------------------------------------------- */

/* Has the search gathered enough on `top` for now: stop_mass, or verify_mass
 * before its verification (whose runs are evidence too) was taken? */
static int settled(const ctx *x, size_t top)
{
    return x->p[top] >= x->tune.stop_mass ||
           (x->p[top] >= x->tune.verify_mass && !x->cd[top].verified);
}

/* Is P(c is bad) already beyond the probe's confidence either way? */
static int decided(const ctx *x, size_t c)
{
    return x->mb[c] >= x->tune.probe_conf || x->mb[c] <= 1 - x->tune.probe_conf;
}

/* More runs of c separate `top` from a neighbour: c is top or a parent of it. */
static int next_to(const ctx *x, size_t c, size_t top)
{
    if (c == top)
        return 1;
    for (size_t i = 0; i < x->nodes[top].nparents; i++)
        if (x->nodes[top].parents[i] == c)
            return 1;
    return 0;
}

/*
 * Does commit c sit significantly between the two references (a z-test of
 * outlier-free means at level alpha2 against each)? Then the interval holds
 * more than one step, or a drift. The rank test catches it too, but needs
 * more runs when the noise is small next to the change.
 */
static int between_levels(const ctx *x, size_t c)
{
    sums p, l, h;
    if (x->cd[c].nv < 3)
        return 0;
    suff(x, c, 0, &p);
    suff(x, x->lo, 0, &l);
    suff(x, x->hi, 0, &h);
    if (p.m < 2 || l.m < 2 || h.m < 2)
        return 0;
    double zl = (p.s / p.m - l.s / l.m) / (x->sigma * sqrt(1 / p.m + 1 / l.m));
    double zh = (h.s / h.m - p.s / p.m) / (x->sigma * sqrt(1 / p.m + 1 / h.m));
    return zl > x->z2 && zh > x->z2;
}

/* Measure reference c up to `runs` (at most the probes' cap); *more is set
 * when it got some. */
static int keep_pace(ctx *x, size_t c, size_t runs, int *more)
{
    int skip = 0, rc = 0;
    size_t have = runs_of(&x->cd[c]), want = runs < x->probe_cap ? runs : x->probe_cap;
    if (have < want && (rc = measure(x, c, (unsigned)(want - have), &skip)) >= 0)
        *more |= !skip;
    return rc < 0 ? rc : 0;
}

/*
 * Measure commit c until its own classification is decided (or it hits
 * max_runs, or turns out to lie between two steps).
 */
static int probe(ctx *x, size_t c, int *outcome)
{
    int rc = 0, skip = 0;
    commit_data *d = &x->cd[c];
    const commit_data *lo = &x->cd[x->lo], *hi = &x->cd[x->hi];
    double conf = x->tune.probe_conf;
    unsigned req = d->nraw == 0 ? x->first_runs : x->batch;
    pb_bisect_probe *pr = NULL;
    for (;;) {
        size_t have = runs_of(d);
        if (have + req > x->probe_cap)
            req = (unsigned)(x->probe_cap - have);
        if (req && (rc = measure(x, c, req, &skip)) < 0)
            goto done;
        if (req && skip) {
            *outcome = PR_SKIP;
            goto done;
        }
        if ((rc = posterior(x)) < 0)
            goto done;
        double pb = x->mb[c];
        double p_lo = mw_p(d->v, d->nv, lo->v, lo->nv);
        double p_hi = mw_p(d->v, d->nv, hi->v, hi->nv);
        if ((rc = probe_entry(x, c, &pr)) < 0)
            goto done;
        pr->p_good = p_lo;
        pr->p_bad = p_hi;
        double med = pb_stats_median(d->v, d->nv);
        double mlo = pb_stats_median(lo->v, lo->nv), mhi = pb_stats_median(hi->v, hi->nv);
        if (between_levels(x, c) ||
            (p_lo < x->alpha2 && p_hi < x->alpha2 && med > mlo && med < mhi)) {
            /* Tested after every batch, a few runs can look in between by
             * chance; only a probe that still does at its cap does. The
             * references keep pace: with more runs than they have, their
             * own chance offsets are what would show. */
            int more = 0;
            if ((rc = keep_pace(x, x->lo, runs_of(d), &more)) < 0 ||
                (rc = keep_pace(x, x->hi, runs_of(d), &more)) < 0)
                goto done;
            if (more) {
                req = 0;
                continue;
            }
            if (exhausted(x, c)) {
                pr->state = PB_PROBE_UNKNOWN;
                *outcome = PR_INTERMEDIATE;
                goto done;
            }
            req = x->batch;
            continue;
        }
        if (decided(x, c)) {
            /* Still the best split next to the likeliest commit and not yet
             * conclusive: more runs here cost no build, a move elsewhere
             * does. */
            double score;
            size_t top = top_member(x);
            if (settled(x, top) || exhausted(x, c) || !next_to(x, c, top) ||
                choose_probe(x, &score) != c) {
                pr->state = pb >= conf ? PB_PROBE_BAD : PB_PROBE_GOOD;
                *outcome = pb >= conf ? PR_BAD : PR_GOOD;
                goto done;
            }
        } else if (exhausted(x, c)) {
            pr->state = PB_PROBE_UNKNOWN;
            *outcome = PR_UNKNOWN;
            x->unknowns++;
            goto done;
        }
        req = x->batch;
    }
done:
    return rc;
}

/* The members holding stop_mass of the posterior, in x->cand (ascending). */
static void gather_candidates(ctx *x)
{
    double cum = 0;
    x->ncand = 0;
    while (cum < x->tune.stop_mass && x->ncand < MAX_CANDIDATES) {
        size_t best = NONE_IDX;
        for (size_t j = 0; j < x->nset; j++) {
            size_t c = x->set[j], k;
            for (k = 0; k < x->ncand && x->cand[k] != c; k++)
                ;
            if (k < x->ncand)
                continue;
            if (best == NONE_IDX || x->p[c] > x->p[best])
                best = c;
        }
        if (best == NONE_IDX)
            break;
        x->cand[x->ncand++] = best;
        cum += x->p[best];
    }
    for (size_t a = 1; a < x->ncand; a++)
        for (size_t b = a; b > 0 && x->cand[b - 1] > x->cand[b]; b--) {
            size_t t = x->cand[b];
            x->cand[b] = x->cand[b - 1];
            x->cand[b - 1] = t;
        }
    if (cum < x->tune.stop_mass)
        x->ncand = MAX_CANDIDATES + 1; /* too spread to be an answer */
}

/*
 * Search the interval lo..hi for the first bad commit. *found is the culprit
 * (SO_FOUND; its posterior is x->p[*found]), or the commit between two steps
 * (SO_INTERMEDIATE); SO_AMBIGUOUS leaves the candidates in x->cand.
 */
static int search(ctx *x, size_t lo, size_t hi, int *outcome, size_t *found)
{
    int rc = 0, po;
    x->phase = "bisect";
    build_set(x, lo, hi);
    *found = NONE_IDX;
    size_t guard = 8, nprobes = 0, unknowns = 0;
    for (size_t m = x->nset; m; m >>= 1)
        guard += 2;
    for (;;) {
        double score;
        if ((rc = posterior(x)) < 0)
            goto done;
        size_t top = top_member(x);
        if (settled(x, top)) {
            *outcome = SO_FOUND;
            *found = top;
            goto done;
        }
        size_t c = choose_probe(x, &score);
        if (c == NONE_IDX || score < (1 - x->tune.stop_mass) / 2) {
            /* Nothing left to measure can split the posterior. Skipped
             * commits among the likely ones leave the answer ambiguous;
             * otherwise the likeliest is the answer, with its doubt. */
            int skips = 0;
            gather_candidates(x);
            for (size_t k = 0; k < x->ncand && x->ncand <= MAX_CANDIDATES; k++)
                skips |= x->cd[x->cand[k]].skipped;
            if (x->ncand > MAX_CANDIDATES) {
                *outcome = SO_FAILED;
            } else if (skips) {
                *outcome = SO_AMBIGUOUS;
            } else {
                *outcome = SO_FOUND;
                *found = top;
            }
            goto done;
        }
        if (nprobes++ >= guard || unknowns >= UNKNOWN_GUARD) {
            /* Too many probes could not be decided: settle for the
             * likeliest commit if it is more likely than not. */
            *outcome = x->p[top] > 0.5 ? SO_FOUND : SO_FAILED;
            *found = x->p[top] > 0.5 ? top : NONE_IDX;
            goto done;
        }
        if (x->tune.ref_every && x->clock - x->ref_clock >= x->tune.ref_every) {
            /* The references again, so a drift in time shows as such. */
            int skip = 0;
            x->ref_clock = x->clock;
            if ((rc = measure(x, x->lo, 2, &skip)) < 0 || (rc = measure(x, x->hi, 2, &skip)) < 0)
                goto done;
        }
        if ((rc = probe(x, c, &po)) < 0)
            goto done;
        unknowns += po == PR_UNKNOWN;
        if (po == PR_INTERMEDIATE) {
            *outcome = SO_INTERMEDIATE;
            *found = c;
            x->intermediates++;
            goto done;
        }
    }
done:
    return rc;
}

/* ---- verification ------------------------------------------------------ */

/*
 * Change in %, + is worse, of `after` over `before` given their ratio and
 * the sign of `before`: relative to |before|, so that a metric below zero
 * that rises (-10 -> -5, higher is worse) changes by +50%, not -50%.
 */
static double change_of_ratio(const ctx *x, double ratio, double before)
{
    double c = (ratio - 1) * (before < 0 ? -100 : 100);
    return x->opt.higher_is_better ? -c : c;
}

/*
 * The 95% bootstrap interval of the change from b to a (ratio of medians,
 * in change_of_ratio's terms), *lo <= *hi; NAN when it cannot be had.
 * Fails only for want of memory.
 */
static int change_ci(ctx *x, const double *b, size_t nb, const double *a, size_t na, uint64_t seed,
                     double *lo, double *hi)
{
    double est, rlo, rhi;
    *lo = *hi = NAN;
    int brc = pb_stats_bootstrap_ratio_ci(b, nb, a, na, 0.95, BOOTSTRAP_ITERATIONS, seed, &est,
                                          &rlo, &rhi, NULL);
    if (brc == PB_ENOMEM)
        return pb_error_set(x->err, PB_ENOMEM, "bisect: out of memory");
    if (brc == 0) {
        double base = pb_stats_median(b, nb);
        double c1 = change_of_ratio(x, rlo, base), c2 = change_of_ratio(x, rhi, base);
        *lo = c1 < c2 ? c1 : c2;
        *hi = c1 < c2 ? c2 : c1;
    }
    return 0;
}

/*
 * Fresh interleaved runs of culprit k and its first parent: change, CI, p.
 * Falls back to the values already measured when compare() skips.
 */
static int verify(ctx *x, size_t k, double post, pb_bisect_culprit *cu)
{
    int rc = 0;
    double *before = NULL, *after = NULL;
    const pb_bisect_node *nd = &x->nodes[k];
    size_t parent = nd->nparents ? nd->parents[0] : x->n;
    unsigned nv = x->tune.verify_runs ? x->tune.verify_runs : (x->opt.runs > 20 ? x->opt.runs : 20);
    const double *b, *a;
    size_t nb, na;

    cu->commit = k;
    cu->parent = parent;
    cu->posterior = post;
    x->cd[k].verified = 1;
    cu->before_median = cu->after_median = cu->change_pct = NAN;
    cu->ci_lo = cu->ci_hi = cu->p_value = NAN;

    before = malloc(nv * sizeof(double));
    after = malloc(nv * sizeof(double));
    if (!before || !after) {
        rc = pb_error_set(x->err, PB_ENOMEM, "bisect: out of memory");
        goto done;
    }
    x->phase = "verify";
    progress(x, k);
    /* In batches of a probe's first one, until the fresh runs differ at
     * alpha2 or nv a side: a step many times the noise is plain in a few. */
    size_t got = 0;
    while (got < nv) {
        unsigned req = x->first_runs < nv - got ? x->first_runs : (unsigned)(nv - got);
        rc = x->oracle->compare(x->oracle->ctx, parent, k, req, before + got, after + got, x->err);
        if (rc == PB_BISECT_SKIP) {
            /* Could not build or run them: the probes' runs are more than a
             * batch or two, which cannot reach alpha2. */
            rc = 0;
            got = 0;
            break;
        }
        if (rc != 0) {
            rc = oracle_failed(x, rc, "compare");
            goto done;
        }
        x->out->bench_runs += 2 * (size_t)req;
        if ((rc = check_values(x, before + got, req)) < 0 ||
            (rc = check_values(x, after + got, req)) < 0)
            goto done;
        /* compare() alternates: before, after, before, ... */
        double t0 = x->clock;
        x->clock += 2 * (double)req;
        if ((rc = add_extra(x, parent, before + got, req, t0, 2)) < 0 ||
            (rc = add_extra(x, k, after + got, req, t0 + 1, 2)) < 0)
            goto done;
        got += req;
        if (mw_p(before, got, after, got) < x->alpha2)
            break;
    }
    if (got) {
        b = before;
        nb = got;
        a = after;
        na = got;
    } else { /* compare() could not build or run them: their probes' runs */
        b = x->cd[parent].raw;
        nb = x->cd[parent].nraw;
        a = x->cd[k].raw;
        na = x->cd[k].nraw;
    }
    if (nb == 0 || na == 0)
        goto done;
    cu->before_median = pb_stats_median(b, nb);
    cu->after_median = pb_stats_median(a, na);
    cu->p_value = mw_p(b, nb, a, na);
    if (cu->before_median != 0)
        cu->change_pct =
            change_of_ratio(x, cu->after_median / cu->before_median, cu->before_median);
    rc = change_ci(x, b, nb, a, na, x->opt.seed + k, &cu->ci_lo, &cu->ci_hi);
done:
    free(before);
    free(after);
    return rc;
}

/*
 * Each culprit's step as every run measured sees it: the commits whose
 * history holds the same culprits as its (first) parent's, pooled against
 * those holding the same as its own: change of the medians, bootstrap CI.
 * Many more runs than the verification's, so a small step shows. In a chain
 * the neighbouring culprits bound both sides; a side branch that forked
 * before an earlier culprit is on neither; a merge is measured against its
 * first parent, with what its other parents bring. It takes the search's
 * answer for granted: it measures the step, it does not test the commit.
 */
static int culprit_steps(ctx *x)
{
    int rc = 0;
    pb_bisect_culprit *cu = (pb_bisect_culprit *)(void *)x->culprits.data;
    size_t ncu = x->culprits.len / sizeof(pb_bisect_culprit), nm = 0;
    size_t *rows_of = NULL;     /* the measured commits, then each culprit's parent and itself */
    unsigned char *held = NULL; /* [row][culprit]: which culprits each holds */
    pb_buf side[2] = {PB_BUF_INIT, PB_BUF_INIT};
    if (ncu == 0)
        return 0;
    if (!(rows_of = malloc((x->n + 1 + 2 * ncu) * sizeof(size_t))))
        goto oom;
    for (size_t i = 0; i <= x->n; i++)
        if (x->cd[i].nraw + x->cd[i].nxraw)
            rows_of[nm++] = i; /* most of a long history: no walk for them */
    for (size_t j = 0; j < ncu; j++) {
        rows_of[nm + 2 * j] = cu[j].parent;
        rows_of[nm + 2 * j + 1] = cu[j].commit;
    }
    if (!(held = calloc(nm + 2 * ncu, ncu)))
        goto oom;
    for (size_t m = 0; m < nm + 2 * ncu; m++) {
        if (rows_of[m] >= x->n)
            continue; /* the good end holds none */
        ancestors(x, rows_of[m], 0);
        for (size_t j = 0; j < ncu; j++)
            held[m * ncu + j] = x->mark[cu[j].commit] == x->gen;
    }
    for (size_t j = 0; j < ncu; j++) {
        const unsigned char *before = &held[(nm + 2 * j) * ncu], *after = before + ncu;
        side[0].len = side[1].len = 0;
        for (size_t m = 0; m < nm; m++) {
            const unsigned char *row = &held[m * ncu];
            int same = !memcmp(row, before, ncu), plus_it = !memcmp(row, after, ncu);
            const commit_data *d = &x->cd[rows_of[m]];
            if (!same && !plus_it)
                continue;
            if (pb_buf_put(&side[plus_it], d->raw, d->nraw * sizeof(double)) < 0 ||
                pb_buf_put(&side[plus_it], d->xraw, d->nxraw * sizeof(double)) < 0)
                goto oom;
        }
        const double *b = (const double *)(void *)side[0].data,
                     *a = (const double *)(void *)side[1].data;
        size_t nb = side[0].len / sizeof(double), na = side[1].len / sizeof(double);
        double base = nb ? pb_stats_median(b, nb) : 0;
        cu[j].step_pct = cu[j].step_lo = cu[j].step_hi = NAN;
        cu[j].step_runs_before = nb;
        cu[j].step_runs_after = na;
        if (na == 0 || base == 0)
            continue;
        if ((rc = change_ci(x, b, nb, a, na, x->opt.seed + 7 * cu[j].commit, &cu[j].step_lo,
                            &cu[j].step_hi)) < 0)
            goto done;
        if (!isnan(cu[j].step_lo))
            cu[j].step_pct = change_of_ratio(x, pb_stats_median(a, na) / base, base);
    }
    goto done;
oom:
    rc = pb_error_set(x->err, PB_ENOMEM, "bisect: out of memory");
done:
    free(rows_of);
    free(held);
    pb_buf_free(&side[0]);
    pb_buf_free(&side[1]);
    return rc;
}

/* Is commit a significantly worse (dir > 0) or better (dir < 0) than b? */
static int differs(const ctx *x, size_t a, size_t b, int dir)
{
    const commit_data *da = &x->cd[a], *db = &x->cd[b];
    if (da->nv == 0 || db->nv == 0)
        return 0;
    double p = mw_p(da->v, da->nv, db->v, db->nv);
    double ma = pb_stats_median(da->v, da->nv), mb = pb_stats_median(db->v, db->nv);
    return p < x->alpha2 && (dir > 0 ? ma > mb : ma < mb);
}

/*
 * Does a..b hold another step (a worse than b when dir > 0, better when
 * dir < 0)? A search there costs a lot, and with few runs one side can
 * look different by chance: a first yes is confirmed with both at their cap.
 */
static int another_step(ctx *x, size_t a, size_t b, int dir, int *yes)
{
    int rc = 0, skip = 0;
    *yes = differs(x, a, b, dir);
    for (int i = 0; *yes && i < 2; i++) {
        size_t c = i ? b : a;
        if (runs_of(&x->cd[c]) < x->probe_cap &&
            (rc = measure(x, c, (unsigned)(x->probe_cap - runs_of(&x->cd[c])), &skip)) < 0)
            return rc;
        if (skip)
            *yes = 0;
    }
    if (*yes)
        *yes = differs(x, a, b, dir);
    return rc;
}

/* ---- endpoints --------------------------------------------------------- */

/*
 * p-value of "b is worse than a": one-sided Mann-Whitney when the tuning
 * says so (the question asked of the endpoints has a direction), else
 * two-sided.
 */
static double worse_p(const ctx *x, size_t a, size_t b)
{
    const commit_data *da = &x->cd[a], *db = &x->cd[b];
    pb_mwu r;
    if (da->nv == 0 || db->nv == 0 ||
        pb_stats_mann_whitney(da->v, da->nv, db->v, db->nv, &r, NULL) < 0)
        return NAN;
    if (!x->tune.one_sided)
        return r.p_value;
    /* U of a below its mean: b's values rank higher, i.e. worse. */
    int b_worse = r.u < (double)da->nv * (double)db->nv / 2;
    return b_worse ? r.p_value / 2 : 1 - r.p_value / 2;
}

/* The change between good and bad in units of the noise; 0 when unknown. */
static double effect_size(ctx *x, size_t good, size_t bad)
{
    double sigma = 0;
    if (noise_sigma(x, &sigma) < 0 || !(sigma > 0))
        return 0;
    double gap = pb_stats_median(x->cd[bad].v, x->cd[bad].nv) -
                 pb_stats_median(x->cd[good].v, x->cd[good].nv);
    double d = fabs(gap) / sigma;
    return isfinite(d) ? d : 0;
}

/* k / d^2 runs (the runs a normal test needs scale so), within lo..hi;
 * hi when d is unknown. */
static size_t runs_for(double k, double d, size_t lo, size_t hi)
{
    double want = d > 0 ? k / (d * d) : (double)hi;
    if (!(want < (double)hi))
        return hi;
    return want > (double)lo ? (size_t)ceil(want) : lo;
}

/*
 * Runs each endpoint should have before the search: a probe's evidence is
 * limited by how well the two levels are known, so about ref_k / d^2 runs,
 * d being the change in noise units (few when the change is large).
 */
static size_t reference_target(ctx *x, size_t good, size_t bad)
{
    return runs_for(x->tune.ref_k, effect_size(x, good, bad), x->opt.runs, x->opt.max_runs);
}

/*
 * A probe's first batch, once the endpoints differ: a change many times the
 * noise is decided in a few runs (the probe's sequential test asks for more
 * when they do not suffice). `runs` is the most a probe starts with; 5 the
 * least, since two outliers among 3 or 4 runs would move their median. The
 * change is taken two standard errors low: the endpoints' test stops when
 * their gap first looks large enough, so it tends to look larger than it is
 * (taken one standard error low, a 3% step in 5% noise sometimes started at
 * 7 runs and cost up to 45 builds). The drift guard's references come back
 * as many probes apart as before.
 */
static void size_first_batch(ctx *x)
{
    unsigned runs = x->opt.runs;
    double ng = (double)x->cd[x->n].nv, nb = (double)x->cd[x->n - 1].nv;
    double d = effect_size(x, x->n, x->n - 1) - 2 * sqrt(1 / ng + 1 / nb);
    x->first_runs = x->tune.first_k > 0
                        ? (unsigned)runs_for(x->tune.first_k, d, runs < 5 ? runs : 5, runs)
                        : runs;
    if (x->tune.ref_every) {
        unsigned every = (unsigned)((double)x->tune.ref_every * x->first_runs / runs + 0.5);
        x->tune.ref_every = every ? every : 1;
    }
}

/*
 * The level at which each of the endpoints' looks (runs per side) is
 * tested, as a p-value of worse_p's kind, so that all of them together say
 * "worse" by chance with probability alpha: a group-sequential bound of
 * shape tune.look_shape (0.5: the same level at every look, Pocock's; less
 * keeps more of alpha for the later looks, where small changes are found).
 */
static void look_levels(const ctx *x, const size_t *looks, size_t nlooks, double *level)
{
    double n[MAX_LOOKS];
    for (size_t i = 0; i < nlooks; i++)
        n[i] = (double)looks[i];
    double a = x->tune.one_sided ? x->opt.alpha : x->opt.alpha / 2;
    double c = pb_stats_sequential_bound(n, nlooks, x->tune.look_shape, a);
    for (size_t i = 0; i < nlooks; i++) {
        double z = c * pow(n[i] / n[nlooks - 1], x->tune.look_shape - 0.5);
        double l = 1 - pb_stats_normal_cdf(z);
        if (isnan(c)) /* out of memory, or looks the grid cannot take: Bonferroni is safe */
            l = a / (double)nlooks;
        level[i] = x->tune.one_sided ? l : 2 * l;
    }
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/*
 * The endpoints' looks, in runs a side: every e0 for the first EARLY_LOOKS
 * (a large change is seen early, whatever max_runs is), then evenly up to
 * cap3 in at most MAX_LOOKS in all, with max_runs (cap1) and twice that
 * among them (the futility stops are taken there). A regular look closer
 * than half a spacing to one of those is dropped: a look a run or two
 * before another buys nothing and narrows the bound's integration grid.
 */
static size_t plan_looks(size_t e0, size_t cap1, size_t cap3, size_t *looks)
{
    enum { EARLY_LOOKS = 8, FIXED = 3 };
    size_t n = 0, every = e0, at = 0;
    const size_t fixed[FIXED] = {cap1, 2 * cap1, cap3};
    size_t regular = MAX_LOOKS - FIXED, early = EARLY_LOOKS * e0;
    if (cap3 > early && (cap3 - early) / e0 > regular - EARLY_LOOKS) {
        size_t later = (cap3 - early + (regular - EARLY_LOOKS) - 1) / (regular - EARLY_LOOKS);
        every = (later + e0 - 1) / e0 * e0;
    }
    while (n < regular) {
        at += at < early ? e0 : every;
        if (at >= cap3)
            break;
        int near = 0;
        for (size_t f = 0; f < FIXED; f++) {
            size_t gap = at < fixed[f] ? fixed[f] - at : at - fixed[f];
            near |= fixed[f] <= cap3 && 2 * gap < (at < early ? e0 : every);
        }
        if (!near)
            looks[n++] = at;
    }
    for (size_t f = 0; f < FIXED; f++)
        if (fixed[f] <= cap3)
            looks[n++] = fixed[f];
    qsort(looks, n, sizeof(*looks), cmp_size);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (kept == 0 || looks[i] != looks[kept - 1])
            looks[kept++] = looks[i];
    return kept;
}

/*
 * The endpoints' medians, change and p from every run they have: after the
 * endpoints' test, and again at the end, since the searches measure them
 * again (between two steps, against drift) and the report's header should
 * agree with its probe table.
 */
static void refresh_totals(ctx *x)
{
    pb_bisect_result *out = x->out;
    const commit_data *g = &x->cd[x->n], *b = &x->cd[x->n - 1];
    out->good_median = pb_stats_median(g->raw, g->nraw);
    out->bad_median = pb_stats_median(b->raw, b->nraw);
    out->total_change_pct =
        out->good_median != 0
            ? change_of_ratio(x, out->bad_median / out->good_median, out->good_median)
            : NAN;
    out->total_p_value = worse_p(x, x->n, x->n - 1);
}

/*
 * Measure good and bad until they differ significantly. *go is 0 when the
 * search should not start (the verdict and reason are then set).
 */
static int endpoints(ctx *x, int *go)
{
    int rc = 0, skip = 0;
    size_t good = x->n, bad = x->n - 1;
    pb_bisect_result *out = x->out;
    unsigned e0 = x->tune.endpoint_runs ? x->tune.endpoint_runs : x->opt.runs;
    if (e0 > x->opt.max_runs)
        e0 = x->opt.max_runs;
    *go = 0;
    x->phase = "endpoints";
    if ((rc = measure(x, good, e0, &skip)) < 0 || skip)
        goto skipped;
    if ((rc = measure(x, bad, e0, &skip)) < 0 || skip)
        goto skipped;
    x->log_mode = 1;
    for (size_t i = 0; i < x->cd[good].nraw; i++)
        x->log_mode &= x->cd[good].raw[i] > 0;
    for (size_t i = 0; i < x->cd[bad].nraw; i++)
        x->log_mode &= x->cd[bad].raw[i] > 0;
    if ((rc = rebuild(x, good)) < 0 || (rc = rebuild(x, bad)) < 0)
        goto done;
    /* The question "is bad worse?" is asked at planned sample sizes
     * (looks) only, up to 3*max_runs (plan_looks), against a
     * group-sequential bound (look_levels) that keeps the chance of a false
     * "worse" over all looks at alpha: asking after every batch at level
     * alpha lets noise through far more often (measured: 3.8% instead of
     * 1% on flat histories). A large change is seen at the first looks, a
     * small one gets the later ones. The futility stops below can only
     * lower the false alarms, and spare a flat history the later looks. */
    size_t cap1 = x->opt.max_runs, cap3 = x->tune.endpoint_max ? x->tune.endpoint_max : 3 * cap1;
    if (cap3 < cap1)
        cap1 = cap3;
    size_t looks[MAX_LOOKS], nlooks = plan_looks(e0, cap1, cap3, looks);
    double level[MAX_LOOKS];
    look_levels(x, looks, nlooks, level);
    size_t look = 0;
    int significant = 0, futile = 0;
    double futile_p = x->tune.futility;
    size_t cur = bad; /* the endpoint built last: extend it first */
    for (;;) {
        if (!significant && runs_of(&x->cd[good]) >= looks[look] &&
            runs_of(&x->cd[bad]) >= looks[look]) {
            double p = worse_p(x, good, bad);
            significant = p < level[look];
            if (!significant) {
                /* At max_runs only a bad that measures no worse than good
                 * ends it (p above a half: a real change rarely does); at
                 * twice that, p above futility. */
                size_t at = looks[look];
                futile_p = at == cap1 && x->tune.futility < 0.5 ? 0.5 : x->tune.futility;
                if (++look == nlooks)
                    break;
                if ((at == cap1 || at == 2 * cap1) && p >= futile_p) {
                    futile = 1;
                    break;
                }
            }
        }
        /* Significant: every probe is judged against these two, so they get
         * enough runs to be known well. Not yet: runs up to the next look. */
        size_t need = significant ? reference_target(x, good, bad) : looks[look];
        size_t other = cur == bad ? good : bad, which = NONE_IDX;
        if (runs_of(&x->cd[cur]) < need)
            which = cur;
        else if (runs_of(&x->cd[other]) < need)
            which = cur = other;
        if (which == NONE_IDX)
            break;
        unsigned req = x->batch;
        if (runs_of(&x->cd[which]) + req > need)
            req = (unsigned)(need - runs_of(&x->cd[which]));
        if ((rc = measure(x, which, req, &skip)) < 0 || skip)
            goto skipped;
    }
    refresh_totals(x);
    double p = out->total_p_value;
    probe_at(x, x->cd[good].probe)->p_bad = p;
    probe_at(x, x->cd[bad].probe)->p_good = p;
    set_state(x, good, PB_PROBE_GOOD);
    set_state(x, bad, PB_PROBE_BAD);
    double mg = pb_stats_median(x->cd[good].v, x->cd[good].nv);
    double mbad = pb_stats_median(x->cd[bad].v, x->cd[bad].nv);
    if (!significant) {
        out->verdict = PB_VERDICT_NONE;
        if (x->tune.one_sided && 1 - p < x->opt.alpha)
            /* Better, significantly: a mix-up more often than a speed-up. */
            snprintf(out->reason, sizeof out->reason,
                     "bad is significantly %s than good (%+.2f%%, p=%.3g): nothing to bisect; "
                     "are --good and --bad swapped%s?",
                     x->opt.higher_is_better ? "higher" : "faster", out->total_change_pct, 1 - p,
                     x->opt.higher_is_better
                         ? ""
                         : ", or is the metric a throughput (--higher-is-better)");
        else if (futile)
            snprintf(out->reason, sizeof out->reason,
                     "bad is not significantly %s than good (%+.2f%%, Mann-Whitney p=%.3g, %zu "
                     "and %zu runs; with p above %.2g, no later look is taken)",
                     x->opt.higher_is_better ? "lower" : "slower", out->total_change_pct, p,
                     x->cd[good].nraw, x->cd[bad].nraw, futile_p);
        else
            snprintf(out->reason, sizeof out->reason,
                     "bad is not significantly %s than good (%+.2f%%, Mann-Whitney p=%.3g, %zu "
                     "and %zu runs; the last of %zu looks tests at %.3g)",
                     x->opt.higher_is_better ? "lower" : "slower", out->total_change_pct, p,
                     x->cd[good].nraw, x->cd[bad].nraw, nlooks, level[nlooks - 1]);
        goto done;
    }
    if (!(mbad > mg)) {
        out->verdict = PB_VERDICT_NONE;
        snprintf(out->reason, sizeof out->reason,
                 "bad is significantly better than good (%+.2f%%, p=%.3g): nothing to bisect",
                 out->total_change_pct, p);
        goto done;
    }
    size_first_batch(x);
    *go = 1;
    goto done;
skipped:
    if (rc >= 0) {
        /* The end that could be measured is still reported, as given. */
        if (x->cd[good].nraw && !x->cd[good].skipped) {
            out->good_median = pb_stats_median(x->cd[good].raw, x->cd[good].nraw);
            set_state(x, good, PB_PROBE_GOOD);
        }
        if (x->cd[bad].nraw && !x->cd[bad].skipped) {
            out->bad_median = pb_stats_median(x->cd[bad].raw, x->cd[bad].nraw);
            set_state(x, bad, PB_PROBE_BAD);
        }
        out->verdict = PB_VERDICT_INCONCLUSIVE;
        snprintf(out->reason, sizeof out->reason,
                 "the %s endpoint could not be built or its benchmark failed",
                 x->cd[good].skipped ? "good" : "bad");
    }
done:
    return rc;
}

/* ---- gradual ----------------------------------------------------------- */

/*
 * Sample evenly spaced commits and test their medians for a monotone trend.
 * *trend is set when it is significant and worsening; fills the gradual
 * fields of the result.
 */
static int gradual(ctx *x, int *trend, double *trend_p)
{
    int rc = 0, skip;
    size_t n = x->n, m = x->tune.gradual_samples;
    size_t *idx = NULL, npts = 0;
    double *series = NULL;
    pb_mann_kendall mk;
    *trend = 0;
    *trend_p = NAN;
    if (m > n - 1)
        m = n - 1;
    idx = malloc((m + 2) * sizeof(size_t));
    series = malloc((m + 2) * sizeof(double));
    if (!idx || !series) {
        rc = pb_error_set(x->err, PB_ENOMEM, "bisect: out of memory");
        goto done;
    }
    x->phase = "gradual";
    size_t tol = n / (4 * (m + 1));
    for (size_t j = 1; j <= m; j++) {
        size_t target = (size_t)llround((double)j * (double)n / (double)(m + 1)) - 1;
        if (target > n - 2)
            target = n - 2;
        size_t pick = NONE_IDX;
        /* Reuse a commit measured nearby: every build costs. */
        for (size_t dlt = 0; dlt <= tol && pick == NONE_IDX; dlt++) {
            if (target >= dlt && x->cd[target - dlt].nv && !x->cd[target - dlt].skipped)
                pick = target - dlt;
            else if (target + dlt < n - 1 && x->cd[target + dlt].nv && !x->cd[target + dlt].skipped)
                pick = target + dlt;
        }
        for (size_t dlt = 0; dlt <= tol && pick == NONE_IDX; dlt++) {
            size_t c = target + dlt;
            if (c >= n - 1 || x->cd[c].skipped)
                continue;
            if ((rc = measure(x, c, x->opt.runs, &skip)) < 0)
                goto done;
            if (!skip)
                pick = c;
        }
        if (pick != NONE_IDX)
            idx[npts++] = pick;
    }
    qsort(idx, npts, sizeof(size_t), cmp_size);
    size_t uniq = 0;
    for (size_t j = 0; j < npts; j++)
        if (uniq == 0 || idx[uniq - 1] != idx[j])
            idx[uniq++] = idx[j];
    npts = uniq;
    double g = pb_stats_median(x->cd[n].v, x->cd[n].nv);
    double b = pb_stats_median(x->cd[n - 1].v, x->cd[n - 1].nv);
    series[0] = g;
    for (size_t j = 0; j < npts; j++) {
        series[j + 1] = pb_stats_median(x->cd[idx[j]].v, x->cd[idx[j]].nv);
        set_state(x, idx[j], series[j + 1] - g < (b - g) / 2 ? PB_PROBE_GOOD : PB_PROBE_BAD);
    }
    series[npts + 1] = b;
    if (npts + 2 < 3 || pb_stats_mann_kendall(series, npts + 2, &mk, NULL) < 0)
        goto done;
    *trend_p = mk.p_value;
    *trend = mk.p_value < x->opt.alpha && mk.s > 0;
    /* Where it drifted: between the last sample still at good's level and
     * the first already at bad's (within a tenth of the change). */
    size_t first = 0, last = n - 1;
    for (size_t j = 0; j < npts && series[j + 1] - g <= 0.1 * (b - g); j++)
        first = idx[j] + 1;
    for (size_t j = npts; j > 0 && b - series[j] <= 0.1 * (b - g); j--)
        last = idx[j - 1];
    if (last < first)
        last = first;
    x->out->gradual_first = first;
    x->out->gradual_last = last;
    /* The whole change spread over that range, so that slope and range
     * give it back (Sen's slope over every sample would spread it over the
     * whole history). */
    double len = (double)(last - first + 1), total = x->out->total_change_pct;
    x->out->gradual_slope_pct =
        x->log_mode ? (pow(1 + total / 100, 1 / len) - 1) * 100 : total / len;
done:
    free(idx);
    free(series);
    return rc;
}

/* ---- the whole bisection ----------------------------------------------- */

static int validate(const pb_bisect_node *nodes, size_t n, const pb_bisect_options *o,
                    const pb_bisect_oracle *oracle, pb_bisect_result *out, pb_error *err)
{
    int rc = 0;
    if (!nodes || !o || !oracle || !out || !oracle->measure || !oracle->compare) {
        rc = pb_error_set(err, PB_EINVAL, "bisect: missing argument");
        goto done;
    }
    if (n == 0 || n > MAX_NODES) {
        rc = pb_error_set(err, PB_EINVAL, "bisect: %zu candidate commits", n);
        goto done;
    }
    if (o->runs == 0 || o->runs > MAX_COMMIT_VALUES || o->max_runs > MAX_COMMIT_VALUES ||
        !(o->alpha > 0 && o->alpha < 1)) {
        rc = pb_error_set(err, PB_EINVAL, "bisect: runs must be at least 1 and alpha in (0, 1)");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < nodes[i].nparents; j++) {
            if (!nodes[i].parents || nodes[i].parents[j] >= i) {
                rc = pb_error_set(err, PB_EINVAL,
                                  "bisect: candidate %zu has a parent that is not before it", i);
                goto done;
            }
        }
    }
done:
    return rc;
}

static int push_interval(interval *stack, size_t *top, size_t cap, size_t lo, size_t hi)
{
    if (*top >= cap)
        return 0;
    stack[*top] = (interval){lo, hi};
    (*top)++;
    return 1;
}

static int add_candidates(ctx *x)
{
    for (size_t k = 0; k < x->ncand; k++) {
        const size_t *have = (const size_t *)(void *)x->candidates.data;
        size_t nh = x->candidates.len / sizeof(size_t), j;
        for (j = 0; j < nh && have[j] != x->cand[k]; j++)
            ;
        if (j < nh)
            continue;
        if (pb_buf_put(&x->candidates, &x->cand[k], sizeof(size_t)) < 0)
            return pb_error_set(x->err, PB_ENOMEM, "bisect: out of memory");
    }
    return 0;
}

static int cmp_culprit(const void *a, const void *b)
{
    size_t x = ((const pb_bisect_culprit *)a)->commit, y = ((const pb_bisect_culprit *)b)->commit;
    return (x > y) - (x < y);
}

/* Every raw value of commit i (measure() and compare() alike), malloc'd. */
static int all_raw(ctx *x, size_t i, double **out, size_t *n)
{
    const commit_data *d = &x->cd[i];
    *n = d->nraw + d->nxraw;
    *out = malloc((*n ? *n : 1) * sizeof(double));
    if (!*out)
        return pb_error_set(x->err, PB_ENOMEM, "bisect: out of memory");
    if (d->nraw)
        memcpy(*out, d->raw, d->nraw * sizeof(double));
    if (d->nxraw)
        memcpy(*out + d->nraw, d->xraw, d->nxraw * sizeof(double));
    return 0;
}

/*
 * How large the step parent -> commit may be (upper end of a 95% bootstrap
 * interval of its change, +% worse), from every run of both: NAN when it
 * cannot be computed.
 */
static int step_reach(ctx *x, size_t parent, size_t commit, double *reach)
{
    int rc = 0;
    double *b = NULL, *a = NULL, lo;
    size_t nb, na;
    *reach = NAN;
    if ((rc = all_raw(x, parent, &b, &nb)) < 0 || (rc = all_raw(x, commit, &a, &na)) < 0)
        goto done;
    if (nb == 0 || na == 0)
        goto done;
    rc = change_ci(x, b, nb, a, na, x->opt.seed ^ (uint64_t)commit, &lo, reach);
done:
    free(b);
    free(a);
    return rc;
}

/* Verdict and reason once the searches are over. */
static int conclude(ctx *x, int ambiguous, int failed)
{
    int rc = 0;
    pb_bisect_result *out = x->out;
    pb_bisect_culprit *cu = (pb_bisect_culprit *)(void *)x->culprits.data;
    size_t ncu = x->culprits.len / sizeof(pb_bisect_culprit);
    double total = out->total_change_pct, best = 0, explained = 0;
    int dominant = 0;
    size_t main_cu = 0;
    for (size_t i = 0; i < ncu; i++) {
        double reach;
        if ((rc = step_reach(x, cu[i].parent, cu[i].commit, &reach)) < 0)
            goto done;
        if (isnan(reach))
            reach = isnan(cu[i].ci_hi) ? cu[i].change_pct : cu[i].ci_hi;
        /* NAN (a change that cannot be measured) counts as explaining. */
        explained += isnan(reach) ? INFINITY : reach;
        if (cu[i].change_pct > best) {
            best = cu[i].change_pct;
            main_cu = i;
        }
    }
    /* The steps found explain the change unless even the upper ends of
     * their intervals add up to less than half of it. */
    dominant = ncu > 0 && !(explained < x->tune.dominant_share * total);
    if (!dominant && !ambiguous) {
        int trend;
        double tp;
        if ((rc = gradual(x, &trend, &tp)) < 0)
            goto done;
        if (trend) {
            out->verdict = PB_VERDICT_GRADUAL;
            x->culprits.len = 0; /* no single commit: neither culprits nor candidates */
            x->candidates.len = 0;
            snprintf(out->reason, sizeof out->reason,
                     "no single commit explains the %+.2f%% change: it drifted by %+.3f%% per "
                     "commit over %zu commits (Mann-Kendall p=%.3g)",
                     total, out->gradual_slope_pct, out->gradual_last - out->gradual_first + 1, tp);
            goto done;
        }
    }
    if (ncu) {
        out->verdict = PB_VERDICT_REGRESSION;
        if (dominant && ncu == 1 && !isfinite(cu[0].change_pct))
            snprintf(out->reason, sizeof out->reason,
                     "one commit explains the slowdown (posterior %.3f): %.6g -> %.6g against "
                     "its parent (p=%.3g); no change in percent from a median of 0",
                     cu[0].posterior, cu[0].before_median, cu[0].after_median, cu[0].p_value);
        else if (dominant && ncu == 1 && !isnan(cu[0].step_pct))
            snprintf(out->reason, sizeof out->reason,
                     "one commit explains the slowdown (posterior %.3f): %+.2f%% against "
                     "its parent in fresh runs (95%% CI %+.2f..%+.2f%%, p=%.3g), a %+.2f%% step "
                     "over all %zu runs (%+.2f..%+.2f%%), of %+.2f%% in all",
                     cu[0].posterior, cu[0].change_pct, cu[0].ci_lo, cu[0].ci_hi, cu[0].p_value,
                     cu[0].step_pct, cu[0].step_runs_before + cu[0].step_runs_after, cu[0].step_lo,
                     cu[0].step_hi, total);
        else if (dominant && ncu == 1)
            snprintf(out->reason, sizeof out->reason,
                     "one commit explains the slowdown (posterior %.3f): %+.2f%% against "
                     "its parent (95%% CI %+.2f..%+.2f%%, p=%.3g), of %+.2f%% in all",
                     cu[0].posterior, cu[0].change_pct, cu[0].ci_lo, cu[0].ci_hi, cu[0].p_value,
                     total);
        else if (dominant)
            snprintf(out->reason, sizeof out->reason,
                     "%zu steps; the largest is %+.2f%% (p=%.3g) of %+.2f%% in all", ncu,
                     cu[main_cu].change_pct, cu[main_cu].p_value, total);
        else
            snprintf(out->reason, sizeof out->reason,
                     "the likeliest step changes by %+.2f%% (p=%.3g), a small part of the "
                     "%+.2f%% in all, and no significant trend was found",
                     cu[main_cu].change_pct, cu[main_cu].p_value, total);
    } else if (ambiguous) {
        out->verdict = PB_VERDICT_REGRESSION;
        snprintf(out->reason, sizeof out->reason,
                 "skipped or undecided commits leave %zu candidates for the first bad commit",
                 x->candidates.len / sizeof(size_t));
    } else {
        out->verdict = PB_VERDICT_INCONCLUSIVE;
        snprintf(out->reason, sizeof out->reason,
                 "bad is %+.2f%% worse than good (p=%.3g) but no commit or trend could be "
                 "singled out%s",
                 total, out->total_p_value,
                 failed ? " within max-runs; more runs or a quieter machine may help" : "");
    }
done:
    return rc;
}

/*
 * Verify culprit *found (once: a commit's verification is kept in vc) and
 * let its fresh runs join the evidence. If they move the posterior to
 * another commit, verify that one too and keep the likelier. If the search
 * stopped at verify_mass and the answer is still short of stop_mass, it
 * goes on with the fresh runs in its evidence, a few rounds at most; when
 * it then ends otherwise than with a culprit (between two steps, ambiguous,
 * failed), *outcome says so and the verified culprit is dropped.
 */
static int settle(ctx *x, interval iv, int *outcome, size_t *found, pb_bisect_culprit *cu,
                  int *parent_in)
{
    enum { MAX_ROUNDS = 4 };
    pb_bisect_culprit vc[2 * MAX_ROUNDS + 2];
    size_t nvc = 0;
    int rc = 0;
    for (int round = 0;; round++) {
        size_t k = *found, alt;
        for (int pass = 0; pass < 2; pass++) {
            size_t j = 0;
            while (j < nvc && vc[j].commit != k)
                j++;
            if (j == nvc && (rc = verify(x, k, x->p[k], &vc[nvc++])) < 0)
                goto done;
            if ((rc = posterior(x)) < 0)
                goto done;
            alt = top_member(x);
            if (pass == 1 || alt == *found || x->p[alt] <= x->p[*found])
                break;
            k = alt;
        }
        /* The likeliest of the verified ones. */
        size_t best = 0;
        for (size_t j = 1; j < nvc; j++)
            if (x->p[vc[j].commit] > x->p[vc[best].commit])
                best = j;
        *cu = vc[best];
        *found = cu->commit;
        cu->posterior = x->p[*found];
        *parent_in = cu->parent < x->n && x->in_set[cu->parent];
        if (x->p[*found] >= x->tune.stop_mass || round + 1 >= MAX_ROUNDS)
            break;
        if ((rc = search(x, iv.lo, iv.hi, outcome, found)) < 0 || *outcome != SO_FOUND)
            goto done; /* between two steps, ambiguous or failed: as a first search */
    }
done:
    return rc;
}

static int run_searches(ctx *x)
{
    int rc = 0, ambiguous = 0, failed = 0;
    enum { STACK_CAP = 64 };
    interval stack[STACK_CAP];
    size_t top = 0, searches = 0;
    unsigned max_steps = x->opt.max_steps ? x->opt.max_steps : 1;
    push_interval(stack, &top, STACK_CAP, x->n, x->n - 1);
    while (top) {
        int outcome;
        size_t found;
        interval iv = stack[--top];
        if (x->culprits.len / sizeof(pb_bisect_culprit) >= max_steps ||
            x->intermediates >= max_steps || searches++ >= 4 * (size_t)max_steps + 4)
            break;
        if ((rc = search(x, iv.lo, iv.hi, &outcome, &found)) < 0)
            goto done;
        pb_bisect_culprit cu = {0};
        int parent_in = 0;
        if (outcome == SO_FOUND && (rc = settle(x, iv, &outcome, &found, &cu, &parent_in)) < 0)
            goto done;
        if (outcome == SO_INTERMEDIATE) {
            push_interval(stack, &top, STACK_CAP, found, iv.hi);
            push_interval(stack, &top, STACK_CAP, iv.lo, found);
        } else if (outcome == SO_AMBIGUOUS) {
            ambiguous = 1;
            if ((rc = add_candidates(x)) < 0)
                goto done;
        } else if (outcome == SO_FAILED) {
            failed = 1;
        } else {
            size_t parent = cu.parent;
            if (x->p[found] < x->tune.stop_mass) {
                /* Still in doubt: say which commits it could be. */
                gather_candidates(x);
                if (x->ncand > 1 && x->ncand <= MAX_CANDIDATES && (rc = add_candidates(x)) < 0)
                    goto done;
            }
            if (pb_buf_put(&x->culprits, &cu, sizeof cu) < 0) {
                rc = pb_error_set(x->err, PB_ENOMEM, "bisect: out of memory");
                goto done;
            }
            /* Another step is looked for only while more culprits are wanted. */
            int yes = 0, more = x->culprits.len / sizeof(pb_bisect_culprit) < max_steps;
            if (more && found != iv.hi && (rc = another_step(x, found, iv.hi, -1, &yes)) < 0)
                goto done;
            if (yes)
                push_interval(stack, &top, STACK_CAP, found, iv.hi);
            yes = 0;
            if (more && parent_in && parent != iv.lo &&
                (rc = another_step(x, parent, iv.lo, 1, &yes)) < 0)
                goto done;
            if (yes)
                push_interval(stack, &top, STACK_CAP, iv.lo, parent);
            /* A merge's other parents bring history of their own: a step
             * there is looked for too (measured first when never), against
             * lo when the branch forked after it, else against good. */
            const pb_bisect_node *nd = &x->nodes[found];
            for (size_t j = 1; more && j < nd->nparents; j++) {
                size_t p = nd->parents[j], base = iv.lo;
                int skip = 0;
                yes = 0;
                if (!x->in_set[p] || p == iv.lo)
                    continue;
                if (base < x->n) {
                    ancestors(x, p, 0);
                    if (x->mark[base] != x->gen)
                        base = x->n;
                }
                if (runs_of(&x->cd[p]) == 0 && (rc = measure(x, p, x->opt.runs, &skip)) < 0)
                    goto done;
                if (!skip && (rc = another_step(x, p, base, 1, &yes)) < 0)
                    goto done;
                if (yes)
                    push_interval(stack, &top, STACK_CAP, base, p);
            }
        }
    }
    if ((rc = culprit_steps(x)) < 0)
        goto done;
    if (x->culprits.len > sizeof(pb_bisect_culprit))
        qsort(x->culprits.data, x->culprits.len / sizeof(pb_bisect_culprit),
              sizeof(pb_bisect_culprit), cmp_culprit);
    refresh_totals(x);
    rc = conclude(x, ambiguous, failed);
done:
    return rc;
}

static void ctx_free(ctx *x)
{
    if (x->cd) {
        for (size_t i = 0; i <= x->n; i++) {
            free(x->cd[i].raw);
            free(x->cd[i].xraw);
            free(x->cd[i].traw);
            free(x->cd[i].txraw);
            free(x->cd[i].t);
            free(x->cd[i].v);
        }
    }
    free(x->cd);
    free(x->in_set);
    free(x->set);
    free(x->p);
    free(x->mb);
    free(x->stack);
    free(x->anc);
    free(x->mark);
    free(x->bad_side);
    free(x->scratch);
    pb_buf_free(&x->probes);
    pb_buf_free(&x->culprits);
    pb_buf_free(&x->candidates);
    pb_buf_free(&x->skipped);
}

/* Hand the lists gathered in x over to the result. */
static void hand_over(ctx *x, pb_bisect_result *out)
{
    out->nprobes = x->probes.len / sizeof(pb_bisect_probe);
    out->probes = (pb_bisect_probe *)(void *)pb_buf_detach(&x->probes);
    out->nculprits = x->culprits.len / sizeof(pb_bisect_culprit);
    out->culprits = (pb_bisect_culprit *)(void *)pb_buf_detach(&x->culprits);
    out->nskipped = x->skipped.len / sizeof(size_t);
    out->skipped = (size_t *)(void *)pb_buf_detach(&x->skipped);
    out->ncandidates = x->candidates.len / sizeof(size_t);
    if (out->ncandidates > 1)
        qsort(x->candidates.data, out->ncandidates, sizeof(size_t), cmp_size);
    out->candidates = (size_t *)(void *)pb_buf_detach(&x->candidates);
}

int pb_bisect_run_tuned(const pb_bisect_node *nodes, size_t n, const pb_bisect_options *options,
                        const pb_bisect_tuning *tuning, const pb_bisect_oracle *oracle,
                        pb_bisect_result *out, pb_error *err)
{
    int rc = 0, go = 0;
    ctx x;
    memset(&x, 0, sizeof x);
    if (out)
        memset(out, 0, sizeof *out);
    if ((rc = validate(nodes, n, options, oracle, out, err)) < 0)
        goto done;
    x.nodes = nodes;
    x.n = n;
    x.opt = *options;
    if (x.opt.max_runs < x.opt.runs)
        x.opt.max_runs = x.opt.runs;
    x.tune = *tuning;
    if (!options->drift_guard)
        x.tune.drift = x.tune.ref_every = 0;
    x.oracle = oracle;
    x.out = out;
    x.err = err;
    x.sign = options->higher_is_better ? -1 : 1;
    x.log_mode = 1;
    x.batch = x.tune.batch ? x.tune.batch : (x.opt.runs / 2 > 2 ? x.opt.runs / 2 : 2);
    x.probe_cap =
        x.tune.probe_cap && x.tune.probe_cap < x.opt.max_runs ? x.tune.probe_cap : x.opt.max_runs;
    x.alpha2 = x.opt.alpha / (x.tune.strict_factor > 1 ? x.tune.strict_factor : 1);
    /* Normal quantile by bisection: 1 - Phi(z) = alpha2 / 2. */
    double zlo = 0, zhi = 40;
    for (int it = 0; it < 200; it++) {
        double mid = (zlo + zhi) / 2;
        if (1 - pb_stats_normal_cdf(mid) > x.alpha2 / 2)
            zlo = mid;
        else
            zhi = mid;
    }
    x.z2 = zhi;
    x.phase = "endpoints";
    x.remaining = n;
    x.probes_estimate = 3;
    for (size_t m = n; m > 1; m >>= 1)
        x.probes_estimate++;
    out->gradual_first = out->gradual_last = 0;
    out->gradual_slope_pct = NAN;
    out->total_change_pct = out->total_p_value = NAN;
    out->good_median = out->bad_median = NAN;
    out->verdict = PB_VERDICT_INCONCLUSIVE;
    for (size_t i = 0; i < n; i++)
        x.has_merge |= nodes[i].nparents > 1;
    x.cd = calloc(n + 1, sizeof *x.cd);
    x.in_set = calloc(n, 1);
    x.set = malloc(n * sizeof(size_t));
    x.p = malloc(n * sizeof(double));
    x.mb = malloc(n * sizeof(double));
    x.stack = malloc(n * sizeof(size_t));
    x.anc = malloc(n * sizeof(size_t));
    x.mark = calloc(n, sizeof(uint32_t));
    x.bad_side = malloc(n * sizeof *x.bad_side);
    if (!x.cd || !x.in_set || !x.set || !x.p || !x.mb || !x.stack || !x.anc || !x.mark ||
        !x.bad_side) {
        rc = pb_error_set(err, PB_ENOMEM, "bisect: out of memory for %zu commits", n);
        goto done;
    }
    for (size_t i = 0; i <= n; i++)
        x.cd[i].probe = NONE_IDX;
    if ((rc = endpoints(&x, &go)) < 0 || !go)
        goto done;
    rc = run_searches(&x);
done:
    if (out && x.cd)
        hand_over(&x, out);
    ctx_free(&x);
    return rc;
}

int pb_bisect_run(const pb_bisect_node *nodes, size_t n, const pb_bisect_options *options,
                  const pb_bisect_oracle *oracle, pb_bisect_result *out, pb_error *err)
{
    pb_bisect_tuning t;
    pb_bisect_tuning_init(&t);
    return pb_bisect_run_tuned(nodes, n, options, &t, oracle, out, err);
}
