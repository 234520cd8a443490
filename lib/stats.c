/*
 * stats.c — descriptive statistics, the tests perfbisect decides with, and a
 * small seeded random generator.
 *
 * Every function reads the caller's arrays without reordering them; sorting
 * and selection happen on temporary copies.
 */
#include "perfbisect/stats.h"
#include "perfbisect/error.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Bootstrap iterations and Sen-slope scratch beyond these are refused. */
#define BOOTSTRAP_MAX_ITERATIONS 10000000u
/* Up to this many pairwise slopes, Sen's slope keeps them all in memory. */
#define SEN_DIRECT_MAX ((size_t)1 << 21)
/* The exact Mann–Whitney distribution keeps nx*ny+1 doubles: beyond this
 * (8 values against half a million) the normal approximation is used. */
#define MWU_EXACT_MAX_CELLS 4194304.0
/* Pairs sampled to bracket the median slope when there are more. */
#define SEN_SAMPLE ((size_t)1 << 16)

/* ---- helpers ----------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int all_finite(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

static int any_nan(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (isnan(x[i]))
            return 1;
    return 0;
}

static void swap_d(double *a, double *b)
{
    double t = *a;
    *a = *b;
    *b = t;
}

/*
 * Rearrange a[0..n) so that a[k] is the k-th smallest, with nothing larger
 * before it and nothing smaller after it (quickselect, median-of-three
 * pivot). Falls back to sorting the remaining range when partitioning keeps
 * going badly, so crafted inputs cannot make it quadratic.
 */
static double select_kth(double *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    unsigned budget = 64;
    for (size_t m = n; m > 1; m >>= 1)
        budget += 2;
    while (hi > lo) {
        if (budget-- == 0) {
            qsort(a + lo, hi - lo + 1, sizeof(double), cmp_double);
            break;
        }
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < a[lo])
            swap_d(&a[mid], &a[lo]);
        if (a[hi] < a[lo])
            swap_d(&a[hi], &a[lo]);
        if (a[hi] < a[mid])
            swap_d(&a[hi], &a[mid]);
        double pivot = a[mid];
        /* Hoare partition: a[lo..j] <= pivot <= a[i..hi]. */
        size_t i = lo, j = hi;
        for (;;) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i >= j)
                break;
            swap_d(&a[i], &a[j]);
            i++;
            j--;
        }
        if (k <= j)
            hi = j;
        else
            lo = j + 1;
    }
    return a[k];
}

/* Median of a scratch array (reordered). n >= 1. */
static double median_inplace(double *a, size_t n)
{
    size_t k = n / 2;
    double upper = select_kth(a, n, k);
    if (n % 2)
        return upper;
    /* After selection everything in a[0..k) is <= upper: take its maximum. */
    double lower = a[0];
    for (size_t i = 1; i < k; i++)
        if (a[i] > lower)
            lower = a[i];
    return lower + (upper - lower) / 2;
}

/* ---- descriptive statistics -------------------------------------------- */

double pb_stats_mean(const double *x, size_t n)
{
    if (n == 0)
        return NAN;
    /* Two passes: the mean of the deviations from a first estimate corrects
     * most of the rounding of large, close values (timings in ns). */
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    double m = sum / (double)n;
    double corr = 0;
    for (size_t i = 0; i < n; i++)
        corr += x[i] - m;
    return m + corr / (double)n;
}

double pb_stats_median(const double *x, size_t n)
{
    if (n == 0 || any_nan(x, n))
        return NAN;
    double *a = malloc(n * sizeof(double));
    if (!a)
        return NAN;
    memcpy(a, x, n * sizeof(double));
    double m = median_inplace(a, n);
    free(a);
    return m;
}

double pb_stats_stddev(const double *x, size_t n)
{
    if (n < 2)
        return NAN;
    double m = pb_stats_mean(x, n);
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - m) * (x[i] - m);
    return sqrt(ss / (double)(n - 1));
}

double pb_stats_mad(const double *x, size_t n)
{
    if (n == 0 || any_nan(x, n))
        return NAN;
    double *a = malloc(n * sizeof(double));
    if (!a)
        return NAN;
    memcpy(a, x, n * sizeof(double));
    double med = median_inplace(a, n);
    for (size_t i = 0; i < n; i++)
        a[i] = fabs(x[i] - med);
    double mad = median_inplace(a, n);
    free(a);
    return mad;
}

/*
 * Python's statistics.quantiles, method='exclusive' (the m = n+1 rule):
 *   j = i*m // parts, clamped to 1..n-1; delta = i*m - j*parts;
 *   q_i = (d[j-1]*(parts-delta) + d[j]*delta) / parts
 * with exact integer arithmetic for j and delta, as Python does.
 */
