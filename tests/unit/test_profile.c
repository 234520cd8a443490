/*
 * test_profile.c — the profile model, writers, diff and the data file reader.
 * Reference values are small enough to check by hand; each is worked out in
 * the comment next to it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfbisect/profile.h"
#include "profile_internal.h"
#include "rt/format.h"

#include <expat.h>

static pb_profile *folded(const char *text)
{
    pb_profile *p = NULL;
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(pb_profile_from_folded(&p, text, strlen(text), &err), 0);
    return p;
}

static const pb_profile_function *find_fn(const pb_profile_function *f, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(f[i].name, name))
            return &f[i];
    return NULL;
}

/* main;a;leaf 6 + main;b;leaf 2 + main;b 2 = 10 samples:
 * leaf self 8/10 = 80%, b self 2 = 20%, b total 4 = 40%, main total 100%. */
static void test_profile__self_and_total_shares(void **state)
{
    (void)state;
    pb_profile *p = folded("main;a;leaf 6\nmain;b;leaf 2\nmain;b 2\n");
    pb_profile_function *f = NULL;
    size_t n = 0;
    assert_int_equal(pb_profile_functions(p, &f, &n, NULL), 0);
    assert_int_equal(n, 4);
    assert_string_equal(f[0].name, "leaf"); /* sorted by self */
    assert_true(fabs(f[0].self_pct - 80.0) < 1e-9);
    const pb_profile_function *b = find_fn(f, n, "b");
    assert_non_null(b);
    assert_int_equal(b->self, 2);
    assert_int_equal(b->total, 4);
    assert_true(fabs(b->total_pct - 40.0) < 1e-9);
    assert_int_equal(find_fn(f, n, "main")->total, 10);
    free(f);
    pb_profile_free(p);
}

/*
 * Two programs' main (and a static init of two libraries) are two functions:
 * main of a (3 samples, one through init of libx) and of b (2), work of a
 * (1), init of liby under b (1). Only the shared names get their module:
 * "main [a]" total 3, "main [b]" total 3, "work" and nothing merged.
 */
static void test_profile__names_two_modules_share_are_qualified(void **state)
{
    (void)state;
    pb_profile *p = NULL;
    uint32_t ma, mb, work, ix, iy, again;
    assert_int_equal(pb_profile_new(&p, NULL), 0);
    assert_int_equal(pb_profile_intern_in(p, "main", "a", NULL, 0, &ma, NULL), 0);
    assert_int_equal(pb_profile_intern_in(p, "main", "b", NULL, 0, &mb, NULL), 0);
    assert_int_equal(pb_profile_intern_in(p, "work", "a", NULL, 0, &work, NULL), 0);
    assert_int_equal(pb_profile_intern_in(p, "init", "libx.so", NULL, 0, &ix, NULL), 0);
    assert_int_equal(pb_profile_intern_in(p, "init", "liby.so", NULL, 0, &iy, NULL), 0);
    assert_int_equal(pb_profile_intern_in(p, "main", "a", NULL, 0, &again, NULL), 0);
    assert_int_equal(again, ma);
    assert_int_not_equal(ma, mb);
    assert_int_not_equal(ix, iy);
    uint32_t s1[] = {ma}, s2[] = {mb}, s3[] = {ma, work}, s4[] = {ma, ix}, s5[] = {mb, iy};
    assert_int_equal(pb_profile_add_stack(p, s1, 1, 1, NULL), 0);
    assert_int_equal(pb_profile_add_stack(p, s2, 1, 2, NULL), 0);
    assert_int_equal(pb_profile_add_stack(p, s3, 2, 1, NULL), 0);
    assert_int_equal(pb_profile_add_stack(p, s4, 2, 1, NULL), 0);
    assert_int_equal(pb_profile_add_stack(p, s5, 2, 1, NULL), 0);
    assert_int_equal(pb_profile_qualify_names(p, NULL), 0);
    pb_profile_function *f = NULL;
    size_t n = 0;
    assert_int_equal(pb_profile_functions(p, &f, &n, NULL), 0);
    assert_int_equal(n, 5);
    assert_int_equal(find_fn(f, n, "main [a]")->total, 3);
    assert_int_equal(find_fn(f, n, "main [b]")->total, 3);
    assert_int_equal(find_fn(f, n, "main [b]")->self, 2);
    assert_int_equal(find_fn(f, n, "work")->total, 1);
    assert_int_equal(find_fn(f, n, "init [libx.so]")->self, 1);
    assert_int_equal(find_fn(f, n, "init [liby.so]")->self, 1);
    assert_null(find_fn(f, n, "main"));
    free(f);
    /* Qualified, a name is a plain name again: it is found as such. */
    assert_int_equal(pb_profile_intern(p, "main [b]", NULL, 0, &again, NULL), 0);
    assert_int_equal(again, mb);
    pb_profile_free(p);
}

