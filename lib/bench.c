#include "perfbisect/bench.h"

#include <math.h>
#include <string.h>

#include "perfbisect/stats.h"

/* 1.4826 · MAD estimates σ for normally distributed data. */
#define MAD_TO_SIGMA 1.4826
#define OUTLIER_SIGMAS 3.0

int pb_bench_run(const char *cmd, const pb_bench_options *opt, double *values, pb_error *err)
{
    static const pb_bench_options defaults = PB_BENCH_OPTIONS_INIT;
    int rc = 0;
    pb_metric *wall = NULL;
    pb_exec_result res;
    pb_exec_options eo = PB_EXEC_OPTIONS_INIT;
    pb_error merr = PB_ERROR_INIT;

    memset(&res, 0, sizeof(res));
    if (!opt)
        opt = &defaults;
    const pb_metric *metric = opt->metric;
    if (!metric) {
        if ((rc = pb_metric_parse("wall", &wall, err)) < 0)
            goto done;
        metric = wall;
    }
    if (opt->runs < 1) {
        rc = pb_error_set(err, PB_EINVAL, "at least one run is needed");
        goto done;
    }
    eo.cwd = opt->cwd;
    eo.timeout_sec = opt->timeout_sec;
    eo.env_add = opt->env_add;
    eo.capture_stdout = pb_metric_needs_output(metric);
    eo.stdout_fd = opt->stdout_fd;
    eo.stderr_fd = opt->stderr_fd;
    eo.capture_stderr = opt->stderr_fd == PB_EXEC_DEVNULL;
    eo.cancel = opt->cancel;
    eo.group_file = opt->group_file;

    unsigned total = opt->warmup + opt->runs;
    for (unsigned i = 0; i < total; i++) {
        int warm = i < opt->warmup;
        unsigned k = warm ? i + 1 : i - opt->warmup + 1;
        unsigned of = warm ? opt->warmup : opt->runs;
        double v = 0;
        pb_exec_result_free(&res);
        if (opt->cancel && *opt->cancel) {
            rc = pb_error_set(err, PB_EINTR, "interrupted");
            goto done;
        }
        if ((rc = pb_exec_run(cmd, &eo, &res, err)) < 0)
            goto done;
        if ((rc = pb_metric_extract(metric, &res, &v, &merr)) < 0) {
            rc = pb_error_set(err, rc, "%srun %u of %u: %s", warm ? "warmup " : "", k, of,
                              pb_error_message(&merr));
            goto done;
        }
        if (!warm)
            values[k - 1] = v;
        if (opt->progress) {
            pb_bench_progress p = {k, of, warm, v};
            opt->progress(opt->progress_ctx, &p);
        }
    }
done:
    pb_exec_result_free(&res);
    pb_metric_free(wall);
    return rc;
}

int pb_bench_summarize(const double *x, size_t n, pb_bench_summary *out, pb_error *err)
{
    memset(out, 0, sizeof(*out));
    if (n < 1)
        return pb_error_set(err, PB_EINVAL, "no values to summarise");
    out->n = n;
    out->mean = pb_stats_mean(x, n);
    out->median = pb_stats_median(x, n);
    out->stddev = n >= 2 ? pb_stats_stddev(x, n) : NAN;
    out->p95 = n >= 2 ? pb_stats_p95(x, n) : NAN;
    out->mad = pb_stats_mad(x, n);
    out->spread = MAD_TO_SIGMA * out->mad;
    out->min = out->max = x[0];
    for (size_t i = 1; i < n; i++) {
        if (x[i] < out->min)
            out->min = x[i];
        if (x[i] > out->max)
            out->max = x[i];
    }
    if (out->mad > 0) {
        out->outlier_lo = out->median - OUTLIER_SIGMAS * out->spread;
        out->outlier_hi = out->median + OUTLIER_SIGMAS * out->spread;
    } else {
        out->outlier_lo = -INFINITY;
        out->outlier_hi = INFINITY;
    }
    for (size_t i = 0; i < n; i++)
        out->outliers += pb_bench_is_outlier(out, x[i]) ? 1 : 0;
    return 0;
}

int pb_bench_is_outlier(const pb_bench_summary *s, double v)
{
    return v < s->outlier_lo || v > s->outlier_hi;
}

const char *pb_bench_display_unit(const char *unit, double ref, double *factor)
{
    double a = fabs(ref);
    *factor = 1;
    if (!unit || strcmp(unit, "s") != 0)
        return unit ? unit : "";
    if (a >= 1 || a == 0 || !isfinite(a))
        return "s";
    if (a >= 1e-3) {
        *factor = 1e3;
        return "ms";
    }
    if (a >= 1e-6) {
        *factor = 1e6;
        return "\u00b5s";
    }
    *factor = 1e9;
    return "ns";
}