int pb_stats_quantiles(const double *x, size_t n, int parts, double *out, pb_error *err)
{
    int rc = 0;
    double *d = NULL;
    if (n < 2 || parts < 1) {
        rc = pb_error_set(err, PB_EINVAL, "quantiles need at least 2 values and 1 part");
        goto done;
    }
    if (any_nan(x, n)) {
        rc = pb_error_set(err, PB_EINVAL, "quantiles: input contains NaN");
        goto done;
    }
    d = malloc(n * sizeof(double));
    if (!d) {
        rc = pb_error_set(err, PB_ENOMEM, "quantiles: out of memory");
        goto done;
    }
    memcpy(d, x, n * sizeof(double));
    qsort(d, n, sizeof(double), cmp_double);
    long long m = (long long)n + 1, p = parts;
    for (long long i = 1; i < p; i++) {
        long long j = i * m / p;
        if (j < 1)
            j = 1;
        else if (j > (long long)n - 1)
            j = (long long)n - 1;
        long long delta = i * m - j * p;
        out[i - 1] = (d[j - 1] * (double)(p - delta) + d[j] * (double)delta) / (double)p;
    }
done:
    free(d);
    return rc;
}

double pb_stats_p95(const double *x, size_t n)
{
    double q[19];
    if (pb_stats_quantiles(x, n, 20, q, NULL) < 0)
        return NAN;
    return q[18];
}

/* ---- distributions ----------------------------------------------------- */

double pb_stats_normal_cdf(double z)
{
    return 0.5 * erfc(-z / M_SQRT2);
}

/* Upper tail P(Z > z), accurate far into the tail. */
static double normal_sf(double z)
{
    return 0.5 * erfc(z / M_SQRT2);
}

/*
 * Continued fraction for I_x(a, b) (modified Lentz, as in Numerical
 * Recipes' betacf); converges fast for x < (a+1)/(a+b+2).
 */
static double betacf(double a, double b, double x)
{
    const double tiny = 1e-300, eps = 1e-16;
    double qab = a + b, qap = a + 1, qam = a - 1;
    double c = 1, d = 1 - qab * x / qap;
    if (fabs(d) < tiny)
        d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 10000; m++) {
        double m2 = 2.0 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny)
            d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny)
            d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < eps)
            break;
    }
    return h;
}

/* I_x(a, b) given both x and y = 1 - x, so neither loses digits. */
static double betainc_xy(double a, double b, double x, double y)
{
    if (isnan(a) || isnan(b) || isnan(x) || a <= 0 || b <= 0 || x < 0 || x > 1)
        return NAN;
    if (x == 0)
        return 0;
    if (y == 0)
        return 1;
    int sign;
    double lbeta = lgamma_r(a + b, &sign) - lgamma_r(a, &sign) - lgamma_r(b, &sign);
    /* log(1 - x): log1p is exact for small x; for large x the caller's y is
     * the accurate complement (t-tests pass t^2/(df+t^2) directly). */
    double front = exp(lbeta + a * log(x) + b * (x < 0.5 ? log1p(-x) : log(y)));
    if (x < (a + 1) / (a + b + 2))
        return front * betacf(a, b, x) / a;
    return 1 - front * betacf(b, a, y) / b;
}

double pb_stats_betainc(double a, double b, double x)
{
    return betainc_xy(a, b, x, 1 - x);
}

/* Two-sided tail P(|T| >= |t|) of Student's t with df degrees of freedom. */
static double t_two_sided(double t, double df)
{
    if (isnan(t) || isnan(df) || df <= 0)
        return NAN;
    if (isinf(t))
        return 0;
    if (isinf(df))
        return 2 * normal_sf(fabs(t));
    double t2 = t * t;
    return betainc_xy(df / 2, 0.5, df / (df + t2), t2 / (df + t2));
}

double pb_stats_t_cdf(double t, double df)
{
    double tail = t_two_sided(t, df) / 2;
    if (isnan(tail))
        return NAN;
    return t > 0 ? 1 - tail : tail;
}

/* ---- Mann–Whitney U ---------------------------------------------------- */

typedef struct tagged {
    double v;
    int from_x;
} tagged;

static int cmp_tagged(const void *a, const void *b)
{
    return cmp_double(&((const tagged *)a)->v, &((const tagged *)b)->v);
}

/*
 * P(U <= k) for the null distribution of U with samples of sizes m and n
 * (no ties). The counts of arrangements by U are the coefficients of the
 * Gaussian binomial [m+n choose m]_q = prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i),
 * built one factor at a time; every intermediate is itself a Gaussian
 * binomial, so the coefficients stay non-negative. m is the smaller size.
 */
