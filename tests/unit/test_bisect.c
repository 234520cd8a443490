/*
 * test_bisect.c — the statistical search against a fake oracle
 * (lib/bisect_fake.h): every value comes from a seeded pb_rng, so each case
 * is reproducible and runs in milliseconds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "perfbisect/bisect.h"
#include "perfbisect/stats.h"

#include "bisect_fake.h"
#include "bisect_tune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct linear {
    pb_bisect_node *nodes;
    size_t *parents;
    size_t n;
} linear;

static void linear_make(linear *l, size_t n)
{
    l->n = n;
    l->nodes = pb_fake_linear(n, &l->parents);
    assert_non_null(l->nodes);
}

static void linear_free(linear *l)
{
    free(l->nodes);
    free(l->parents);
}

/* Build with -DSEED_OFFSET=k to try the cases on other random values. */
#ifndef SEED_OFFSET
#define SEED_OFFSET 0
#endif

/* A fake with a quiet benchmark: 2% noise, 3% outlier runs (x3). */
static void fake_quiet(pb_fake *f, size_t n, uint64_t seed)
{
    assert_int_equal(pb_fake_init(f, n, seed + SEED_OFFSET), 0);
    f->noise = 0.02;
    f->outlier_rate = 0.03;
    f->outlier_mult = 3;
}

/* bench/bisect_sim's scenario: 5% noise, 3% outliers (x3), one step of `factor` at `step`. */
static void fake_noisy(pb_fake *f, size_t n, uint64_t seed, size_t step, double factor)
{
    fake_quiet(f, n, seed);
    f->noise = 0.05;
    pb_fake_step(f, step, log(factor));
}

/* A bisection against the fake, with the knobs of `t` (NULL: the defaults). */
static int run_tuned(const pb_bisect_node *nodes, size_t n, pb_fake *f, const pb_bisect_options *o,
                     const pb_bisect_tuning *t, pb_bisect_result *r)
{
    pb_bisect_oracle orc = pb_fake_oracle(f);
    pb_error err = PB_ERROR_INIT;
    if (!t)
        return pb_bisect_run(nodes, n, o, &orc, r, &err);
    return pb_bisect_run_tuned(nodes, n, o, t, &orc, r, &err);
}

static int run(const pb_bisect_node *nodes, size_t n, pb_fake *f, const pb_bisect_options *o,
               pb_bisect_result *r)
{
    return run_tuned(nodes, n, f, o, NULL, r);
}

static int has_candidate(const pb_bisect_result *r, size_t commit)
{
    for (size_t i = 0; i < r->ncandidates; i++)
        if (r->candidates[i] == commit)
            return 1;
    return 0;
}

/* A linear history of n with two steps of `factor` at s1 < s2, searched. */
static void two_steps(size_t n, uint64_t seed, double noise, size_t s1, size_t s2, double factor,
                      const pb_bisect_options *o, pb_bisect_result *r)
{
    linear l;
    pb_fake f;
    linear_make(&l, n);
    fake_quiet(&f, n, seed);
    f.noise = noise;
    pb_fake_step(&f, s1, log(factor));
    pb_fake_step(&f, s2, log(factor));
    assert_int_equal(run(l.nodes, l.n, &f, o, r), 0);
    pb_fake_free(&f);
    linear_free(&l);
}

/* A 10% step at `step` of 64 commits is found exactly, verified, reported.
 * Returns whether the step's 95% interval over all runs holds the 10%. */
static int check_single_step(size_t step, uint64_t seed)
{
    linear l;
    pb_fake f;
    pb_bisect_result r;
    pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
    linear_make(&l, 64);
    fake_quiet(&f, 64, seed);
    pb_fake_step(&f, step, log(1.10));
    assert_int_equal(run(l.nodes, l.n, &f, &o, &r), 0);
    assert_int_equal(r.verdict, PB_VERDICT_REGRESSION);
    assert_int_equal(r.nculprits, 1);
    assert_int_equal(r.culprits[0].commit, step);
    assert_int_equal(r.culprits[0].parent, step == 0 ? 64 : step - 1);
    /* The fresh runs see about +10%, significantly. */
    assert_true(r.culprits[0].change_pct > 5 && r.culprits[0].change_pct < 15);
    assert_true(r.culprits[0].ci_lo < r.culprits[0].change_pct);
    assert_true(r.culprits[0].ci_hi > r.culprits[0].change_pct);
    assert_true(r.culprits[0].p_value < 0.01);
    assert_true(r.culprits[0].posterior >= 0.99);
    /* The step over all runs: every run is on one side of it. */
    int covers = r.culprits[0].step_lo < 10 && r.culprits[0].step_hi > 10;
    assert_true(r.culprits[0].step_lo < r.culprits[0].step_pct &&
                r.culprits[0].step_pct < r.culprits[0].step_hi);
    assert_int_equal(r.culprits[0].step_runs_before + r.culprits[0].step_runs_after, r.bench_runs);
    assert_true(r.total_change_pct > 5 && r.total_p_value < 0.01);
    assert_int_equal(r.ncandidates, 0);
    /* The endpoints come first: good, then bad. */
    assert_true(r.nprobes >= 3);
    assert_int_equal(r.probes[0].commit, 64);
    assert_int_equal(r.probes[0].state, PB_PROBE_GOOD);
    assert_int_equal(r.probes[1].commit, 63);
    assert_int_equal(r.probes[1].state, PB_PROBE_BAD);
    /* Runs asked = runs the fake gave. */
    assert_int_equal(r.bench_runs, f.runs);
    pb_bisect_result_free(&r);
    pb_fake_free(&f);
    linear_free(&l);
    return covers;
}

static void test_bisect__single_step_middle(void **state)
{
    (void)state;
    check_single_step(37, 1);
}

static void test_bisect__single_step_first_candidate(void **state)
{
    (void)state;
    check_single_step(0, 2);
}

static void test_bisect__single_step_last_candidate(void **state)
{
    (void)state;
    check_single_step(63, 3);
}

