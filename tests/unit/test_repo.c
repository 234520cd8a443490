/*
 * test_repo.c — ranges, revisions and private worktrees on real
 * repositories written with libgit2 in a temporary directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "perfbisect/buf.h"
#include "perfbisect/repo.h"

#include <git2.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* One file of a commit: mode 0 means a regular file. */
typedef struct tfile {
    const char *path;
    const char *content;
    unsigned mode;
} tfile;

typedef struct fixture {
    char dir[64];
    git_repository *git;
    int64_t clock; /* commit times, increasing */
} fixture;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_rf(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    git_libgit2_init();
    strcpy(f->dir, "/tmp/pb-test-repo-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(git_repository_init(&f->git, f->dir, 0), 0);
    f->clock = 1700000000;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    git_repository_free(f->git);
    rm_rf(f->dir);
    free(f);
    git_libgit2_shutdown();
    return 0;
}

/* Write a commit with exactly `files` (NULL-path terminated) on `parents`. */
static void mk_commit(fixture *f, git_oid *out, const char *msg, const tfile *files,
                      const git_oid *parents, size_t nparents)
{
    git_index *idx = NULL;
    git_oid tree_id;
    git_tree *tree = NULL;
    git_signature *sig = NULL;
    const git_commit *pc[4] = {NULL};
    git_commit *pcommits[4] = {NULL};

    assert_true(nparents <= 4);
    assert_int_equal(git_index_new(&idx), 0);
    for (const tfile *t = files; t && t->path; t++) {
        git_index_entry e;
        memset(&e, 0, sizeof(e));
        e.path = t->path;
        e.mode = t->mode ? t->mode : GIT_FILEMODE_BLOB;
        assert_int_equal(git_blob_create_from_buffer(&e.id, f->git, t->content, strlen(t->content)),
                         0);
        assert_int_equal(git_index_add(idx, &e), 0);
    }
    assert_int_equal(git_index_write_tree_to(&tree_id, idx, f->git), 0);
    assert_int_equal(git_tree_lookup(&tree, f->git, &tree_id), 0);
    assert_int_equal(git_signature_new(&sig, "Ada Tester", "ada@example.org", f->clock++, 0), 0);
    for (size_t i = 0; i < nparents; i++) {
        assert_int_equal(git_commit_lookup(&pcommits[i], f->git, &parents[i]), 0);
        pc[i] = pcommits[i];
    }
    assert_int_equal(git_commit_create(out, f->git, NULL, sig, sig, NULL, msg, tree, nparents, pc),
                     0);
    for (size_t i = 0; i < nparents; i++)
        git_commit_free(pcommits[i]);
    git_signature_free(sig);
    git_tree_free(tree);
    git_index_free(idx);
}

/* Point refs/heads/main and HEAD at `id`. */
static void set_main(fixture *f, const git_oid *id)
{
    git_reference *ref = NULL;
    assert_int_equal(git_reference_create(&ref, f->git, "refs/heads/main", id, 1, "test"), 0);
    git_reference_free(ref);
    assert_int_equal(git_repository_set_head(f->git, "refs/heads/main"), 0);
}

static void hex(char out[PB_OID_HEXSZ + 1], const git_oid *id)
{
    git_oid_tostr(out, PB_OID_HEXSZ + 1, id);
}

static char *read_file(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    pb_buf b = PB_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        assert_int_equal(pb_buf_put(&b, chunk, n), 0);
    fclose(fp);
    return pb_buf_detach(&b);
}

static void write_file(const char *dir, const char *name, const char *content)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs(content, fp);
    fclose(fp);
}

static void assert_file(const char *dir, const char *name, const char *content)
{
    char *got = read_file(dir, name);
    assert_non_null(got);
    assert_string_equal(got, content);
    free(got);
}

static int exists(const char *dir, const char *name)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return lstat(path, &st) == 0;
}

/*
 * A snapshot of everything under the user's repository except our own
 * <gitdir>/perfbisect: path, type, mode, size, mtime (ns) and an FNV-1a hash
 * of the bytes, one line per entry, sorted (directories: path and mode only). Equal snapshots mean
 * nothing of the user's (HEAD, index, refs, config, objects, working tree) was written.
 */
static pb_buf snap_buf;
static size_t snap_root_len;

static int snap_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)flag;
    (void)ftw;
    const char *rel = path + snap_root_len;
    if (strncmp(rel, "/.git/perfbisect", 16) == 0)
        return 0;
    uint64_t h = 1469598103934665603ULL;
    if (S_ISREG(st->st_mode)) {
        FILE *fp = fopen(path, "rb");
        assert_non_null(fp);
        int c;
        while ((c = getc(fp)) != EOF)
            h = (h ^ (uint64_t)c) * 1099511628211ULL;
        fclose(fp);
    }
    /* A directory's mtime moves when we create .git/perfbisect: not compared. */
    int dir = S_ISDIR(st->st_mode);
    pb_buf_printf(&snap_buf, "%s %o %lld %lld.%09ld %016llx\n", rel, (unsigned)st->st_mode,
                  dir ? 0LL : (long long)st->st_size, dir ? 0LL : (long long)st->st_mtim.tv_sec,
                  dir ? 0L : (long)st->st_mtim.tv_nsec, (unsigned long long)h);
    return 0;
}

