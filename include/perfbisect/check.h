/*
 * check.h — the decision behind `perfbisect check`, a `git bisect run`
 * predicate: is this sample of a benchmark good or bad, or can we not yet
 * tell? Pure: the caller measures, this module decides.
 */
#ifndef PERFBISECT_CHECK_H
#define PERFBISECT_CHECK_H

#include <stddef.h>

#include "perfbisect/error.h"

typedef enum pb_check_verdict {
    PB_CHECK_GOOD,
    PB_CHECK_BAD,
    PB_CHECK_UNDECIDED,
} pb_check_verdict;

typedef struct pb_check_decision {
    pb_check_verdict verdict;
    double median;     /* of the sample */
    double reference;  /* the threshold, or the baseline's median */
    double change_pct; /* median against reference; + is worse */
    double p_value;
} pb_check_decision;

/*
 * Against a fixed limit: an exact two-sided sign test of "the median equals
 * the threshold" (values equal to it are dropped). Significant at `alpha`
 * and above the limit (below, with higher_is_better) → bad; significant the
 * other way → good; otherwise undecided: measure more.
 */
int pb_check_threshold(const double *x, size_t n, double threshold, int higher_is_better,
                       double alpha, pb_check_decision *out, pb_error *err);

/*
 * Against a baseline sample (e.g. the good commit measured with
 * `perfbisect measure`): Mann–Whitney two-sided. Significantly worse → bad;
 * significantly better → good; otherwise undecided, or good when `final`
 * (no evidence of a slowdown after the most runs the caller will take).
 */
int pb_check_baseline(const double *baseline, size_t nb, const double *x, size_t n,
                      int higher_is_better, double alpha, int final, pb_check_decision *out,
                      pb_error *err);

/* Two-sided p-value of the exact binomial sign test: k successes of n at 1/2. */
double pb_check_sign_test(size_t k, size_t n);

#endif
