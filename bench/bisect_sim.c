/*
 * bisect_sim — the bisection's goal scenario, simulated with the fake oracle.
 *
 *   bisect_sim [SEEDS] [key=value ...]
 *
 * A linear history of 1024 candidates with a 3% step at a random position
 * per seed, 5% log-normal noise and 3% outlier runs (x3). For SEEDS seeds
 * (default 20) it prints how many culprits perfbisect's search got right,
 * its mean and worst runs and builds, and the same for a naive `git bisect
 * run` with a 5-run median against the midpoint of the endpoints' 5-run
 * medians. The goal: >= 19/20 right, <= 400 runs and <= 16 builds on average.
 *
 * key=value overrides the scenario (n, step, noise, outliers, mult: in %
 * except mult; drift: % slower per 1000 runs; runs, max_runs, alpha) or the search's knobs of
 * lib/bisect_tune.h (conf, stop, vmass, eruns, emax, futility, refk, batch, vruns, pcap, firstk,
 * strict, reject, onesided, shape) for tuning; ideal=1 adds a floor for the search with
 * both levels known (see ideal()), ideal=2 an idealised search with the levels learned
 * from every run (ideal_unknown(), its endpoints measured n0=4 times first); both stop at
 * `stop`.
 * verbose=1 prints one line per seed (and the probes of wrong ones), verbose=2 the probes
 * of every seed.
 */
#include "perfbisect/bisect.h"
#include "perfbisect/stats.h"

#include "bisect_fake.h"
#include "bisect_tune.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct scenario {
    size_t n;
    double step_pct, noise, outliers, mult, drift;
    int verbose, ideal;
    unsigned ideal_n0; /* ideal=2: the endpoints' runs before the search */
} scenario;

typedef struct tally {
    size_t right, runs, builds, max_runs, max_builds;
} tally;

static void count(tally *t, int right, size_t runs, size_t builds)
{
    t->right += right != 0;
    t->runs += runs;
    t->builds += builds;
    if (runs > t->max_runs)
        t->max_runs = runs;
    if (builds > t->max_builds)
        t->max_builds = builds;
}

static void setup(pb_fake *f, const scenario *sc, size_t step, uint64_t seed)
{
    if (pb_fake_init(f, sc->n, seed) < 0) {
        fprintf(stderr, "bisect_sim: out of memory\n");
        exit(2);
    }
    f->noise = sc->noise;
    f->outlier_rate = sc->outliers;
    f->outlier_mult = sc->mult;
    f->drift = log(1 + sc->drift / 100) / 1000;
    pb_fake_step(f, step, log(1 + sc->step_pct / 100));
}

static double median5(pb_fake *f, size_t c, unsigned runs)
{
    const double *v = NULL;
    size_t n = 0;
    if (pb_fake_measure(f, c, runs, &v, &n, NULL) != 0)
        return NAN;
    return pb_stats_median(v + n - runs, runs);
}