static int cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *snapshot(const char *root)
{
    pb_buf_clear(&snap_buf);
    snap_root_len = strlen(root);
    assert_int_equal(nftw(root, snap_one, 16, FTW_PHYS), 0);
    /* sort lines so that readdir order does not matter */
    char *all = pb_buf_detach(&snap_buf);
    size_t n = 0;
    char *lines[4096];
    for (char *s = strtok(all, "\n"); s && n < 4096; s = strtok(NULL, "\n"))
        lines[n++] = s;
    qsort(lines, n, sizeof(*lines), cmp_lines);
    pb_buf out = PB_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        pb_buf_printf(&out, "%s\n", lines[i]);
    free(all);
    return pb_buf_detach(&out);
}

/* `dir` is as the snapshot `before` (freed) found it. */
static void assert_unchanged(const char *dir, char *before)
{
    char *after = snapshot(dir);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

/* c0 - c1 - c2 - c3 - c4 (ids in `c`), main at c4. */
static void linear(fixture *f, git_oid c[5])
{
    char content[32], msg[32];
    for (int i = 0; i < 5; i++) {
        snprintf(content, sizeof(content), "v%d\n", i);
        snprintf(msg, sizeof(msg), "commit %d\n\nbody\n", i);
        tfile files[] = {{"a.txt", content, 0}, {"b.txt", "same\n", 0}, {NULL, NULL, 0}};
        mk_commit(f, &c[i], msg, files, i ? &c[i - 1] : NULL, i ? 1 : 0);
    }
    set_main(f, &c[4]);
}

/* The worktree slot chosen: the one holding the commit, else the least
 * recently used one that does not hold a commit still needed. */
static void test_repo__slot_pick_reuses_then_least_recent_but_kept(void **state)
{
    (void)state;
    const size_t used[PB_REPO_SLOTS] = {4, 1, 3, 2};
    assert_int_equal(pb_repo_slot_pick(1u << 2, 0, used), 2);
    assert_int_equal(pb_repo_slot_pick(1u << 2, 1u << 2, used), 2);
    assert_int_equal(pb_repo_slot_pick(0, 0, used), 1);
    assert_int_equal(pb_repo_slot_pick(0, 1u << 1, used), 3);
    assert_int_equal(pb_repo_slot_pick(0, 1u << 0, used), 1);
}

static void test_repo__linear_range_lists_commits_after_good(void **state)
{
    fixture *f = *state;
    git_oid c[5];
    char h[5][PB_OID_HEXSZ + 1];
    pb_repo *repo = NULL;
    pb_repo_range r;
    pb_error err = PB_ERROR_INIT;

    linear(f, c);
    for (int i = 0; i < 5; i++)
        hex(h[i], &c[i]);
    assert_int_equal(pb_repo_open(&repo, f->dir, &err), 0);
    assert_int_equal(pb_repo_range_list(repo, h[1], h[4], 0, &r, &err), 0);
    assert_int_equal(r.n, 3);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(r.commits[i].id, h[i + 2]);
    assert_int_equal(r.commits[0].nparents, 0); /* c1 is good: not a candidate */
    assert_string_equal(r.commits[0].first_parent, h[1]);
    assert_int_equal(r.commits[1].nparents, 1);
    assert_int_equal(r.commits[1].parents[0], 0);
    assert_int_equal(r.commits[2].parents[0], 1);
    assert_string_equal(r.commits[2].subject, "commit 4");
    assert_string_equal(r.commits[2].author, "Ada Tester <ada@example.org>");
    assert_int_equal(r.commits[2].time, 1700000004);
    pb_repo_range_free(&r);

    /* The root as good; good == bad gives an empty range. */
    assert_int_equal(pb_repo_range_list(repo, h[0], h[4], 1, &r, &err), 0);
    assert_int_equal(r.n, 4);
    assert_string_equal(r.commits[3].id, h[4]);
    pb_repo_range_free(&r);
    assert_int_equal(pb_repo_range_list(repo, h[2], h[2], 0, &r, &err), 0);
    assert_int_equal(r.n, 0);
    pb_repo_range_free(&r);
    /* Not full ids, or ids of no commit. */
    assert_int_equal(pb_repo_range_list(repo, "HEAD", h[4], 0, &r, &err), PB_EINVAL);
    assert_int_equal(
        pb_repo_range_list(repo, h[0], "0123456789012345678901234567890123456789", 0, &r, &err),
        PB_ENOTFOUND);
    pb_repo_free(repo);
}

/*
 *   c0 - c1 - c2 ------- m - c3
 *          \            /
 *           s1 ------ s2
 */
static void merged(fixture *f, git_oid *c0, git_oid *c1, git_oid *c2, git_oid *s1, git_oid *s2,
                   git_oid *m, git_oid *c3)
{
    tfile f0[] = {{"a", "0\n", 0}, {NULL, NULL, 0}};
    tfile f1[] = {{"a", "1\n", 0}, {NULL, NULL, 0}};
    tfile f2[] = {{"a", "2\n", 0}, {NULL, NULL, 0}};
    tfile fs1[] = {{"a", "1\n", 0}, {"s", "1\n", 0}, {NULL, NULL, 0}};
    tfile fs2[] = {{"a", "1\n", 0}, {"s", "2\n", 0}, {NULL, NULL, 0}};
    tfile fm[] = {{"a", "2\n", 0}, {"s", "2\n", 0}, {NULL, NULL, 0}};
    tfile f3[] = {{"a", "3\n", 0}, {"s", "2\n", 0}, {NULL, NULL, 0}};
    mk_commit(f, c0, "c0", f0, NULL, 0);
    mk_commit(f, c1, "c1", f1, c0, 1);
    mk_commit(f, c2, "c2", f2, c1, 1);
    mk_commit(f, s1, "s1", fs1, c1, 1);
    mk_commit(f, s2, "s2", fs2, s1, 1);
    git_oid mp[2] = {*c2, *s2};
    mk_commit(f, m, "merge side", fm, mp, 2);
    mk_commit(f, c3, "c3", f3, m, 1);
    set_main(f, c3);
}

static ptrdiff_t find_id(const pb_repo_range *r, const char *id)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->commits[i].id, id) == 0)
            return (ptrdiff_t)i;
    return -1;
}