/* Recursion counts a function once per stack in its total. */
static void test_profile__recursion_counted_once_in_total(void **state)
{
    (void)state;
    pb_profile *p = folded("main;f;f;f 4\nmain;g 1\n");
    pb_profile_function *f = NULL;
    size_t n = 0;
    assert_int_equal(pb_profile_functions(p, &f, &n, NULL), 0);
    const pb_profile_function *ff = find_fn(f, n, "f");
    assert_int_equal(ff->total, 4);
    assert_true(fabs(ff->total_pct - 80.0) < 1e-9);
    free(f);
    pb_profile_free(p);
}

/* Folded output: one sorted line per distinct stack, duplicates merged. */
static void test_profile__folded_output_of_known_tree(void **state)
{
    (void)state;
    pb_profile *p = folded("main;b 2\nmain;a;leaf 6\nmain;b 1\nmain;a;x;y 3\n");
    pb_buf out = PB_BUF_INIT;
    assert_int_equal(pb_profile_write(p, PB_PROFILE_FOLDED, NULL, &out, NULL), 0);
    assert_string_equal(out.data, "main;a;leaf 6\nmain;a;x;y 3\nmain;b 3\n");
    pb_buf_free(&out);
    pb_profile_free(p);
}

static void test_profile__folded_input_rejects_bad_lines(void **state)
{
    (void)state;
    const char *bad[] = {"main;a x\n", "main;a\n", "main;a 12345678901234567890123\n", " 5\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pb_profile *p = NULL;
        pb_error err = PB_ERROR_INIT;
        assert_int_equal(pb_profile_from_folded(&p, bad[i], strlen(bad[i]), &err), PB_EINVAL);
        assert_null(p);
        assert_non_null(strstr(err.message, "line 1"));
    }
}

/* DESIGN.md: samples, functions [{name, self_pct, total_pct}]. */
static void test_profile__json_has_contract_keys(void **state)
{
    (void)state;
    pb_profile *p = folded("main;a 3\nmain;b 1\n");
    pb_buf out = PB_BUF_INIT;
    assert_int_equal(pb_profile_write(p, PB_PROFILE_JSON, NULL, &out, NULL), 0);
    json_t *root = json_loads(out.data, 0, NULL);
    assert_non_null(root);
    assert_int_equal(json_integer_value(json_object_get(root, "samples")), 4);
    json_t *fns = json_object_get(root, "functions");
    assert_true(json_is_array(fns));
    json_t *first = json_array_get(fns, 0);
    assert_string_equal(json_string_value(json_object_get(first, "name")), "a");
    assert_true(fabs(json_real_value(json_object_get(first, "self_pct")) - 75.0) < 1e-9);
    assert_true(fabs(json_real_value(json_object_get(first, "total_pct")) - 75.0) < 1e-9);
    json_decref(root);
    pb_buf_free(&out);
    pb_profile_free(p);
}

/* speedscope's file format: $schema, shared.frames, a sampled profile whose
 * samples index the frames (root first) with one weight each. */
