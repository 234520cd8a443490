/*
 * repo.c — revisions, ranges and private worktrees, through libgit2 only.
 *
 * The private worktrees: slot N lives in <gitdir>/perfbisect/worktrees/N
 * with its own index file N.index next to it. Each slot has a second
 * git_repository handle on the same git directory whose workdir is the slot
 * directory and whose index is the private index, so libgit2's checkout
 * compares the slot with what the slot last held (the private index, with
 * its stat cache) and writes only what changed. The user's index, HEAD,
 * refs and working tree are never opened for writing: checkout_tree does
 * not move HEAD, and the only index it sees is the private one.
 *
 * A slot is locked with flock(N.lock) while a pb_repo uses it, so two
 * bisections in the same repository cannot write the same slot; that lock
 * is also what makes removing a stale N.index.lock (left by an interrupted
 * run) safe.
 */
#include "perfbisect/repo.h"
#include "perfbisect/buf.h"

#include <git2.h>
#include <git2/sys/repository.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct pb_repo_slot {
    git_repository *git; /* workdir = the slot directory, index = the private index */
    char *dir;           /* <gitdir>perfbisect/worktrees/<slot> */
    char *index_path;    /* <dir>.git/index, git's own index of the slot too */
    int lock_fd;         /* flock held while this pb_repo owns the slot; -1 when not yet */
    int workdir_set;     /* git's workdir was pointed at `dir` */
} pb_repo_slot;

struct pb_repo {
    git_repository *git;
    char *gitdir;
    pb_repo_slot slots[PB_REPO_SLOTS];
};

/* Record libgit2's last error message under `code`, prefixed by `what`. */
static int git_fail(pb_error *err, int code, const char *what)
{
    const git_error *e = git_error_last();
    return pb_error_set(err, code, "%s: %s", what, e && e->message ? e->message : "libgit2 error");
}

static int parse_oid(git_oid *oid, const char *hex, pb_error *err)
{
    if (!hex || strlen(hex) != PB_OID_HEXSZ || git_oid_fromstr(oid, hex) < 0)
        return pb_error_set(err, PB_EINVAL, "not a full commit id: '%s'", hex ? hex : "(null)");
    return 0;
}

static int lookup_commit(git_repository *git, const char *hex, git_commit **out, pb_error *err)
{
    git_oid oid;
    int rc = parse_oid(&oid, hex, err);
    if (rc < 0)
        return rc;
    if (git_commit_lookup(out, git, &oid) < 0)
        return pb_error_set(err, PB_ENOTFOUND, "no commit %s in the repository", hex);
    return 0;
}

int pb_repo_open(pb_repo **out, const char *path, pb_error *err)
{
    int rc = 0;
    pb_repo *repo = NULL;

    *out = NULL;
    if (git_libgit2_init() < 0)
        return pb_error_set(err, PB_ERROR, "cannot initialise libgit2");
    repo = calloc(1, sizeof(*repo));
    if (!repo) {
        git_libgit2_shutdown();
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < PB_REPO_SLOTS; i++)
        repo->slots[i].lock_fd = -1;
    if (git_repository_open_ext(&repo->git, path ? path : ".", 0, NULL) < 0) {
        rc = git_fail(err, PB_ENOTFOUND, path ? path : ".");
        goto done;
    }
    /* The common directory: from a linked worktree (git worktree add), the
     * store and the private worktrees are the main checkout's, shared. */
    repo->gitdir = strdup(git_repository_commondir(repo->git));
    if (!repo->gitdir) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    *out = repo;
    repo = NULL;
done:
    pb_repo_free(repo);
    return rc;
}

int pb_repo_bisecting(const pb_repo *repo)
{
    return git_repository_state(repo->git) == GIT_REPOSITORY_STATE_BISECT;
}

void pb_repo_free(pb_repo *repo)
{
    if (!repo)
        return;
    for (size_t i = 0; i < PB_REPO_SLOTS; i++) {
        pb_repo_slot *s = &repo->slots[i];
        git_repository_free(s->git);
        free(s->dir);
        free(s->index_path);
        if (s->lock_fd >= 0)
            close(s->lock_fd); /* releases the flock */
    }
    git_repository_free(repo->git);
    free(repo->gitdir);
    free(repo);
    git_libgit2_shutdown();
}

const char *pb_repo_gitdir(const pb_repo *repo)
{
    return repo->gitdir;
}