static void test_bisect__single_step_many_positions(void **state)
{
    (void)state;
    const size_t steps[] = {1, 12, 31, 32, 37, 50, 62};
    size_t n = sizeof steps / sizeof steps[0], covered = 0;
    for (size_t i = 0; i < n; i++)
        covered += check_single_step(steps[i], 10 + i) != 0;
    /* A 95% interval misses now and then: fewer than 5 of 7 holding the
     * step has probability 0.0038 (binomial, p = 0.95). */
    assert_true(covered >= 5);
}

/* The fewest runs a probe (not an endpoint) started with. */
static size_t fewest_probe_runs(const pb_bisect_result *r, size_t n)
{
    size_t fewest = SIZE_MAX;
    for (size_t q = 0; q < r->nprobes; q++)
        if (r->probes[q].commit < n - 1 && r->probes[q].runs < fewest)
            fewest = r->probes[q].runs;
    return fewest;
}

/*
 * A 10% step in 2% noise is decided in a few runs a probe: probes start with
 * 5, not --runs, and the bisection takes fewer runs than with every probe
 * starting at --runs (the same seed). A 3% step in 5% noise starts at --runs.
 */
static void test_bisect__large_change_probes_start_small(void **state)
{
    (void)state;
    linear l;
    pb_bisect_tuning t;
    pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
    size_t runs[2];
    linear_make(&l, 256);
    pb_bisect_tuning_init(&t);
    for (int fixed = 0; fixed < 2; fixed++) {
        pb_fake f;
        pb_bisect_result r;
        fake_quiet(&f, 256, 7);
        pb_fake_step(&f, 100, log(1.10));
        t.first_k = fixed ? 0 : 10;
        assert_int_equal(run_tuned(l.nodes, l.n, &f, &o, &t, &r), 0);
        assert_int_equal(r.verdict, PB_VERDICT_REGRESSION);
        assert_int_equal(r.culprits[0].commit, 100);
        assert_int_equal(fewest_probe_runs(&r, l.n), fixed ? o.runs : 5);
        runs[fixed] = r.bench_runs;
        pb_bisect_result_free(&r);
        pb_fake_free(&f);
    }
    assert_true(runs[0] < runs[1]);

    pb_fake f;
    pb_bisect_result r;
    fake_noisy(&f, 256, 7, 100, 1.03);
    assert_int_equal(run(l.nodes, l.n, &f, &o, &r), 0);
    assert_true(fewest_probe_runs(&r, l.n) >= o.runs);
    pb_bisect_result_free(&r);
    pb_fake_free(&f);
    linear_free(&l);
}

/*
 * One 10% step in 1024 commits with 5% noise: a probe whose first runs look
 * between the two levels by chance, or a culprit that looks better than bad,
 * must not send the search after a second step that is not there (these
 * seeds once cost 50 and 27 probes, most of them at max_runs).
 */
/*
 * A 3% step in 5% noise (the simulator's scenario): the verification's 20
 * fresh runs a side rarely show it by themselves, but the step over every
 * run of the search does, with an interval that holds the truth.
 */
static void test_bisect__small_step_shows_over_all_runs(void **state)
{
    (void)state;
    linear l;
    size_t holds = 0, fresh_significant = 0, seeds = 10;
    linear_make(&l, 1024);
    for (uint64_t seed = 1; seed <= seeds; seed++) {
        pb_fake f;
        pb_bisect_result r;
        pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
        size_t step = (size_t)(seed * 97 % 1024);
        fake_noisy(&f, 1024, seed, step, 1.03);
        assert_int_equal(run(l.nodes, l.n, &f, &o, &r), 0);
        assert_int_equal(r.verdict, PB_VERDICT_REGRESSION);
        assert_true(r.nculprits >= 1);
        const pb_bisect_culprit *c = &r.culprits[0];
        assert_true(c->step_lo > 0); /* significant over all runs */
        holds += c->commit == step && c->step_lo < 3 && c->step_hi > 3;
        fresh_significant += c->p_value < o.alpha;
        pb_bisect_result_free(&r);
        pb_fake_free(&f);
    }
    assert_true(holds >= seeds - 2);
    assert_true(fresh_significant < seeds / 2);
    linear_free(&l);
}

static void test_bisect__chance_intermediate_costs_no_second_search(void **state)
{
    (void)state;
    const size_t steps[] = {465, 162};
    const uint64_t seeds[] = {1, 8};
    linear l;
    linear_make(&l, 1024);
    for (size_t i = 0; i < 2; i++) {
        pb_fake f;
        pb_bisect_result r;
        pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
        o.seed = i;
        fake_noisy(&f, 1024, seeds[i], steps[i], 1.10);
        assert_int_equal(run(l.nodes, l.n, &f, &o, &r), 0);
        assert_int_equal(r.verdict, PB_VERDICT_REGRESSION);
        assert_int_equal(r.nculprits, 1);
        assert_int_equal(r.culprits[0].commit, steps[i]);
        assert_true(r.nprobes <= 2 + 16);
        pb_bisect_result_free(&r);
        pb_fake_free(&f);
    }
    linear_free(&l);
}

/*
 * The endpoints' looks spend alpha together: one every --runs a side up to
 * 3 * --max-runs, each against the group-sequential bound that makes their
 * joint chance of a false "worse" alpha; not alpha at every look (noise
 * would pass), nor a Bonferroni share (power lost). (Futility stops are off
 * here: they would end a flat history before its last look.)
 */
static void test_bisect__endpoint_looks_spend_all_of_alpha(void **state)
{
    (void)state;
    linear l;
    pb_fake f;
    pb_bisect_result r;
    pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
    pb_bisect_tuning t;
    pb_bisect_tuning_init(&t);
    t.futility = 2;
    o.runs = 10;
    o.max_runs = 20;
    linear_make(&l, 40);
    fake_quiet(&f, 40, 4);
    assert_int_equal(run_tuned(l.nodes, l.n, &f, &o, &t, &r), 0);
    assert_int_equal(r.verdict, PB_VERDICT_NONE);
    /* Looks at 10, 20, ..., 60 runs a side. The bound of shape 0.45 for
     * them at alpha 0.01 is 2.693429 at the last look, p 0.00353606 (scipy
     * 1.10: multivariate_normal.cdf of the six correlated looks, root by
     * brentq). Bonferroni would test at 0.00167, one look at 0.01. */
    assert_non_null(strstr(r.reason, "60 and 60 runs; the last of 6 looks tests at 0.00354)"));
    pb_bisect_result_free(&r);
    pb_fake_free(&f);
    linear_free(&l);
}