static void test_profile__speedscope_schema_fields(void **state)
{
    (void)state;
    pb_profile *p = folded("main;a 3\nmain;b;c 2\n");
    pb_buf out = PB_BUF_INIT;
    pb_profile_write_options o = PB_PROFILE_WRITE_OPTIONS_INIT;
    o.title = "t";
    assert_int_equal(pb_profile_write(p, PB_PROFILE_SPEEDSCOPE, &o, &out, NULL), 0);
    json_t *root = json_loads(out.data, 0, NULL);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "$schema")),
                        "https://www.speedscope.app/file-format-schema.json");
    json_t *frames = json_object_get(json_object_get(root, "shared"), "frames");
    assert_int_equal(json_array_size(frames), 4);
    json_t *prof = json_array_get(json_object_get(root, "profiles"), 0);
    assert_string_equal(json_string_value(json_object_get(prof, "type")), "sampled");
    assert_string_equal(json_string_value(json_object_get(prof, "unit")), "none");
    assert_int_equal(json_integer_value(json_object_get(prof, "endValue")), 5);
    json_t *samples = json_object_get(prof, "samples");
    json_t *weights = json_object_get(prof, "weights");
    assert_int_equal(json_array_size(samples), json_array_size(weights));
    size_t i;
    json_t *s;
    json_int_t total = 0;
    json_array_foreach(samples, i, s)
    {
        json_t *root_frame =
            json_array_get(frames, (size_t)json_integer_value(json_array_get(s, 0)));
        assert_string_equal(json_string_value(json_object_get(root_frame, "name")), "main");
        total += json_integer_value(json_array_get(weights, i));
    }
    assert_int_equal(total, 5);
    json_decref(root);
    pb_buf_free(&out);
    pb_profile_free(p);
}

static void test_profile__svg_is_self_contained(void **state)
{
    (void)state;
    pb_profile *p = folded("main;a<b> 3\nmain;c&d 1\n");
    pb_buf out = PB_BUF_INIT;
    assert_int_equal(pb_profile_write(p, PB_PROFILE_SVG, NULL, &out, NULL), 0);
    assert_non_null(strstr(out.data, "<script"));
    assert_non_null(strstr(out.data, "a&lt;b&gt;"));
    assert_non_null(strstr(out.data, "c&amp;d"));
    assert_null(strstr(out.data, "a<b>"));
    assert_non_null(strstr(out.data, "</svg>"));
    pb_buf_free(&out);
    pb_profile_free(p);
}

/* base: main;a 50, main;gone 50 (100 samples); new: main;a 30, main;fresh 10
 * (40 samples). a: 50% -> 75% (+25); gone: 50% -> vanished (-50);
 * fresh: new at 25%. Sorted by growth: a, fresh, main (0), gone. */
static void test_profile__diff_matches_by_name(void **state)
{
    (void)state;
    pb_profile *base = folded("main;a 50\nmain;gone 50\n");
    pb_profile *cur = folded("main;fresh 10\nmain;a 30\n");
    pb_profile_delta *d = NULL;
    size_t n = 0;
    assert_int_equal(pb_profile_diff(base, cur, &d, &n, NULL), 0);
    assert_int_equal(n, 4);
    assert_string_equal(d[0].name, "a");
    assert_int_equal(d[0].change, PB_PROFILE_CHANGED);
    assert_true(fabs(d[0].self_delta - 25.0) < 1e-9);
    assert_true(d[0].z > 0);
    assert_string_equal(d[1].name, "fresh");
    assert_int_equal(d[1].change, PB_PROFILE_NEW);
    assert_true(fabs(d[1].self_after - 25.0) < 1e-9);
    assert_string_equal(d[2].name, "main");
    assert_true(fabs(d[2].total_delta) < 1e-9);
    assert_string_equal(d[3].name, "gone");
    assert_int_equal(d[3].change, PB_PROFILE_VANISHED);
    assert_true(fabs(d[3].self_delta + 50.0) < 1e-9);
    free(d);
    pb_buf out = PB_BUF_INIT;
    assert_int_equal(pb_profile_diff_write(base, cur, PB_PROFILE_FOLDED, NULL, &out, NULL), 0);
    assert_string_equal(out.data, "main;a 50 30\nmain;fresh 0 10\nmain;gone 50 0\n");
    pb_buf_free(&out);
    pb_profile_free(base);
    pb_profile_free(cur);
}