int pb_repo_resolve(pb_repo *repo, const char *revspec, char out_hex[PB_OID_HEXSZ + 1],
                    pb_error *err)
{
    int rc = 0;
    git_object *obj = NULL, *commit = NULL;

    out_hex[0] = '\0';
    if (!revspec || !*revspec)
        return pb_error_set(err, PB_EINVAL, "empty revision");
    int grc = git_revparse_single(&obj, repo->git, revspec);
    if (grc == GIT_ENOTFOUND) {
        rc = pb_error_set(err, PB_ENOTFOUND, "unknown revision '%s'", revspec);
        goto done;
    }
    if (grc == GIT_EAMBIGUOUS) {
        rc = pb_error_set(err, PB_EINVAL, "ambiguous revision '%s': give more hex digits", revspec);
        goto done;
    }
    if (grc < 0) {
        const git_error *e = git_error_last();
        rc = pb_error_set(err, PB_EINVAL, "invalid revision '%s': %s", revspec,
                          e && e->message ? e->message : "cannot parse");
        goto done;
    }
    /* Tags (annotated or not) name commits; trees and blobs do not. */
    if (git_object_peel(&commit, obj, GIT_OBJECT_COMMIT) < 0) {
        rc = pb_error_set(err, PB_EINVAL, "revision '%s' is not a commit", revspec);
        goto done;
    }
    git_oid_tostr(out_hex, PB_OID_HEXSZ + 1, git_object_id(commit));
done:
    git_object_free(commit);
    git_object_free(obj);
    return rc;
}

int pb_repo_is_ancestor(pb_repo *repo, const char *ancestor_hex, const char *descendant_hex,
                        int *out, pb_error *err)
{
    git_oid a, d;
    int rc;

    *out = 0;
    if ((rc = parse_oid(&a, ancestor_hex, err)) < 0 ||
        (rc = parse_oid(&d, descendant_hex, err)) < 0)
        return rc;
    if (git_oid_equal(&a, &d)) {
        *out = 1;
        return 0;
    }
    rc = git_graph_descendant_of(repo->git, &d, &a);
    if (rc < 0)
        return git_fail(err, PB_ENOTFOUND, "cannot compare commits");
    *out = rc;
    return 0;
}

/* id -> index map for the range: a sorted array searched with bsearch. */
typedef struct oid_index {
    git_oid oid;
    size_t index;
} oid_index;

static int oid_index_cmp(const void *a, const void *b)
{
    return git_oid_cmp(&((const oid_index *)a)->oid, &((const oid_index *)b)->oid);
}

static const oid_index *oid_index_find(const oid_index *map, size_t n, const git_oid *oid)
{
    oid_index key;
    git_oid_cpy(&key.oid, oid);
    return bsearch(&key, map, n, sizeof(*map), oid_index_cmp);
}

/*
 * The message's first line, trimmed of trailing blanks, its other control
 * characters (a tab, an escape) as spaces: it goes into terminal and
 * Markdown reports as it is (caller frees).
 */
