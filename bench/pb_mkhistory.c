/*
 * pb_mkhistory — make a git repository (with libgit2) whose benchmark gets
 * slower at known commits, for perfbisect's end-to-end tests, benchmarks and
 * quickstart demo.
 *
 *   pb_mkhistory DIR < PLAN
 *
 * The plan is one instruction per line:
 *   noise PCT            log-normal noise of the printed metric (sigma, in %)
 *   outliers RATE MULT   a fraction RATE of runs is MULT times slower
 *   work N               the benchmark also burns N loop iterations x factor
 *                        (so wall time depends on the factor too)
 *   commit FACTOR [broken]   a commit on the current branch; `broken` makes
 *                        the build fail
 *   commits N FACTOR     N such commits
 *   ramp N FROM TO       N commits whose factor moves linearly FROM -> TO
 *   branch               start a side branch at the current main commit
 *   main                 go back to the main branch
 *   merge FACTOR         on main: a merge of main and the side branch
 *
 * Every commit holds bench.c (prints "time: SECONDS"), Makefile, config.h
 * (the factor and noise) and history.txt (naming the commit, so every
 * commit changes something). Prints "INDEX COMMIT-ID FACTOR" for each commit
 * in creation order; HEAD and refs/heads/main point at the last main commit.
 */
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char bench_c[] =
    "#include <math.h>\n"
    "#include <stdio.h>\n"
    "#include <stdlib.h>\n"
    "#include <sys/random.h>\n"
    "#include \"config.h\"\n"
    "#ifdef BROKEN\n"
    "#error this commit does not build\n"
    "#endif\n"
    "static double uniform(void)\n"
    "{\n"
    "    unsigned long long r;\n"
    "    if (getrandom(&r, sizeof r, 0) != sizeof r)\n"
    "        abort();\n"
    "    return ((r >> 11) + 0.5) / 9007199254740992.0;\n"
    "}\n"
    "int main(void)\n"
    "{\n"
    "    volatile double sink = 0;\n"
    "    for (long i = 0; i < (long)(WORK * FACTOR); i++)\n"
    "        sink += i * 0.5;\n"
    "    double z = sqrt(-2 * log(uniform())) * cos(6.283185307179586 * uniform());\n"
    "    double t = 0.010 * FACTOR * exp(NOISE * z);\n"
    "    if (uniform() < OUTLIER_RATE)\n"
    "        t *= OUTLIER_MULT;\n"
    "    printf(\"time: %.9f\\n\", t);\n"
    "    return 0;\n"
    "}\n";

static const char makefile[] = "bench: bench.c config.h\n"
                               "\t$(CC) -O1 -o bench bench.c -lm\n";

struct state {
    git_repository *repo;
    git_oid main_head, side_head;
    int have_main, have_side, on_side;
    double noise, outlier_rate, outlier_mult;
    long work;
    int count;
};

static void check(int rc, const char *what)
{
    if (rc < 0) {
        const git_error *e = git_error_last();
        fprintf(stderr, "pb_mkhistory: %s: %s\n", what, e ? e->message : "error");
        exit(2);
    }
}

static void add_blob(git_treebuilder *tb, git_repository *repo, const char *name, const char *data,
                     size_t len)
{
    git_oid oid;
    check(git_blob_create_from_buffer(&oid, repo, data, len), "blob");
    check(git_treebuilder_insert(NULL, tb, name, &oid, GIT_FILEMODE_BLOB), "tree insert");
}