static void assert_topological(const pb_repo_range *r)
{
    for (size_t i = 0; i < r->n; i++)
        for (size_t p = 0; p < r->commits[i].nparents; p++)
            assert_true(r->commits[i].parents[p] < i);
}

static void test_repo__merge_range_with_and_without_first_parent(void **state)
{
    fixture *f = *state;
    git_oid c0, c1, c2, s1, s2, m, c3;
    char hc1[41], hc2[41], hs1[41], hs2[41], hm[41], hc3[41];
    pb_repo *repo = NULL;
    pb_repo_range r;
    pb_error err = PB_ERROR_INIT;

    merged(f, &c0, &c1, &c2, &s1, &s2, &m, &c3);
    hex(hc1, &c1), hex(hc2, &c2), hex(hs1, &s1), hex(hs2, &s2), hex(hm, &m), hex(hc3, &c3);
    assert_int_equal(pb_repo_open(&repo, f->dir, &err), 0);

    /* DAG: c2, s1, s2, m, c3; m's parents are c2 and s2, in that order. */
    assert_int_equal(pb_repo_range_list(repo, hc1, hc3, 0, &r, &err), 0);
    assert_int_equal(r.n, 5);
    assert_topological(&r);
    assert_string_equal(r.commits[4].id, hc3);
    ptrdiff_t im = find_id(&r, hm), ic2 = find_id(&r, hc2), is2 = find_id(&r, hs2);
    assert_true(im >= 0 && ic2 >= 0 && is2 >= 0 && find_id(&r, hs1) >= 0);
    assert_int_equal(r.commits[im].nparents, 2);
    assert_int_equal(r.commits[im].parents[0], ic2);
    assert_int_equal(r.commits[im].parents[1], is2);
    assert_string_equal(r.commits[im].first_parent, hc2);
    assert_string_equal(r.commits[im].subject, "merge side");
    pb_repo_range_free(&r);

    /* First parent: c2, m, c3 only. */
    assert_int_equal(pb_repo_range_list(repo, hc1, hc3, 1, &r, &err), 0);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.commits[0].id, hc2);
    assert_string_equal(r.commits[1].id, hm);
    assert_string_equal(r.commits[2].id, hc3);
    assert_int_equal(r.commits[0].nparents, 0);
    assert_int_equal(r.commits[1].nparents, 1);
    assert_int_equal(r.commits[1].parents[0], 0);
    assert_int_equal(r.commits[2].parents[0], 1);
    pb_repo_range_free(&r);

    /* Good on the side branch: s1 and its ancestors are excluded. */
    assert_int_equal(pb_repo_range_list(repo, hs1, hc3, 0, &r, &err), 0);
    assert_int_equal(r.n, 4); /* c2, s2, m, c3 */
    assert_true(find_id(&r, hs1) < 0);
    assert_topological(&r);
    pb_repo_range_free(&r);
    assert_int_equal(pb_repo_range_list(repo, hs1, hc3, 1, &r, &err), 0);
    assert_int_equal(r.n, 3); /* c2, m, c3: the chain stops at c1, an ancestor of s1 */
    assert_string_equal(r.commits[0].id, hc2);
    pb_repo_range_free(&r);

    /* Good = s2 (only reachable from the chain through m's second parent). */
    assert_int_equal(pb_repo_range_list(repo, hs2, hc3, 1, &r, &err), 0);
    assert_int_equal(r.n, 3);
    pb_repo_range_free(&r);
    pb_repo_free(repo);
}

static void test_repo__good_not_ancestor_of_bad_is_einval(void **state)
{
    fixture *f = *state;
    git_oid c0, c1, c2, s1, s2, m, c3;
    char hc2[41], hs1[41];
    pb_repo *repo = NULL;
    pb_repo_range r = {0, NULL};
    pb_error err = PB_ERROR_INIT;

    merged(f, &c0, &c1, &c2, &s1, &s2, &m, &c3);
    hex(hc2, &c2), hex(hs1, &s1);
    assert_int_equal(pb_repo_open(&repo, f->dir, &err), 0);
    assert_int_equal(pb_repo_range_list(repo, hs1, hc2, 0, &r, &err), PB_EINVAL);
    assert_non_null(strstr(err.message, "not an ancestor"));
    assert_int_equal(r.n, 0);
    assert_null(r.commits);
    assert_int_equal(pb_repo_range_list(repo, hs1, hc2, 1, &r, &err), PB_EINVAL);
    assert_non_null(strstr(err.message, "not an ancestor"));
    /* Swapped good and bad. */
    char hc3[41];
    hex(hc3, &c3);
    assert_int_equal(pb_repo_range_list(repo, hc3, hc2, 0, &r, &err), PB_EINVAL);
    int anc = -1;
    assert_int_equal(pb_repo_is_ancestor(repo, hc2, hc3, &anc, &err), 0);
    assert_int_equal(anc, 1);
    assert_int_equal(pb_repo_is_ancestor(repo, hc3, hc2, &anc, &err), 0);
    assert_int_equal(anc, 0);
    assert_int_equal(pb_repo_is_ancestor(repo, hc2, hc2, &anc, &err), 0);
    assert_int_equal(anc, 1);
    pb_repo_free(repo);
}