/*
 * The looks follow --runs early and --max-runs late, whatever their ratio:
 * with --runs 30 (not a divisor of the 80 of --max-runs) a flat history
 * still stops at 80 or 160 runs a side (it took every look, 240, when the
 * stops were asked only at multiples of --runs); and with --max-runs 1000 a
 * 50% step is seen at the first looks (the looks had been spread evenly to
 * 3000, the first at 130 runs a side).
 */
static void test_bisect__endpoint_looks_follow_runs_and_max_runs(void **state)
{
    (void)state;
    linear l;
    size_t stopped = 0;
    linear_make(&l, 64);
    for (uint64_t seed = 1; seed <= 20; seed++) {
        pb_fake f;
        pb_bisect_result r;
        pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
        o.runs = 30;
        fake_quiet(&f, 64, seed);
        assert_int_equal(run(l.nodes, l.n, &f, &o, &r), 0);
        assert_int_not_equal(r.verdict, PB_VERDICT_REGRESSION);
        if (strstr(r.reason, "no later look")) {
            stopped++;
            assert_true(r.probes[0].runs == 80 || r.probes[0].runs == 160);
        }
        pb_bisect_result_free(&r);
        pb_fake_free(&f);
    }
    assert_true(stopped >= 12);
    for (uint64_t seed = 1; seed <= 5; seed++) {
        pb_fake f;
        pb_bisect_result r;
        pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
        o.max_runs = 1000;
        fake_noisy(&f, 64, seed, 20, 1.5);
        assert_int_equal(run(l.nodes, l.n, &f, &o, &r), 0);
        assert_int_equal(r.verdict, PB_VERDICT_REGRESSION);
        assert_true(r.probes[0].runs <= 40 && r.probes[1].runs <= 40);
        pb_bisect_result_free(&r);
        pb_fake_free(&f);
    }
    linear_free(&l);
}

/*
 * A flat history is not measured to the last look: at --max-runs a look
 * where bad is no worse than good (p above a half) ends it, at twice that
 * one whose p is above 0.2 (H0 makes p about uniform: about half stop at
 * the first, most of the others at the second). Over 30 seeds: most stop
 * so, none before max_runs, no regression is claimed, and the endpoints
 * cost well under two thirds of the runs of taking every look.
 */
static void test_bisect__flat_history_stops_before_the_last_look(void **state)
{
    (void)state;
    linear l;
    size_t runs[2] = {0, 0}, futile = 0;
    linear_make(&l, 64);
    for (int every_look = 0; every_look <= 1; every_look++)
        for (uint64_t seed = 1; seed <= 30; seed++) {
            pb_fake f;
            pb_bisect_result r;
            pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
            pb_bisect_tuning t;
            pb_bisect_tuning_init(&t);
            if (every_look)
                t.futility = 2;
            fake_quiet(&f, 64, seed);
            assert_int_equal(run_tuned(l.nodes, l.n, &f, &o, &t, &r), 0);
            assert_int_not_equal(r.verdict, PB_VERDICT_REGRESSION);
            assert_true(r.nprobes >= 2);
            if (strstr(r.reason, "no later look")) {
                futile++;
                assert_true(r.probes[0].runs >= o.max_runs && r.probes[1].runs >= o.max_runs);
            }
            runs[every_look] += r.probes[0].runs + r.probes[1].runs;
            pb_bisect_result_free(&r);
            pb_fake_free(&f);
        }
    assert_true(futile >= 20);
    assert_true(runs[0] * 3 < runs[1] * 2);
    linear_free(&l);
}

/*
 * A machine slowing down 20% per 1000 runs, a 5% step in 256 commits, 5%
 * noise: measured first, the endpoints make every later probe look slow,
 * and the search blames a commit too early or an extra one at the start
 * (44 of 50 seeds in bench/bisect_sim). With the drift guard it finds the
 * step, alone (49 of 50).
 */
static void test_bisect__drift_guard_finds_the_step_on_a_drifting_machine(void **state)
{
    (void)state;
    const size_t steps[] = {209, 90};
    const uint64_t seeds[] = {1, 22}, search_seeds[] = {0, 3};
    int unguarded_right = 0;
    linear l;
    linear_make(&l, 256);
    for (size_t i = 0; i < 2; i++) {
        for (int guard = 0; guard <= 1; guard++) {
            pb_fake f;
            pb_bisect_result r;
            pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
            o.seed = search_seeds[i];
            o.drift_guard = guard;
            fake_noisy(&f, 256, seeds[i], steps[i], 1.05);
            f.drift = log(1.20) / 1000;
            assert_int_equal(run(l.nodes, l.n, &f, &o, &r), 0);
            int right = r.verdict == PB_VERDICT_REGRESSION && r.nculprits == 1 &&
                        r.culprits[0].commit == steps[i];
            if (guard)
                assert_true(right);
            else
                unguarded_right += right;
            pb_bisect_result_free(&r);
            pb_fake_free(&f);
        }
    }
    /* Without the guard the case is a real one: not both right. */
    assert_true(unguarded_right < 2);
    linear_free(&l);
}

/*
 * The verification's fresh runs are evidence: a search that verifies its
 * likeliest commit once it holds verify_mass (0.85), and goes on with those
 * runs until stop_mass, spends fewer runs than one that verifies only at
 * stop_mass (and also goes on if the verification leaves it short), and is
 * right as often (goal scenario, 40 seeds: 6% fewer runs; 3% fewer in
 * bench/bisect_sim over 1000 seeds).
 */