static int mwu_exact_cdf(size_t m, size_t n, size_t k, double *out)
{
    size_t deg = m * n;
    /* room for the intermediate degree i*n + i before each division */
    double *c = calloc(deg + m + 1, sizeof(double));
    if (!c)
        return PB_ENOMEM;
    c[0] = 1;
    size_t cur = 0; /* current degree */
    for (size_t i = 1; i <= m; i++) {
        size_t a = n + i, newdeg = cur + n;
        /* multiply by (1 - q^a): degree cur + a */
        for (size_t d = cur + a; d >= a; d--)
            c[d] -= c[d - a];
        /* divide by (1 - q^i): c[d] += c[d - i]; exact since it divides */
        for (size_t d = i; d <= newdeg; d++)
            c[d] += c[d - i];
        for (size_t d = newdeg + 1; d <= cur + a; d++)
            c[d] = 0;
        cur = newdeg;
    }
    double total = 0, below = 0;
    for (size_t d = 0; d <= deg; d++) {
        total += c[d];
        if (d <= k)
            below += c[d];
    }
    *out = below / total;
    free(c);
    return 0;
}

/*
 * As scipy 1.10's mannwhitneyu(x, y, alternative='two-sided'), method
 * 'auto': exact when at least one sample has 8 or fewer values and there are
 * no ties (scipy: asymptotic only "if n1 > 8 and n2 > 8" or ties), otherwise
 * the normal approximation with tie correction and continuity correction.
 */
int pb_stats_mann_whitney(const double *x, size_t nx, const double *y, size_t ny, pb_mwu *out,
                          pb_error *err)
{
    return pb_stats_mann_whitney_exact_upto(x, nx, y, ny, 8, out, err);
}

int pb_stats_mann_whitney_exact_upto(const double *x, size_t nx, const double *y, size_t ny,
                                     size_t exact_max, pb_mwu *out, pb_error *err)
{
    int rc = 0;
    tagged *all = NULL;
    if (nx == 0 || ny == 0) {
        rc = pb_error_set(err, PB_EINVAL, "Mann-Whitney: both samples need values");
        goto done;
    }
    if (any_nan(x, nx) || any_nan(y, ny)) {
        rc = pb_error_set(err, PB_EINVAL, "Mann-Whitney: input contains NaN");
        goto done;
    }
    size_t n = nx + ny;
    all = malloc(n * sizeof(tagged));
    if (!all) {
        rc = pb_error_set(err, PB_ENOMEM, "Mann-Whitney: out of memory");
        goto done;
    }
    for (size_t i = 0; i < nx; i++)
        all[i] = (tagged){x[i], 1};
    for (size_t i = 0; i < ny; i++)
        all[nx + i] = (tagged){y[i], 0};
    qsort(all, n, sizeof(tagged), cmp_tagged);

    /* Average ranks over tie groups; sum of (t^3 - t) for the variance. */
    double r1 = 0, tie_term = 0;
    int ties = 0;
    for (size_t start = 0; start < n;) {
        size_t end = start + 1, nfromx = all[start].from_x;
        while (end < n && all[end].v == all[start].v)
            nfromx += (size_t)all[end++].from_x;
        double t = (double)(end - start);
        double rank = ((double)start + 1 + (double)end) / 2;
        r1 += rank * (double)nfromx;
        if (end - start > 1) {
            ties = 1;
            tie_term += t * t * t - t;
        }
        start = end;
    }
    double dnx = (double)nx, dny = (double)ny, dn = (double)n;
    double u1 = r1 - dnx * (dnx + 1) / 2;
    double u2 = dnx * dny - u1;
    double umax = u1 > u2 ? u1 : u2;
    double p;
    out->u = u1;
    out->exact = !ties && (nx <= exact_max || ny <= exact_max) &&
                 (double)nx * (double)ny <= MWU_EXACT_MAX_CELLS;
    if (out->exact) {
        /* P(U >= umax) = P(U <= nx*ny - umax) by symmetry. */
        size_t m = nx < ny ? nx : ny, big = nx < ny ? ny : nx;
        size_t k = (size_t)llround(dnx * dny - umax);
        double cdf;
        if (mwu_exact_cdf(m, big, k, &cdf) < 0) {
            rc = pb_error_set(err, PB_ENOMEM, "Mann-Whitney: out of memory");
            goto done;
        }
        p = 2 * cdf;
    } else {
        double mu = dnx * dny / 2;
        double var = dnx * dny / 12 * ((dn + 1) - tie_term / (dn * (dn - 1)));
        double num = umax - mu - 0.5;
        if (!(var > 0))
            p = 1; /* every value equal: no evidence either way */
        else
            p = 2 * normal_sf(num / sqrt(var));
    }
    out->p_value = p > 1 ? 1 : p < 0 ? 0 : p;
done:
    free(all);
    return rc;
}