static void test_repo__resolve_revspecs_and_reports_unknown(void **state)
{
    fixture *f = *state;
    git_oid c[5];
    char h[5][41], out[41], shortid[8];
    pb_repo *repo = NULL;
    pb_error err = PB_ERROR_INIT;

    linear(f, c);
    for (int i = 0; i < 5; i++)
        hex(h[i], &c[i]);
    /* An annotated tag on c1. */
    git_object *target = NULL;
    git_signature *sig = NULL;
    git_oid tag;
    assert_int_equal(git_object_lookup(&target, f->git, &c[1], GIT_OBJECT_COMMIT), 0);
    assert_int_equal(git_signature_new(&sig, "T", "t@example.org", 1700000100, 0), 0);
    assert_int_equal(git_tag_create(&tag, f->git, "v1.0", target, sig, "release", 0), 0);
    git_signature_free(sig);
    git_object_free(target);

    assert_int_equal(pb_repo_open(&repo, f->dir, &err), 0);
    assert_non_null(strstr(pb_repo_gitdir(repo), ".git"));
    assert_int_equal(pb_repo_resolve(repo, "HEAD", out, &err), 0);
    assert_string_equal(out, h[4]);
    assert_int_equal(pb_repo_resolve(repo, "HEAD~2", out, &err), 0);
    assert_string_equal(out, h[2]);
    assert_int_equal(pb_repo_resolve(repo, "main^", out, &err), 0);
    assert_string_equal(out, h[3]);
    assert_int_equal(pb_repo_resolve(repo, "v1.0", out, &err), 0);
    assert_string_equal(out, h[1]);
    memcpy(shortid, h[0], 7);
    shortid[7] = '\0';
    assert_int_equal(pb_repo_resolve(repo, shortid, out, &err), 0);
    assert_string_equal(out, h[0]);

    assert_int_equal(pb_repo_resolve(repo, "no-such-branch", out, &err), PB_ENOTFOUND);
    assert_string_equal(err.message, "unknown revision 'no-such-branch'");
    assert_string_equal(out, "");
    assert_int_equal(pb_repo_resolve(repo, "HEAD~9", out, &err), PB_ENOTFOUND);
    assert_non_null(strstr(err.message, "HEAD~9"));
    assert_int_equal(pb_repo_resolve(repo, "HEAD:a.txt", out, &err), PB_EINVAL); /* a blob */
    assert_non_null(strstr(err.message, "not a commit"));
    assert_true(pb_repo_resolve(repo, "", out, &err) < 0);

    char *subject = NULL, *author = NULL;
    assert_int_equal(pb_repo_commit_describe(repo, h[3], &subject, &author, &err), 0);
    assert_string_equal(subject, "commit 3");
    assert_string_equal(author, "Ada Tester <ada@example.org>");
    free(subject);
    free(author);
    assert_int_equal(pb_repo_commit_describe(repo, "0123456789012345678901234567890123456789",
                                             &subject, &author, &err),
                     PB_ENOTFOUND);
    /* A subject goes into terminal and Markdown reports: no tab, no escape. */
    git_oid odd;
    char odd_hex[41];
    tfile files[] = {{"a.txt", "odd\n", 0}, {NULL, NULL, 0}};
    mk_commit(f, &odd, "fix\tthe \033[31mred\033[0m text \r\nbody\n", files, &c[4], 1);
    hex(odd_hex, &odd);
    assert_int_equal(pb_repo_commit_describe(repo, odd_hex, &subject, &author, &err), 0);
    assert_string_equal(subject, "fix the  [31mred [0m text");
    free(subject);
    free(author);
    pb_repo_free(repo);
}

/* A: a.txt, b.txt, sub/c.txt, run.sh (755), link -> a.txt. B: a.txt changed, sub/c.txt gone. */
static void two_trees(fixture *f, git_oid *a, git_oid *b)
{
    tfile fa[] = {{"a.txt", "a1\n", 0},
                  {"b.txt", "unchanged\n", 0},
                  {"sub/c.txt", "c1\n", 0},
                  {"run.sh", "#!/bin/sh\necho hi\n", GIT_FILEMODE_BLOB_EXECUTABLE},
                  {"link", "a.txt", GIT_FILEMODE_LINK},
                  {NULL, NULL, 0}};
    tfile fb[] = {{"a.txt", "a2\n", 0},
                  {"b.txt", "unchanged\n", 0},
                  {"new.txt", "new\n", 0},
                  {"run.sh", "#!/bin/sh\necho hi\n", GIT_FILEMODE_BLOB_EXECUTABLE},
                  {"link", "a.txt", GIT_FILEMODE_LINK},
                  {NULL, NULL, 0}};
    mk_commit(f, a, "A", fa, NULL, 0);
    mk_commit(f, b, "B", fb, a, 1);
}

/* The user's state: HEAD at `head`, an index on disk, a dirty and an untracked file. */
static void user_state(fixture *f, const git_oid *head)
{
    git_index *idx = NULL;
    git_commit *c = NULL;
    git_tree *t = NULL;
    set_main(f, head);
    assert_int_equal(git_repository_index(&idx, f->git), 0);
    assert_int_equal(git_commit_lookup(&c, f->git, head), 0);
    assert_int_equal(git_commit_tree(&t, c), 0);
    assert_int_equal(git_index_read_tree(idx, t), 0);
    assert_int_equal(git_index_write(idx), 0);
    git_tree_free(t);
    git_commit_free(c);
    git_index_free(idx);
    write_file(f->dir, "a.txt", "user's own edit\n");
    write_file(f->dir, "notes.txt", "untracked\n");
}