static void test_bisect__early_verification_saves_runs(void **state)
{
    (void)state;
    enum { SEEDS = 40, N = 1024 };
    size_t runs[2] = {0, 0}, right[2] = {0, 0};
    linear l;
    linear_make(&l, N);
    for (int late = 0; late <= 1; late++) {
        for (uint64_t s = 0; s < SEEDS; s++) {
            pb_fake f;
            pb_bisect_result r;
            pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
            pb_bisect_tuning t;
            pb_bisect_tuning_init(&t);
            if (late)
                t.verify_mass = t.stop_mass;
            o.seed = s;
            size_t step = (size_t)(s * 397 % N);
            fake_noisy(&f, N, 100 + s, step, 1.03);
            assert_int_equal(run_tuned(l.nodes, l.n, &f, &o, &t, &r), 0);
            runs[late] += r.bench_runs;
            right[late] += r.verdict == PB_VERDICT_REGRESSION && r.nculprits >= 1 &&
                           r.culprits[0].commit == step;
            pb_bisect_result_free(&r);
            pb_fake_free(&f);
        }
    }
    printf("early verification: %zu runs, %zu right; late: %zu runs, %zu right\n", runs[0],
           right[0], runs[1], right[1]);
    assert_true(runs[0] < runs[1]);
    assert_true(right[0] >= right[1]);
    assert_true(right[0] >= SEEDS - 1);
    linear_free(&l);
}

/*
 * The verification's fresh runs come in batches until they differ at
 * alpha/10: a 10% step in 2% noise shows in 10 runs a side (5 a side cannot:
 * Mann-Whitney's smallest p for 5 against 5 is 0.008), where all 20 were
 * taken before; a 3% step in 5% noise still gets all 20.
 */
static void test_bisect__verification_stops_once_plain(void **state)
{
    (void)state;
    linear l;
    pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
    linear_make(&l, 256);
    for (int small = 0; small <= 1; small++) {
        pb_fake f;
        pb_bisect_result r;
        if (small)
            fake_noisy(&f, 256, 7, 100, 1.03);
        else {
            fake_quiet(&f, 256, 7);
            pb_fake_step(&f, 100, log(1.10));
        }
        assert_int_equal(run(l.nodes, l.n, &f, &o, &r), 0);
        assert_int_equal(r.verdict, PB_VERDICT_REGRESSION);
        assert_int_equal(r.culprits[0].commit, 100);
        if (small) {
            assert_true(f.compare_runs >= 2 * 20);
        } else {
            assert_int_equal(f.compare_runs, 2 * 10);
            assert_true(r.culprits[0].p_value < o.alpha / 10);
        }
        pb_bisect_result_free(&r);
        pb_fake_free(&f);
    }
    linear_free(&l);
}

/*
 * Two 4% steps 11 commits apart (109 and 120 of 256, 3% noise): the search
 * first stops at 85% on a commit that the verification's runs then show to
 * lie between the steps. The search that goes on must split the interval
 * there, as a first search does, and find both steps (it once kept the
 * verified commit and blamed 114 for the second step).
 */
static void test_bisect__early_verification_keeps_a_split_between_steps(void **state)
{
    (void)state;
    pb_bisect_result r;
    pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
    o.seed = 83;
    o.max_steps = 2;
    two_steps(256, 260, 0.03, 109, 120, 1.04, &o, &r);
    assert_int_equal(r.verdict, PB_VERDICT_REGRESSION);
    assert_int_equal(r.nculprits, 2);
    assert_int_equal(r.culprits[0].commit, 109);
    assert_int_equal(r.culprits[1].commit, 120);
    pb_bisect_result_free(&r);
}

/*
 * A 3% step at 267 of 1024 whose commit cannot be built (5% noise): after
 * an early verification the search that goes on finds the answer ambiguous,
 * and must say so with candidates (it once reported a verified neighbour
 * as the culprit, at posterior 0.05).
 */
static void test_bisect__early_verification_keeps_an_ambiguous_answer(void **state)
{
    (void)state;
    linear l;
    pb_fake f;
    pb_bisect_result r;
    pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
    o.seed = 154;
    linear_make(&l, 1024);
    fake_noisy(&f, 1024, 473, 267, 1.03);
    f.skip[267] = 1;
    assert_int_equal(run(l.nodes, l.n, &f, &o, &r), 0);
    assert_int_equal(r.verdict, PB_VERDICT_REGRESSION);
    assert_int_equal(r.nculprits, 0);
    assert_true(has_candidate(&r, 267));
    assert_true(has_candidate(&r, 268));
    pb_bisect_result_free(&r);
    pb_fake_free(&f);
    linear_free(&l);
}

/* A flat history: the endpoints do not differ, the verdict is none. */
static void test_bisect__no_change_is_none(void **state)
{
    (void)state;
    linear l;
    pb_fake f;
    pb_bisect_result r;
    pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
    linear_make(&l, 40);
    fake_quiet(&f, 40, 4);
    assert_int_equal(run(l.nodes, l.n, &f, &o, &r), 0);
    assert_int_equal(r.verdict, PB_VERDICT_NONE);
    assert_int_equal(r.nculprits, 0);
    assert_true(r.total_p_value >= o.alpha);
    assert_true(strstr(r.reason, "not significantly") != NULL);
    /* Only the endpoints were measured. */
    assert_int_equal(r.nprobes, 2);
    pb_bisect_result_free(&r);
    pb_fake_free(&f);
    linear_free(&l);
}

/* Bad is faster than good: nothing to bisect. */
static void test_bisect__improvement_is_none(void **state)
{
    (void)state;
    linear l;
    pb_fake f;
    pb_bisect_result r;
    pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
    linear_make(&l, 40);
    fake_quiet(&f, 40, 5);
    pb_fake_step(&f, 20, log(0.8));
    assert_int_equal(run(l.nodes, l.n, &f, &o, &r), 0);
    assert_int_equal(r.verdict, PB_VERDICT_NONE);
    assert_true(r.total_change_pct < 0);
    pb_bisect_result_free(&r);
    pb_fake_free(&f);
    linear_free(&l);
}