static char *subject_of(const git_commit *commit)
{
    const char *msg = git_commit_message(commit);
    if (!msg)
        msg = "";
    size_t len = strcspn(msg, "\n");
    while (len && (msg[len - 1] == ' ' || msg[len - 1] == '\t' || msg[len - 1] == '\r'))
        len--;
    char *s = strndup(msg, len);
    for (char *c = s; c && *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
    return s;
}

static char *author_of(const git_commit *commit)
{
    const git_signature *sig = git_commit_author(commit);
    pb_buf b = PB_BUF_INIT;
    if (pb_buf_printf(&b, "%s <%s>", sig && sig->name ? sig->name : "",
                      sig && sig->email ? sig->email : "") < 0) {
        pb_buf_free(&b);
        return NULL;
    }
    return pb_buf_detach(&b);
}

void pb_repo_range_free(pb_repo_range *range)
{
    if (!range)
        return;
    for (size_t i = 0; i < range->n; i++) {
        free(range->commits[i].subject);
        free(range->commits[i].author);
        free(range->commits[i].parents);
    }
    free(range->commits);
    range->commits = NULL;
    range->n = 0;
}

/* Fill `c` from `commit`, with parents looked up in the range's id map. */
static int fill_commit(pb_repo_commit *c, const git_commit *commit, const oid_index *map,
                       size_t nmap, int first_parent, pb_error *err)
{
    unsigned np = git_commit_parentcount(commit);

    git_oid_tostr(c->id, sizeof(c->id), git_commit_id(commit));
    c->time = (int64_t)git_commit_time(commit);
    c->first_parent[0] = '\0';
    if (np > 0)
        git_oid_tostr(c->first_parent, sizeof(c->first_parent), git_commit_parent_id(commit, 0));
    if (first_parent && np > 1)
        np = 1;
    c->subject = subject_of(commit);
    c->author = author_of(commit);
    c->parents = np ? calloc(np, sizeof(*c->parents)) : NULL;
    if (!c->subject || !c->author || (np && !c->parents))
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    for (unsigned p = 0; p < np; p++) {
        const oid_index *hit = oid_index_find(map, nmap, git_commit_parent_id(commit, p));
        if (hit)
            c->parents[c->nparents++] = hit->index;
    }
    return 0;
}

static int not_ancestor(pb_error *err, const char *good_hex, const char *bad_hex)
{
    return pb_error_set(err, PB_EINVAL, "good commit %.12s is not an ancestor of bad commit %.12s",
                        good_hex, bad_hex);
}

int pb_repo_range_list(pb_repo *repo, const char *good_hex, const char *bad_hex, int first_parent,
                       pb_repo_range *out, pb_error *err)
{
    int rc = 0, good_is_parent = 0;
    git_oid good, bad, oid;
    git_revwalk *walk = NULL;
    git_commit *commit = NULL;
    git_oid *all = NULL; /* the whole DAG range, topological, parents first */
    size_t nall = 0, capall = 0;
    oid_index *map = NULL;
    size_t *chain = NULL; /* with first_parent: indices into `all`, bad first */
    size_t nchain = 0;

    out->n = 0;
    out->commits = NULL;
    if ((rc = parse_oid(&good, good_hex, err)) < 0 || (rc = parse_oid(&bad, bad_hex, err)) < 0)
        goto done;
    /* libgit2 (1.5) walks into the parents a shallow clone does not have. */
    if (git_repository_is_shallow(repo->git) == 1) {
        rc = pb_error_set(err, PB_EINVAL,
                          "the repository is a shallow clone, so its history cannot be walked: "
                          "fetch all of it first (git fetch --unshallow)");
        goto done;
    }

    if (git_revwalk_new(&walk, repo->git) < 0 ||
        git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE) < 0) {
        rc = git_fail(err, PB_ERROR, "cannot walk the history");
        goto done;
    }
    if (git_revwalk_push(walk, &bad) < 0 || git_revwalk_hide(walk, &good) < 0) {
        rc = git_fail(err, PB_ENOTFOUND, "cannot start the walk at the good and bad commits");
        goto done;
    }
    int wrc;
    while ((wrc = git_revwalk_next(&oid, walk)) == 0) {
        if (nall == capall) {
            size_t cap = capall ? capall * 2 : 256;
            git_oid *p = realloc(all, cap * sizeof(*all));
            if (!p) {
                rc = pb_error_set(err, PB_ENOMEM, "out of memory");
                goto done;
            }
            all = p;
            capall = cap;
        }
        git_oid_cpy(&all[nall++], &oid);
    }
    if (wrc != GIT_ITEROVER) {
        rc = git_fail(err, PB_ERROR, "cannot walk the history");
        goto done;
    }
    if (nall == 0) {
        /* Nothing reachable from bad but not from good: bad is good or an ancestor of it. */
        if (!git_oid_equal(&good, &bad))
            rc = not_ancestor(err, good_hex, bad_hex);
        goto done;
    }

    map = malloc(nall * sizeof(*map));
    if (!map) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < nall; i++) {
        git_oid_cpy(&map[i].oid, &all[i]);
        map[i].index = i;
    }
    qsort(map, nall, sizeof(*map), oid_index_cmp);

    if (first_parent) {
        /*
         * Follow first parents from bad while the commit is a candidate of
         * the full range (i.e. not an ancestor of good). Using the full
         * range keeps the DAG meaning of "ancestor of good" even when good
         * is reachable from the chain only through a merge's other parent.
         */
        chain = malloc(nall * sizeof(*chain));
        if (!chain) {
            rc = pb_error_set(err, PB_ENOMEM, "out of memory");
            goto done;
        }
        const oid_index *hit = oid_index_find(map, nall, &bad);
        int ends_on_good = 0;
        while (hit && nchain < nall) {
            chain[nchain++] = hit->index;
            if (git_commit_lookup(&commit, repo->git, &all[hit->index]) < 0) {
                rc = git_fail(err, PB_ERROR, "cannot read a commit");
                goto done;
            }
            const git_oid *p0 =
                git_commit_parentcount(commit) > 0 ? git_commit_parent_id(commit, 0) : NULL;
            hit = p0 ? oid_index_find(map, nall, p0) : NULL;
            ends_on_good = p0 && git_oid_equal(p0, &good);
            git_commit_free(commit);
            commit = NULL;
        }
        /* The chain usually ends on good itself; otherwise ask the graph (slower). */
        if (!ends_on_good) {
            int is_anc = 0;
            if ((rc = pb_repo_is_ancestor(repo, good_hex, bad_hex, &is_anc, err)) < 0)
                goto done;
            if (!is_anc) {
                rc = not_ancestor(err, good_hex, bad_hex);
                goto done;
            }
        }
        /* Re-key the map to chain positions (oldest first). */
        for (size_t i = 0; i < nall; i++)
            map[i].index = (size_t)-1;
        for (size_t k = 0; k < nchain; k++) {
            oid_index *m = (oid_index *)oid_index_find(map, nall, &all[chain[k]]);
            m->index = nchain - 1 - k;
        }
    }

    size_t n = first_parent ? nchain : nall;
    out->commits = calloc(n, sizeof(*out->commits));
    if (!out->commits) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    out->n = n;
    for (size_t i = 0; i < n; i++) {
        const git_oid *id = first_parent ? &all[chain[nchain - 1 - i]] : &all[i];
        if (git_commit_lookup(&commit, repo->git, id) < 0) {
            rc = git_fail(err, PB_ERROR, "cannot read a commit");
            goto done;
        }
        if ((rc = fill_commit(&out->commits[i], commit, map, nall, first_parent, err)) < 0)
            goto done;
        for (unsigned p = 0; p < git_commit_parentcount(commit); p++)
            good_is_parent |= git_oid_equal(git_commit_parent_id(commit, p), &good);
        if (first_parent) {
            /* Drop parents that are in the DAG range but not on the chain. */
            size_t *p = out->commits[i].parents, k = 0;
            for (size_t j = 0; j < out->commits[i].nparents; j++)
                if (p[j] != (size_t)-1)
                    p[k++] = p[j];
            out->commits[i].nparents = k;
        }
        git_commit_free(commit);
        commit = NULL;
    }
    /*
     * good is a proper ancestor of bad exactly when some candidate has good
     * as a parent (the commit after good on a path from bad down to good).
     * Checking here saves a second walk of the history.
     */
    if (!first_parent && !good_is_parent)
        rc = not_ancestor(err, good_hex, bad_hex);
