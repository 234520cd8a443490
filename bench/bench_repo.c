/*
 * bench_repo.c — what the repo module costs a bisection besides build and
 * benchmark: listing a long range and materialising ~14 probes.
 *
 * Writes a linear repository of N commits (default 10000) over F files
 * (default 50; commit i rewrites file i % F) in a temporary directory, then
 * times pb_repo_range_list and a bisection-like sequence of
 * pb_repo_checkout calls, first with loose objects and again after packing
 * (what a cloned repository looks like). Prints milliseconds per operation.
 *
 * usage: bench_repo [COMMITS [FILES]]
 */
#include "perfbisect/repo.h"

#include <git2.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        if ((expr) < 0) {                                                                          \
            const git_error *e_ = git_error_last();                                                \
            fprintf(stderr, "bench_repo: %s failed: %s\n", #expr, e_ ? e_->message : "?");         \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Commit i rewrites file i % nfiles; returns the last commit in `head`. */
static void generate(const char *dir, long ncommits, long nfiles, git_oid *first, git_oid *head)
{
    git_repository *git = NULL;
    git_treebuilder *tb = NULL;
    git_signature *sig = NULL;
    git_oid blob, tree_id, commit_id, parent_id;
    git_tree *tree = NULL;
    git_commit *parent = NULL;
    char name[32], content[256], msg[64];

    CHECK(git_repository_init(&git, dir, 0));
    CHECK(git_treebuilder_new(&tb, git, NULL));
    for (long i = 0; i < ncommits; i++) {
        /* Commit 0 holds every file; commit i > 0 rewrites file i % nfiles. */
        for (long f = i ? i % nfiles : 0; f < (i ? i % nfiles + 1 : nfiles); f++) {
            snprintf(name, sizeof(name), "file%03ld.c", f);
            snprintf(content, sizeof(content),
                     "/* %s, version %ld */\nint f%ld(void) { return %ld; }\n", name, i, f, i);
            CHECK(git_blob_create_from_buffer(&blob, git, content, strlen(content)));
            CHECK(git_treebuilder_insert(NULL, tb, name, &blob, GIT_FILEMODE_BLOB));
        }
        CHECK(git_treebuilder_write(&tree_id, tb));
        CHECK(git_tree_lookup(&tree, git, &tree_id));
        CHECK(git_signature_new(&sig, "Bench", "bench@example.org", 1600000000 + i, 0));
        snprintf(msg, sizeof(msg), "change %ld\n", i);
        const git_commit *parents[1] = {parent};
        CHECK(git_commit_create(&commit_id, git, NULL, sig, sig, NULL, msg, tree, parent ? 1 : 0,
                                parents));
        if (!parent)
            *first = commit_id;
        git_signature_free(sig);
        git_tree_free(tree);
        git_commit_free(parent);
        parent_id = commit_id;
        CHECK(git_commit_lookup(&parent, git, &parent_id));
    }
    git_reference *ref = NULL;
    CHECK(git_reference_create(&ref, git, "refs/heads/main", &parent_id, 1, "bench"));
    git_reference_free(ref);
    CHECK(git_repository_set_head(git, "refs/heads/main"));
    *head = parent_id;
    git_commit_free(parent);
    git_treebuilder_free(tb);
    git_repository_free(git);
}

/* Pack every object reachable from `head` and drop the loose ones. */
static void pack(const char *dir, const git_oid *head)
{
    git_repository *git = NULL;
    git_packbuilder *pb = NULL;
    git_revwalk *walk = NULL;
    char path[512];

    CHECK(git_repository_open(&git, dir));
    CHECK(git_packbuilder_new(&pb, git));
    CHECK(git_revwalk_new(&walk, git));
    CHECK(git_revwalk_push(walk, head));
    CHECK(git_packbuilder_insert_walk(pb, walk));
    snprintf(path, sizeof(path), "%s/.git/objects/pack", dir);
    CHECK(git_packbuilder_write(pb, path, 0, NULL, NULL));
    git_revwalk_free(walk);
    git_packbuilder_free(pb);
    git_repository_free(git);
    for (int i = 0; i < 256; i++) {
        snprintf(path, sizeof(path), "%s/.git/objects/%02x", dir, i);
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
}

static void die(const pb_error *err)
{
    fprintf(stderr, "bench_repo: %s\n", pb_error_message(err));
    exit(1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Wall and CPU milliseconds of a series of runs of one operation. */
typedef struct series {
    double wall[64], cpu[64];
    int n;
} series;

static void series_add(series *s, double wall, double cpu)
{
    if (s->n < 64) {
        s->wall[s->n] = wall;
        s->cpu[s->n] = cpu;
        s->n++;
    }
}

/* "min / median / max" of wall time, and the median CPU time. */
static void series_print(const char *label, const char *what, series *s)
{
    qsort(s->wall, (size_t)s->n, sizeof(double), cmp_double);
    qsort(s->cpu, (size_t)s->n, sizeof(double), cmp_double);
    printf("%-7s %-34s n=%2d  wall min %8.2f  median %8.2f  max %8.2f ms   cpu median %8.2f ms\n",
           label, what, s->n, s->wall[0], s->wall[s->n / 2], s->wall[s->n - 1], s->cpu[s->n / 2]);
}

#define REPS 5

/* One measured pass over an existing repository. */
static void measure(const char *label, const char *dir, const char *good, const char *bad,
                    long ncommits)
{
    pb_repo *repo = NULL;
    pb_repo_range range;
    pb_error err = PB_ERROR_INIT;
    const char *wt = NULL;
    char hex[PB_OID_HEXSZ + 1], what[64];
    series s_open, s_resolve, s_list[2], s_full, s_inc;
    memset(&s_open, 0, sizeof(s_open));
    s_resolve = s_list[0] = s_list[1] = s_full = s_inc = s_open;

    /* Each listing with a fresh handle: a run opens the repository once and lists once. */
    for (int rep = 0; rep < REPS; rep++) {
        for (int fp = 0; fp < 2; fp++) {
            double w = now_ms(), c = cpu_ms();
            if (pb_repo_open(&repo, dir, &err) < 0)
                die(&err);
            series_add(&s_open, now_ms() - w, cpu_ms() - c);
            w = now_ms(), c = cpu_ms();
            if (pb_repo_resolve(repo, "main~1", hex, &err) < 0)
                die(&err);
            series_add(&s_resolve, now_ms() - w, cpu_ms() - c);
            w = now_ms(), c = cpu_ms();
            if (pb_repo_range_list(repo, good, bad, fp, &range, &err) < 0)
                die(&err);
            series_add(&s_list[fp], now_ms() - w, cpu_ms() - c);
            if ((long)range.n != ncommits - 1) {
                fprintf(stderr, "bench_repo: range has %zu commits, expected %ld\n", range.n,
                        ncommits - 1);
                exit(1);
            }
            pb_repo_range_free(&range);
            pb_repo_free(repo);
        }
    }
    series_print(label, "pb_repo_open", &s_open);
    series_print(label, "pb_repo_resolve main~1", &s_resolve);
    snprintf(what, sizeof(what), "range_list %ld commits (DAG)", ncommits - 1);
    series_print(label, what, &s_list[0]);
    snprintf(what, sizeof(what), "range_list %ld (first-parent)", ncommits - 1);
    series_print(label, what, &s_list[1]);

    /*
     * Bisections towards culprits at 70%, 30% and 55% of the range, in one
     * slot that starts empty; then the culprit's parent in the other slot,
     * as the verify step does. The first checkout of each slot is a full one.
     */
    if (pb_repo_open(&repo, dir, &err) < 0 ||
        pb_repo_range_list(repo, good, bad, 0, &range, &err) < 0)
        die(&err);
    const size_t targets[] = {range.n * 7 / 10, range.n * 3 / 10, range.n * 55 / 100};
    int first = 1;
    size_t lo = 0;
    for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
        size_t hi = range.n - 1;
        lo = 0;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            double w = now_ms(), c = cpu_ms();
            if (pb_repo_checkout(repo, range.commits[mid].id, 0, NULL, &wt, &err) < 0)
                die(&err);
            series_add(first ? &s_full : &s_inc, now_ms() - w, cpu_ms() - c);
            first = 0;
            if (mid >= targets[t])
                hi = mid;
            else
                lo = mid + 1;
        }
    }
    double w = now_ms(), c = cpu_ms();
    if (pb_repo_checkout(repo, range.commits[lo].first_parent, 1, NULL, &wt, &err) < 0)
        die(&err);
    series_add(&s_full, now_ms() - w, cpu_ms() - c);
    series_print(label, "checkout, full (empty slot)", &s_full);
    series_print(label, "checkout, incremental (bisection)", &s_inc);
    pb_repo_range_free(&range);
    pb_repo_free(repo);

    /* Next pass starts with empty slots again. */
    char path[512];
    snprintf(path, sizeof(path), "%s/.git/perfbisect", dir);
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int main(int argc, char **argv)
{
    long ncommits = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
    long nfiles = argc > 2 ? strtol(argv[2], NULL, 10) : 50;
    char dir[] = "/tmp/pb-bench-repo-XXXXXX";
    git_oid first, head;
    char good[PB_OID_HEXSZ + 1], bad[PB_OID_HEXSZ + 1];

    if (ncommits < 16 || nfiles < 1 || nfiles > 999) {
        fprintf(stderr, "usage: bench_repo [COMMITS>=16 [FILES 1..999]]\n");
        return 2;
    }
    git_libgit2_init();
    if (!mkdtemp(dir)) {
        perror("bench_repo: mkdtemp");
        return 1;
    }
    double t0 = now_ms();
    generate(dir, ncommits, nfiles, &first, &head);
    printf("generated %ld commits over %ld files in %.0f ms (%s)\n", ncommits, nfiles,
           now_ms() - t0, dir);
    git_oid_tostr(good, sizeof(good), &first);
    git_oid_tostr(bad, sizeof(bad), &head);

    measure("loose", dir, good, bad, ncommits);
    pack(dir, &head);
    measure("packed", dir, good, bad, ncommits);

    if (!getenv("PB_BENCH_KEEP"))
        nftw(dir, rm_one, 64, FTW_DEPTH | FTW_PHYS);
    git_libgit2_shutdown();
    return 0;
}