/* A throughput that drops by 10%: found, and the change is + (worse). */
static void test_bisect__higher_is_better(void **state)
{
    (void)state;
    linear l;
    pb_fake f;
    pb_bisect_result r;
    pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
    o.higher_is_better = 1;
    linear_make(&l, 50);
    fake_quiet(&f, 50, 6);
    f.higher_is_better = 1; /* values are exp(-level): the step lowers them */
    pb_fake_step(&f, 21, log(1.10));
    assert_int_equal(run(l.nodes, l.n, &f, &o, &r), 0);
    assert_int_equal(r.verdict, PB_VERDICT_REGRESSION);
    assert_int_equal(r.nculprits, 1);
    assert_int_equal(r.culprits[0].commit, 21);
    assert_true(r.culprits[0].after_median < r.culprits[0].before_median);
    assert_true(r.culprits[0].change_pct > 5);
    assert_true(r.total_change_pct > 5);
    assert_true(r.bad_median < r.good_median);
    pb_bisect_result_free(&r);
    pb_fake_free(&f);
    linear_free(&l);
}

/* The same history, metric flipped: a throughput that rises is no regression. */
static void test_bisect__higher_is_better_rise_is_none(void **state)
{
    (void)state;
    linear l;
    pb_fake f;
    pb_bisect_result r;
    pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
    o.higher_is_better = 1;
    linear_make(&l, 50);
    fake_quiet(&f, 50, 7);
    pb_fake_step(&f, 21, log(1.10)); /* values rise: slower times, faster throughput */
    assert_int_equal(run(l.nodes, l.n, &f, &o, &r), 0);
    assert_int_equal(r.verdict, PB_VERDICT_NONE);
    /* clearly better: the reason asks about a mix-up */
    assert_non_null(strstr(r.reason, "significantly higher than good"));
    assert_non_null(strstr(r.reason, "swapped?"));
    pb_bisect_result_free(&r);
    pb_fake_free(&f);
    /* times that fall, with higher-is-better left out: a throughput? */
    o.higher_is_better = 0;
    fake_quiet(&f, 50, 7);
    pb_fake_step(&f, 21, -log(1.10));
    assert_int_equal(run(l.nodes, l.n, &f, &o, &r), 0);
    assert_int_equal(r.verdict, PB_VERDICT_NONE);
    assert_non_null(strstr(r.reason, "significantly faster than good"));
    assert_non_null(strstr(r.reason, "--higher-is-better"));
    pb_bisect_result_free(&r);
    pb_fake_free(&f);
    linear_free(&l);
}

/* The culprit and the commit after it do not build: all three candidates. */
static void test_bisect__skips_next_to_culprit_give_candidates(void **state)
{
    (void)state;
    linear l;
    pb_fake f;
    pb_bisect_result r;
    pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
    linear_make(&l, 64);
    fake_quiet(&f, 64, 8);
    pb_fake_step(&f, 40, log(1.10));
    f.skip[40] = f.skip[41] = 1;
    assert_int_equal(run(l.nodes, l.n, &f, &o, &r), 0);
    assert_int_equal(r.verdict, PB_VERDICT_REGRESSION);
    assert_int_equal(r.nculprits, 0);
    assert_int_equal(r.ncandidates, 3);
    assert_true(has_candidate(&r, 40) && has_candidate(&r, 41) && has_candidate(&r, 42));
    assert_true(r.nskipped >= 1);
    for (size_t i = 0; i < r.nskipped; i++)
        assert_true(r.skipped[i] == 40 || r.skipped[i] == 41);
    for (size_t i = 0; i < r.nprobes; i++)
        if (r.probes[i].commit == 40 || r.probes[i].commit == 41)
            assert_int_equal(r.probes[i].state, PB_PROBE_SKIP);
    /* A skipped commit's runs never happened: not counted. */
    assert_int_equal(r.bench_runs, f.runs);
    pb_bisect_result_free(&r);
    pb_fake_free(&f);
    linear_free(&l);
}

/* A skipped commit away from the culprit: the search goes around it. */
static void test_bisect__skip_elsewhere_still_finds_culprit(void **state)
{
    (void)state;
    linear l;
    pb_fake f;
    pb_bisect_result r;
    pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
    linear_make(&l, 64);
    fake_quiet(&f, 64, 9);
    pb_fake_step(&f, 45, log(1.10));
    for (size_t i = 28; i < 36; i++)
        f.skip[i] = 1; /* the middle, where the first probe would go */
    assert_int_equal(run(l.nodes, l.n, &f, &o, &r), 0);
    assert_int_equal(r.verdict, PB_VERDICT_REGRESSION);
    assert_int_equal(r.nculprits, 1);
    assert_int_equal(r.culprits[0].commit, 45);
    assert_int_equal(r.ncandidates, 0);
    assert_true(r.nskipped >= 1);
    pb_bisect_result_free(&r);
    pb_fake_free(&f);
    linear_free(&l);
}

/*
 * A history of n commits: main 0..branch-1, a side branch branch..merge-1
 * forked from `fork`, the merge `merge` (parents branch-1 and merge-1), then
 * main again up to n-1.
 */
static void merge_history(pb_bisect_node *nodes, size_t (*par)[2], size_t n, size_t fork,
                          size_t branch, size_t merge)
{
    for (size_t i = 0; i < n; i++) {
        nodes[i].nparents = 1;
        par[i][0] = i - 1;
        nodes[i].parents = par[i];
    }
    nodes[0].nparents = 0;
    par[branch][0] = fork;
    par[merge][0] = branch - 1;
    par[merge][1] = merge - 1;
    nodes[merge].nparents = 2;
}

/*
 * A merge: main 0..9, a side branch 10..14 forked from 3, the merge 15
 * (parents 9 and 14), then 16..19. The step is on the side branch at 12, so
 * 12..15 and everything after the merge are bad, main 0..9 is not.
 */
static void test_bisect__dag_step_on_a_branch(void **state)
{
    (void)state;
    enum { N = 20 };
    pb_bisect_node nodes[N];
    size_t par[N][2];
    pb_fake f;
    pb_bisect_result r;
    pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
    merge_history(nodes, par, N, 3, 10, 15);
    fake_quiet(&f, N, 11);
    for (size_t i = 12; i < N; i++)
        f.level[i] = log(1.10);
    assert_int_equal(run(nodes, N, &f, &o, &r), 0);
    assert_int_equal(r.verdict, PB_VERDICT_REGRESSION);
    assert_int_equal(r.nculprits, 1);
    assert_int_equal(r.culprits[0].commit, 12);
    assert_int_equal(r.culprits[0].parent, 11);
    pb_bisect_result_free(&r);
    pb_fake_free(&f);
}