/* ---- Welch's t-test ---------------------------------------------------- */

int pb_stats_welch(const double *x, size_t nx, const double *y, size_t ny, pb_welch *out,
                   pb_error *err)
{
    int rc = 0;
    if (nx < 2 || ny < 2) {
        rc = pb_error_set(err, PB_EINVAL, "Welch t-test: each sample needs at least 2 values");
        goto done;
    }
    if (!all_finite(x, nx) || !all_finite(y, ny)) {
        rc = pb_error_set(err, PB_EINVAL, "Welch t-test: input contains NaN or infinity");
        goto done;
    }
    double mx = pb_stats_mean(x, nx), my = pb_stats_mean(y, ny);
    double sx = pb_stats_stddev(x, nx), sy = pb_stats_stddev(y, ny);
    double vx = sx * sx / (double)nx, vy = sy * sy / (double)ny;
    double se2 = vx + vy;
    if (se2 == 0) {
        /* Both samples constant: identical means are no difference, distinct
         * ones an infinitely significant one (scipy returns NaN here). */
        out->df = (double)(nx + ny - 2);
        out->t = mx == my ? 0 : (mx > my ? INFINITY : -INFINITY);
        out->p_value = mx == my ? 1 : 0;
        goto done;
    }
    out->t = (mx - my) / sqrt(se2);
    out->df = se2 * se2 / (vx * vx / (double)(nx - 1) + vy * vy / (double)(ny - 1));
    out->p_value = t_two_sided(out->t, out->df);
done:
    return rc;
}

/* ---- bootstrap --------------------------------------------------------- */

/* Quantile of sorted a[0..n) by linear interpolation (numpy's default). */
static double sorted_quantile(const double *a, size_t n, double q)
{
    double h = q * (double)(n - 1);
    size_t i = (size_t)floor(h);
    if (i >= n - 1)
        return a[n - 1];
    return a[i] + (h - (double)i) * (a[i + 1] - a[i]);
}

static int same_sign_nonzero(const double *x, size_t n)
{
    int pos = x[0] > 0;
    for (size_t i = 0; i < n; i++)
        if (x[i] == 0 || (x[i] > 0) != pos)
            return 0;
    return 1;
}

int pb_stats_bootstrap_ratio_ci(const double *x, size_t nx, const double *y, size_t ny,
                                double level, unsigned iterations, uint64_t seed, double *estimate,
                                double *lo, double *hi, pb_error *err)
{
    int rc = 0;
    double *rx = NULL, *ry = NULL, *ratios = NULL;
    if (nx == 0 || ny == 0) {
        rc = pb_error_set(err, PB_EINVAL, "bootstrap: both samples need values");
        goto done;
    }
    if (!all_finite(x, nx) || !all_finite(y, ny)) {
        rc = pb_error_set(err, PB_EINVAL, "bootstrap: input contains NaN or infinity");
        goto done;
    }
    if (!(level > 0 && level < 1) || iterations == 0 || iterations > BOOTSTRAP_MAX_ITERATIONS) {
        rc = pb_error_set(err, PB_EINVAL,
                          "bootstrap: level must be in (0, 1) and iterations in 1..%u",
                          BOOTSTRAP_MAX_ITERATIONS);
        goto done;
    }
    /* Every resampled median of x must be non-zero for the ratio to exist. */
    if (!same_sign_nonzero(x, nx)) {
        rc = pb_error_set(err, PB_EINVAL,
                          "bootstrap: the baseline sample must be all positive or all negative");
        goto done;
    }
    rx = malloc(nx * sizeof(double));
    ry = malloc(ny * sizeof(double));
    ratios = malloc((size_t)iterations * sizeof(double));
    if (!rx || !ry || !ratios) {
        rc = pb_error_set(err, PB_ENOMEM, "bootstrap: out of memory");
        goto done;
    }
    memcpy(rx, x, nx * sizeof(double));
    memcpy(ry, y, ny * sizeof(double));
    *estimate = median_inplace(ry, ny) / median_inplace(rx, nx);

    pb_rng rng;
    pb_rng_seed(&rng, seed);
    for (unsigned it = 0; it < iterations; it++) {
        for (size_t i = 0; i < nx; i++)
            rx[i] = x[pb_rng_below(&rng, nx)];
        for (size_t i = 0; i < ny; i++)
            ry[i] = y[pb_rng_below(&rng, ny)];
        ratios[it] = median_inplace(ry, ny) / median_inplace(rx, nx);
    }
    qsort(ratios, iterations, sizeof(double), cmp_double);
    double tail = (1 - level) / 2;
    *lo = sorted_quantile(ratios, iterations, tail);
    *hi = sorted_quantile(ratios, iterations, 1 - tail);
done:
    free(rx);
    free(ry);
    free(ratios);
    return rc;
}