static void test_repo__checkout_rewrites_only_changed_files(void **state)
{
    fixture *f = *state;
    git_oid a, b;
    char ha[41], hb[41];
    pb_repo *repo = NULL;
    pb_error err = PB_ERROR_INIT;
    const char *wt = NULL;
    struct stat st;
    char path[512];

    two_trees(f, &a, &b);
    user_state(f, &b);
    char *before = snapshot(f->dir);
    hex(ha, &a), hex(hb, &b);
    assert_int_equal(pb_repo_open(&repo, f->dir, &err), 0);

    assert_int_equal(pb_repo_checkout(repo, ha, 0, NULL, &wt, &err), 0);
    assert_non_null(strstr(wt, "/.git/perfbisect/worktrees/0"));
    assert_file(wt, "a.txt", "a1\n");
    assert_file(wt, "sub/c.txt", "c1\n");
    snprintf(path, sizeof(path), "%s/run.sh", wt);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_mode & S_IXUSR);
    snprintf(path, sizeof(path), "%s/link", wt);
    char target[64] = {0};
    assert_int_equal(readlink(path, target, sizeof(target) - 1), 5);
    assert_string_equal(target, "a.txt");

    /* Build products, and an old mtime on a file both commits share. */
    write_file(wt, "build.o", "object\n");
    write_file(wt, "sub/c.o", "object\n");
    snprintf(path, sizeof(path), "%s/b.txt", wt);
    struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
    assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);

    assert_int_equal(pb_repo_checkout(repo, hb, 0, NULL, &wt, &err), 0);
    assert_file(wt, "a.txt", "a2\n");       /* changed: rewritten */
    assert_file(wt, "new.txt", "new\n");    /* added */
    assert_false(exists(wt, "sub/c.txt"));  /* deleted */
    assert_file(wt, "build.o", "object\n"); /* untracked: kept */
    assert_file(wt, "sub/c.o", "object\n");
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mtim.tv_sec, 1000000000); /* unchanged: not rewritten */
    assert_file(wt, "b.txt", "unchanged\n");

    /* And back, in the other slot too. */
    assert_int_equal(pb_repo_checkout(repo, ha, 0, NULL, &wt, &err), 0);
    assert_file(wt, "sub/c.txt", "c1\n");
    assert_false(exists(wt, "new.txt"));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mtim.tv_sec, 1000000000);
    const char *wt1 = NULL;
    assert_int_equal(pb_repo_checkout(repo, hb, 1, NULL, &wt1, &err), 0);
    assert_non_null(strstr(wt1, "/.git/perfbisect/worktrees/1"));
    assert_file(wt1, "a.txt", "a2\n");
    assert_file(wt, "a.txt", "a1\n");

    assert_int_equal(pb_repo_checkout(repo, ha, PB_REPO_SLOTS, NULL, &wt, &err), PB_EINVAL);
    assert_int_equal(
        pb_repo_checkout(repo, "0123456789012345678901234567890123456789", 0, NULL, &wt, &err),
        PB_ENOTFOUND);
    assert_int_equal(pb_repo_checkout(repo, "HEAD", 0, NULL, &wt, &err), PB_EINVAL);
    pb_repo_free(repo);

    /* HEAD, index bytes, refs, config, objects, the user's files: all as they were. */
    assert_unchanged(f->dir, before);
}

/* Build products stay for the build command that made them, and only for it. */
static void test_repo__build_products_are_kept_for_their_build_only(void **state)
{
    fixture *f = *state;
    git_oid a, b;
    char ha[41], hb[41];
    pb_repo *repo = NULL;
    pb_error err = PB_ERROR_INIT;
    const char *wt = NULL;

    two_trees(f, &a, &b);
    hex(ha, &a), hex(hb, &b);
    assert_int_equal(pb_repo_open(&repo, f->dir, &err), 0);
    assert_int_equal(pb_repo_checkout(repo, ha, 0, "make", &wt, &err), 0);
    write_file(wt, "product.o", "built from a1\n");
    /* The same command: incremental, the product stays. */
    assert_int_equal(pb_repo_checkout(repo, hb, 0, "make", &wt, &err), 0);
    assert_file(wt, "product.o", "built from a1\n");
    assert_file(wt, "a.txt", "a2\n");
    /* Other flags, or no build at all: the old product would be measured. */
    assert_int_equal(pb_repo_checkout(repo, hb, 0, "make CFLAGS=-O0", &wt, &err), 0);
    assert_false(exists(wt, "product.o"));
    assert_file(wt, "a.txt", "a2\n");
    write_file(wt, "product.o", "built with -O0\n");
    assert_int_equal(pb_repo_checkout(repo, ha, 0, "", &wt, &err), 0);
    assert_false(exists(wt, "product.o"));
    assert_file(wt, "a.txt", "a1\n");
    pb_repo_free(repo);
    /* A later run with the same command (a new handle) keeps them again. */
    assert_int_equal(pb_repo_open(&repo, f->dir, &err), 0);
    assert_int_equal(pb_repo_checkout(repo, ha, 0, "", &wt, &err), 0);
    write_file(wt, "output.txt", "left by the benchmark\n");
    assert_int_equal(pb_repo_checkout(repo, hb, 0, "", &wt, &err), 0);
    assert_file(wt, "output.txt", "left by the benchmark\n");
    pb_repo_free(repo);
}