done:
    if (rc < 0)
        pb_repo_range_free(out);
    git_commit_free(commit);
    git_revwalk_free(walk);
    free(all);
    free(map);
    free(chain);
    return rc;
}

int pb_repo_commit_describe(pb_repo *repo, const char *commit_hex, char **subject, char **author,
                            pb_error *err)
{
    int rc = 0;
    git_commit *commit = NULL;

    *subject = NULL;
    *author = NULL;
    if ((rc = lookup_commit(repo->git, commit_hex, &commit, err)) < 0)
        goto done;
    *subject = subject_of(commit);
    *author = author_of(commit);
    if (!*subject || !*author) {
        free(*subject);
        free(*author);
        *subject = *author = NULL;
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
    }
done:
    git_commit_free(commit);
    return rc;
}

/* mkdir -p for a path whose components are all ours to create. */
static int mkdirs(const char *path, pb_error *err)
{
    int rc = 0;
    char *p = strdup(path);
    if (!p)
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char saved = *s;
        *s = '\0';
        if (mkdir(p, 0777) < 0 && errno != EEXIST) {
            rc = pb_error_set_errno(err, PB_EIO, errno, "cannot create %s", p);
            goto done;
        }
        *s = saved;
        if (saved == '\0')
            break;
    }
done:
    free(p);
    return rc;
}