/* ---- Mann–Kendall and Sen's slope -------------------------------------- */

static double slope_at(const double *x, size_t i, size_t j)
{
    return (x[j] - x[i]) / (double)(j - i);
}

/*
 * The value of rank r (0-based) among all pairwise slopes, given a bracket
 * [lo, hi]: one pass over the pairs counts the slopes below lo, equal to lo,
 * equal to hi and above hi, and keeps those strictly inside (at most `cap`).
 * Returns 1 and fills `*val` when rank r fell in the bracket, 0 when it did
 * not (or the inside overflowed `cap`), negative on allocation failure.
 */
static int sen_bracket(const double *x, size_t n, double lo, double hi, size_t cap,
                       const size_t *ranks, double *vals, int nranks)
{
    int rc = 0;
    size_t below = 0, eq_lo = 0, eq_hi = 0, nin = 0;
    double *in = malloc((cap + n) * sizeof(double));
    double *steps = malloc(n * sizeof(double));
    if (!in || !steps) {
        rc = PB_ENOMEM;
        goto done;
    }
    for (size_t k = 0; k < n; k++)
        steps[k] = (double)(k + 1);
    /* Branch-free counting: every slope is stored at in[nin] and kept only
     * when strictly inside, so `in` has a row's worth of slack past cap. */
    int same = lo == hi;
    for (size_t i = 0; i + 1 < n; i++) {
        size_t m = n - i - 1;
        const double *xr = x + i + 1;
        double xi = x[i];
        for (size_t k = 0; k < m; k++) {
            double s = (xr[k] - xi) / steps[k]; /* bit for bit slope_at(x, i, i+1+k) */
            below += s < lo;
            eq_lo += s == lo;
            eq_hi += (s == hi) & !same;
            in[nin] = s;
            nin += (s > lo) & (s < hi);
        }
        if (nin > cap)
            goto done; /* bracket too wide: rc stays 0 */
    }
    for (int k = 0; k < nranks; k++) {
        size_t r = ranks[k];
        if (r < below)
            goto done;
        r -= below;
        if (r < eq_lo) {
            vals[k] = lo;
            continue;
        }
        r -= eq_lo;
        if (r < nin) {
            vals[k] = select_kth(in, nin, r);
            continue;
        }
        r -= nin;
        if (r < eq_hi) {
            vals[k] = hi;
            continue;
        }
        goto done;
    }
    rc = 1;
done:
    free(in);
    free(steps);
    return rc;
}

/*
 * Sen's slope: the median of all n(n-1)/2 pairwise slopes, exactly. Up to
 * SEN_DIRECT_MAX pairs are kept and selected. Beyond (n > ~2000) a seeded
 * sample of SEN_SAMPLE pairs brackets the median (a Floyd–Rivest step) and
 * one pass over all pairs keeps only the slopes inside the bracket (about
 * 1.6% of them) to select from; should the bracket miss, it is widened and the
 * pass repeated. The result is the exact median whatever the sample: the
 * sample only decides how much memory and how many passes it takes.
 */