static void test_repo__checkout_repairs_a_damaged_slot(void **state)
{
    fixture *f = *state;
    git_oid a, b;
    char ha[41], hb[41], path[512];
    pb_repo *repo = NULL;
    pb_error err = PB_ERROR_INIT;
    const char *wt = NULL;

    two_trees(f, &a, &b);
    user_state(f, &a);
    char *before = snapshot(f->dir);
    hex(ha, &a), hex(hb, &b);
    assert_int_equal(pb_repo_open(&repo, f->dir, &err), 0);
    assert_int_equal(pb_repo_checkout(repo, ha, 0, NULL, &wt, &err), 0);

    /* A build that edits a tracked file and deletes another. */
    write_file(wt, "b.txt", "edited by the build\n");
    snprintf(path, sizeof(path), "%s/sub/c.txt", wt);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(pb_repo_checkout(repo, ha, 0, NULL, &wt, &err), 0);
    assert_file(wt, "b.txt", "unchanged\n");
    assert_file(wt, "sub/c.txt", "c1\n");

    /* The whole slot deleted. */
    char *dir = strdup(wt);
    rm_rf(dir);
    assert_int_equal(pb_repo_checkout(repo, hb, 0, NULL, &wt, &err), 0);
    assert_file(wt, "a.txt", "a2\n");
    assert_file(wt, "b.txt", "unchanged\n");

    /* A garbage index and a stale lock from an interrupted run. */
    snprintf(path, sizeof(path), "%s.git/index", dir);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs("this is not an index", fp);
    fclose(fp);
    snprintf(path, sizeof(path), "%s.git/index.lock", dir);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(pb_repo_checkout(repo, ha, 0, NULL, &wt, &err), 0);
    assert_file(wt, "a.txt", "a1\n");
    assert_file(wt, "sub/c.txt", "c1\n");
    /* ... and the next run starts from a good index again. */
    assert_int_equal(pb_repo_checkout(repo, hb, 0, NULL, &wt, &err), 0);
    assert_false(exists(wt, "sub/c.txt"));
    pb_repo_free(repo);

    /* A new handle (a later run) reuses the slot as it was left. */
    assert_int_equal(pb_repo_open(&repo, f->dir, &err), 0);
    assert_int_equal(pb_repo_checkout(repo, ha, 0, NULL, &wt, &err), 0);
    assert_file(wt, "sub/c.txt", "c1\n");
    pb_repo_free(repo);
    free(dir);

    assert_unchanged(f->dir, before);
}

/* A symbolic link at `name` in `dir`, to `target`. */
static void link_to(const char *dir, const char *name, const char *target)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_int_equal(symlink(target, path), 0);
}

/* two_trees, the user's state at B, and a directory of the user's, `mine`,
 * outside the repository's tracked files (a build's link may point there). */
static void users_directory(fixture *f, git_oid *a, git_oid *b, char *mine, size_t size)
{
    two_trees(f, a, b);
    user_state(f, b);
    snprintf(mine, size, "%s/mine", f->dir);
    assert_int_equal(mkdir(mine, 0777), 0);
}
/*
 * A build that links a file or a directory of the user's into the slot (its
 * data, its config) where a commit has a file or a directory of its own:
 * the checkout replaces the link, and never writes or deletes through it
 * in the user's checkout.
 */
static void test_repo__checkout_never_writes_through_a_link_in_the_slot(void **state)
{
    fixture *f = *state;
    git_oid a, b;
    char ha[41], hb[41], mine[256], notes[256], path[512], target[256] = {0};
    pb_repo *repo = NULL;
    pb_error err = PB_ERROR_INIT;
    const char *wt = NULL;

    users_directory(f, &a, &b, mine, sizeof(mine));
    write_file(mine, "c.txt", "the user's\n");
    snprintf(notes, sizeof(notes), "%s/notes.txt", f->dir);
    char *before = snapshot(f->dir);
    hex(ha, &a), hex(hb, &b);
    assert_int_equal(pb_repo_open(&repo, f->dir, &err), 0);

    /* A has sub/c.txt, B neither it nor sub/, but new.txt. */
    assert_int_equal(pb_repo_checkout(repo, ha, 0, "make", &wt, &err), 0);
    char *dir = strdup(wt);
    snprintf(path, sizeof(path), "%s/sub", dir);
    rm_rf(path);
    link_to(dir, "sub", mine);      /* a tracked directory replaced by a link */
    link_to(dir, "new.txt", notes); /* a link where B has a file */
    assert_int_equal(pb_repo_checkout(repo, hb, 0, "make", &wt, &err), 0);
    assert_file(wt, "new.txt", "new\n");
    assert_false(exists(wt, "sub"));
    assert_file(mine, "c.txt", "the user's\n");
    assert_file(f->dir, "notes.txt", "untracked\n");

    /* An untracked link where A has a directory. */
    link_to(dir, "sub", mine);
    assert_int_equal(pb_repo_checkout(repo, ha, 0, "make", &wt, &err), 0);
    assert_file(wt, "sub/c.txt", "c1\n");
    assert_file(mine, "c.txt", "the user's\n");
    /* A link the commit has stays a link; one elsewhere is a build product. */
    link_to(dir, "out", mine);
    assert_int_equal(pb_repo_checkout(repo, hb, 0, "make", &wt, &err), 0);
    snprintf(path, sizeof(path), "%s/out", dir);
    assert_true(readlink(path, target, sizeof(target) - 1) > 0);
    assert_string_equal(target, mine);
    snprintf(path, sizeof(path), "%s/link", dir);
    assert_int_equal(readlink(path, target, sizeof(target) - 1), 5);
    pb_repo_free(repo);
    free(dir);

    assert_unchanged(f->dir, before);
}

