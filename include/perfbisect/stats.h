/*
 * stats.h — the statistics every decision in perfbisect rests on.
 *
 * All functions are pure: they read the caller's arrays (never reorder them)
 * and allocate only temporary memory. Functions that can fail return 0 or a
 * negative PB_E* code; functions returning double return NAN when the input
 * is too small for the quantity to exist (e.g. stddev of one value).
 */
#ifndef PERFBISECT_STATS_H
#define PERFBISECT_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "perfbisect/error.h"

double pb_stats_mean(const double *x, size_t n);

/* Median; the mean of the two middle values when n is even. */
double pb_stats_median(const double *x, size_t n);

/* Sample standard deviation (divisor n-1). */
double pb_stats_stddev(const double *x, size_t n);

/* Median absolute deviation from the median, unscaled
 * (scipy.stats.median_abs_deviation with scale=1.0). */
double pb_stats_mad(const double *x, size_t n);

/*
 * Cut points dividing x into `parts` equal-probability intervals, Python's
 * statistics.quantiles(x, n=parts) with its default method='exclusive'.
 * Writes parts-1 values to `out`. Needs n >= 2 and parts >= 1.
 */
int pb_stats_quantiles(const double *x, size_t n, int parts, double *out, pb_error *err);

/* P95 as the CI guide defines it: statistics.quantiles(x, n=20)[18]. */
double pb_stats_p95(const double *x, size_t n);

/* Mann–Whitney U test, two-sided. */
typedef struct pb_mwu {
    double u;       /* U statistic of the first sample (scipy's U1) */
    double p_value; /* two-sided */
    int exact;      /* 1 when the exact distribution was used */
} pb_mwu;

/*
 * Exact distribution when there are no ties and at least one sample has 8
 * or fewer values (scipy 1.10's 'auto' goes asymptotic only "if n1 > 8 and
 * n2 > 8" or on ties), otherwise the normal approximation with tie and
 * continuity correction; agrees with
 * scipy.stats.mannwhitneyu(x, y, alternative='two-sided'). Needs nx, ny >= 1
 * and no NaN (else PB_EINVAL); all-equal samples give p = 1.
 */
int pb_stats_mann_whitney(const double *x, size_t nx, const double *y, size_t ny, pb_mwu *out,
                          pb_error *err);

/*
 * As pb_stats_mann_whitney, but exact whenever there are no ties and the
 * smaller sample has at most `exact_max` values (the exact distribution
 * costs O(min^2 * max) time and O(min * max) memory, so it is also limited
 * to nx * ny <= 2^22); exact_max = 8 is pb_stats_mann_whitney. The normal
 * approximation understates how extreme a perfect separation of two small
 * samples is (9 vs 9: 4.1e-4 instead of the exact 4.1e-5), which matters
 * when a p-value is Bonferroni-corrected.
 */
int pb_stats_mann_whitney_exact_upto(const double *x, size_t nx, const double *y, size_t ny,
                                     size_t exact_max, pb_mwu *out, pb_error *err);

/* Welch's unequal-variances t-test, two-sided. */
typedef struct pb_welch {
    double t;
    double df;
    double p_value;
} pb_welch;

/*
 * Needs nx, ny >= 2 and finite values (else PB_EINVAL); df is the
 * Welch–Satterthwaite one. Agrees with scipy.stats.ttest_ind(x, y,
 * equal_var=False). Two constant samples give t = 0, p = 1 when equal and
 * t = +-inf, p = 0 when not (where scipy gives NaN).
 */
int pb_stats_welch(const double *x, size_t nx, const double *y, size_t ny, pb_welch *out,
                   pb_error *err);

/* Student t cumulative distribution P(T <= t) with `df` degrees of freedom. */
double pb_stats_t_cdf(double t, double df);

/* Regularized incomplete beta function I_x(a, b). */
double pb_stats_betainc(double a, double b, double x);

/* Standard normal cumulative distribution. */
double pb_stats_normal_cdf(double z);

/*
 * One-sided boundary of a group-sequential test of Wang & Tsiatis' family:
 * a statistic standardised at looks after n[0] < ... < n[k-1] observations,
 * Z_j = S(n_j) / sqrt(n_j) with S a sum of i.i.d. terms, is compared at
 * look j with c (n_j / n[k-1])^(delta - 1/2). Returns the c that makes the
 * chance of crossing at some look alpha when there is no effect. delta 0.5
 * is Pocock's bound (the same at every look), 0 O'Brien & Fleming's (strict
 * early, lenient late). Numerical integration (Jennison & Turnbull 2000,
 * ch. 19); NAN for bad arguments, more than 256 looks, or looks so
 * unevenly spaced (a gap of one run after thousands) that the integration
 * grid would not fit.
 */