static int sen_slope(const double *x, size_t n, double *out)
{
    int rc = 0;
    double *s = NULL;
    size_t npairs = n * (n - 1) / 2;
    size_t ranks[2] = {(npairs - 1) / 2, npairs / 2};
    double vals[2];
    if (npairs <= SEN_DIRECT_MAX) {
        s = malloc(npairs * sizeof(double));
        if (!s) {
            rc = PB_ENOMEM;
            goto done;
        }
        size_t k = 0;
        for (size_t i = 0; i + 1 < n; i++)
            for (size_t j = i + 1; j < n; j++)
                s[k++] = slope_at(x, i, j);
        vals[1] = select_kth(s, npairs, ranks[1]);
        vals[0] = vals[1];
        if (ranks[0] != ranks[1]) {
            vals[0] = s[0];
            for (size_t i = 1; i < ranks[1]; i++)
                if (s[i] > vals[0])
                    vals[0] = s[i];
        }
        *out = vals[0] + (vals[1] - vals[0]) / 2;
        goto done;
    }
    s = malloc(SEN_SAMPLE * sizeof(double));
    if (!s) {
        rc = PB_ENOMEM;
        goto done;
    }
    pb_rng rng;
    pb_rng_seed(&rng, 0x5e75107e);
    for (size_t k = 0; k < SEN_SAMPLE; k++) {
        size_t i = (size_t)pb_rng_below(&rng, n), j = (size_t)pb_rng_below(&rng, n - 1);
        if (j >= i)
            j++;
        s[k] = i < j ? slope_at(x, i, j) : slope_at(x, j, i);
    }
    qsort(s, SEN_SAMPLE, sizeof(double), cmp_double);
    double frac = (double)ranks[0] / (double)npairs;
    size_t centre = (size_t)(frac * (double)SEN_SAMPLE);
    /* The sample rank of the median slope has a standard deviation of about
     * sqrt(SEN_SAMPLE)/2 = 128: a margin of 512 misses once in ~10^4. */
    for (size_t margin = 512;; margin *= 4) {
        double lo = centre > margin ? s[centre - margin] : -INFINITY;
        double hi = centre + margin < SEN_SAMPLE ? s[centre + margin] : INFINITY;
        int whole = isinf(lo) && isinf(hi);
        double share = (double)(2 * margin) / (double)SEN_SAMPLE;
        size_t cap = whole ? npairs : (size_t)(1.5 * share * (double)npairs) + 4096;
        if (cap > npairs)
            cap = npairs;
        rc = sen_bracket(x, n, lo, hi, cap, ranks, vals, 2);
        if (rc < 0)
            goto done;
        if (rc == 1) {
            rc = 0;
            break;
        }
    }
    *out = vals[0] + (vals[1] - vals[0]) / 2;
done:
    free(s);
    return rc;
}

/*
 * Sort a[0..n) ascending (stable merge sort, tmp is scratch of n) and
 * return the number of pairs i < j with a[i] > a[j]; equal values are not
 * inversions.
 */
static unsigned long long count_inversions(double *a, double *tmp, size_t n)
{
    unsigned long long inv = 0;
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                if (a[j] < a[i]) {
                    inv += mid - i; /* a[j] jumps every remaining left value */
                    tmp[k++] = a[j++];
                } else {
                    tmp[k++] = a[i++];
                }
            }
            while (i < mid)
                tmp[k++] = a[i++];
            while (j < hi)
                tmp[k++] = a[j++];
        }
        memcpy(a, tmp, n * sizeof(double));
    }
    return inv;
}

/*
 * Mann–Kendall as in Gilbert (1987) and pymannkendall's original_test:
 * S = sum_{i<j} sign(x_j - x_i); var(S) = [n(n-1)(2n+5) - sum_t t(t-1)(2t+5)]
 * / 18 over tie groups; z = (S - 1)/sqrt(var) for S > 0, (S + 1)/sqrt(var)
 * for S < 0, 0 otherwise; p = 2 * (1 - Phi(|z|)).
 */
static int mann_kendall(const double *x, size_t n, int with_slope, pb_mann_kendall *out,
                        pb_error *err)
{
    int rc = 0;
    double *sorted = NULL, *tmp = NULL;
    if (n < 3) {
        rc = pb_error_set(err, PB_EINVAL, "Mann-Kendall needs at least 3 values");
        goto done;
    }
    if (!all_finite(x, n)) {
        rc = pb_error_set(err, PB_EINVAL, "Mann-Kendall: input contains NaN or infinity");
        goto done;
    }
    sorted = malloc(n * sizeof(double));
    tmp = malloc(n * sizeof(double));
    if (!sorted || !tmp) {
        rc = pb_error_set(err, PB_ENOMEM, "Mann-Kendall: out of memory");
        goto done;
    }
    memcpy(sorted, x, n * sizeof(double));
    /* S = (pairs rising) - (pairs falling) = N - tied pairs - 2 * inversions,
     * inversions counted while merge-sorting: O(n log n) instead of n^2/2. */
    unsigned long long inversions = count_inversions(sorted, tmp, n);
    double dn = (double)n, ties = 0;
    unsigned long long tied_pairs = 0;
    for (size_t start = 0; start < n;) {
        size_t end = start + 1;
        while (end < n && sorted[end] == sorted[start])
            end++;
        size_t t = end - start;
        ties += (double)t * (double)(t - 1) * (2 * (double)t + 5);
        tied_pairs += (unsigned long long)t * (t - 1) / 2;
        start = end;
    }
    long long s =
        (long long)((unsigned long long)n * (n - 1) / 2 - tied_pairs) - 2 * (long long)inversions;
    out->s = (double)s;
    out->var_s = (dn * (dn - 1) * (2 * dn + 5) - ties) / 18;
    if (s == 0 || !(out->var_s > 0))
        out->z = 0;
    else
        out->z = (double)(s > 0 ? s - 1 : s + 1) / sqrt(out->var_s);
    out->p_value = 2 * normal_sf(fabs(out->z));
    if (out->p_value > 1)
        out->p_value = 1;
    out->sen_slope = out->sen_intercept = NAN;
    if (!with_slope)
        goto done;
    double slope;
    if (sen_slope(x, n, &slope) < 0) {
        rc = pb_error_set(err, PB_ENOMEM, "Mann-Kendall: out of memory for Sen's slope");
        goto done;
    }
    out->sen_slope = slope;
    size_t k = n / 2;
    double med_x = n % 2 ? select_kth(sorted, n, k) : (sorted[k - 1] + sorted[k]) / 2;
    out->sen_intercept = med_x - slope * (dn - 1) / 2;
done:
    free(sorted);
    free(tmp);
    return rc;
}

