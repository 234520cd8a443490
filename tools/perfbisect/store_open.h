/* store_open.h — which result store a perfbisect command uses. */
#ifndef PERFBISECT_STORE_OPEN_H
#define PERFBISECT_STORE_OPEN_H

#include "perfbisect/error.h"
#include "perfbisect/repo.h"
#include "perfbisect/store.h"

/*
 * Open the store `db` names, else $PERFBISECT_DB's, else perfbisect.db in
 * the git directory of `repo` (NULL outside a repository: PB_EINVAL saying
 * to give --db).
 */
int store_open(const char *db, const pb_repo *repo, pb_store **out, pb_error *err);

#endif
