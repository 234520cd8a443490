/* store_open.c — which result store a perfbisect command uses. */
#include "store_open.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int store_open(const char *db, const pb_repo *repo, int existing, pb_store **out, pb_error *err)
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
    int rc = 0;
    if (existing && access(path, F_OK) < 0)
        /* Reading a store nobody wrote would leave an empty one behind. */
        rc = errno == ENOENT ? pb_error_set(err, PB_ENOTFOUND,
                                            "no result store at %s: nothing imported or measured "
                                            "there yet",
                                            path)
                             : pb_error_set_errno(err, PB_EIO, errno, "%s", path);
    if (rc == 0)
        rc = pb_store_open(out, path, err);
    free(path);
    return rc;
}
