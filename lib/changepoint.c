/*
 * changepoint.c — E-divisive with means (Matteson & James 2014, alpha = 1)
 * for one-dimensional series, with the fast evaluation of every split and a
 * choice of significance test. See changepoint.h for what it promises.
 *
 * The energy statistic of splitting a segment v[0..m) at tau (m' = m - tau):
 *   E(tau) = 2/(tau m') sum_{i<tau<=j} |v_i - v_j|
 *            - 1/C(tau,2) sum_{i<k<tau} |v_i - v_k| - 1/C(m',2) sum_{tau<=j<k} |v_j - v_k|
 *   Q(tau) = tau m' / m * E(tau)
 * The within-left sums B(tau) grow by one point at a time: adding x to a set
 * adds sum |x - v| = (x * #smaller - sum smaller) + (sum larger - x * #larger),
 * read from Fenwick trees over the values' ranks; the within-right sums C(tau)
 * likewise from the other end, and the cross sum is total - B - C. So every
 * split of a segment costs O(m log m) together instead of O(m^2) each.
 */
#include "perfbisect/changepoint.h"
#include "perfbisect/error.h"
#include "perfbisect/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CP_MAX_POINTS ((size_t)10000000)
#define CP_MAX_PERMUTATIONS 100000u
/* Mann–Whitney is exact up to this many values on the smaller side: short
 * segments then get their true (smaller) p-values. */
#define CP_EXACT_MAX 50

typedef struct segment {
    size_t start, end; /* [start, end) of the series */
    size_t tau;        /* absolute index of the best split; 0 when none is admissible */
    double q;          /* its energy statistic */
    int final;         /* tested and not significant: not split again */
} segment;

/* Scratch shared by every evaluation, each array n long (n + 1 for the trees). */
typedef struct work {
    const double *x;     /* the caller's series */
    double *v;           /* centred copy: v = x - median(x), for rounding */
    double *pv;          /* a segment's values, permuted for the permutation test */
    size_t *rank;        /* ranks of pv within the segment (0-based, distinct) */
    size_t *order;       /* sort scratch */
    double *fcnt, *fsum; /* Fenwick trees: count and sum of values by rank */
    double *bsum;        /* B(tau) for tau = 0..m */
    size_t minseg;
    int parametric;
} work;

void pb_changepoint_list_free(pb_changepoint_list *list)
{
    if (!list)
        return;
    free(list->points);
    list->points = NULL;
    list->count = 0;
}

/* ---- the energy statistic of every split ------------------------------- */

static void fenwick_clear(work *w, size_t m)
{
    memset(w->fcnt, 0, (m + 1) * sizeof(double));
    memset(w->fsum, 0, (m + 1) * sizeof(double));
}

static void fenwick_add(work *w, size_t m, size_t rank, double x)
{
    for (size_t i = rank + 1; i <= m; i += i & (~i + 1)) {
        w->fcnt[i] += 1;
        w->fsum[i] += x;
    }
}

/* Count and sum of the values with rank < `rank`. */
static void fenwick_below(const work *w, size_t rank, double *cnt, double *sum)
{
    double c = 0, s = 0;
    for (size_t i = rank; i > 0; i -= i & (~i + 1)) {
        c += w->fcnt[i];
        s += w->fsum[i];
    }
    *cnt = c;
    *sum = s;
}

/* Sum of |x - v| over the set in the trees; adds x to it. */
static double fenwick_insert(work *w, size_t m, size_t rank, double x, double *tot_cnt,
                             double *tot_sum)
{
    double cl, sl;
    fenwick_below(w, rank, &cl, &sl);
    double cg = *tot_cnt - cl, sg = *tot_sum - sl;
    double d = (cl * x - sl) + (sg - cg * x);
    fenwick_add(w, m, rank, x);
    *tot_cnt += 1;
    *tot_sum += x;
    return d;
}

/*
 * The best split of pv[0..m) (ranks in w->rank): returns its offset tau in
 * minseg..m-minseg and its statistic, or 0 when m < 2 * minseg.
 */
static size_t best_split(work *w, size_t m, double *q_out)
{
    size_t minseg = w->minseg, best = 0;
    double bestq = -INFINITY;
    *q_out = NAN;
    if (m < 2 * minseg)
        return 0;
    const double *pv = w->pv;
    const size_t *rank = w->rank;
    double tc = 0, ts = 0;
    fenwick_clear(w, m);
    w->bsum[0] = 0;
    for (size_t t = 0; t < m; t++)
        w->bsum[t + 1] = w->bsum[t] + fenwick_insert(w, m, rank[t], pv[t], &tc, &ts);
    double total = w->bsum[m], csum = 0, dm = (double)m;
    tc = ts = 0;
    fenwick_clear(w, m);
    for (size_t t = m; t-- > minseg;) {
        csum += fenwick_insert(w, m, rank[t], pv[t], &tc, &ts);
        /* now csum = C(t): pairs within [t, m) */
        if (t > m - minseg)
            continue;
        double dl = (double)t, dr = (double)(m - t);
        double cross = total - w->bsum[t] - csum;
        double e =
            2 * cross / (dl * dr) - 2 * w->bsum[t] / (dl * (dl - 1)) - 2 * csum / (dr * (dr - 1));
        double q = dl * dr / dm * e;
        if (q > bestq) {
            bestq = q;
            best = t;
        }
    }
    *q_out = bestq;
    return best;
}