/*
 * merge_history(n, fork, branch, merge) at log-levels `level`, bisected with
 * 3 seeds: the culprits are `want` (in order), each one's step over all runs
 * is within 15% of its `change` (%), and its 95% CI holds the change in all
 * but at most one of the culprits and seeds (a step that takes in part of
 * another misses by more, everywhere). *last is the last seed's result.
 */
static void merge_steps_found(size_t n, size_t fork, size_t branch, size_t merge,
                              const double *level, double noise, const size_t *want,
                              const double *change, size_t nwant, pb_bisect_result *last)
{
    pb_bisect_node *nodes = calloc(n, sizeof *nodes);
    size_t(*par)[2] = calloc(n, sizeof *par);
    pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
    assert_non_null(nodes);
    assert_non_null(par);
    merge_history(nodes, par, n, fork, branch, merge);
    size_t misses = 0;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        pb_fake f;
        fake_quiet(&f, n, seed);
        f.noise = noise;
        memcpy(f.level, level, n * sizeof *level);
        if (seed > 1)
            pb_bisect_result_free(last);
        assert_int_equal(run(nodes, n, &f, &o, last), 0);
        assert_int_equal(last->verdict, PB_VERDICT_REGRESSION);
        assert_int_equal(last->nculprits, nwant);
        for (size_t i = 0; i < nwant; i++) {
            const pb_bisect_culprit *c = &last->culprits[i];
            assert_int_equal(c->commit, want[i]);
            assert_true(fabs(c->step_pct - change[i]) < 0.15 * change[i]);
            misses += !(c->step_lo < change[i] && c->step_hi > change[i]);
        }
        pb_fake_free(&f);
    }
    assert_true(misses <= 1);
    free(nodes);
    free(par);
}

/*
 * Main 0..9, a long side branch 10..39 forked from 3, the merge 40 (parents
 * 9 and 39), then 41..59; 10% steps at 5 on main and at 50. The side branch
 * forked before 5: it holds neither culprit, so it is on the parent's side
 * of 5's step and on neither side of 50's.
 */
static void test_bisect__dag_two_steps_each_sized_by_its_culprits(void **state)
{
    (void)state;
    enum { N = 60 };
    double level[N];
    const size_t want[2] = {5, 50};
    const double change[2] = {10, 10};
    pb_bisect_result r;
    for (size_t i = 0; i < N; i++)
        level[i] = log(1.10) * ((i >= 5 && (i < 10 || i >= 40)) + (i >= 50));
    merge_steps_found(N, 3, 10, 40, level, 0.005, want, change, 2, &r);
    /* Between the two steps: after 5's, before 50's, the same runs. */
    assert_int_equal(r.culprits[0].step_runs_after, r.culprits[1].step_runs_before);
    pb_bisect_result_free(&r);
}

/*
 * Main 0..15 with a 30% step at 10, a side branch 16..20 forked from 9 with
 * a 20% step at 16, and the merge 21 (parents 15 and 20) a step of its own,
 * to 1.5. The merge is found against its first parent; its second parent
 * is slower than good, so the side branch is searched too (before, the
 * side-branch step was missed and its commits were called good).
 */
static void test_bisect__merge_brings_a_step_from_its_other_parent(void **state)
{
    (void)state;
    enum { N = 28 };
    double level[N];
    const size_t want[3] = {10, 16, 21};
    const double change[3] = {30, 20, 100 * (1.5 / 1.3 - 1)};
    pb_bisect_result r;
    for (size_t i = 0; i < N; i++)
        level[i] = i < 10 ? 0 : log(i >= 21 ? 1.5 : i >= 16 ? 1.2 : 1.3);
    merge_steps_found(N, 9, 16, 21, level, 0.02, want, change, 3, &r);
    assert_int_equal(r.culprits[2].parent, 15);
    pb_bisect_result_free(&r);
}

/* Two steps of 15%: both culprits are reported, in history order. */
static void test_bisect__two_steps_two_culprits(void **state)
{
    (void)state;
    pb_bisect_result r;
    pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
    two_steps(64, 12, 0.01, 20, 45, 1.15, &o, &r);
    assert_int_equal(r.verdict, PB_VERDICT_REGRESSION);
    assert_int_equal(r.nculprits, 2);
    assert_int_equal(r.culprits[0].commit, 20);
    assert_int_equal(r.culprits[1].commit, 45);
    for (size_t i = 0; i < 2; i++) {
        assert_true(r.culprits[i].change_pct > 10 && r.culprits[i].change_pct < 20);
        assert_true(r.culprits[i].p_value < 0.01);
    }
    pb_bisect_result_free(&r);
}

/*
 * Two steps of 8% (each 16 sigmas): each culprit's step over all runs is
 * taken between its neighbouring culprits, so neither mixes in the other.
 * Over the whole interval the second's before side would pool both
 * levels below it, the first's after side both above.
 */
static void test_bisect__two_steps_each_sized_between_neighbours(void **state)
{
    (void)state;
    pb_bisect_result r;
    pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        two_steps(128, seed, 0.005, 30, 90, 1.08, &o, &r);
        assert_int_equal(r.nculprits, 2);
        size_t runs = 0;
        for (size_t i = 0; i < 2; i++) {
            const pb_bisect_culprit *c = &r.culprits[i];
            assert_true(c->step_lo < 8 && c->step_hi > 8);
            assert_true(c->step_pct > 7 && c->step_pct < 9);
            runs += c->step_runs_before + c->step_runs_after;
        }
        /* The middle level is on both culprits' sides. */
        assert_true(runs > r.bench_runs);
        assert_int_equal(r.culprits[0].step_runs_after, r.culprits[1].step_runs_before);
        pb_bisect_result_free(&r);
    }
}

/*
 * bench/bisect_sim's seed 14 at step=50 max_runs=1000: the bad end's 20
 * runs came out 4% high, so the probe next to the 50% step looked
 * significantly between the two ends. It alone got runs, to the cap of
 * 1000, then was taken for a second step, and the search of the empty
 * interval above it ran probes of 1000 runs: 14420 runs in all. The
 * references now keep pace with such a probe, and the offset goes away.
 */
