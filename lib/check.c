#include "perfbisect/check.h"

#include <math.h>

#include "perfbisect/stats.h"

double pb_check_sign_test(size_t k, size_t n)
{
    if (n == 0)
        return 1.0;
    size_t tail = k < n - k ? k : n - k;
    /* P(K <= tail) for K ~ Binomial(n, 1/2), summed in log space for large n. */
    double sum = 0;
    for (size_t i = 0; i <= tail; i++)
        sum += exp(lgamma((double)n + 1) - lgamma((double)i + 1) - lgamma((double)(n - i) + 1) -
                   (double)n * M_LN2);
    double p = 2 * sum;
    return p > 1 ? 1 : p;
}

/* + is worse; relative to |reference|, so that a metric below zero that
 * rises (-1 -> -0.5, lower is better) changes by +50%, not -50%. */
static double change_pct(double median, double reference, int higher_is_better)
{
    double pct = (median - reference) / fabs(reference) * 100;
    return higher_is_better ? -pct : pct;
}

int pb_check_threshold(const double *x, size_t n, double threshold, int higher_is_better,
                       double alpha, pb_check_decision *out, pb_error *err)
{
    if (n == 0)
        return pb_error_set(err, PB_EINVAL, "no values to check");
    size_t above = 0, below = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i]))
            return pb_error_set(err, PB_EINVAL, "value %zu is not a number", i + 1);
        above += x[i] > threshold;
        below += x[i] < threshold;
    }
    out->median = pb_stats_median(x, n);
    out->reference = threshold;
    out->change_pct = change_pct(out->median, threshold, higher_is_better);
    out->p_value = pb_check_sign_test(above, above + below);
    size_t worse = higher_is_better ? below : above, better = higher_is_better ? above : below;
    if (out->p_value >= alpha)
        out->verdict = PB_CHECK_UNDECIDED;
    else
        out->verdict = worse > better ? PB_CHECK_BAD : PB_CHECK_GOOD;
    return 0;
}

int pb_check_baseline(const double *baseline, size_t nb, const double *x, size_t n,
                      int higher_is_better, double alpha, int final, pb_check_decision *out,
                      pb_error *err)
{
    pb_mwu mwu;
    int rc = pb_stats_mann_whitney(baseline, nb, x, n, &mwu, err);
    if (rc < 0)
        return rc;
    out->median = pb_stats_median(x, n);
    out->reference = pb_stats_median(baseline, nb);
    out->change_pct = change_pct(out->median, out->reference, higher_is_better);
    out->p_value = mwu.p_value;
    if (mwu.p_value < alpha)
        out->verdict = out->change_pct > 0 ? PB_CHECK_BAD : PB_CHECK_GOOD;
    else
        out->verdict = final ? PB_CHECK_GOOD : PB_CHECK_UNDECIDED;
    return 0;
}