int pb_stats_mann_kendall(const double *x, size_t n, pb_mann_kendall *out, pb_error *err)
{
    return mann_kendall(x, n, 1, out, err);
}

int pb_stats_mann_kendall_test(const double *x, size_t n, pb_mann_kendall *out, pb_error *err)
{
    return mann_kendall(x, n, 0, out, err);
}

/* ---- the CI guide's threshold ------------------------------------------ */

double pb_strictness_multiplier(pb_strictness s)
{
    switch (s) {
    case PB_STRICTNESS_STRICT:
        return 0.5;
    case PB_STRICTNESS_CI:
        return 2.0;
    case PB_STRICTNESS_DEFAULT:
    default:
        return 1.0;
    }
}

int pb_strictness_parse(const char *name, pb_strictness *out, pb_error *err)
{
    if (name && strcmp(name, "strict") == 0)
        *out = PB_STRICTNESS_STRICT;
    else if (name && strcmp(name, "default") == 0)
        *out = PB_STRICTNESS_DEFAULT;
    else if (name && strcmp(name, "ci") == 0)
        *out = PB_STRICTNESS_CI;
    else
        return pb_error_set(err, PB_EINVAL, "unknown strictness '%s' (strict, default or ci)",
                            name ? name : "");
    return 0;
}

pb_strictness pb_strictness_default(const char *ci_env)
{
    if (ci_env && (strcasecmp(ci_env, "true") == 0 || strcmp(ci_env, "1") == 0))
        return PB_STRICTNESS_CI;
    return PB_STRICTNESS_DEFAULT;
}

double pb_stats_threshold(const double *x, size_t n, pb_strictness s)
{
    if (n < 2)
        return NAN;
    return (pb_stats_p95(x, n) + 2 * pb_stats_stddev(x, n)) * pb_strictness_multiplier(s);
}

/* ---- random numbers: xoshiro256** seeded by splitmix64 ----------------- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void pb_rng_seed(pb_rng *rng, uint64_t seed)
{
    uint64_t st = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&st);
}

uint64_t pb_rng_next(pb_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double pb_rng_uniform(pb_rng *rng)
{
    return (double)(pb_rng_next(rng) >> 11) * 0x1.0p-53;
}

/* Rejection of the few lowest values keeps the remainder unbiased. */
uint64_t pb_rng_below(pb_rng *rng, uint64_t bound)
{
    if (bound == 0)
        return 0;
    uint64_t threshold = -bound % bound; /* 2^64 mod bound */
    uint64_t r;
    do
        r = pb_rng_next(rng);
    while (r < threshold);
    return r % bound;
}