static int cmp_idx_r(const void *a, const void *b, void *ctx)
{
    const double *vals = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (vals[i] < vals[j])
        return -1;
    if (vals[i] > vals[j])
        return 1;
    return (i > j) - (i < j);
}

/* Copy v[start..end) to pv and rank it. */
static void rank_segment(work *w, size_t start, size_t m)
{
    memcpy(w->pv, w->v + start, m * sizeof(double));
    for (size_t i = 0; i < m; i++)
        w->order[i] = i;
    qsort_r(w->order, m, sizeof(size_t), cmp_idx_r, w->pv);
    for (size_t r = 0; r < m; r++)
        w->rank[w->order[r]] = r;
}

/* Find and remember the best split of a segment. */
static void evaluate(work *w, segment *s)
{
    size_t m = s->end - s->start;
    s->tau = 0;
    s->q = NAN;
    if (m < 2 * w->minseg)
        return;
    rank_segment(w, s->start, m);
    double q;
    size_t t = best_split(w, m, &q);
    if (t > 0) {
        s->tau = s->start + t;
        s->q = q;
    }
}

/* ---- significance ------------------------------------------------------ */

/* Two-sided p of "[a, b) and [b, c) differ": Mann–Whitney, or Welch's t-test
 * when the caller asked for the parametric test. */
static double test_raw(const work *w, size_t a, size_t b, size_t c)
{
    if (w->parametric) {
        pb_welch t;
        if (pb_stats_welch(w->x + a, b - a, w->x + b, c - b, &t, NULL) < 0)
            return 1;
        return t.p_value;
    }
    pb_mwu u;
    if (pb_stats_mann_whitney_exact_upto(w->x + a, b - a, w->x + b, c - b, CP_EXACT_MAX, &u, NULL) <
        0)
        return 1;
    return u.p_value;
}

/* The same, Bonferroni-corrected for the splits of [a, c) that could have
 * been chosen (may exceed 1: prune() ranks by it). */
static double split_p(const work *w, size_t a, size_t b, size_t c)
{
    size_t m = c - a, splits = m >= 2 * w->minseg ? m - 2 * w->minseg + 1 : 1;
    return test_raw(w, a, b, c) * (double)splits;
}

/*
 * The p-value of a segment's candidate split (when not permuting), with a
 * look-ahead for bumps: when the series goes up at tau and back down later
 * in the segment, the test of [start, tau) against all of [tau, end) sees a
 * mixture and can miss it; so the left side is also tested against
 * [tau, k), k the best split of the right side, and symmetrically.
 * Bonferroni: K splits for the plain test, K^2 (tau, k) pairs for a
 * look-ahead, times the number of tests made.
 */
static double candidate_p(work *w, const segment *s)
{
    size_t m = s->end - s->start, minseg = w->minseg;
    double k = (double)(m - 2 * minseg + 1);
    segment right = {s->tau, s->end, 0, NAN, 0}, left = {s->start, s->tau, 0, NAN, 0};
    evaluate(w, &right);
    evaluate(w, &left);
    double tests = 1 + (right.tau != 0) + (left.tau != 0);
    double p = tests * k * test_raw(w, s->start, s->tau, s->end);
    if (right.tau) {
        double pl = tests * k * test_raw(w, s->start, s->tau, right.tau);
        p = pl < p ? pl : p;
    }
    if (left.tau) {
        double pr = tests * k * test_raw(w, left.tau, s->tau, s->end);
        p = pr < p ? pr : p;
    }
    return p;
}

/*
 * Matteson & James' permutation test: the share of shufflings of the
 * segment whose best split is at least as strong, (hits + 1) / (rounds + 1).
 * Stops early once the answer can no longer be significant.
 */