/*
 * Other ways a build's leftovers could make a checkout write outside the
 * slot: the slot directory itself replaced by a link, a tracked file that
 * got a second name (a hard link, as `cp -l` makes), the slot's .git file
 * made a link. None is written through.
 */
static void test_repo__checkout_never_writes_through_links_of_other_kinds(void **state)
{
    fixture *f = *state;
    git_oid a, b;
    char ha[41], hb[41], mine[256], path[512], other[512];
    pb_repo *repo = NULL;
    pb_error err = PB_ERROR_INIT;
    const char *wt = NULL;

    users_directory(f, &a, &b, mine, sizeof(mine));
    write_file(mine, "keep.txt", "the user's\n");
    write_file(mine, "a.txt", "the user's a\n");
    hex(ha, &a), hex(hb, &b);
    assert_int_equal(pb_repo_open(&repo, f->dir, &err), 0);

    /* The slot is a link to the user's directory: it becomes a directory. */
    assert_int_equal(pb_repo_checkout(repo, ha, 0, "make", &wt, &err), 0);
    char *dir = strdup(wt);
    rm_rf(dir);
    assert_int_equal(symlink(mine, dir), 0);
    assert_int_equal(pb_repo_checkout(repo, hb, 0, "other", &wt, &err), 0);
    struct stat st;
    assert_int_equal(lstat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_file(wt, "a.txt", "a2\n");
    assert_file(mine, "keep.txt", "the user's\n");
    assert_file(mine, "a.txt", "the user's a\n");
    assert_false(exists(mine, "new.txt"));

    /* a.txt, which A changes, is a second name of the user's file. */
    snprintf(path, sizeof(path), "%s/a.txt", dir);
    snprintf(other, sizeof(other), "%s/a.txt", mine);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(link(other, path), 0);
    /* The slot's .git file is a link to a file of the user's. */
    snprintf(path, sizeof(path), "%s/.git", dir);
    snprintf(other, sizeof(other), "%s/keep.txt", mine);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(symlink(other, path), 0);
    /* b.txt, which A does not change, got a second name in the user's
     * directory (as `cp -al` gives build products): it is left alone, so
     * what depends on it need not be rebuilt. */
    char b_txt[512], b_copy[512];
    struct stat b_before, b_after;
    snprintf(b_txt, sizeof(b_txt), "%s/b.txt", dir);
    snprintf(b_copy, sizeof(b_copy), "%s/b-copy.txt", mine);
    assert_int_equal(link(b_txt, b_copy), 0);
    assert_int_equal(stat(b_txt, &b_before), 0);
    assert_int_equal(pb_repo_checkout(repo, ha, 0, "other", &wt, &err), 0);
    assert_int_equal(stat(b_txt, &b_after), 0);
    assert_int_equal(b_after.st_ino, b_before.st_ino);
    assert_file(mine, "b-copy.txt", "unchanged\n");
    assert_file(wt, "a.txt", "a1\n");
    assert_file(mine, "a.txt", "the user's a\n");
    assert_file(mine, "keep.txt", "the user's\n");
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    pb_repo_free(repo);
    free(dir);
}

static int chown_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return lchown(path, 65534, 65534);
}

/* The body of the read-only case below: 0, or the step that failed. */
static int read_only_products(const char *repo_dir, const char *ha, const char *hb)
{
    pb_repo *repo = NULL;
    pb_error err = PB_ERROR_INIT;
    const char *wt = NULL;
    char path[512];
    int step = 1;
    if (pb_repo_open(&repo, repo_dir, &err) < 0 ||
        pb_repo_checkout(repo, ha, 0, "go build", &wt, &err) < 0) {
        fprintf(stderr, "%s\n", err.message);
        goto done;
    }
    step = 2;
    snprintf(path, sizeof(path), "%s/pkg", wt);
    if (mkdir(path, 0777) < 0)
        goto done;
    snprintf(path, sizeof(path), "%s/pkg/mod", wt);
    if (mkdir(path, 0777) < 0)
        goto done;
    snprintf(path, sizeof(path), "%s/pkg/mod/x.go", wt);
    FILE *fp = fopen(path, "w");
    if (!fp)
        goto done;
    fclose(fp);
    snprintf(path, sizeof(path), "%s/pkg/mod", wt);
    if (chmod(path, 0555) < 0)
        goto done;
    snprintf(path, sizeof(path), "%s/pkg", wt);
    if (chmod(path, 0555) < 0)
        goto done;
    /* Another build command: its products go, read-only or not. */
    step = 3;
    if (pb_repo_checkout(repo, hb, 0, "go build -race", &wt, &err) < 0) {
        fprintf(stderr, "%s\n", err.message);
        goto done;
    }
    step = 4;
    char *a = read_file(wt, "a.txt");
    int ok = a && !strcmp(a, "a2\n") && !exists(wt, "pkg");
    free(a);
    if (ok)
        step = 0;
done:
    pb_repo_free(repo);
    return step;
}

/*
 * Build products that are read-only (Go's module cache, Bazel's outputs)
 * stop libgit2 from cleaning the slot for another build command: the slot
 * starts afresh instead of failing every later run. Root writes anywhere,
 * so as root the case runs in a child with nobody's rights.
 */