/* --top 2 of the diff above keeps the two largest changes either way, in
 * growth order: gone (-50) and, of a and fresh (both +25 self and total),
 * the one first by growth, a. Cutting the growth order would drop gone. */
static void test_profile__diff_top_keeps_largest_shrink(void **state)
{
    (void)state;
    pb_profile *base = folded("main;a 50\nmain;gone 50\n");
    pb_profile *cur = folded("main;fresh 10\nmain;a 30\n");
    pb_profile_write_options o = PB_PROFILE_WRITE_OPTIONS_INIT;
    o.top = 2;
    pb_buf out = PB_BUF_INIT;
    assert_int_equal(pb_profile_diff_write(base, cur, PB_PROFILE_JSON, &o, &out, NULL), 0);
    json_t *root = json_loads(out.data, 0, NULL);
    assert_non_null(root);
    json_t *f = json_object_get(root, "functions");
    assert_int_equal(json_array_size(f), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(f, 0), "name")), "a");
    assert_string_equal(json_string_value(json_object_get(json_array_get(f, 1), "name")), "gone");
    json_decref(root);
    pb_buf_free(&out);
    assert_int_equal(pb_profile_diff_write(base, cur, PB_PROFILE_TEXT, &o, &out, NULL), 0);
    assert_non_null(strstr(out.data, "  gone"));
    assert_null(strstr(out.data, "  fresh"));
    assert_non_null(strstr(out.data, "... 2 more functions"));
    pb_buf_free(&out);
    pb_profile_free(base);
    pb_profile_free(cur);
}

/* Two-proportion z of 50/100 -> 75/100: pooled p = 0.625,
 * se = sqrt(.625 * .375 * (2/100)) = 0.068465, z = .25 / se = 3.6515
 * (computed with /usr/bin/python3: .25/math.sqrt(.625*.375*.02)). */
static void test_profile__diff_z_reference(void **state)
{
    (void)state;
    pb_profile *base = folded("m;a 50\nm;b 50\n");
    pb_profile *cur = folded("m;a 75\nm;b 25\n");
    pb_profile_delta *d = NULL;
    size_t n = 0;
    assert_int_equal(pb_profile_diff(base, cur, &d, &n, NULL), 0);
    assert_string_equal(d[0].name, "a");
    assert_true(fabs(d[0].z - 3.6515) < 1e-3);
    free(d);
    pb_profile_free(base);
    pb_profile_free(cur);
}

/* 1.96 * sqrt(.25 / 2401) * 100 = 1.96 * .5 / 49 * 100 = 2.0 exactly. */
static void test_profile__share_margin_reference(void **state)
{
    (void)state;
    assert_true(fabs(pb_profile_share_margin(2401) - 2.0) < 1e-9);
    assert_true(isinf(pb_profile_share_margin(0)));
    /* lost / (kept + lost): 5 of 100 taken is the warning's edge */
    pb_profile_info info = {.samples = 95, .lost = 5};
    assert_float_equal(pb_profile_lost_share(&info), PB_PROFILE_LOST_WARN, 1e-12);
    char text[160];
    info.hz = 30000;
    assert_int_equal(pb_profile_lost_warning(&info, text, sizeof text), 1);
    assert_string_equal(text, "5% of the samples were lost: the recorder could not keep up with "
                              "30000 Hz; record at a lower -F");
    info.samples = info.lost = 0;
    assert_float_equal(pb_profile_lost_share(&info), 0, 0);
    assert_int_equal(pb_profile_lost_warning(&info, text, sizeof text), 0);
    assert_string_equal(text, "");
}

static void test_profile__text_warns_on_few_samples(void **state)
{
    (void)state;
    pb_profile *p = folded("main;a 30\nmain;b 20\n");
    pb_buf out = PB_BUF_INIT;
    assert_int_equal(pb_profile_write(p, PB_PROFILE_TEXT, NULL, &out, NULL), 0);
    assert_non_null(strstr(out.data, "warning: only 50 samples"));
    pb_buf_free(&out);
    pb_profile_free(p);
}