/* Box–Muller; the second deviate is dropped so the state stays four words. */
double pb_rng_normal(pb_rng *rng)
{
    double u1 = 1.0 - pb_rng_uniform(rng); /* (0, 1]: log is finite */
    double u2 = pb_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* ---- group-sequential boundary ----------------------------------------- */

/*
 * P(S(n_j) >= c w_j sqrt(n_j) at some look j | no effect), S a sum of i.i.d.
 * standard normal terms: the density of S on the continuation region is
 * carried from look to look on grids that end at each look's bound and
 * share the spacing h, so the normal kernel of an increment depends only on
 * the index difference; trapezoid weights (Armitage, McPherson & Rowe 1969;
 * Jennison & Turnbull 2000, ch. 19). f, g and kern hold cap, cap and 2 cap.
 */
static double crossing(const double *n, const double *w, size_t k, double c, double h, double *f,
                       double *g, double *kern, size_t cap)
{
    double up = c * w[0] * sqrt(n[0]), cross = normal_sf(c * w[0]);
    double points = (8 * sqrt(n[0]) + up) / h + 2;
    if (!(points < (double)cap))
        return NAN;
    size_t m = (size_t)points;
    for (size_t i = 0; i < m; i++) { /* point i is up - (m - 1 - i) h */
        double u = (up - (double)(m - 1 - i) * h) / sqrt(n[0]);
        f[i] = exp(-0.5 * u * u) / sqrt(2 * M_PI * n[0]) * (i + 1 < m ? h : h / 2);
    }
    for (size_t j = 1; j < k; j++) {
        double sd = sqrt(n[j] - n[j - 1]), nup = c * w[j] * sqrt(n[j]), off = nup - up;
        double npoints = (8 * sqrt(n[j]) + nup) / h + 2;
        if (!(npoints < (double)cap))
            return NAN;
        size_t nm = (size_t)npoints;
        /* new point v minus old point i is off + (d + 1 - nm) h, d = v - i + m - 1 */
        for (size_t d = 0; d < nm + m - 1; d++) {
            double z = (off + ((double)d + 1 - (double)nm) * h) / sd;
            kern[d] = exp(-0.5 * z * z) / (sd * sqrt(2 * M_PI));
        }
        for (size_t i = 0; i < m; i++)
            cross += f[i] * normal_sf((nup - (up - (double)(m - 1 - i) * h)) / sd);
        for (size_t v = 0; v < nm; v++) {
            double s = 0;
            for (size_t i = 0; i < m; i++)
                s += f[i] * kern[v + m - 1 - i];
            g[v] = s * (v + 1 < nm ? h : h / 2);
        }
        memcpy(f, g, nm * sizeof *f);
        up = nup;
        m = nm;
    }
    return cross;
}

/* The z with P(Z > z) = p, by bisection (only bounds need it). */
static double normal_isf(double p)
{
    double a = -40, b = 40;
    for (int it = 0; it < 200 && b - a > 1e-12; it++) {
        double z = (a + b) / 2;
        if (normal_sf(z) > p)
            a = z;
        else
            b = z;
    }
    return (a + b) / 2;
}

double pb_stats_sequential_bound(const double *n, size_t k, double delta, double alpha)
{
    enum { CAP = 8192, MAX_K = 256 };
    double w[MAX_K];
    if (!n || k == 0 || k > MAX_K || !(alpha > 0 && alpha < 0.5) || !(n[0] > 0) ||
        !isfinite(n[k - 1]) || !(delta >= 0 && delta <= 0.5))
        return NAN;
    for (size_t j = 0; j < k; j++)
        w[j] = pow(n[j] / n[k - 1], delta - 0.5);
    double h = sqrt(n[0]);
    for (size_t j = 1; j < k; j++) {
        if (!(n[j] > n[j - 1]))
            return NAN;
        if (sqrt(n[j] - n[j - 1]) < h)
            h = sqrt(n[j] - n[j - 1]);
    }
    double *buf = malloc(4 * CAP * sizeof(double));
    if (!buf)
        return NAN;
    /* c lies between the last look's bound and Bonferroni's (w >= 1). Regula falsi
     * (Illinois) on log P(cross) - log alpha, nearly linear in c; P from
     * grids of h/2 and h/4, extrapolated (the error is O(h^2)). */
    double c[2] = {normal_isf(alpha), normal_isf(alpha / (double)k)}, f[2], r = NAN;
    int side = -1;
    for (int it = 0; it < 60; it++) {
        double x = it < 2 ? c[it] : (c[0] * f[1] - c[1] * f[0]) / (f[1] - f[0]);
        double p4 = crossing(n, w, k, x, h / 2, buf, buf + CAP, buf + 2 * CAP, CAP);
        double p8 = crossing(n, w, k, x, h / 4, buf, buf + CAP, buf + 2 * CAP, CAP);
        double fx = log(p8 + (p8 - p4) / 3) - log(alpha);
        if (isnan(fx))
            break;
        if (it < 2) {
            f[it] = fx;
            /* An end is the root: one look, or early looks that never cross. */
            if (fabs(fx) < 1e-7) {
                r = c[it];
                break;
            }
            if (it == 1 && f[0] * f[1] > 0)
                break; /* no sign change: the looks are too uneven for the grid */
            continue;
        }
        r = x;
        if (fabs(fx) < 1e-7)
            break;
        int s = fx * f[0] > 0 ? 0 : 1; /* replace the end of the same sign */
        c[s] = x;
        f[s] = fx;
        if (side == s)
            f[!s] /= 2;
        side = s;
    }
    free(buf);
    return r;
}