double pb_stats_sequential_bound(const double *n, size_t k, double delta, double alpha);

/*
 * Percentile bootstrap confidence interval of median(y) / median(x),
 * resampling each sample with replacement `iterations` times from a
 * generator seeded with `seed` (same seed, same interval). `level` is e.g.
 * 0.95. Writes the point estimate and the bounds. The bounds are the
 * (1-level)/2 and (1+level)/2 quantiles of the resampled ratios (linear
 * interpolation, numpy's default). PB_EINVAL for empty samples, NaN or
 * infinite values, level outside (0, 1), iterations outside 1..10^7, or an
 * x sample that is not all positive (or all negative): every resampled
 * median of x must be non-zero.
 */
int pb_stats_bootstrap_ratio_ci(const double *x, size_t nx, const double *y, size_t ny,
                                double level, unsigned iterations, uint64_t seed, double *estimate,
                                double *lo, double *hi, pb_error *err);

/* Mann–Kendall trend test with tie correction, and Sen's slope. */
typedef struct pb_mann_kendall {
    double s;             /* S statistic */
    double var_s;         /* variance of S, tie-corrected */
    double z;             /* continuity-corrected normal score */
    double p_value;       /* two-sided */
    double sen_slope;     /* median of pairwise slopes (x[j]-x[i])/(j-i), per step */
    double sen_intercept; /* median(x) - slope * median(index), as pymannkendall */
} pb_mann_kendall;

/*
 * Needs n >= 3 and finite values (else PB_EINVAL); the series is taken at
 * equally spaced steps 0..n-1. S is counted in O(n log n) (inversions by
 * merge sort). Sen's slope is the exact median of all n(n-1)/2 pairwise
 * slopes: kept in memory up to 2^21 pairs; beyond that a seeded sample of
 * pairs brackets the median and one pass over all pairs keeps only the ~2%
 * inside the bracket (10,000 points: ~0.2 s, a few MB).
 * An all-equal series gives S = 0, z = 0, p = 1, slope 0.
 */
int pb_stats_mann_kendall(const double *x, size_t n, pb_mann_kendall *out, pb_error *err);

/*
 * The same test without Sen's slope (sen_slope and sen_intercept are NAN):
 * O(n log n) throughout, for callers that need only S, its variance, z or p.
 */
int pb_stats_mann_kendall_test(const double *x, size_t n, pb_mann_kendall *out, pb_error *err);

/* The CI guide's strictness levels and threshold rule. */
typedef enum pb_strictness {
    PB_STRICTNESS_STRICT,  /* multiplier 0.5 */
    PB_STRICTNESS_DEFAULT, /* 1.0 */
    PB_STRICTNESS_CI,      /* 2.0 */
} pb_strictness;

double pb_strictness_multiplier(pb_strictness s);

/* Parse "strict" | "default" | "ci". Returns 0 or PB_EINVAL. */
int pb_strictness_parse(const char *name, pb_strictness *out, pb_error *err);

/*
 * The strictness to use when the user chose none: `ci_env` is the value of
 * the CI environment variable (or NULL); "true" (any case) or "1" selects ci.
 */
pb_strictness pb_strictness_default(const char *ci_env);

/* Recommended limit: (P95 + 2 * stddev) * multiplier. Needs n >= 2. */
double pb_stats_threshold(const double *x, size_t n, pb_strictness s);

/*
 * A small deterministic random generator (splitmix64/xoshiro-style), so
 * that every seeded computation — bootstrap, permutation tests, simulations —
 * is reproducible without global state.
 */
typedef struct pb_rng {
    uint64_t s[4];
} pb_rng;

void pb_rng_seed(pb_rng *rng, uint64_t seed);
uint64_t pb_rng_next(pb_rng *rng);
/* Uniform in [0, 1). */
double pb_rng_uniform(pb_rng *rng);
/* Uniform integer in [0, bound). */
uint64_t pb_rng_below(pb_rng *rng, uint64_t bound);
/* Standard normal deviate. */
double pb_rng_normal(pb_rng *rng);

#endif