/* First use of a slot in this pb_repo: paths, lock, second repository handle. */
static int slot_setup(pb_repo *repo, unsigned slot, pb_error *err)
{
    int rc = 0;
    pb_repo_slot *s = &repo->slots[slot];
    pb_buf b = PB_BUF_INIT;

    if (s->git)
        return 0;
    if (pb_buf_printf(&b, "%sperfbisect/worktrees", repo->gitdir) < 0) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = mkdirs(pb_buf_cstr(&b), err)) < 0)
        goto done;
    if (!s->dir || !s->index_path) {
        free(s->dir);
        free(s->index_path);
        s->index_path = NULL;
        if (pb_buf_printf(&b, "/%u", slot) < 0 || !(s->dir = strdup(pb_buf_cstr(&b))) ||
            pb_buf_puts(&b, ".git/index") < 0 || !(s->index_path = strdup(pb_buf_cstr(&b)))) {
            rc = pb_error_set(err, PB_ENOMEM, "out of memory");
            goto done;
        }
        pb_buf_clear(&b);
        if (pb_buf_printf(&b, "%s.git", s->dir) < 0) {
            rc = pb_error_set(err, PB_ENOMEM, "out of memory");
            goto done;
        }
        if ((rc = mkdirs(pb_buf_cstr(&b), err)) < 0)
            goto done;
    }
    if (s->lock_fd < 0) {
        pb_buf_clear(&b);
        if (pb_buf_printf(&b, "%s.lock", s->dir) < 0) {
            rc = pb_error_set(err, PB_ENOMEM, "out of memory");
            goto done;
        }
        int fd = open(pb_buf_cstr(&b), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0) {
            rc = pb_error_set_errno(err, PB_EIO, errno, "cannot open %s", pb_buf_cstr(&b));
            goto done;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            int e = errno;
            close(fd);
            if (e == EWOULDBLOCK)
                rc = pb_error_set(err, PB_EINVAL,
                                  "worktree %s is in use by another perfbisect process", s->dir);
            else
                rc = pb_error_set_errno(err, PB_EIO, e, "cannot lock %s", pb_buf_cstr(&b));
            goto done;
        }
        s->lock_fd = fd;
    }
    if (git_repository_open_ext(&s->git, repo->gitdir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
        rc = git_fail(err, PB_ERROR, "cannot open the repository for a worktree");
        goto done;
    }
done:
    if (rc < 0 && s->git) {
        git_repository_free(s->git);
        s->git = NULL;
        s->workdir_set = 0;
    }
    pb_buf_free(&b);
    return rc;
}

/*
 * The slot's private index: what the slot directory holds (paths, blob ids
 * and stat data). A missing, stale-locked or unreadable index is replaced
 * by an empty one, which makes the next checkout a full one.
 */
static int slot_index(pb_repo_slot *s, int slot_dir_was_missing, git_index **out, pb_error *err)
{
    int rc = 0;
    pb_buf lock = PB_BUF_INIT;

    *out = NULL;
    /* We hold the slot's flock, so an existing index lock is a leftover of an interrupted run. */
    if (pb_buf_printf(&lock, "%s.lock", s->index_path) < 0) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    if (unlink(pb_buf_cstr(&lock)) < 0 && errno != ENOENT) {
        rc = pb_error_set_errno(err, PB_EIO, errno, "cannot remove %s", pb_buf_cstr(&lock));
        goto done;
    }
    if (slot_dir_was_missing && unlink(s->index_path) < 0 && errno != ENOENT) {
        rc = pb_error_set_errno(err, PB_EIO, errno, "cannot remove %s", s->index_path);
        goto done;
    }
    if (git_index_open(out, s->index_path) < 0) {
        if (unlink(s->index_path) < 0 && errno != ENOENT) {
            rc = pb_error_set_errno(err, PB_EIO, errno, "cannot remove %s", s->index_path);
            goto done;
        }
        if (git_index_open(out, s->index_path) < 0) {
            rc = git_fail(err, PB_EIO, s->index_path);
            goto done;
        }
    }
done:
    pb_buf_free(&lock);
    return rc;
}

unsigned pb_repo_slot_pick(unsigned holds, unsigned keep, const size_t used[PB_REPO_SLOTS])
{
    unsigned use = 0;
    for (unsigned i = 0; i < PB_REPO_SLOTS; i++) {
        if (holds >> i & 1u)
            return i;
        if ((keep >> use & 1u) || (!(keep >> i & 1u) && used[i] < used[use]))
            use = i;
    }
    return use;
}

/*
 * Did `build` fill the slot last? Its command is kept in <dir>.build: build
 * products of another command (or of none) must not be measured as this
 * one's, nor spare a build whose flags differ but whose sources do not.
 */
static int stamp_matches(const pb_repo_slot *s, const char *build)
{
    pb_buf path = PB_BUF_INIT;
    char buf[4096];
    size_t want = strlen(build);
    ssize_t n = -1;
    int fd = -1;
    if (want < sizeof buf && pb_buf_printf(&path, "%s.build", s->dir) == 0 &&
        (fd = open(pb_buf_cstr(&path), O_RDONLY | O_CLOEXEC)) >= 0)
        n = read(fd, buf, sizeof buf);
    if (fd >= 0)
        close(fd);
    pb_buf_free(&path);
    return n == (ssize_t)want && memcmp(buf, build, want) == 0;
}

/* Write `text` to the file `dir_path` + `name`, replacing it: a new file
 * renamed over it, so a link (symbolic or hard) a build left there is
 * replaced, never written through, and a full disk leaves the old one. */