static void test_bisect__references_keep_pace_with_a_probe_in_between(void **state)
{
    (void)state;
    linear l;
    pb_fake f;
    pb_bisect_result r;
    pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
    o.max_runs = 1000;
    o.seed = 14;
    linear_make(&l, 1024);
    fake_noisy(&f, 1024, 7 * 14 + 1, 748, 1.5);
    assert_int_equal(run(l.nodes, l.n, &f, &o, &r), 0);
    assert_int_equal(r.verdict, PB_VERDICT_REGRESSION);
    assert_int_equal(r.nculprits, 1);
    assert_int_equal(r.culprits[0].commit, 748);
    for (size_t i = 0; i < r.nprobes; i++)
        assert_int_not_equal(r.probes[i].state, PB_PROBE_UNKNOWN);
    assert_true(r.bench_runs < 1000);
    pb_bisect_result_free(&r);
    pb_fake_free(&f);
    linear_free(&l);
}

/* 64 commits, 1% noise, 30% slower spread evenly over commits from..to-1. */
static void run_drift(size_t from, size_t to, uint64_t seed, pb_bisect_result *r)
{
    linear l;
    pb_fake f;
    pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
    linear_make(&l, 64);
    fake_quiet(&f, 64, seed);
    f.noise = 0.01;
    for (size_t i = 0; i < 64; i++)
        f.level[i] = log(1.30) * (i < from  ? 0
                                  : i >= to ? 1
                                            : (double)(i + 1 - from) / (double)(to - from));
    assert_int_equal(run(l.nodes, l.n, &f, &o, r), 0);
    pb_fake_free(&f);
    linear_free(&l);
}

/* 30% spread evenly over 64 commits: gradual, not one culprit. */
static void test_bisect__gradual_drift(void **state)
{
    (void)state;
    pb_bisect_result r;
    run_drift(0, 64, 13, &r);
    assert_int_equal(r.verdict, PB_VERDICT_GRADUAL);
    assert_int_equal(r.nculprits, 0);
    assert_int_equal(r.ncandidates, 0);
    /* 1.3^(1/64) - 1 = 0.41% per commit. */
    assert_true(r.gradual_slope_pct > 0.2 && r.gradual_slope_pct < 0.7);
    assert_true(r.gradual_first < 16 && r.gradual_last > 48);
    pb_bisect_result_free(&r);
}

/* 30% spread over commits 20..43 of 64 only: the slope is per commit of
 * that range (1.3^(1/24) - 1 = 1.1%), so slope and range give the change;
 * spread over the whole history it was 0.41%, a third of it. */
static void test_bisect__gradual_slope_is_over_its_range(void **state)
{
    (void)state;
    pb_bisect_result r;
    run_drift(20, 44, 17, &r);
    assert_int_equal(r.verdict, PB_VERDICT_GRADUAL);
    double len = (double)(r.gradual_last - r.gradual_first + 1);
    double implied = pow(1 + r.gradual_slope_pct / 100, len);
    assert_true(r.gradual_slope_pct > 0.7 && r.gradual_slope_pct < 2.0);
    assert_true(fabs(implied - (1 + r.total_change_pct / 100)) < 1e-6);
    assert_true(r.gradual_first <= 24 && r.gradual_last >= 40);
    /* the sampling measured the ends again: the header agrees with the probes */
    for (size_t i = 0; i < r.nprobes; i++) {
        if (r.probes[i].commit == 64)
            assert_float_equal(r.good_median, r.probes[i].median, 0);
        if (r.probes[i].commit == 63)
            assert_float_equal(r.bad_median, r.probes[i].median, 0);
    }
    pb_bisect_result_free(&r);
}

/* Same values, same decisions: a cached bisection replays identically. */
static void test_bisect__deterministic(void **state)
{
    (void)state;
    linear l;
    pb_fake f1, f2;
    pb_bisect_result r1, r2;
    pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
    linear_make(&l, 128);
    fake_quiet(&f1, 128, 14);
    fake_quiet(&f2, 128, 14);
    f1.noise = f2.noise = 0.05;
    pb_fake_step(&f1, 77, log(1.06));
    pb_fake_step(&f2, 77, log(1.06));
    assert_int_equal(run(l.nodes, l.n, &f1, &o, &r1), 0);
    assert_int_equal(run(l.nodes, l.n, &f2, &o, &r2), 0);
    assert_int_equal(r1.nprobes, r2.nprobes);
    for (size_t i = 0; i < r1.nprobes; i++) {
        assert_int_equal(r1.probes[i].commit, r2.probes[i].commit);
        assert_int_equal(r1.probes[i].runs, r2.probes[i].runs);
        assert_int_equal(r1.probes[i].state, r2.probes[i].state);
    }
    assert_int_equal(f1.measures, f2.measures);
    assert_memory_equal(f1.order, f2.order, f1.measures * sizeof(size_t));
    assert_int_equal(r1.verdict, r2.verdict);
    assert_int_equal(r1.nculprits, r2.nculprits);
    if (r1.nculprits) {
        assert_int_equal(r1.culprits[0].commit, r2.culprits[0].commit);
        assert_true(r1.culprits[0].ci_lo == r2.culprits[0].ci_lo);
        assert_true(r1.culprits[0].ci_hi == r2.culprits[0].ci_hi);
    }
    assert_int_equal(r1.bench_runs, r2.bench_runs);
    pb_bisect_result_free(&r1);
    pb_bisect_result_free(&r2);
    pb_fake_free(&f1);
    pb_fake_free(&f2);
    linear_free(&l);
}

