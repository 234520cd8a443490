#!/usr/bin/env bash
# Install what is needed, build perfbisect, make a demo repository whose
# benchmark got 20% slower at one known commit among 64, and bisect it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPB_WERROR=OFF >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target perfbisect-bin pb_mkhistory >/dev/null

demo=$(mktemp -d "${TMPDIR:-/tmp}/perfbisect-demo.XXXXXX")
echo "== making a demo repository in $demo"
# Each commit's benchmark prints its time ("time: SECONDS") with 5% noise and
# a few 3x outliers; commit 41 makes it 20% slower.
build/bench/pb_mkhistory "$demo" >"$demo.ids" <<'PLAN'
noise 5
outliers 0.03 3
commits 41 1.0
commits 23 1.2
PLAN
culprit=$(awk '$1 == 41 { print $2 }' "$demo.ids")
good=$(awk '$1 == 0 { print $2 }' "$demo.ids")
echo "   64 commits; the slowdown was introduced by $culprit"
echo

echo "== perfbisect run --good ${good:0:12} --bad HEAD --build 'make -s' --bench ./bench --metric 'regex:time: ([0-9.]+)'"
build/bin/perfbisect run --repo "$demo" --good "$good" --bad HEAD --build 'make -s' --bench ./bench \
    --metric 'regex:time: ([0-9.]+)'

echo
echo "The demo repository stays in $demo; run the same command again and every"
echo "measurement comes from the store (.git/perfbisect.db) instead of being repeated."