static double permutation_p(work *w, const segment *s, unsigned rounds, double alpha, pb_rng *rng)
{
    size_t m = s->end - s->start;
    unsigned hits = 0;
    double limit = alpha * (double)(rounds + 1) - 1; /* more hits than this: not significant */
    rank_segment(w, s->start, m);
    for (unsigned r = 0; r < rounds; r++) {
        for (size_t i = m - 1; i > 0; i--) {
            size_t j = (size_t)pb_rng_below(rng, i + 1);
            double tv = w->pv[i];
            w->pv[i] = w->pv[j];
            w->pv[j] = tv;
            size_t tr = w->rank[i];
            w->rank[i] = w->rank[j];
            w->rank[j] = tr;
        }
        double q;
        best_split(w, m, &q);
        if (q >= s->q)
            hits++;
        if ((double)hits > limit)
            return ((double)hits + 1) / ((double)r + 2);
    }
    return ((double)hits + 1) / ((double)rounds + 1);
}

/* ---- the search -------------------------------------------------------- */

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

typedef struct found {
    size_t index;
    double q, p;
} found;

static int cmp_found(const void *a, const void *b)
{
    return cmp_size(&((const found *)a)->index, &((const found *)b)->index);
}

/* A max-heap of (p, point) entries; stale entries are skipped when popped. */
typedef struct heap_entry {
    double p;
    size_t point;
    unsigned version;
} heap_entry;

static void heap_push(heap_entry *h, size_t *len, heap_entry e)
{
    size_t i = (*len)++;
    while (i > 0 && h[(i - 1) / 2].p < e.p) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = e;
}

static heap_entry heap_pop(heap_entry *h, size_t *len)
{
    heap_entry top = h[0], last = h[--(*len)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *len)
            break;
        if (c + 1 < *len && h[c + 1].p > h[c].p)
            c++;
        if (h[c].p <= last.p)
            break;
        h[i] = h[c];
        i = c;
    }
    if (*len)
        h[i] = last;
    return top;
}

/*
 * Backward elimination (when not permuting): every point is tested against its
 * neighbours; the weakest is removed, its two neighbours re-tested against
 * their new neighbours, and so on until every point left is significant and
 * there are at most `max` of them (0: no limit). Points are in index order;
 * on return pts[0..*count) are the survivors with their final p-values.
 * O(k log k) heap operations plus O(n log k) for the tests.
 */
static int prune(const work *w, found *pts, size_t *count, size_t n, double alpha, size_t max)
{
    int rc = 0;
    size_t k = *count, len = 0, alive = k;
    size_t *prev = malloc((k + 1) * sizeof(size_t)), *next = malloc((k + 1) * sizeof(size_t));
    unsigned *version = calloc(k + 1, sizeof(unsigned));
    unsigned char *removed = calloc(k + 1, 1);
    /* each removal pushes at most two entries */
    heap_entry *heap = malloc((3 * k + 1) * sizeof(heap_entry));
    if (!prev || !next || !version || !removed || !heap) {
        rc = PB_ENOMEM;
        goto done;
    }
    /* prev/next hold k for "none" (the series' start or end) */
    for (size_t i = 0; i < k; i++) {
        prev[i] = i ? i - 1 : k;
        next[i] = i + 1;
    }
    for (size_t i = 0; i < k; i++) {
        size_t a = prev[i] == k ? 0 : pts[prev[i]].index;
        size_t c = next[i] == k ? n : pts[next[i]].index;
        pts[i].p = split_p(w, a, pts[i].index, c);
        heap_push(heap, &len, (heap_entry){pts[i].p, i, 0});
    }
    while (len > 0) {
        heap_entry e = heap_pop(heap, &len);
        if (removed[e.point] || e.version != version[e.point])
            continue; /* removed, or re-tested since */
        if (e.p <= alpha && (!max || alive <= max))
            break;
        size_t i = e.point, l = prev[i], r = next[i];
        removed[i] = 1;
        alive--;
        if (l != k)
            next[l] = r;
        if (r != k)
            prev[r] = l;
        size_t touched[2] = {l, r};
        for (int t = 0; t < 2; t++) {
            size_t j = touched[t];
            if (j == k)
                continue;
            size_t a = prev[j] == k ? 0 : pts[prev[j]].index;
            size_t c = next[j] == k ? n : pts[next[j]].index;
            pts[j].p = split_p(w, a, pts[j].index, c);
            version[j]++;
            heap_push(heap, &len, (heap_entry){pts[j].p, j, version[j]});
        }
    }
    /* keep the survivors, in order */
    size_t m = 0;
    for (size_t i = 0; i < k; i++)
        if (!removed[i])
            pts[m++] = pts[i];
    *count = m;
done:
    free(prev);
    free(next);
    free(version);
    free(removed);
    free(heap);
    return rc;
}