static void test_repo__read_only_build_products_do_not_block_the_slot(void **state)
{
    fixture *f = *state;
    git_oid a, b;
    char ha[41], hb[41];

    two_trees(f, &a, &b);
    hex(ha, &a), hex(hb, &b);
    if (geteuid() != 0) {
        assert_int_equal(read_only_products(f->dir, ha, hb), 0);
        return;
    }
    assert_int_equal(nftw(f->dir, chown_one, 16, FTW_PHYS), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Nor root's home: libgit2 would fail to read its .gitconfig. */
        if (setgid(65534) < 0 || setuid(65534) < 0 ||
            git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_GLOBAL, f->dir) < 0 ||
            git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_XDG, f->dir) < 0)
            _exit(99);
        _exit(read_only_products(f->dir, ha, hb));
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_repo__slot_in_use_by_another_handle_is_refused(void **state)
{
    fixture *f = *state;
    git_oid a, b;
    char ha[41];
    pb_repo *r1 = NULL, *r2 = NULL;
    pb_error err = PB_ERROR_INIT;
    const char *wt = NULL;

    two_trees(f, &a, &b);
    hex(ha, &a);
    assert_int_equal(pb_repo_open(&r1, f->dir, &err), 0);
    assert_int_equal(pb_repo_open(&r2, f->dir, &err), 0);
    assert_int_equal(pb_repo_checkout(r1, ha, 0, NULL, &wt, &err), 0);
    assert_int_equal(pb_repo_checkout(r2, ha, 0, NULL, &wt, &err), PB_EINVAL);
    assert_non_null(strstr(err.message, "in use"));
    assert_int_equal(pb_repo_checkout(r2, ha, 1, NULL, &wt, &err), 0);
    pb_repo_free(r1);
    assert_int_equal(pb_repo_checkout(r2, ha, 0, NULL, &wt, &err), 0);
    pb_repo_free(r2);
}

static void test_repo__open_outside_a_repository_is_enotfound(void **state)
{
    fixture *f = *state;
    pb_repo *repo = NULL;
    pb_error err = PB_ERROR_INIT;
    char path[128];
    snprintf(path, sizeof(path), "%s/nope", f->dir);
    assert_int_equal(pb_repo_open(&repo, path, &err), PB_ENOTFOUND);
    assert_null(repo);
    assert_non_null(strstr(err.message, "nope"));
}

/* From a linked worktree, perfbisect's files are the main checkout's. */
static void test_repo__linked_worktree_shares_the_common_dir(void **state)
{
    fixture *f = *state;
    git_oid c[5];
    git_worktree *wt = NULL;
    pb_repo *main_repo = NULL, *linked = NULL;
    pb_error err = PB_ERROR_INIT;
    char path[128];
    linear(f, c);
    snprintf(path, sizeof(path), "%s-linked", f->dir);
    assert_int_equal(git_worktree_add(&wt, f->git, "linked", path, NULL), 0);
    assert_int_equal(pb_repo_open(&main_repo, f->dir, &err), 0);
    assert_int_equal(pb_repo_open(&linked, path, &err), 0);
    assert_string_equal(pb_repo_gitdir(linked), pb_repo_gitdir(main_repo));
    assert_null(strstr(pb_repo_gitdir(linked), "worktrees"));
    pb_repo_free(linked);
    pb_repo_free(main_repo);
    git_worktree_free(wt);
    rm_rf(path);
}

static void test_repo__long_history_maps_every_parent(void **state)
{
    fixture *f = *state;
    enum { N = 64 };
    git_oid c[N];
    char h[N][PB_OID_HEXSZ + 1], content[32];
    pb_repo *repo = NULL;
    pb_repo_range r;
    pb_error err = PB_ERROR_INIT;

    for (int i = 0; i < N; i++) {
        snprintf(content, sizeof(content), "%d\n", i);
        tfile files[] = {{"n", content, 0}, {NULL, NULL, 0}};
        mk_commit(f, &c[i], "step", files, i ? &c[i - 1] : NULL, i ? 1 : 0);
        hex(h[i], &c[i]);
    }
    assert_int_equal(pb_repo_open(&repo, f->dir, &err), 0);
    for (int fp = 0; fp < 2; fp++) {
        assert_int_equal(pb_repo_range_list(repo, h[0], h[N - 1], fp, &r, &err), 0);
        assert_int_equal(r.n, N - 1);
        for (size_t i = 0; i < r.n; i++) {
            assert_string_equal(r.commits[i].id, h[i + 1]);
            assert_string_equal(r.commits[i].first_parent, h[i]);
            assert_int_equal(r.commits[i].nparents, i ? 1 : 0);
            if (i)
                assert_int_equal(r.commits[i].parents[0], i - 1);
        }
        pb_repo_range_free(&r);
    }
    pb_repo_free(repo);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repo__slot_pick_reuses_then_least_recent_but_kept),
        cmocka_unit_test_setup_teardown(test_repo__linear_range_lists_commits_after_good, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_repo__long_history_maps_every_parent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repo__merge_range_with_and_without_first_parent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_repo__good_not_ancestor_of_bad_is_einval, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_repo__resolve_revspecs_and_reports_unknown, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_repo__checkout_rewrites_only_changed_files, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_repo__build_products_are_kept_for_their_build_only,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_repo__checkout_repairs_a_damaged_slot, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_repo__checkout_never_writes_through_a_link_in_the_slot,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_repo__checkout_never_writes_through_links_of_other_kinds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repo__read_only_build_products_do_not_block_the_slot,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_repo__slot_in_use_by_another_handle_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_repo__linked_worktree_shares_the_common_dir, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_repo__open_outside_a_repository_is_enotfound, setup,
                                        teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    pb_buf_free(&snap_buf);
    return rc;
}