/* A raw process with two stacks, encoded as the runtime would write it. */
static void encode_sample_mode(pb_buf *out, uint32_t mode)
{
    uint64_t s1[3] = {0x401010, 0x401234, 0x400100};
    uint64_t s2[2] = {0x7f0000001000, 0x401238}; /* a big jump: negative delta */
    pb_profile_raw_module mod;
    memset(&mod, 0, sizeof(mod));
    mod.lo = 0x400000;
    mod.hi = 0x402000;
    mod.path = "/nonexistent/prog";
    mod.build_id_len = 4;
    memcpy(mod.build_id, "\x01\x02\x03\x04", 4);
    pb_profile_raw_stack stacks[2] = {{7, 3, s1}, {5, 2, s2}};
    pb_profile_raw_process proc;
    memset(&proc, 0, sizeof(proc));
    proc.pid = 42;
    proc.hz = 999;
    proc.threads = 2;
    proc.mode = mode;
    proc.cut = 3;
    proc.user_ns = 1000000000;
    proc.modules = &mod;
    proc.nmodules = 1;
    proc.stacks = stacks;
    proc.nstacks = 2;
    assert_int_equal(pb_profile_raw_encode(&proc, out, NULL), 0);
}

static void encode_sample(pb_buf *out)
{
    encode_sample_mode(out, PPRT_MODE_PERF);
}

/* The sampling mode named in reports: one process's, or "mixed". */
static const char *mode_of(uint32_t first, uint32_t second)
{
    static char name[32];
    pb_buf data = PB_BUF_INIT;
    encode_sample_mode(&data, first);
    encode_sample_mode(&data, second);
    pb_profile *p = NULL;
    assert_int_equal(pb_profile_parse(&p, data.data, data.len, 0, NULL), 0);
    pb_profile_info info;
    pb_profile_get_info(p, &info);
    snprintf(name, sizeof(name), "%s", info.mode);
    pb_profile_free(p);
    pb_buf_free(&data);
    return name;
}

static void test_profile__mode_names(void **state)
{
    (void)state;
    assert_string_equal(mode_of(PPRT_MODE_RING, PPRT_MODE_RING), "perf-ring");
    assert_string_equal(mode_of(PPRT_MODE_TRAP, PPRT_MODE_TRAP), "perf-trap");
    assert_string_equal(mode_of(PPRT_MODE_PERF, PPRT_MODE_PERF), "perf");
    assert_string_equal(mode_of(PPRT_MODE_TIMER, PPRT_MODE_TIMER), "timer");
    assert_string_equal(mode_of(PPRT_MODE_TRAP, PPRT_MODE_TIMER), "mixed");
    assert_string_equal(mode_of(PPRT_MODE_RING, PPRT_MODE_TRAP), "mixed");
    assert_string_equal(mode_of(99, 99), "unknown");
}

static void test_profile__reader_round_trip(void **state)
{
    (void)state;
    pb_buf data = PB_BUF_INIT;
    encode_sample(&data);
    encode_sample(&data); /* two process blocks back to back, as merged parts */
    pb_profile_raw_process *procs = NULL;
    size_t n = 0;
    assert_int_equal(pb_profile_raw_parse((unsigned char *)data.data, data.len, &procs, &n, NULL),
                     0);
    assert_int_equal(n, 2);
    assert_int_equal(procs[0].cut, 3);
    assert_int_equal(procs[0].nstacks, 2);
    assert_int_equal(procs[0].stacks[1].pcs[0], 0x7f0000001000ull);
    assert_int_equal(procs[0].stacks[1].pcs[1], 0x401238ull);
    assert_string_equal(procs[1].modules[0].path, "/nonexistent/prog");
    pb_profile_raw_free(procs, n);

    pb_profile *p = NULL;
    assert_int_equal(pb_profile_parse(&p, data.data, data.len, 0, NULL), 0);
    pb_profile_info info;
    pb_profile_get_info(p, &info);
    assert_int_equal(info.samples, 24); /* (7 + 5) * 2 */
    assert_int_equal(info.processes, 2);
    assert_int_equal(info.threads, 4);
    assert_int_equal(info.cut, 6); /* summed over the processes */
    assert_string_equal(info.mode, "perf");
    pb_buf out = PB_BUF_INIT;
    assert_int_equal(pb_profile_write(p, PB_PROFILE_FOLDED, NULL, &out, NULL), 0);
    /* Leaf at its address; callers at return address - 1; bias 0. */
    assert_string_equal(out.data, "prog+0x4000ff;prog+0x401233;prog+0x401010 14\n"
                                  "prog+0x401237;[unknown] 10\n");
    pb_buf_free(&out);
    pb_profile_free(p);
    pb_buf_free(&data);
}

