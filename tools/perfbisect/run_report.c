#include "run_report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "perfbisect/bench.h"
#include "perfbisect/buf.h"

static const char *id_of(const run_report *r, size_t index)
{
    return oracle_commit_id(r->orc, index);
}

static const char *subject_of(const run_report *r, size_t index)
{
    if (index >= r->range->n)
        return "(good)";
    return r->range->commits[index].subject ? r->range->commits[index].subject : "";
}

static const char *author_of(const run_report *r, size_t index)
{
    if (index >= r->range->n)
        return "";
    return r->range->commits[index].author ? r->range->commits[index].author : "";
}

/* A number in the unit a person reads best ("10.2 ms"). */
static void fmt_value(char *out, size_t size, const run_report *r, double v, double ref)
{
    double factor = 1;
    const char *unit = pb_bench_display_unit(r->unit, ref, &factor);
    if (isnan(v))
        snprintf(out, size, "-");
    else
        snprintf(out, size, "%.4g%s%s", v * factor, *unit ? " " : "", unit);
}

/* The growth of a function's self share, over its standard error, from
 * which the report shows it. */
#define PROFILE_GROWTH_Z 3.0

/* A change in percent, + is worse; "n/a" when there is none (a median of 0). */
static const char *fmt_pct(char *out, size_t size, double v)
{
    if (isfinite(v))
        snprintf(out, size, "%+.2f%%", v);
    else
        snprintf(out, size, "n/a");
    return out;
}

/* Whether the fresh interleaved runs alone show the step at alpha. */
static int verified(const run_report *r, const pb_bisect_culprit *c)
{
    return c->p_value < r->alpha;
}

static json_t *json_ids(const run_report *r, const size_t *idx, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(id_of(r, idx[i])));
    return a;
}