static void make_commit(struct state *st, double factor, int broken, int merge)
{
    char config[512], line[128];
    snprintf(config, sizeof config,
             "#define FACTOR %.6f\n#define NOISE %.6f\n#define OUTLIER_RATE %.6f\n"
             "#define OUTLIER_MULT %.6f\n#define WORK %ld\n%s",
             factor, st->noise, st->outlier_rate, st->outlier_mult, st->work,
             broken ? "#define BROKEN 1\n" : "");
    int len = snprintf(line, sizeof line, "commit %d factor %.6f%s\n", st->count, factor,
                       broken ? " broken" : "");

    git_treebuilder *tb = NULL;
    check(git_treebuilder_new(&tb, st->repo, NULL), "treebuilder");
    add_blob(tb, st->repo, "bench.c", bench_c, sizeof bench_c - 1);
    add_blob(tb, st->repo, "Makefile", makefile, sizeof makefile - 1);
    add_blob(tb, st->repo, "config.h", config, strlen(config));
    add_blob(tb, st->repo, "history.txt", line, (size_t)len);
    git_oid tree_id, commit_id;
    check(git_treebuilder_write(&tree_id, tb), "tree write");
    git_treebuilder_free(tb);
    git_tree *tree = NULL;
    check(git_tree_lookup(&tree, st->repo, &tree_id), "tree lookup");

    const git_commit *parents[2] = {NULL, NULL};
    git_commit *p0 = NULL, *p1 = NULL;
    size_t nparents = 0;
    git_oid *head = st->on_side ? &st->side_head : &st->main_head;
    int have = st->on_side ? st->have_side : st->have_main;
    if (have) {
        check(git_commit_lookup(&p0, st->repo, head), "parent");
        parents[nparents++] = p0;
    }
    if (merge) {
        check(git_commit_lookup(&p1, st->repo, &st->side_head), "side parent");
        parents[nparents++] = p1;
    }
    git_signature *sig = NULL;
    check(
        git_signature_new(&sig, "Perf Bisect", "demo@example.com", 1700000000 + st->count * 60, 0),
        "signature");
    char msg[128];
    snprintf(msg, sizeof msg, "%s %d (factor %.4f)%s\n", merge ? "Merge side branch at" : "Change",
             st->count, factor, broken ? ", broken build" : "");
    check(
        git_commit_create(&commit_id, st->repo, NULL, sig, sig, NULL, msg, tree, nparents, parents),
        "commit");
    git_signature_free(sig);
    git_commit_free(p0);
    git_commit_free(p1);
    git_tree_free(tree);
    *head = commit_id;
    if (st->on_side)
        st->have_side = 1;
    else
        st->have_main = 1;
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof hex, &commit_id);
    printf("%d %s %.6f\n", st->count, hex, factor);
    st->count++;
}

int main(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        int help = argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
        fprintf(help ? stdout : stderr,
                "usage: pb_mkhistory DIR < PLAN (the plan: see bench/pb_mkhistory.c)\n");
        return help ? 0 : 2;
    }
    git_libgit2_init();
    struct state st = {0};
    st.outlier_mult = 1;
    check(git_repository_init(&st.repo, argv[1], 0), "init");

    char line[256];
    while (fgets(line, sizeof line, stdin)) {
        char word[32] = "", extra[32] = "";
        double a = 0, b = 0, c = 0;
        int n = sscanf(line, "%31s", word);
        if (n < 1 || word[0] == '#')
            continue;
        if (!strcmp(word, "noise") && sscanf(line, "%*s %lf", &a) == 1) {
            st.noise = a / 100;
        } else if (!strcmp(word, "outliers") && sscanf(line, "%*s %lf %lf", &a, &b) == 2) {
            st.outlier_rate = a;
            st.outlier_mult = b;
        } else if (!strcmp(word, "work") && sscanf(line, "%*s %lf", &a) == 1) {
            st.work = (long)a;
        } else if (!strcmp(word, "commit") && sscanf(line, "%*s %lf %31s", &a, extra) >= 1) {
            make_commit(&st, a, !strcmp(extra, "broken"), 0);
        } else if (!strcmp(word, "commits") && sscanf(line, "%*s %lf %lf", &a, &b) == 2) {
            for (long i = 0; i < (long)a; i++)
                make_commit(&st, b, 0, 0);
        } else if (!strcmp(word, "ramp") && sscanf(line, "%*s %lf %lf %lf", &a, &b, &c) == 3) {
            for (long i = 0; i < (long)a; i++)
                make_commit(&st, a > 1 ? b + (c - b) * (double)i / (a - 1) : c, 0, 0);
        } else if (!strcmp(word, "branch")) {
            st.side_head = st.main_head;
            st.have_side = st.have_main;
            st.on_side = 1;
        } else if (!strcmp(word, "main")) {
            st.on_side = 0;
        } else if (!strcmp(word, "merge") && sscanf(line, "%*s %lf", &a) == 1) {
            st.on_side = 0;
            make_commit(&st, a, 0, 1);
        } else {
            fprintf(stderr, "pb_mkhistory: bad plan line: %s", line);
            return 2;
        }
    }
    if (!st.have_main) {
        fprintf(stderr, "pb_mkhistory: the plan made no commit\n");
        return 2;
    }
    git_reference *ref = NULL;
    check(git_reference_create(&ref, st.repo, "refs/heads/main", &st.main_head, 1, "mkhistory"),
          "ref");
    git_reference_free(ref);
    check(git_repository_set_head(st.repo, "refs/heads/main"), "set head");
    /* A user's checkout of main, so tests can prove it is left alone. */
    git_checkout_options co;
    git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
    co.checkout_strategy = GIT_CHECKOUT_FORCE;
    check(git_checkout_head(st.repo, &co), "checkout");
    git_repository_free(st.repo);
    git_libgit2_shutdown();
    return 0;
}
