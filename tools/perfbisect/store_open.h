/* store_open.h — which result store a perfbisect command uses. */
#ifndef PERFBISECT_STORE_OPEN_H
#define PERFBISECT_STORE_OPEN_H

#include "perfbisect/error.h"
#include "perfbisect/repo.h"
#include "perfbisect/store.h"

/*
 * Open the store `db` names, else $PERFBISECT_DB's, else perfbisect.db in
 * the git directory of `repo` (NULL outside a repository: PB_EINVAL saying
 * to give --db). With `existing`, a store that is not there yet is
 * PB_ENOTFOUND rather than created.
 */
int store_open(const char *db, const pb_repo *repo, int existing, pb_store **out, pb_error *err);

#endif