static int print_json(const run_report *r, FILE *out, pb_error *err)
{
    const pb_bisect_result *res = r->result;
    json_t *root = json_object();
    json_object_set_new(root, "verdict", json_string(pb_bisect_verdict_name(res->verdict)));
    json_object_set_new(root, "reason", pb_cli_json_text(res->reason));
    json_object_set_new(root, "good", pb_cli_json_text(r->good));
    json_object_set_new(root, "bad", pb_cli_json_text(r->bad));
    json_object_set_new(root, "good_median", pb_cli_json_number(res->good_median));
    json_object_set_new(root, "bad_median", pb_cli_json_number(res->bad_median));
    json_object_set_new(root, "total_change_pct", pb_cli_json_number(res->total_change_pct));
    json_object_set_new(root, "total_p_value", pb_cli_json_number(res->total_p_value));
    json_object_set_new(root, "unit", pb_cli_json_text(r->unit));
    json_t *culprits = json_array();
    for (size_t i = 0; i < res->nculprits; i++) {
        const pb_bisect_culprit *c = &res->culprits[i];
        json_t *o = json_object();
        json_object_set_new(o, "commit", json_string(id_of(r, c->commit)));
        json_object_set_new(o, "parent", json_string(id_of(r, c->parent)));
        json_object_set_new(o, "subject", pb_cli_json_text(subject_of(r, c->commit)));
        json_object_set_new(o, "author", pb_cli_json_text(author_of(r, c->commit)));
        json_object_set_new(o, "change_pct", pb_cli_json_number(c->change_pct));
        json_object_set_new(o, "ci_low_pct", pb_cli_json_number(c->ci_lo));
        json_object_set_new(o, "ci_high_pct", pb_cli_json_number(c->ci_hi));
        json_object_set_new(o, "p_value", pb_cli_json_number(c->p_value));
        json_object_set_new(o, "step_pct", pb_cli_json_number(c->step_pct));
        json_object_set_new(o, "step_ci_low_pct", pb_cli_json_number(c->step_lo));
        json_object_set_new(o, "step_ci_high_pct", pb_cli_json_number(c->step_hi));
        json_object_set_new(o, "step_runs",
                            json_integer((json_int_t)(c->step_runs_before + c->step_runs_after)));
        json_object_set_new(o, "verified", json_boolean(verified(r, c)));
        json_object_set_new(o, "posterior", pb_cli_json_number(c->posterior));
        json_object_set_new(o, "before_median", pb_cli_json_number(c->before_median));
        json_object_set_new(o, "after_median", pb_cli_json_number(c->after_median));
        json_array_append_new(culprits, o);
    }
    json_object_set_new(root, "culprits", culprits);
    json_object_set_new(root, "candidates", json_ids(r, res->candidates, res->ncandidates));
    json_object_set_new(root, "skipped", json_ids(r, res->skipped, res->nskipped));
    json_t *probes = json_array();
    for (size_t i = 0; i < res->nprobes; i++) {
        const pb_bisect_probe *p = &res->probes[i];
        json_t *o = json_object();
        json_object_set_new(o, "commit", json_string(id_of(r, p->commit)));
        /* The contract's states are good|bad|skip: a probe still undecided after
         * --max-runs is, like git bisect skip, neither; "undecided" says which. */
        json_object_set_new(
            o, "state",
            json_string(p->state == PB_PROBE_UNKNOWN ? "skip" : pb_probe_state_name(p->state)));
        json_object_set_new(o, "undecided", json_boolean(p->state == PB_PROBE_UNKNOWN));
        json_object_set_new(o, "runs", json_integer((json_int_t)p->runs));
        json_object_set_new(o, "median", pb_cli_json_number(p->median));
        json_array_append_new(probes, o);
    }
    json_object_set_new(root, "probes", probes);
    if (res->verdict == PB_VERDICT_GRADUAL) {
        json_t *g = json_object();
        json_object_set_new(g, "first", json_string(id_of(r, res->gradual_first)));
        json_object_set_new(g, "last", json_string(id_of(r, res->gradual_last)));
        json_object_set_new(g, "slope_pct_per_commit", pb_cli_json_number(res->gradual_slope_pct));
        json_object_set_new(root, "gradual", g);
    }
    json_object_set_new(root, "builds", json_integer((json_int_t)r->orc->builds));
    json_object_set_new(root, "bench_runs", json_integer((json_int_t)res->bench_runs));
    json_object_set_new(root, "fresh_runs", json_integer((json_int_t)r->orc->fresh_runs));
    json_t *t = json_object();
    json_object_set_new(t, "total_sec", json_real(r->total_sec));
    json_object_set_new(t, "build_sec", json_real(r->orc->build_sec));
    json_object_set_new(t, "bench_sec", json_real(r->orc->bench_sec));
    json_object_set_new(t, "orchestration_sec",
                        json_real(r->total_sec - r->orc->build_sec - r->orc->bench_sec));
    json_object_set_new(t, "cpu_pressure_pct",
                        pb_cli_json_number(100 * pb_pressure_share(&r->orc->pressure)));
    json_object_set_new(root, "timing", t);
    if (r->profile_before && r->profile_after) {
        json_t *prof = json_object(), *g = json_array();
        json_object_set_new(prof, "before", pb_cli_json_text(r->profile_before));
        json_object_set_new(prof, "after", pb_cli_json_text(r->profile_after));
        for (size_t i = 0; i < r->ngrowth; i++) {
            json_t *f = json_object();
            json_object_set_new(f, "name", pb_cli_json_text(r->growth[i].name));
            json_object_set_new(f, "self_before", json_real(r->growth[i].self_before));
            json_object_set_new(f, "self_after", json_real(r->growth[i].self_after));
            json_object_set_new(f, "self_delta", json_real(r->growth[i].self_delta));
            json_object_set_new(f, "total_delta", json_real(r->growth[i].total_delta));
            json_object_set_new(f, "z", json_real(r->growth[i].z));
            json_array_append_new(g, f);
        }
        json_object_set_new(prof, "growth", g);
        json_object_set_new(root, "profile", prof);
    }
    int rc = json_dumpf(root, out, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    fputc('\n', out);
    json_decref(root);
    return rc < 0 ? pb_error_set(err, PB_EIO, "cannot write the JSON report") : 0;
}

/*
 * The culprit rests on the posterior over every run; the verification's
 * few fresh runs often cannot show a small step by themselves, and the
 * reader should know when they do not.
 */
static void print_unverified(const run_report *r, const pb_bisect_culprit *c, int md, FILE *out)
{
    if (verified(r, c))
        return;
    fprintf(out,
            md ? "The fresh runs alone do not reach p < %g: the culprit rests on the search's "
                 "posterior %.3f over all runs. Rerun with more `--runs` to confirm it on its "
                 "own.\n\n"
               : "  (the fresh runs alone do not reach p < %g: the culprit rests on the "
                 "search's\n   posterior %.3f over all runs; rerun with more --runs to confirm "
                 "it on its own)\n",
            r->alpha, c->posterior);
}

static void print_culprit(const run_report *r, const pb_bisect_culprit *c, size_t k, int md,
                          FILE *out)
{
    char before[32], after[32], ch[16], lo[16], hi[16], st[16], slo[16], shi[16];
    fmt_value(before, sizeof before, r, c->before_median, c->before_median);
    fmt_value(after, sizeof after, r, c->after_median, c->before_median);
    fmt_pct(ch, sizeof ch, c->change_pct);
    fmt_pct(lo, sizeof lo, c->ci_lo);
    fmt_pct(hi, sizeof hi, c->ci_hi);
    fmt_pct(st, sizeof st, c->step_pct);
    fmt_pct(slo, sizeof slo, c->step_lo);
    fmt_pct(shi, sizeof shi, c->step_hi);
    if (md) {
        fprintf(out, "### Culprit %zu: `%.12s` ", k, id_of(r, c->commit));
        pb_cli_md_cell(out, subject_of(r, c->commit));
        fprintf(out, "\n\n| | |\n|---|---|\n| commit | `%s` |\n| author | ", id_of(r, c->commit));
        pb_cli_md_cell(out, author_of(r, c->commit));
        fprintf(out,
                " |\n| before → after | %s → %s |\n| change | **%s** (95%% CI %s … %s) |\n"
                "| p-value | %.3g |\n",
                before, after, ch, lo, hi, c->p_value);
        if (!isnan(c->step_pct))
            fprintf(out, "| step over %zu runs | %s (95%% CI %s … %s) |\n",
                    c->step_runs_before + c->step_runs_after, st, slo, shi);
        fputc('\n', out);
        print_unverified(r, c, md, out);
        return;
    }
    fprintf(out, "culprit %zu: %s\n", k, id_of(r, c->commit));
    fprintf(out, "  subject: %s\n  author:  %s\n", subject_of(r, c->commit),
            author_of(r, c->commit));
    fprintf(out, "  parent:  %s\n", id_of(r, c->parent));
    fprintf(out, "  %s -> %s   %s (95%% CI %s .. %s)   p = %.3g\n", before, after, ch, lo, hi,
            c->p_value);
    if (!isnan(c->step_pct))
        fprintf(out,
                "  step over all %zu runs (%zu on the parent's side, %zu on the culprit's): %s "
                "(95%% CI %s .. %s)\n",
                c->step_runs_before + c->step_runs_after, c->step_runs_before, c->step_runs_after,
                st, slo, shi);
    print_unverified(r, c, md, out);
    fputc('\n', out);
}

/* A machine busy with other work while the benchmark ran: say so first. */
static void print_busy(const run_report *r, int md, FILE *out)
{
    double share = pb_pressure_share(&r->orc->pressure);
    if (!(share >= PB_PRESSURE_BUSY) || r->orc->fresh_runs == 0) /* nothing measured now */
        return;
    fprintf(out,
            md ? "> **Warning:** for %.0f%% of the benchmark's run time a task was waiting for a "
                 "CPU (Linux CPU pressure): other work competed with it (or it runs more busy "
                 "threads than there are CPUs), so its timings are suspect. Rerun on a quiet "
                 "machine.\n\n"
               : "warning: for %.0f%% of the benchmark's run time a task was waiting for a CPU\n"
                 "  (Linux CPU pressure): other work competed with it (or it runs more busy\n"
                 "  threads than there are CPUs), so its timings are suspect; rerun on a quiet "
                 "machine\n\n",
            100 * share);
}

static void print_human(const run_report *r, int md, FILE *out)
{
    const pb_bisect_result *res = r->result;
    char gm[32], bm[32], change[64] = "";
    fmt_value(gm, sizeof gm, r, res->good_median, res->good_median);
    fmt_value(bm, sizeof bm, r, res->bad_median, res->good_median);
    if (isfinite(res->total_change_pct) && isfinite(res->total_p_value))
        snprintf(change, sizeof change, "%s(%+.2f%%, p = %.3g)", md ? " " : "  ",
                 res->total_change_pct, res->total_p_value);
    if (md)
        fprintf(out,
                "## perfbisect: %s\n\n%s\n\n- good `%.12s`: median %s\n- bad `%.12s`: "
                "median %s%s\n\n",
                pb_bisect_verdict_name(res->verdict), res->reason, r->good, gm, r->bad, bm, change);
    else
        fprintf(out, "verdict: %s\n  %s\n  good %.12s  median %s\n  bad  %.12s  median %s%s\n\n",
                pb_bisect_verdict_name(res->verdict), res->reason, r->good, gm, r->bad, bm, change);
    print_busy(r, md, out);
    if (r->higher_is_better && res->nculprits)
        fprintf(out,
                "%s(--higher-is-better: a change is + when worse, i.e. when the metric "
                "drops)\n\n",
                md ? "" : "  ");
    for (size_t i = 0; i < res->nculprits; i++)
        print_culprit(r, &res->culprits[i], i + 1, md, out);
    if (res->ncandidates) {
        fprintf(out, md ? "Skipped or undecided commits make the first bad commit ambiguous; it "
                          "is one of:\n\n"
                        : "the first bad commit is one of (skipped or undecided commits hide "
                          "which):\n");
        for (size_t i = 0; i < res->ncandidates; i++)
            if (md) {
                fprintf(out, "- `%s` ", id_of(r, res->candidates[i]));
                pb_cli_md_cell(out, subject_of(r, res->candidates[i]));
                fputc('\n', out);
            } else {
                fprintf(out, "  %s %s\n", id_of(r, res->candidates[i]),
                        subject_of(r, res->candidates[i]));
            }
        fputc('\n', out);
    }
    if (res->verdict == PB_VERDICT_GRADUAL)
        fprintf(out, "%sgradual slowdown from %.12s to %.12s: %+.3f%% per commit%s\n\n",
                md ? "**" : "", id_of(r, res->gradual_first), id_of(r, res->gradual_last),
                res->gradual_slope_pct, md ? "**" : "");
    if (r->profile_before && r->profile_after) {
        fprintf(out, md ? "**Where the time went** (self share, parent → culprit):\n\n"
                        : "where the time went (self share, parent -> culprit):\n");
        size_t shown = 0;
        for (size_t i = 0; i < r->ngrowth && r->growth[i].self_delta > 0; i++) {
            /* Many functions are compared: only a growth far beyond the
             * sampling noise of the two shares is one. */
            if (!(r->growth[i].z >= PROFILE_GROWTH_Z))
                continue;
            fprintf(out,
                    md ? "- `%s`: %.1f%% → %.1f%% (%+.1f points)\n"
                       : "  %-40s %5.1f%% -> %5.1f%%  %+.1f points\n",
                    r->growth[i].name, r->growth[i].self_before, r->growth[i].self_after,
                    r->growth[i].self_delta);
            shown++;
        }
        if (!shown)
            fprintf(out, "%sno function's share grew beyond the sampling noise (z >= %g)\n",
                    md ? "" : "  ", PROFILE_GROWTH_Z);
        fprintf(out, md ? "\nProfiles: `%s`, `%s`\n\n" : "  (perfprof diff %s %s)\n\n",
                r->profile_before, r->profile_after);
    }
    fprintf(out, md ? "| # | commit | state | runs | median |\n|---|---|---|---|---|\n"
                    : "probes:\n    #  commit        state    runs  median\n");
    for (size_t i = 0; i < res->nprobes; i++) {
        const pb_bisect_probe *p = &res->probes[i];
        char med[32];
        fmt_value(med, sizeof med, r, p->median, res->good_median);
        fprintf(out, md ? "| %zu | `%.12s` | %s | %zu | %s |\n" : "  %3zu  %.12s  %-7s %5zu  %s\n",
                i + 1, id_of(r, p->commit), pb_probe_state_name(p->state), p->runs, med);
    }
    fprintf(out, "\nbuilds: %zu, benchmark runs: %zu (%zu measured now, %zu from the store)\n",
            r->orc->builds, res->bench_runs, r->orc->fresh_runs, r->orc->cached_runs);
}

int run_report_print(const run_report *r, pb_format format, FILE *out, pb_error *err)
{
    if (format == PB_FORMAT_JSON)
        return print_json(r, out, err);
    print_human(r, format == PB_FORMAT_MARKDOWN, out);
    return 0;
}

static void log_line(pb_store *store, const char *session, pb_buf *line)
{
    pb_store_log_append(store, session, pb_buf_cstr(line), NULL);
    pb_buf_clear(line);
}

void run_report_log(const run_report *r, pb_store *store, const char *session)
{
    const pb_bisect_result *res = r->result;
    pb_buf line = PB_BUF_INIT;
    size_t n = r->range->n;
    pb_store_log_clear(store, session, NULL);
    pb_buf_printf(&line, "git bisect start '%s' '%s'", r->bad, r->good);
    log_line(store, session, &line);
    pb_buf_printf(&line, "# good: [%s] %s", r->good, subject_of(r, n));
    log_line(store, session, &line);
    pb_buf_printf(&line, "git bisect good %s", r->good);
    log_line(store, session, &line);
    pb_buf_printf(&line, "# bad: [%s] %s", r->bad, subject_of(r, n - 1));
    log_line(store, session, &line);
    pb_buf_printf(&line, "git bisect bad %s", r->bad);
    log_line(store, session, &line);
    for (size_t i = 0; i < res->nprobes; i++) {
        const pb_bisect_probe *p = &res->probes[i];
        if (p->commit >= n - 1)
            continue; /* the endpoints are logged above */
        const char *state = pb_probe_state_name(p->state);
        pb_buf_printf(&line, "# %s: [%s] %s (%zu runs)", state, id_of(r, p->commit),
                      subject_of(r, p->commit), p->runs);
        log_line(store, session, &line);
        if (p->state != PB_PROBE_UNKNOWN) {
            pb_buf_printf(&line, "git bisect %s %s", state, id_of(r, p->commit));
            log_line(store, session, &line);
        }
    }
    for (size_t i = 0; i < res->nculprits; i++) {
        pb_buf_printf(&line, "# first bad commit: [%s] %s", id_of(r, res->culprits[i].commit),
                      subject_of(r, res->culprits[i].commit));
        log_line(store, session, &line);
    }
    pb_buf_printf(&line, "# verdict: %s: %s", pb_bisect_verdict_name(res->verdict), res->reason);
    log_line(store, session, &line);
    pb_buf_free(&line);
}
