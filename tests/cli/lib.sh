# Shared by the end-to-end tests: paths, a temp dir, assertions, JSON access.
set -euo pipefail

: "${PB_BIN:?PB_BIN must name the directory of the built tools}"
: "${PB_BUILD:?PB_BUILD must name the build directory}"
PB_BIN=$(cd "$PB_BIN" && pwd)
PB_BUILD=$(cd "$PB_BUILD" && pwd)
PERFBISECT="$PB_BIN/perfbisect"
MKHISTORY="$PB_BUILD/bench/pb_mkhistory"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/pbtest.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

fails=0
passes=0
pass() { passes=$((passes + 1)); echo "ok - $*"; }
fail() { fails=$((fails + 1)); echo "not ok - $*"; }
check() { # check DESCRIPTION CONDITION-COMMAND...
    local what=$1
    shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
finish() {
    echo "$passes passed, $fails failed"
    [ "$fails" -eq 0 ]
}

# json FILE EXPR: evaluate a Python expression on the parsed JSON `j`.
json() {
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# mkrepo DIR PLAN: a generated history; DIR/ids has "INDEX ID FACTOR" lines.
mkrepo() {
    "$MKHISTORY" "$1" >"$1.ids" <<<"$2"
}
# id DIR INDEX: the commit id of the INDEX-th generated commit.
id() { awk -v i="$2" '$1 == i { print $2 }' "$1.ids"; }

# A digest of everything of the user's that perfbisect must leave alone:
# tracked files, HEAD, the index and every ref.
tree_digest() {
    (cd "$1" && find . -path ./.git -prune -o -type f -print0 | sort -z | xargs -0 sha256sum
     sha256sum .git/HEAD .git/index
     find .git/refs -type f -print0 | sort -z | xargs -0 -r sha256sum) | sha256sum
}

METRIC='regex:time: ([0-9.]+)'

# wait_until CMD...: poll CMD every 50 ms for up to 10 s; its last status.
wait_until() {
    for _ in $(seq 200); do
        "$@" && return 0
        sleep 0.05
    done
    return 1
}

# interrupt PID: Ctrl-C for a background job, then its exit status in $status.
interrupt() {
    kill -INT "$1" 2>/dev/null || true
    status=0
    wait "$1" || status=$?
}

# expect_usage_error DESCRIPTION ARGS...: perfbisect ARGS exits 2 with one
# line on stderr (in $TMP/err).
expect_usage_error() {
    local what=$1
    shift
    set +e
    "$PERFBISECT" "$@" >/dev/null 2>"$TMP/err"
    local status=$?
    set -e
    check "$what: exit 2" [ "$status" = 2 ]
    check "$what: one line on stderr" [ "$(wc -l <"$TMP/err")" = 1 ]
}