/* The oracle aborts (e.g. Ctrl-C): its code and message come back. */
static void test_bisect__oracle_abort_propagates(void **state)
{
    (void)state;
    linear l;
    pb_fake f;
    pb_bisect_result r;
    pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
    pb_error err = PB_ERROR_INIT;
    linear_make(&l, 64);
    fake_quiet(&f, 64, 15);
    pb_fake_step(&f, 30, log(1.10));
    f.abort_at = 4;
    pb_bisect_oracle orc = pb_fake_oracle(&f);
    assert_int_equal(pb_bisect_run(l.nodes, l.n, &o, &orc, &r, &err), PB_EINTR);
    assert_int_equal(err.code, PB_EINTR);
    assert_string_equal(err.message, "fake oracle: interrupted");
    assert_int_equal(f.measures, 4);
    pb_bisect_result_free(&r);
    pb_fake_free(&f);
    linear_free(&l);
}

/* An unbuildable endpoint: inconclusive, with the reason. */
static void test_bisect__endpoint_skip_is_inconclusive(void **state)
{
    (void)state;
    linear l;
    pb_fake f;
    pb_bisect_result r;
    pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
    linear_make(&l, 16);
    fake_quiet(&f, 16, 16);
    f.skip[15] = 1;
    assert_int_equal(run(l.nodes, l.n, &f, &o, &r), 0);
    assert_int_equal(r.verdict, PB_VERDICT_INCONCLUSIVE);
    assert_true(strstr(r.reason, "bad endpoint") != NULL);
    /* The good end was measured: its median is still reported. */
    assert_float_equal(r.good_median, 1, 0.05);
    assert_true(isnan(r.bad_median) && isnan(r.total_change_pct));
    pb_bisect_result_free(&r);
    pb_fake_free(&f);
    linear_free(&l);
}

static void test_bisect__rejects_bad_input(void **state)
{
    (void)state;
    linear l;
    pb_fake f;
    pb_bisect_result r;
    pb_bisect_options o = PB_BISECT_OPTIONS_INIT;
    pb_error err = PB_ERROR_INIT;
    linear_make(&l, 8);
    fake_quiet(&f, 8, 17);
    pb_bisect_oracle orc = pb_fake_oracle(&f);
    assert_int_equal(pb_bisect_run(l.nodes, 0, &o, &orc, &r, &err), PB_EINVAL);
    o.runs = 0;
    assert_int_equal(pb_bisect_run(l.nodes, 8, &o, &orc, &r, &err), PB_EINVAL);
    o.runs = 10;
    o.alpha = 1.5;
    assert_int_equal(pb_bisect_run(l.nodes, 8, &o, &orc, &r, &err), PB_EINVAL);
    o.alpha = 0.01;
    l.parents[3] = 5; /* a parent after its child */
    assert_int_equal(pb_bisect_run(l.nodes, 8, &o, &orc, &r, &err), PB_EINVAL);
    assert_int_equal(f.measures, 0);
    pb_bisect_result_free(&r);
    pb_fake_free(&f);
    linear_free(&l);
}

static void test_bisect__names(void **state)
{
    (void)state;
    assert_string_equal(pb_bisect_verdict_name(PB_VERDICT_REGRESSION), "regression");
    assert_string_equal(pb_bisect_verdict_name(PB_VERDICT_GRADUAL), "gradual");
    assert_string_equal(pb_bisect_verdict_name(PB_VERDICT_NONE), "none");
    assert_string_equal(pb_bisect_verdict_name(PB_VERDICT_INCONCLUSIVE), "inconclusive");
    assert_string_equal(pb_probe_state_name(PB_PROBE_GOOD), "good");
    assert_string_equal(pb_probe_state_name(PB_PROBE_BAD), "bad");
    assert_string_equal(pb_probe_state_name(PB_PROBE_SKIP), "skip");
    assert_string_equal(pb_probe_state_name(PB_PROBE_UNKNOWN), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bisect__single_step_middle),
        cmocka_unit_test(test_bisect__single_step_first_candidate),
        cmocka_unit_test(test_bisect__single_step_last_candidate),
        cmocka_unit_test(test_bisect__single_step_many_positions),
        cmocka_unit_test(test_bisect__large_change_probes_start_small),
        cmocka_unit_test(test_bisect__small_step_shows_over_all_runs),
        cmocka_unit_test(test_bisect__chance_intermediate_costs_no_second_search),
        cmocka_unit_test(test_bisect__endpoint_looks_spend_all_of_alpha),
        cmocka_unit_test(test_bisect__flat_history_stops_before_the_last_look),
        cmocka_unit_test(test_bisect__endpoint_looks_follow_runs_and_max_runs),
        cmocka_unit_test(test_bisect__drift_guard_finds_the_step_on_a_drifting_machine),
        cmocka_unit_test(test_bisect__early_verification_saves_runs),
        cmocka_unit_test(test_bisect__verification_stops_once_plain),
        cmocka_unit_test(test_bisect__early_verification_keeps_a_split_between_steps),
        cmocka_unit_test(test_bisect__early_verification_keeps_an_ambiguous_answer),
        cmocka_unit_test(test_bisect__no_change_is_none),
        cmocka_unit_test(test_bisect__improvement_is_none),
        cmocka_unit_test(test_bisect__higher_is_better),
        cmocka_unit_test(test_bisect__higher_is_better_rise_is_none),
        cmocka_unit_test(test_bisect__skips_next_to_culprit_give_candidates),
        cmocka_unit_test(test_bisect__skip_elsewhere_still_finds_culprit),
        cmocka_unit_test(test_bisect__dag_step_on_a_branch),
        cmocka_unit_test(test_bisect__two_steps_two_culprits),
        cmocka_unit_test(test_bisect__two_steps_each_sized_between_neighbours),
        cmocka_unit_test(test_bisect__dag_two_steps_each_sized_by_its_culprits),
        cmocka_unit_test(test_bisect__merge_brings_a_step_from_its_other_parent),
        cmocka_unit_test(test_bisect__references_keep_pace_with_a_probe_in_between),
        cmocka_unit_test(test_bisect__gradual_drift),
        cmocka_unit_test(test_bisect__gradual_slope_is_over_its_range),
        cmocka_unit_test(test_bisect__deterministic),
        cmocka_unit_test(test_bisect__oracle_abort_propagates),
        cmocka_unit_test(test_bisect__endpoint_skip_is_inconclusive),
        cmocka_unit_test(test_bisect__rejects_bad_input),
        cmocka_unit_test(test_bisect__names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
