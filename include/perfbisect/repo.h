/*
 * repo.h — the git side of a bisection, through libgit2 only.
 *
 * Resolves revisions, lists the commits between good and bad, and
 * materialises a commit in a private worktree under the repository's git
 * directory. The user's working tree, index, HEAD and refs are never
 * written.
 */
#ifndef PERFBISECT_REPO_H
#define PERFBISECT_REPO_H

#include <stddef.h>
#include <stdint.h>

#include "perfbisect/error.h"

#define PB_OID_HEXSZ 40
/* Private worktrees per repository: a culprit and its parent side by side,
 * and the last few probes kept built, since a search comes back to them. */
#define PB_REPO_SLOTS 4

typedef struct pb_repo pb_repo;

/* Open the repository containing `path` (discovers upward, like git). */
int pb_repo_open(pb_repo **out, const char *path, pb_error *err);

/* NULL-safe. Does not remove the private worktrees (they are reused). */
void pb_repo_free(pb_repo *repo);

/* The repository's (common) git directory (e.g. ".../.git/", also from a
 * linked worktree), owned by the repo. */
const char *pb_repo_gitdir(const pb_repo *repo);

/* 1 when a `git bisect` is in progress in the repository (its BISECT_LOG). */
int pb_repo_bisecting(const pb_repo *repo);

/* Resolve any revspec ("HEAD~3", "v1.2", a short id) to a commit id. */
int pb_repo_resolve(pb_repo *repo, const char *revspec, char out_hex[PB_OID_HEXSZ + 1],
                    pb_error *err);

/* *out = 1 when `ancestor` is an ancestor of (or equal to) `descendant`. */
int pb_repo_is_ancestor(pb_repo *repo, const char *ancestor_hex, const char *descendant_hex,
                        int *out, pb_error *err);

/* One commit of a range, as the bisection sees it. */
typedef struct pb_repo_commit {
    char id[PB_OID_HEXSZ + 1];
    char *subject;   /* first line of the message */
    char *author;    /* "Name <email>" */
    int64_t time;    /* committer time, seconds since the epoch */
    size_t nparents; /* parents inside the range (indices into the list) */
    size_t *parents;
    char
        first_parent[PB_OID_HEXSZ + 1]; /* the first parent's id, in range or not ("" for a root) */
} pb_repo_commit;

typedef struct pb_repo_range {
    size_t n;
    pb_repo_commit *commits; /* topological order, parents before children; bad is last */
} pb_repo_range;

/*
 * The candidates for the first bad commit: the ancestors of `bad` (itself
 * included) that are not ancestors of `good`, merges included; with
 * `first_parent`, only the first-parent chain from bad down to good.
 * Fails with PB_EINVAL when good is not an ancestor of bad.
 */
int pb_repo_range_list(pb_repo *repo, const char *good_hex, const char *bad_hex, int first_parent,
                       pb_repo_range *out, pb_error *err);

void pb_repo_range_free(pb_repo_range *range);

/* Subject and author of any commit (caller frees both strings). */
int pb_repo_commit_describe(pb_repo *repo, const char *commit_hex, char **subject, char **author,
                            pb_error *err);

/*
 * Materialise `commit_hex` in private worktree number `slot` (0 to
 * PB_REPO_SLOTS - 1, so several commits can be kept built), kept under
 * <gitdir>/perfbisect/worktrees/<slot> and reused: only files that differ
 * from what the slot held are rewritten (and files the commit does not have
 * are removed), so incremental builds stay incremental. Build products
 * (untracked files) are left alone while the same `build` command fills the
 * slot; when another one does (or none did yet), they are removed first.
 * `build` NULL: always left alone. A symbolic link left where the commit
 * (or the slot's last one) has a file or a directory is removed, never
 * written or deleted through; a slot the checkout cannot clean (read-only
 * build products) is emptied and filled afresh. `*path` is owned by the
 * repo and valid until the next call for the same slot.
 */
int pb_repo_checkout(pb_repo *repo, const char *commit_hex, unsigned slot, const char *build,
                     const char **path, pb_error *err);

/*
 * Which worktree slot to use for a commit: bit i of `holds` says slot i
 * already holds it built (that slot is the answer), bit i of `keep` that
 * slot i holds a commit still needed; otherwise the least recently used of
 * the others (smallest used[i]). Shared by the tool's oracle and the fake
 * one, so the simulator counts builds as the tool pays for them.
 */
unsigned pb_repo_slot_pick(unsigned holds, unsigned keep, const size_t used[PB_REPO_SLOTS]);

#endif