static int write_text(const char *dir_path, const char *name, const char *text, pb_error *err)
{
    pb_buf path = PB_BUF_INIT, tmp = PB_BUF_INIT;
    size_t n = strlen(text);
    int rc = 0, fd = -1;
    if (pb_buf_printf(&path, "%s%s", dir_path, name) < 0 ||
        pb_buf_printf(&tmp, "%s%s.tmp", dir_path, name) < 0) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    unlink(pb_buf_cstr(&tmp));
    fd = open(pb_buf_cstr(&tmp), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    int ok = fd >= 0 && write(fd, text, n) == (ssize_t)n, e = errno;
    if (fd >= 0 && close(fd) < 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (ok && rename(pb_buf_cstr(&tmp), pb_buf_cstr(&path)) < 0) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        rc = pb_error_set_errno(err, PB_EIO, e ? e : EIO, "cannot write %s", pb_buf_cstr(&path));
        unlink(pb_buf_cstr(&tmp));
    }
done:
    pb_buf_free(&path);
    pb_buf_free(&tmp);
    return rc;
}

/*
 * Make the slot a worktree that git itself understands, so that a build's
 * `git describe` or `git status` answers for the commit being measured, not
 * for the user's HEAD: <dir>/.git names <dir>.git, which holds a detached
 * HEAD, the index and the path of the common git directory. It is not
 * registered under <gitdir>/worktrees, so `git worktree list` and the
 * user's refs never see it.
 */
static int slot_gitlink(const pb_repo *repo, const pb_repo_slot *s, const char *commit_hex,
                        pb_error *err)
{
    pb_buf text = PB_BUF_INIT, gitdir = PB_BUF_INIT;
    int rc = 0;
    if (pb_buf_printf(&gitdir, "%s.git", s->dir) < 0 ||
        pb_buf_printf(&text, "gitdir: %s\n", pb_buf_cstr(&gitdir)) < 0) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = write_text(s->dir, "/.git", pb_buf_cstr(&text), err)) < 0)
        goto done;
    pb_buf_clear(&text);
    if (pb_buf_printf(&text, "%s\n", repo->gitdir) < 0) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = write_text(pb_buf_cstr(&gitdir), "/commondir", pb_buf_cstr(&text), err)) < 0)
        goto done;
    pb_buf_clear(&text);
    if (pb_buf_printf(&text, "%s\n", commit_hex) < 0) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    rc = write_text(pb_buf_cstr(&gitdir), "/HEAD", pb_buf_cstr(&text), err);
done:
    pb_buf_free(&text);
    pb_buf_free(&gitdir);
    return rc;
}

/* The slot's path of one entry, for unlink_stray_links. */
typedef struct link_scan {
    pb_buf path;         /* "<dir>/" + the entry's path */
    size_t base;         /* length of "<dir>/" */
    git_index *baseline; /* what the slot last held */
    int error;           /* errno of the failure that stopped the scan; 0: none */
} link_scan;

/* Point ls->path at the entry `root` + `name` (`name_len` bytes of it). */
static int scan_at(link_scan *ls, const char *root, const char *name, size_t name_len)
{
    ls->path.len = ls->base;
    if (pb_buf_puts(&ls->path, root) < 0 || pb_buf_put(&ls->path, name, name_len) < 0) {
        ls->error = ENOMEM;
        return -1;
    }
    return 0;
}

/*
 * Will libgit2 write the file at ls->path, whose commit blob is `blob`? Yes
 * when the slot last held another blob there, or none, or when the file is
 * not as the slot's index left it (size or mtime moved).
 */
static int will_rewrite(const link_scan *ls, const git_oid *blob, const struct stat *st)
{
    const git_index_entry *e =
        git_index_get_bypath(ls->baseline, pb_buf_cstr(&ls->path) + ls->base, 0);
    return !e || !git_oid_equal(&e->id, blob) || e->file_size != (uint32_t)st->st_size ||
           e->mtime.seconds != (int32_t)st->st_mtime;
}

/* Remove the entry at ls->path when it is a symbolic link, or (`blob`: the
 * commit has that file there) a file with other names that libgit2 will
 * rewrite: it writes a file in place, i.e. under all its names. A hard link
 * left alone keeps the build incremental. */
static int unlink_if_link(link_scan *ls, const git_oid *blob)
{
    struct stat st;
    if (lstat(pb_buf_cstr(&ls->path), &st) < 0)
        return 0; /* nothing there (or under a file): nothing to write through */
    if (!S_ISLNK(st.st_mode) &&
        !(blob && S_ISREG(st.st_mode) && st.st_nlink > 1 && will_rewrite(ls, blob, &st)))
        return 0;
    if (unlink(pb_buf_cstr(&ls->path)) < 0) {
        ls->error = errno;
        return -1;
    }
    return 0;
}