/* Every truncation and a few corruptions are rejected without crashing. */
static void test_profile__reader_rejects_corrupted_input(void **state)
{
    (void)state;
    pb_buf data = PB_BUF_INIT;
    encode_sample(&data);
    for (size_t len = 0; len < data.len; len++) {
        pb_profile *p = NULL;
        pb_error err = PB_ERROR_INIT;
        assert_int_equal(pb_profile_parse(&p, data.data, len, 0, &err), PB_EINVAL);
        assert_null(p);
    }
    unsigned char *bytes = (unsigned char *)data.data;
    struct {
        size_t at;
        unsigned char value;
    } flips[] = {
        {0, 'X'},                         /* magic */
        {PPRT_OFF_VERSION, 9},            /* version */
        {PPRT_OFF_HEADER_SIZE, 4},        /* header smaller than the fixed fields */
        {PPRT_OFF_HEADER_SIZE + 1, 0xff}, /* header larger than the data */
    };
    for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
        unsigned char saved = bytes[flips[i].at];
        bytes[flips[i].at] = flips[i].value;
        pb_profile *p = NULL;
        assert_int_equal(pb_profile_parse(&p, data.data, data.len, 0, NULL), PB_EINVAL);
        bytes[flips[i].at] = saved;
    }
    pb_buf_free(&data);

    /* A stack record whose depth is 0, then one deeper than the cap. */
    const unsigned char depth0[] = {1, 0, 5};
    const unsigned char deep[] = {1, 0x81, 0x04, 5}; /* depth 513 */
    const unsigned char overlong[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    const unsigned char *bodies[] = {depth0, deep, overlong};
    size_t sizes[] = {sizeof(depth0), sizeof(deep), sizeof(overlong)};
    for (size_t i = 0; i < 3; i++) {
        pb_buf b = PB_BUF_INIT;
        pb_profile_raw_process proc;
        memset(&proc, 0, sizeof(proc));
        assert_int_equal(pb_profile_raw_encode(&proc, &b, NULL), 0);
        /* encode wrote an empty stacks record then END: replace both */
        size_t stacks_at = b.len - 16;
        b.len = stacks_at;
        unsigned char hdr[8] = {PPRT_TAG_STACKS, 0, 0, 0, (unsigned char)sizes[i], 0, 0, 0};
        pb_buf_put(&b, hdr, 8);
        pb_buf_put(&b, bodies[i], sizes[i]);
        pb_buf_put(&b, "\0\0\0\0\0\0\0\0", 8);
        pb_profile *p = NULL;
        assert_int_equal(pb_profile_parse(&p, b.data, b.len, 0, NULL), PB_EINVAL);
        pb_buf_free(&b);
    }
}

static void test_profile__record_env(void **state)
{
    (void)state;
    pb_buf env = PB_BUF_INIT;
    assert_int_equal(pb_profile_record_env("/lib/rt.so", "/tmp/x.data", 250, &env, NULL), 0);
    const char *kv[3];
    size_t n = 0;
    for (const char *p = env.data; p < env.data + env.len; p += strlen(p) + 1)
        kv[n++] = p;
    assert_int_equal(n, 3);
    assert_true(!strncmp(kv[0], "LD_PRELOAD=/lib/rt.so", 21));
    assert_string_equal(kv[1], "PERFPROF_OUT=/tmp/x.data");
    assert_string_equal(kv[2], "PERFPROF_HZ=250");
    pb_buf_free(&env);
    assert_int_equal(pb_profile_record_env("/lib/rt.so", "x", 0, &env, NULL), PB_EINVAL);
    pb_buf_free(&env);
}

/* ---- names that are not UTF-8 ------------------------------------------ */