/* git bisect run with a script: median of 5 runs above the midpoint = bad. */
static size_t naive(pb_fake *f, size_t n)
{
    double g = median5(f, n, 5), b = median5(f, n - 1, 5);
    double thr = (g + b) / 2;
    size_t lo = 0, hi = n - 1; /* first bad is in lo..hi */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (median5(f, mid, 5) > thr)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/*
 * The step both ideals share, over logp[k] = log P(data | first bad = k):
 * 1 when one commit holds `stop` of the posterior (*top). Otherwise the
 * next measurement: the commit whose "bad" mass is nearest a half, 4 runs
 * first, then one at a time at *cur while its mass stays within 0.1..0.9.
 * *mx and *sum normalise logp.
 */
static int next_probe(const pb_fake *f, const double *logp, size_t n, double stop, size_t *cur,
                      unsigned *runs, size_t *top, double *mx, double *sum)
{
    double best = 2, mass_cur = -1, cum = 0;
    size_t mid = 0;
    *mx = -INFINITY;
    *sum = 0;
    for (size_t k = 0; k < n; k++)
        if (logp[k] > *mx) {
            *mx = logp[k];
            *top = k;
        }
    for (size_t k = 0; k < n; k++)
        *sum += exp(logp[k] - *mx);
    if (1 / *sum >= stop)
        return 1;
    for (size_t c = 0; c + 1 < n; c++) {
        cum += exp(logp[c] - *mx) / *sum; /* P(c is bad) = P(k <= c) */
        if (fabs(cum - 0.5) < best) {
            best = fabs(cum - 0.5);
            mid = c;
        }
        if (c == *cur)
            mass_cur = cum;
    }
    *runs = 1;
    if (*cur == SIZE_MAX || !(mass_cur > 0.1 && mass_cur < 0.9)) {
        *runs = f->nvals[mid] ? 1 : 4;
        *cur = mid;
    }
    return 0;
}

/*
 * A lower bound for the search alone: probabilistic bisection that knows
 * both levels, the noise and the outlier model (the likelihood of a run is
 * exact), so it needs no endpoints and no verification. It measures the
 * commit whose "bad" mass is nearest a half, 4 runs first and then one at a
 * time while that mass stays within 0.1..0.9 (fewer moves, fewer builds),
 * and stops when one commit holds `stop`, as perfbisect's search does. What
 * perfbisect pays beyond it is the price of learning the levels and of
 * deciding in batches. Returns the first bad commit it settles on.
 */
static size_t ideal(pb_fake *f, const scenario *sc, double stop, double *logp)
{
    size_t n = sc->n, cur = SIZE_MAX;
    double mu1 = log(1 + sc->step_pct / 100), s2 = sc->noise * sc->noise;
    double lm = log(sc->mult), r = sc->outliers;
    for (size_t k = 0; k < n; k++)
        logp[k] = 0; /* k: the first bad commit; n - 1 (bad) is bad under all */
    for (;;) {
        double mx, sum;
        size_t top = 0;
        unsigned runs;
        if (next_probe(f, logp, n, stop, &cur, &runs, &top, &mx, &sum))
            return top;
        const double *v = NULL;
        size_t nv = 0;
        if (pb_fake_measure(f, cur, runs, &v, &nv, NULL) != 0)
            return SIZE_MAX;
        for (size_t i = nv - runs; i < nv; i++) {
            double y = log(v[i] / f->base), ll[2];
            for (int bad = 0; bad < 2; bad++) {
                double d0 = y - (bad ? mu1 : 0), d1 = d0 - lm;
                ll[bad] = log((1 - r) * exp(-d0 * d0 / (2 * s2)) + r * exp(-d1 * d1 / (2 * s2)));
            }
            for (size_t k = 0; k < n; k++)
                logp[k] += ll[k <= cur];
        }
    }
}

/* Sums of commit c's runs, as logs over base, within 4 sigmas of their
 * median (the outliers left out, as perfbisect leaves them out). */
typedef struct ksums {
    double m, s, q;
} ksums;

static ksums kept(const pb_fake *f, size_t c, double sigma)
{
    ksums o = {0, 0, 0};
    size_t nv = f->nvals[c];
    if (nv == 0)
        return o;
    double *y = malloc(nv * sizeof(double));
    if (!y)
        exit(2);
    for (size_t i = 0; i < nv; i++)
        y[i] = log(f->vals[c][i] / f->base);
    double med = pb_stats_median(y, nv);
    for (size_t i = 0; i < nv; i++)
        if (fabs(y[i] - med) <= 4 * sigma) {
            o.m += 1;
            o.s += y[i];
            o.q += y[i] * y[i];
        }
    free(y);
    return o;
}

/* log of the flat-prior marginal of a group of runs around one level. */
static double group_ll(const ksums *g, double s2)
{
    return g->m > 0 ? -(g->q - g->s * g->s / g->m) / (2 * s2) - 0.5 * log(g->m) : 0;
}

/*
 * The same search as ideal(), but with both levels unknown (flat priors,
 * learned from every run, the endpoints' `n0` each and the probes'): what
 * the search alone costs when no test is made between the ends and nothing
 * is verified. Only the noise is known. Measuring the probe alone would not
 * do: its evidence stops growing once it has more runs than the level it
 * is told from (a commit measured 10,000 times at P(bad) 0.8 showed it), so
 * the endpoints get runs too. Returns the first bad commit it settles on.
 */
static size_t ideal_unknown(pb_fake *f, const scenario *sc, double stop, double *logp, unsigned n0)
{
    size_t n = sc->n, cur = SIZE_MAX;
    double sigma = sc->noise, s2 = sigma * sigma;
    ksums *cs = calloc(n + 1, sizeof(ksums));
    const double *v = NULL;
    size_t nv = 0;
    if (!cs || pb_fake_measure(f, n, n0, &v, &nv, NULL) != 0 ||
        pb_fake_measure(f, n - 1, n0, &v, &nv, NULL) != 0)
        exit(2);
    cs[n] = kept(f, n, sigma);
    cs[n - 1] = kept(f, n - 1, sigma);
    for (;;) {
        /* Under k (the first bad commit) the good group is good and the
         * commits below k, the bad group the others: prefix sums. */
        ksums all = cs[n], below = cs[n];
        for (size_t c = 0; c < n; c++) {
            all.m += cs[c].m;
            all.s += cs[c].s;
            all.q += cs[c].q;
        }
        for (size_t k = 0; k < n; k++) {
            ksums bad = {all.m - below.m, all.s - below.s, all.q - below.q};
            logp[k] = group_ll(&below, s2) + group_ll(&bad, s2);
            below.m += cs[k].m;
            below.s += cs[k].s;
            below.q += cs[k].q;
        }
        double mx, sum;
        size_t top = 0;
        unsigned runs;
        if (next_probe(f, logp, n, stop, &cur, &runs, &top, &mx, &sum)) {
            free(cs);
            return top;
        }
        /* A probe is told from the levels only as well as they are known:
         * once it has more runs than the likelier side of either level
         * (the runs of the commits on that side, itself left out), that
         * side's endpoint gets the run instead. */
        size_t at = cur;
        if (runs == 1) {
            double side[2] = {cs[n].m, cs[n - 1].m}, cm = 0;
            for (size_t c = 0; c + 1 < n; c++) {
                cm += exp(logp[c] - mx) / sum;
                if (c != cur && cs[c].m > 0)
                    side[cm >= 0.5] += cs[c].m;
            }
            if (cs[cur].m >= side[0] || cs[cur].m >= side[1])
                at = side[0] <= side[1] ? n : n - 1;
        }
        if (pb_fake_measure(f, at, runs, &v, &nv, NULL) != 0)
            exit(2);
        cs[at] = kept(f, at, sigma);
    }
}

static int parse_kv(const char *arg, scenario *sc, pb_bisect_options *o, pb_bisect_tuning *t)
{
    const char *eq = strchr(arg, '=');
    char *end;
    if (!eq)
        return -1;
    size_t kl = (size_t)(eq - arg);
    double v = strtod(eq + 1, &end);
    if (*end || end == eq + 1)
        return -1;
#define KEY(k) (kl == strlen(k) && strncmp(arg, k, kl) == 0)
    if (KEY("n") && v >= 2)
        sc->n = (size_t)v;
    else if (KEY("step"))
        sc->step_pct = v;
    else if (KEY("noise"))
        sc->noise = v / 100;
    else if (KEY("outliers"))
        sc->outliers = v / 100;
    else if (KEY("mult"))
        sc->mult = v;
    else if (KEY("drift"))
        sc->drift = v;
    else if (KEY("ideal") && (v == 0 || v == 1 || v == 2))
        sc->ideal = (int)v;
    else if (KEY("n0") && v >= 1)
        sc->ideal_n0 = (unsigned)v;
    else if (KEY("verbose"))
        sc->verbose = (int)v;
    else if (KEY("runs") && v >= 1)
        o->runs = (unsigned)v;
    else if (KEY("max_runs") && v >= 1)
        o->max_runs = (unsigned)v;
    else if (KEY("alpha"))
        o->alpha = v;
    else if (KEY("conf"))
        t->probe_conf = v;
    else if (KEY("stop"))
        t->stop_mass = v;
    else if (KEY("eruns"))
        t->endpoint_runs = (unsigned)v;
    else if (KEY("batch"))
        t->batch = (unsigned)v;
    else if (KEY("vruns"))
        t->verify_runs = (unsigned)v;
    else if (KEY("reject"))
        t->reject_z = v;
    else if (KEY("emax"))
        t->endpoint_max = (unsigned)v;
    else if (KEY("refk"))
        t->ref_k = v;
    else if (KEY("pcap"))
        t->probe_cap = (unsigned)v;
    else if (KEY("firstk"))
        t->first_k = v;
    else if (KEY("vmass"))
        t->verify_mass = v;
    else if (KEY("futility"))
        t->futility = v;
    else if (KEY("shape"))
        t->look_shape = v;
    else if (KEY("onesided"))
        t->one_sided = (int)v;
    else if (KEY("guard"))
        o->drift_guard = (int)v;
    else if (KEY("driftmodel"))
        t->drift = v;
    else if (KEY("refevery"))
        t->ref_every = (unsigned)v;
    else if (KEY("strict"))
        t->strict_factor = v;
    else
        return -1;
#undef KEY
    return 0;
}

int main(int argc, char **argv)
{
    scenario sc = {1024, 3, 0.05, 0.03, 3, 0, 0, 0, 4};
    pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
    pb_bisect_tuning t;
    size_t seeds = 20;
    tally ours = {0}, base = {0}, known = {0};
    size_t by_order[24] = {0}, by_order_n[24] = {0}, by_order_unknown[24] = {0};
    size_t verdicts[4] = {0}, phase_runs[2] = {0}, nunknown = 0, nprobes = 0, nwrong = 0;
    size_t decided_runs = 0, ndecided = 0, distinct = 0;
    pb_bisect_tuning_init(&t);
    for (int i = 1; i < argc; i++) {
        char *end;
        if (i == 1 && !strchr(argv[i], '=')) {
            unsigned long v = strtoul(argv[i], &end, 10);
            if (*end || v == 0 || v > 100000) {
                fprintf(stderr, "bisect_sim: bad seed count '%s'\n", argv[i]);
                return 2;
            }
            seeds = v;
        } else if (parse_kv(argv[i], &sc, &o, &t) < 0) {
            fprintf(stderr, "bisect_sim: bad argument '%s'\n", argv[i]);
            return 2;
        }
    }
    double *logp = malloc(sc.n * sizeof(double));
    size_t nodes_n = sc.n;
    size_t *parents;
    pb_bisect_node *nodes = pb_fake_linear(nodes_n, &parents);
    if (!nodes || !logp) {
        fprintf(stderr, "bisect_sim: out of memory\n");
        return 2;
    }
    for (size_t s = 0; s < seeds; s++) {
        pb_rng pick;
        pb_rng_seed(&pick, 1000 + s);
        size_t step = (size_t)pb_rng_below(&pick, sc.n);
        pb_fake f;
        pb_bisect_result r;
        pb_error err = PB_ERROR_INIT;

        setup(&f, &sc, step, 7 * s + 1);
        pb_bisect_oracle orc = pb_fake_oracle(&f);
        o.seed = s;
        if (pb_bisect_run_tuned(nodes, sc.n, &o, &t, &orc, &r, &err) < 0) {
            fprintf(stderr, "bisect_sim: %s\n", pb_error_message(&err));
            return 2;
        }
        int right =
            r.verdict == PB_VERDICT_REGRESSION && r.nculprits >= 1 && r.culprits[0].commit == step;
        count(&ours, right, r.bench_runs, f.builds);
        for (size_t c = 0; c <= sc.n; c++)
            distinct += f.nvals[c] > 0;
        for (size_t q = 0; q < r.nprobes; q++) {
            size_t *slot = q < 2 ? &phase_runs[0] : &phase_runs[1];
            *slot += r.probes[q].runs;
            nunknown += r.probes[q].state == PB_PROBE_UNKNOWN;
            nprobes += q >= 2;
            /* How often a decided probe is on the wrong side of the step. */
            if (q >= 2 &&
                (r.probes[q].state == PB_PROBE_GOOD || r.probes[q].state == PB_PROBE_BAD)) {
                nwrong += (r.probes[q].state == PB_PROBE_BAD) != (r.probes[q].commit >= step);
                decided_runs += r.probes[q].runs;
                ndecided++;
            }
            if (q < 24) {
                by_order[q] += r.probes[q].runs;
                by_order_n[q]++;
                by_order_unknown[q] += r.probes[q].state == PB_PROBE_UNKNOWN;
            }
        }
        verdicts[r.verdict]++;

        if (sc.verbose) {
            printf("seed %3zu step %4zu: %-12s", s, step, pb_bisect_verdict_name(r.verdict));
            for (size_t c = 0; c < r.nculprits; c++)
                printf(" %zu(%+.1f%% p=%.2g post=%.3f)", r.culprits[c].commit,
                       r.culprits[c].change_pct, r.culprits[c].p_value, r.culprits[c].posterior);
            printf(" runs %zu builds %zu probes %zu%s\n", r.bench_runs, f.builds, r.nprobes,
                   right ? "" : "  WRONG");
            if (sc.verbose > 1 || (sc.verbose && !right)) {
                printf("   reason: %s\n   probes:", r.reason);
                for (size_t q = 0; q < r.nprobes; q++)
                    printf(" %zu:%s/%zu", r.probes[q].commit,
                           pb_probe_state_name(r.probes[q].state), r.probes[q].runs);
                printf("\n");
            }
        }
        pb_bisect_result_free(&r);
        pb_fake_free(&f);

        setup(&f, &sc, step, 7 * s + 1);
        size_t got = naive(&f, sc.n);
        count(&base, got == step, f.runs, f.builds);
        pb_fake_free(&f);

        if (sc.ideal) {
            setup(&f, &sc, step, 7 * s + 1);
            got = sc.ideal == 2 ? ideal_unknown(&f, &sc, t.stop_mass, logp, sc.ideal_n0)
                                : ideal(&f, &sc, t.stop_mass, logp);
            count(&known, got == step, f.runs, f.builds);
            pb_fake_free(&f);
        }
    }
    printf("scenario: %zu commits, %+.1f%% step, %.1f%% log-normal noise, %.1f%% outliers x%.0f, "
           "runs %u, max-runs %u, alpha %g\n",
           sc.n, sc.step_pct, sc.noise * 100, sc.outliers * 100, sc.mult, o.runs, o.max_runs,
           o.alpha);
    printf("perfbisect: %zu/%zu right, runs mean %.1f max %zu, builds mean %.1f max %zu "
           "(verdicts: %zu regression, %zu gradual, %zu none, %zu inconclusive)\n",
           ours.right, seeds, (double)ours.runs / (double)seeds, ours.max_runs,
           (double)ours.builds / (double)seeds, ours.max_builds, verdicts[0], verdicts[1],
           verdicts[2], verdicts[3]);
    printf("  mean runs: endpoints %.1f, %.1f probes of %.1f runs (%.2f unknown), verification and "
           "rest %.1f\n",
           (double)phase_runs[0] / (double)seeds, (double)nprobes / (double)seeds,
           (double)phase_runs[1] / (double)(nprobes ? nprobes : 1),
           (double)nunknown / (double)seeds,
           (double)(ours.runs - phase_runs[0] - phase_runs[1]) / (double)seeds);
    printf("  decided probes: %.1f runs each, %zu of %zu wrong; %.1f commits measured\n",
           (double)decided_runs / (double)(ndecided ? ndecided : 1), nwrong, ndecided,
           (double)distinct / (double)seeds);
    if (sc.verbose) {
        printf("  runs by probe order:");
        for (size_t q = 0; q < 24 && by_order_n[q]; q++)
            printf(" %.0f(%zu%%u)", (double)by_order[q] / (double)by_order_n[q],
                   100 * by_order_unknown[q] / by_order_n[q]);
        printf("\n");
    }
    printf("naive git bisect (5-run median vs midpoint): %zu/%zu right, runs mean %.1f, builds "
           "mean %.1f\n",
           base.right, seeds, (double)base.runs / (double)seeds,
           (double)base.builds / (double)seeds);
    if (sc.ideal)
        printf("search with the levels %s (batch 1, no endpoints' test, no verification): %zu/%zu "
               "right, runs mean %.1f, builds mean %.1f\n",
               sc.ideal == 2 ? "learned from every run" : "known", known.right, seeds,
               (double)known.runs / (double)seeds, (double)known.builds / (double)seeds);
    free(logp);
    free(nodes);
    free(parents);
    return 0;
}