static int tree_link_cb(const char *root, const git_tree_entry *entry, void *payload)
{
    link_scan *ls = payload;
    const char *name = git_tree_entry_name(entry);
    /* A link the commit has is rewritten as a link: libgit2 does not follow it. */
    if (git_tree_entry_filemode(entry) == GIT_FILEMODE_LINK)
        return 0;
    if (scan_at(ls, root, name, strlen(name)) < 0)
        return -1;
    return unlink_if_link(
        ls, git_tree_entry_type(entry) == GIT_OBJECT_BLOB ? git_tree_entry_id(entry) : NULL);
}

/*
 * Remove the symbolic links a build or a benchmark left in the slot where
 * the commit has a file or a directory, or where the slot's index has a
 * directory: libgit2 (1.5) writes a file through such a link and deletes
 * files under a linked directory, i.e. outside the slot (in the user's own
 * checkout, when the link points there). Links elsewhere are build products
 * like any other and stay. The tree is walked parents first, so no lstat
 * here goes through a link either.
 */
static int unlink_stray_links(const pb_repo_slot *s, git_index *baseline, git_tree *target,
                              int *fs_error, pb_error *err)
{
    link_scan ls = {PB_BUF_INIT, 0, baseline, 0};
    int rc = 0;
    if (pb_buf_printf(&ls.path, "%s/", s->dir) < 0) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    ls.base = ls.path.len;
    if (git_tree_walk(target, GIT_TREEWALK_PRE, tree_link_cb, &ls) < 0 && !ls.error) {
        rc = git_fail(err, PB_EIO, "cannot read the commit's tree");
        goto done;
    }
    /* The directories of the slot's index, each once (the entries are sorted:
     * a directory is skipped when the previous entry's already had it). */
    const char *last = "";
    size_t last_len = 0, n = git_index_entrycount(baseline);
    for (size_t i = 0; i < n && !ls.error; i++) {
        const char *p = git_index_get_byindex(baseline, i)->path;
        const char *slash = strrchr(p, '/');
        size_t dir_len = slash ? (size_t)(slash - p) : 0;
        for (size_t k = 1; k <= dir_len && !ls.error; k++) {
            if (k < dir_len && p[k] != '/')
                continue;
            if (k <= last_len && (k == last_len || last[k] == '/') && !strncmp(p, last, k))
                continue;
            if (scan_at(&ls, "", p, k) == 0)
                unlink_if_link(&ls, NULL);
        }
        last = p;
        last_len = dir_len;
    }
    if (ls.error) {
        *fs_error = ls.error != ENOMEM;
        rc = pb_error_set_errno(err, ls.error == ENOMEM ? PB_ENOMEM : PB_EIO, ls.error,
                                "cannot remove the link %s", pb_buf_cstr(&ls.path));
    }
done:
    pb_buf_free(&ls.path);
    return rc;
}

/*
 * Remove `name` (relative to the directory `at`) and all it holds, making
 * directories writable first: a build may leave read-only ones (Go's module
 * cache does), which stop libgit2's checkout as they stop rm -rf. Links are
 * removed, never followed. 0, or -1 with errno set.
 */