#define R "\xEF\xBF\xBD" /* U+FFFD */

/* Raw frame names (a Latin-1 module name, bad sequences) and what the JSON
 * and SVG writers make of them: each byte outside a well-formed UTF-8
 * sequence is one U+FFFD; good sequences stay. */
static const struct {
    const char *raw, *clean;
} odd_names[] = {
    {"spl\xE9t+0x17b4", "spl" R "t+0x17b4"}, /* Latin-1 */
    {"two\xC3\xA9", "two\xC3\xA9"},          /* valid, 2 bytes */
    {"three\xE2\x82\xAC", "three\xE2\x82\xAC"},
    {"four\xF0\x9F\x98\x80", "four\xF0\x9F\x98\x80"},
    {"over\xC0\x80", "over" R R},           /* overlong */
    {"surr\xED\xA0\x80", "surr" R R R},     /* surrogate */
    {"big\xF4\x90\x80\x80", "big" R R R R}, /* beyond U+10FFFF */
    {"cut\xE2\x82", "cut" R R},             /* truncated at the end */
};
#define NODD (sizeof(odd_names) / sizeof(odd_names[0]))

/* A profile with one stack main;NAME per odd name, and a frame whose file
 * name is Latin-1. */
static pb_profile *odd_profile(void)
{
    pb_profile *p = NULL;
    uint32_t f[2];
    assert_int_equal(pb_profile_new(&p, NULL), 0);
    assert_int_equal(pb_profile_intern(p, "main", "/src/m\xE9in.c", 3, &f[0], NULL), 0);
    for (size_t i = 0; i < NODD; i++) {
        assert_int_equal(pb_profile_intern(p, odd_names[i].raw, NULL, 0, &f[1], NULL), 0);
        assert_int_equal(pb_profile_add_stack(p, f, 2, i + 1, NULL), 0);
    }
    return p;
}

static int has_name(json_t *arr, const char *name)
{
    for (size_t i = 0; i < json_array_size(arr); i++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(arr, i), "name")), name))
            return 1;
    return 0;
}

static void test_profile__json_names_not_utf8_are_replaced(void **state)
{
    (void)state;
    pb_profile *p = odd_profile();
    pb_buf out = PB_BUF_INIT;
    pb_error err = PB_ERROR_INIT;
    pb_profile_write_options o = PB_PROFILE_WRITE_OPTIONS_INIT;
    o.top = 0;
    assert_int_equal(pb_profile_write(p, PB_PROFILE_JSON, &o, &out, &err), 0);
    json_t *root = json_loads(out.data, 0, NULL); /* jansson refuses bad UTF-8 */
    assert_non_null(root);
    json_t *fns = json_object_get(root, "functions");
    assert_int_equal(json_array_size(fns), NODD + 1);
    for (size_t i = 0; i < NODD; i++)
        assert_true(has_name(fns, odd_names[i].clean));
    int files = 0;
    for (size_t i = 0; i < json_array_size(fns); i++) {
        json_t *file = json_object_get(json_array_get(fns, i), "file");
        if (file) {
            assert_string_equal(json_string_value(file), "/src/m" R "in.c");
            files++;
        }
    }
    assert_int_equal(files, 1);
    json_decref(root);
    pb_buf_free(&out);

    /* the diff against itself names the same functions */
    assert_int_equal(pb_profile_diff_write(p, p, PB_PROFILE_JSON, &o, &out, &err), 0);
    root = json_loads(out.data, 0, NULL);
    assert_non_null(root);
    for (size_t k = 0; k < NODD; k++)
        assert_true(has_name(json_object_get(root, "functions"), odd_names[k].clean));
    json_decref(root);
    pb_buf_free(&out);
    pb_profile_free(p);
}

