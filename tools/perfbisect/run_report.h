/* run_report.h — how `perfbisect run` tells what it found: text, JSON, Markdown, and the log. */
#ifndef PERFBISECT_RUN_REPORT_H
#define PERFBISECT_RUN_REPORT_H

#include <stdio.h>

#include "cli.h"
#include "oracle.h"
#include "perfbisect/profile.h"

typedef struct run_report {
    const pb_bisect_result *result;
    const pb_repo_range *range;
    const oracle *orc;
    pb_repo *repo;
    const char *unit;
    const char *good, *bad;
    double total_sec;               /* wall time of the whole command */
    const pb_profile_delta *growth; /* --profile: functions by growth, culprit vs parent */
    size_t ngrowth;
    const char *profile_before, *profile_after; /* the profile files */
    double alpha;                               /* the bisection's significance level */
    int higher_is_better; /* changes are still + when worse, i.e. when the metric drops */
} run_report;

int run_report_print(const run_report *r, pb_format format, FILE *out, pb_error *err);

/* Append the search to the store's log for `session`, in the words of `git bisect log`. */
void run_report_log(const run_report *r, pb_store *store, const char *session);

#endif