static int remove_all(int at, const char *name)
{
    struct stat st;
    if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(at, name, 0);
    /* Opened first, never through a link, then made writable through the
     * descriptor. A directory we may not even read is opened as a path and
     * changed through /proc (O_PATH needs no permission on it). */
    int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0 && (st.st_mode & 0700) != 0700 && fchmod(fd, (st.st_mode & 07777) | 0700) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (fd < 0 && errno == EACCES) {
        char proc[64];
        int path_fd = openat(at, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", path_fd);
        if (path_fd >= 0 && chmod(proc, (st.st_mode & 07777) | 0700) == 0)
            fd = openat(path_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (path_fd >= 0) {
            int e = errno;
            close(path_fd);
            errno = e;
        }
    }
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        errno = e;
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            rc = remove_all(fd, de->d_name);
    int e = errno;
    closedir(d);
    errno = e;
    return rc < 0 ? rc : unlinkat(at, name, AT_REMOVEDIR);
}

/* Bring the slot to `commit`, against `index` (what the slot last held).
 * *fs_error is set when it failed on the slot's files (not on objects). */
static int checkout_commit(pb_repo_slot *s, git_commit *commit, git_index *index, int clean,
                           int *fs_error, pb_error *err)
{
    git_tree *tree = NULL;
    int rc = 0;
    *fs_error = 0;
    if (git_repository_set_index(s->git, index) < 0) {
        rc = git_fail(err, PB_ERROR, "cannot use the worktree's index");
        goto done;
    }
    if (git_commit_tree(&tree, commit) < 0) {
        rc = git_fail(err, PB_EIO, "cannot read the commit's tree");
        goto done;
    }
    if ((rc = unlink_stray_links(s, index, tree, fs_error, err)) < 0)
        goto done;
    /*
     * FORCE: the slot is ours, so local edits (a build touching a tracked
     * file) are overwritten and missing files recreated. Untracked files
     * (build products) are kept for the same build command, and removed
     * (REMOVE_UNTRACKED / REMOVE_IGNORED) when another one fills the slot.
     * The baseline is the private index, i.e. what this slot last held,
     * never the user's HEAD.
     */
    git_checkout_options opts;
    git_checkout_options_init(&opts, GIT_CHECKOUT_OPTIONS_VERSION);
    opts.checkout_strategy = GIT_CHECKOUT_FORCE;
    if (clean)
        opts.checkout_strategy |= GIT_CHECKOUT_REMOVE_UNTRACKED | GIT_CHECKOUT_REMOVE_IGNORED;
    opts.baseline_index = index;
    if (git_checkout_tree(s->git, (const git_object *)tree, &opts) < 0) {
        const git_error *e = git_error_last();
        *fs_error = e && (e->klass == GIT_ERROR_OS || e->klass == GIT_ERROR_FILESYSTEM);
        rc = git_fail(err, PB_EIO, "cannot materialise the commit");
    }
done:
    git_tree_free(tree);
    return rc;
}

int pb_repo_checkout(pb_repo *repo, const char *commit_hex, unsigned slot, const char *build,
                     const char **path, pb_error *err)
{
    int rc = 0;
    git_commit *commit = NULL;
    git_index *index = NULL;
    struct stat st;

    *path = NULL;
    if (slot >= PB_REPO_SLOTS)
        return pb_error_set(err, PB_EINVAL, "worktree slot %u out of range (0..%d)", slot,
                            PB_REPO_SLOTS - 1);
    if ((rc = slot_setup(repo, slot, err)) < 0)
        goto done;
    pb_repo_slot *s = &repo->slots[slot];
    /* Looked up through the slot's handle: checkout wants objects of its own repository. */
    if ((rc = lookup_commit(s->git, commit_hex, &commit, err)) < 0)
        goto done;

    /* lstat: a slot that is a link (to the user's checkout, say) is not
     * ours to write through; it is replaced by a directory. */
    int missing = lstat(s->dir, &st) < 0 || !S_ISDIR(st.st_mode);
    if (missing) {
        if (unlink(s->dir) < 0 && errno != ENOENT) {
            rc = pb_error_set_errno(err, PB_EIO, errno, "cannot remove %s", s->dir);
            goto done;
        }
        if ((rc = mkdirs(s->dir, err)) < 0)
            goto done;
    }
    /*
     * update_gitlink = 0: no core.worktree in the config (slot_gitlink
     * writes the slot's .git file). Once per handle: libgit2 1.5 leaks when
     * it is called again with the same directory.
     */
    if (!s->workdir_set) {
        if (git_repository_set_workdir(s->git, s->dir, 0) < 0) {
            rc = git_fail(err, PB_ERROR, "cannot set the worktree directory");
            goto done;
        }
        s->workdir_set = 1;
    }
    int clean = build && !stamp_matches(s, build);
    if ((rc = slot_index(s, missing, &index, err)) < 0)
        goto done;
    int fs_error = 0;
    if ((rc = checkout_commit(s, commit, index, clean, &fs_error, err)) < 0) {
        /* Something in the slot stops the checkout (a read-only directory
         * a build made): the slot is ours, so it starts afresh, once, from
         * an empty directory and index. A missing object (a partial clone)
         * would fail again: the build products stay. */
        if (!fs_error)
            goto done;
        rc = 0;
        git_index_free(index);
        index = NULL;
        if (remove_all(AT_FDCWD, s->dir) < 0) {
            rc = pb_error_set_errno(err, PB_EIO, errno, "cannot remove %s", s->dir);
            goto done;
        }
        if ((rc = mkdirs(s->dir, err)) < 0 || (rc = slot_index(s, 1, &index, err)) < 0 ||
            (rc = checkout_commit(s, commit, index, 1, &fs_error, err)) < 0)
            goto done;
        clean = build != NULL;
    }
    if (clean && (rc = write_text(s->dir, ".build", build, err)) < 0)
        goto done;
    if ((rc = slot_gitlink(repo, s, git_oid_tostr_s(git_commit_id(commit)), err)) < 0)
        goto done;
    *path = s->dir;
done:
    git_index_free(index);
    git_commit_free(commit);
    return rc;
}