static void test_profile__speedscope_names_and_title_not_utf8(void **state)
{
    (void)state;
    pb_profile *p = odd_profile();
    pb_buf out = PB_BUF_INIT;
    pb_error err = PB_ERROR_INIT;
    pb_profile_write_options o = PB_PROFILE_WRITE_OPTIONS_INIT;
    o.title = "t\xE9";
    assert_int_equal(pb_profile_write(p, PB_PROFILE_SPEEDSCOPE, &o, &out, &err), 0);
    json_t *root = json_loads(out.data, 0, NULL);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "name")), "t" R);
    json_t *prof = json_array_get(json_object_get(root, "profiles"), 0);
    assert_string_equal(json_string_value(json_object_get(prof, "name")), "t" R);
    json_t *frames = json_object_get(json_object_get(root, "shared"), "frames");
    assert_int_equal(json_array_size(frames), NODD + 1);
    for (size_t i = 0; i < NODD; i++)
        assert_true(has_name(frames, odd_names[i].clean));
    json_decref(root);
    pb_buf_free(&out);
    pb_profile_free(p);
}

/* Well-formed XML (expat says so) with the names replaced, in the flame
 * graph and the differential one; U+FFFE, valid UTF-8 but no XML
 * character, is replaced too. */
static void test_profile__svg_names_not_utf8_are_xml(void **state)
{
    (void)state;
    pb_profile *p = odd_profile();
    uint32_t f[2];
    assert_int_equal(pb_profile_intern(p, "main", "/src/m\xE9in.c", 3, &f[0], NULL), 0);
    assert_int_equal(pb_profile_intern(p, "nonchar\xEF\xBF\xBE", NULL, 0, &f[1], NULL), 0);
    assert_int_equal(pb_profile_add_stack(p, f, 2, 5, NULL), 0);
    pb_profile_write_options o = PB_PROFILE_WRITE_OPTIONS_INIT;
    o.title = "t\xE9 <&>";
    for (int diff = 0; diff < 2; diff++) {
        pb_buf out = PB_BUF_INIT;
        pb_error err = PB_ERROR_INIT;
        if (diff)
            assert_int_equal(pb_profile_diff_write(p, p, PB_PROFILE_SVG, &o, &out, &err), 0);
        else
            assert_int_equal(pb_profile_write(p, PB_PROFILE_SVG, &o, &out, &err), 0);
        XML_Parser x = XML_ParserCreate("UTF-8");
        assert_non_null(x);
        if (XML_Parse(x, out.data, (int)out.len, 1) != XML_STATUS_OK)
            fail_msg("not XML: %s at line %lu", XML_ErrorString(XML_GetErrorCode(x)),
                     (unsigned long)XML_GetCurrentLineNumber(x));
        XML_ParserFree(x);
        for (size_t i = 0; i < NODD; i++)
            assert_non_null(strstr(out.data, odd_names[i].clean));
        assert_non_null(strstr(out.data, "nonchar" R));
        assert_non_null(strstr(out.data, "t" R " &lt;&amp;&gt;"));
        pb_buf_free(&out);
    }
    pb_profile_free(p);
}

#undef R

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profile__self_and_total_shares),
        cmocka_unit_test(test_profile__names_two_modules_share_are_qualified),
        cmocka_unit_test(test_profile__recursion_counted_once_in_total),
        cmocka_unit_test(test_profile__folded_output_of_known_tree),
        cmocka_unit_test(test_profile__folded_input_rejects_bad_lines),
        cmocka_unit_test(test_profile__json_has_contract_keys),
        cmocka_unit_test(test_profile__speedscope_schema_fields),
        cmocka_unit_test(test_profile__svg_is_self_contained),
        cmocka_unit_test(test_profile__diff_matches_by_name),
        cmocka_unit_test(test_profile__diff_top_keeps_largest_shrink),
        cmocka_unit_test(test_profile__diff_z_reference),
        cmocka_unit_test(test_profile__share_margin_reference),
        cmocka_unit_test(test_profile__text_warns_on_few_samples),
        cmocka_unit_test(test_profile__reader_round_trip),
        cmocka_unit_test(test_profile__mode_names),
        cmocka_unit_test(test_profile__reader_rejects_corrupted_input),
        cmocka_unit_test(test_profile__record_env),
        cmocka_unit_test(test_profile__json_names_not_utf8_are_replaced),
        cmocka_unit_test(test_profile__speedscope_names_and_title_not_utf8),
        cmocka_unit_test(test_profile__svg_names_not_utf8_are_xml),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
