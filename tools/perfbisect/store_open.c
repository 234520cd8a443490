/* store_open.c — which result store a perfbisect command uses. */
#include "store_open.h"

#include <stdlib.h>
#include <string.h>

int store_open(const char *db, const pb_repo *repo, pb_store **out, pb_error *err)
{
    const char *env = getenv("PERFBISECT_DB");
    char *path = db            ? strdup(db)
                 : env && *env ? strdup(env)
                 : repo        ? pb_store_default_path(pb_repo_gitdir(repo))
                               : NULL;
    if (!db && !(env && *env) && !repo)
        return pb_error_set(err, PB_EINVAL,
                            "not in a git repository: give --db FILE (or set PERFBISECT_DB)");
    if (!path)
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    int rc = pb_store_open(out, path, err);
    free(path);
    return rc;
}