int pb_changepoint_detect(const double *x, size_t n, const pb_changepoint_options *opt,
                          pb_changepoint_list *out, pb_error *err)
{
    int rc = 0;
    pb_changepoint_options defaults = PB_CHANGEPOINT_OPTIONS_INIT;
    work w;
    memset(&w, 0, sizeof(w));
    segment *segs = NULL;
    found *pts = NULL;
    size_t nsegs = 0, npts = 0;

    if (!opt)
        opt = &defaults;
    out->points = NULL;
    out->count = 0;
    if (!(opt->alpha > 0 && opt->alpha < 1) || opt->min_segment < 2 ||
        opt->permutations > CP_MAX_PERMUTATIONS) {
        rc = pb_error_set(err, PB_EINVAL,
                          "change points: alpha must be in (0, 1), min_segment >= 2 and "
                          "permutations <= %u",
                          CP_MAX_PERMUTATIONS);
        goto done;
    }
    if (n > CP_MAX_POINTS) {
        rc = pb_error_set(err, PB_EINVAL, "change points: series longer than %zu points",
                          CP_MAX_POINTS);
        goto done;
    }
    if (n > 0 && !x) {
        rc = pb_error_set(err, PB_EINVAL, "change points: no values");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i])) {
            rc = pb_error_set(err, PB_EINVAL, "change points: value %zu is not a finite number", i);
            goto done;
        }
    }
    if (n < 2 * opt->min_segment)
        goto done;

    w.x = x;
    w.minseg = opt->min_segment;
    w.parametric = opt->parametric;
    w.v = malloc(n * sizeof(double));
    w.pv = malloc(n * sizeof(double));
    w.rank = malloc(n * sizeof(size_t));
    w.order = malloc(n * sizeof(size_t));
    w.fcnt = malloc((n + 1) * sizeof(double));
    w.fsum = malloc((n + 1) * sizeof(double));
    w.bsum = malloc((n + 1) * sizeof(double));
    /* every accepted point adds one segment: at most n / minseg of them */
    size_t maxsegs = n / opt->min_segment + 1;
    segs = malloc(maxsegs * sizeof(segment));
    pts = malloc(maxsegs * sizeof(found));
    if (!w.v || !w.pv || !w.rank || !w.order || !w.fcnt || !w.fsum || !w.bsum || !segs || !pts) {
        rc = pb_error_set(err, PB_ENOMEM, "change points: out of memory");
        goto done;
    }
    double centre = pb_stats_median(x, n);
    for (size_t i = 0; i < n; i++)
        w.v[i] = x[i] - centre;

    pb_rng rng;
    pb_rng_seed(&rng, opt->seed);
    segs[0] = (segment){0, n, 0, NAN, 0};
    nsegs = 1;
    evaluate(&w, &segs[0]);
    for (;;) {
        if (opt->permutations && opt->max_changepoints && npts >= opt->max_changepoints)
            break;
        /* the strongest candidate among the segments still open */
        segment *best = NULL;
        for (size_t i = 0; i < nsegs; i++)
            if (!segs[i].final && segs[i].tau && (!best || segs[i].q > best->q))
                best = &segs[i];
        if (!best)
            break;
        double p = opt->permutations ? permutation_p(&w, best, opt->permutations, opt->alpha, &rng)
                                     : candidate_p(&w, best);
        if (!(p <= opt->alpha)) {
            best->final = 1;
            continue;
        }
        pts[npts++] = (found){best->tau, best->q, p};
        segment right = {best->tau, best->end, 0, NAN, 0};
        best->end = best->tau;
        evaluate(&w, best);
        evaluate(&w, &right);
        segs[nsegs++] = right;
    }
    qsort(pts, npts, sizeof(found), cmp_found);
    if (!opt->permutations && prune(&w, pts, &npts, n, opt->alpha, opt->max_changepoints) < 0) {
        rc = pb_error_set(err, PB_ENOMEM, "change points: out of memory");
        goto done;
    }

    if (npts) {
        out->points = calloc(npts, sizeof(pb_changepoint));
        if (!out->points) {
            rc = pb_error_set(err, PB_ENOMEM, "change points: out of memory");
            goto done;
        }
    }
    for (size_t i = 0; i < npts; i++) {
        size_t a = i ? pts[i - 1].index : 0, b = pts[i].index;
        size_t c = i + 1 < npts ? pts[i + 1].index : n;
        pb_changepoint *cp = &out->points[i];
        cp->index = b;
        cp->mean_before = pb_stats_mean(x + a, b - a);
        cp->mean_after = pb_stats_mean(x + b, c - b);
        cp->median_before = pb_stats_median(x + a, b - a);
        cp->median_after = pb_stats_median(x + b, c - b);
        cp->change = (cp->median_after - cp->median_before) / fabs(cp->median_before);
        cp->p_value = pts[i].p > 1 ? 1 : pts[i].p;
        cp->statistic = pts[i].q;
    }
    out->count = npts;
done:
    free(w.v);
    free(w.pv);
    free(w.rank);
    free(w.order);
    free(w.fcnt);
    free(w.fsum);
    free(w.bsum);
    free(segs);
    free(pts);
    return rc;
}
