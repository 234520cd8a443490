#!/usr/bin/env bash
# perfbisect check as a `git bisect run` predicate, on a generated history.
# (The test drives git itself; perfbisect never runs git.)
source "$(dirname "$0")/lib.sh"

mkrepo "$TMP/repo" "noise 3
commits 9 1.0
commit 1.0 broken
commits 3 1.0
commits 8 1.3"
cd "$TMP/repo"
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t

predicate() { "$PERFBISECT" check --quiet --build 'make -s' --bench ./bench --metric "$METRIC" "$@"; }

# Exit codes on single checkouts.
git checkout -q "$(id "$TMP/repo" 2)"
set +e
predicate --threshold 0.0115; good=$?
git checkout -q "$(id "$TMP/repo" 18)"
predicate --threshold 0.0115; bad=$?
git checkout -q "$(id "$TMP/repo" 9)"
predicate --threshold 0.0115; broken=$?
git checkout -q "$(id "$TMP/repo" 2)"
# At the median half the runs fall each side: any decision is a false one,
# as likely as alpha says (the sign test over looks of 10 and 4 runs), so a
# small alpha keeps this check from failing 1 CI run in 100.
predicate --threshold 0.010 --max-runs 14 --alpha 0.001; straddle=$?
set -e
check "fast commit: exit 0" [ "$good" = 0 ]
check "slow commit: exit 1" [ "$bad" = 1 ]
check "broken build: exit 125" [ "$broken" = 125 ]
check "threshold at the median: undecided, exit 125" [ "$straddle" = 125 ]

# The whole bisection, driven by git bisect run.
git checkout -q main
git clean -qfdx
git bisect start HEAD "$(id "$TMP/repo" 0)" >/dev/null
git bisect run "$PERFBISECT" check --quiet --build 'make -s' --bench ./bench --metric "$METRIC" \
    --threshold 0.0115 >"$TMP/bisect.log" 2>&1 || true
first_bad=$(git rev-parse refs/bisect/bad)
git bisect reset >/dev/null 2>&1
check "git bisect run finds the step" [ "$first_bad" = "$(id "$TMP/repo" 13)" ]

# Against a baseline measured with perfbisect measure.
git checkout -q "$(id "$TMP/repo" 0)"
make -s
"$PERFBISECT" measure --runs 20 --metric "$METRIC" --format json -- ./bench >"$TMP/base.json"
git checkout -q "$(id "$TMP/repo" 4)"
# alpha 0.001: same-speed code is called slower at most that often, so this
# check is not the flaky one in CI (at the default 0.01 it would be 1 in 200).
set +e
predicate --baseline "$TMP/base.json" --alpha 0.001; same=$?
git checkout -q "$(id "$TMP/repo" 15)"
predicate --baseline "$TMP/base.json" --alpha 0.001; slower=$?
set -e
check "baseline: same speed is good" [ "$same" = 0 ]
check "baseline: slower is bad" [ "$slower" = 1 ]

expect_usage_error "neither --threshold nor --baseline" check --bench ./bench
expect_usage_error "--max-runs below --runs" check --bench ./bench --threshold 1 --runs 20 --max-runs 10
expect_usage_error "an empty benchmark" check --bench ' ' --threshold 1
expect_usage_error "a baseline of another metric" check --bench ./bench --metric maxrss --baseline "$TMP/base.json"
check "a baseline of another metric: says which" grep -q "measured --metric regex:.*, not maxrss" "$TMP/err"
expect_usage_error "an unknown option" check --bench ./bench --threshold 1 --bogus
expect_usage_error "an option without its value" check --bench ./bench --threshold
expect_usage_error "too few runs for the sign test" check --bench ./bench --threshold 1 --runs 5 --max-runs 5
check "too few runs: says so" grep -q "5 runs cannot decide at alpha 0.01" "$TMP/err"

# Under git bisect run, a status of 2 reads as "bad": with a typo in the
# options every commit would be blamed. While a bisection is in progress an
# error exits 128, which stops git bisect run.
git checkout -q main
git bisect start HEAD "$(id "$TMP/repo" 0)" >/dev/null
set +e
"$PERFBISECT" check --bench ./bench --threshold 1 --bogus 2>"$TMP/err"
typo=$?
git bisect run "$PERFBISECT" check --bench ./bench --metric "$METRIC" --baseline "$TMP/nosuch.json" \
    >"$TMP/bisect-err.log" 2>&1
run_status=$?
set -e
blamed=$(git rev-parse -q --verify refs/bisect/bad || true)
git bisect reset >/dev/null 2>&1
check "during a bisection, an unknown option exits 128" [ "$typo" = 128 ]
check "during a bisection, an unknown option: one line" [ "$(wc -l <"$TMP/err")" = 1 ]
check "git bisect run stops on a missing baseline" [ "$run_status" != 0 ]
check "git bisect run blames nothing on a missing baseline" [ "$blamed" = "$(git rev-parse HEAD)" ]

# Interrupted (git bisect run's Ctrl-C, a CI timeout's SIGTERM): exit 130,
# and the build or benchmark it runs is killed with it, not left behind.
for what in build bench; do
    if [ $what = build ]; then set -- --build 'sleep 29.73'; else set -- --bench 'sleep 29.73'; fi
    "$PERFBISECT" check --bench true --threshold 1 --runs 1 --warmup 0 "$@" >/dev/null 2>"$TMP/int.err" &
    pid=$!
    wait_until pgrep -f '^sleep 29[.]73' >/dev/null || true
    interrupt "$pid"
    check "interrupted $what: exit 130" [ "$status" = 130 ]
    check "interrupted $what: says so" grep -q 'interrupted' "$TMP/int.err"
    sleep 0.2
    check "interrupted $what: nothing left running" eval '! pgrep -f "^sleep 29[.]73" >/dev/null'
    pkill -f '^sleep 29[.]73' 2>/dev/null || true
done

# Killed outright (SIGKILL, the OOM killer, a CI job's timeout): the build or
# benchmark it ran outlives it, in the tree git bisect moves on from; the
# next check stops it first, and says so.
for what in build bench; do
    if [ $what = build ]; then set -- --build 'sleep 29.71'; else set -- --bench 'sleep 29.71'; fi
    "$PERFBISECT" check --bench true --threshold 1 --runs 1 --warmup 0 "$@" >/dev/null 2>&1 &
    pid=$!
    wait_until [ -s .git/perfbisect/check.group ] || true
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    check "SIGKILL mid-$what: the $what outlived check" eval 'pgrep -f "^sleep 29[.]71" >/dev/null'
    "$PERFBISECT" check --bench true --threshold 1 --runs 1 --warmup 0 >/dev/null 2>"$TMP/kill.err" ||
        true
    check "SIGKILL mid-$what: the next check stopped it" eval '! pgrep -f "^sleep 29[.]71" >/dev/null'
    check "SIGKILL mid-$what: and said so" \
        grep -q 'stopped the build or benchmark an interrupted check left running' "$TMP/kill.err"
    pkill -f '^sleep 29[.]71' 2>/dev/null || true
done

finish
