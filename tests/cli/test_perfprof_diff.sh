#!/usr/bin/env bash
# perfprof diff: two recordings of split (tests/cli/prof/split.c) where the
# new one gives leaf_b twice the work (units 5:3:2 -> 5:6:2). Expected
# shares: base 50/30/20, new 5/13 = 38.5, 6/13 = 46.2, 2/13 = 15.4, so
# leaf_b grows by 16.2 points and leads the diff; leaf_a shrinks by 11.5.
# The diff must be the two reports' difference, and each report's shares
# the split within 4 binomial standard errors of its sample count plus half
# a point (the delta of two ~4500-sample shares has a standard error of ~1
# point: a fixed +/-3 on it was 3 of them).
# Then new/vanished functions on hand-written folded stacks.
set -euo pipefail
: "${PB_BIN:?}" "${PB_SRC:?}"
PY=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }

cc -O2 -fomit-frame-pointer -g -pthread -o split "$PB_SRC/tests/cli/prof/split.c"
P="$PB_BIN/perfprof"
"$P" record -q -F 3989 -o base.data ./split -r 2500 -u 5:3:2 >/dev/null
"$P" record -q -F 3989 -o new.data ./split -r 2000 -u 5:6:2 >/dev/null
"$P" diff base.data new.data --format json >diff.json
"$P" report -i base.data --format json --top 0 >base.json
"$P" report -i new.data --format json --top 0 >new.json
"$PY" - <<'PYEOF' || fail "diff json"
import json, math
d = json.load(open("diff.json"))
assert d["base_samples"] > 2500 and d["new_samples"] > 2500
f = d["functions"]
byname = {x["name"]: x for x in f}
assert f[0]["name"] == "leaf_b", f[0]
want = {"base": {"leaf_a": 50, "leaf_b": 30, "leaf_c": 20},
        "new": {"leaf_a": 500 / 13, "leaf_b": 600 / 13, "leaf_c": 200 / 13}}
for side, key in (("base", "self_before"), ("new", "self_after")):
    r = json.load(open(side + ".json"))
    n = r["samples"]
    assert d[side + "_samples"] == n, (side, n)
    pct = {x["name"]: x["self_pct"] for x in r["functions"]}
    for name, w in want[side].items():
        assert abs(byname[name][key] - pct[name]) <= 0.001, (side, byname[name], pct[name])
        bound = 400 * math.sqrt(w / 100 * (1 - w / 100) / n) + 0.5
        assert abs(pct[name] - w) <= bound, "%s %s: %.2f%% (want %.1f +/- %.2f)" % (
            side, name, pct[name], w, bound)
for name in want["base"]:
    x = byname[name]
    assert abs(x["self_delta"] - (x["self_after"] - x["self_before"])) <= 0.002, x
assert byname["leaf_b"]["z"] > 5 and byname["leaf_b"]["change"] == "changed"
deltas = [x["self_delta"] for x in f]
assert deltas == sorted(deltas, reverse=True), "not sorted by growth"
print("leaf_b %+.1f, leaf_a %+.1f, leaf_c %+.1f points" % tuple(
    byname[n]["self_delta"] for n in ("leaf_b", "leaf_a", "leaf_c")))
PYEOF
"$P" diff base.data new.data | head -5 | grep -q 'leaf_b' || fail "text diff"
"$P" diff base.data new.data --format folded >diff.folded
grep -Eq '^.*;work_ab;leaf_b [0-9]+ [0-9]+$' diff.folded || fail "folded diff"
"$P" diff base.data new.data --format svg -o diff.svg
"$PY" -c 'import xml.dom.minidom; xml.dom.minidom.parse("diff.svg")' || fail "svg is not XML"
grep -q 'rgb(255,' diff.svg || fail "no red (grown) frame in the differential flame graph"

printf 'main;common 50\nmain;old_fn 50\n' >base.folded
printf 'main;common 50\nmain;new_fn 30\nmain;common;inner 20\n' >new.folded
"$P" diff base.folded new.folded --format json >fold.json
"$PY" - <<'PYEOF' || fail "new/vanished"
import json
f = {x["name"]: x for x in json.load(open("fold.json"))["functions"]}
assert f["new_fn"]["change"] == "new" and f["new_fn"]["self_after"] == 30
assert f["old_fn"]["change"] == "vanished" and f["old_fn"]["self_before"] == 50
assert f["old_fn"]["self_delta"] == -50 and f["inner"]["change"] == "new"
assert f["common"]["total_before"] == 50 and f["common"]["total_after"] == 70
PYEOF
# --top limits the json as it does the text (the json listed every function)
"$P" diff base.folded new.folded --format json --top 2 >top2.json
[ "$("$PY" -c 'import json; print(len(json.load(open("top2.json"))["functions"]))')" = 2 ] ||
  fail "diff --format json --top 2"
# Names that are not UTF-8 (a Latin-1 function or file name): JSON and
# speedscope keep them, bad bytes as U+FFFD, instead of failing with "out of
# memory"; the SVG stays well-formed XML.
printf 'main;caf\351 10\nmain;ok 5\n' >latin1.folded
printf 'main;ok 5\n' >base1.folded
"$P" diff base1.folded latin1.folded --format json >latin1-diff.json 2>err.txt ||
    fail "diff json of a Latin-1 name: $(cat err.txt)"
"$PY" -c '
import json
names = [f["name"] for f in json.load(open("latin1-diff.json"))["functions"]]
assert "caf\ufffd" in names, names' || fail "diff json: Latin-1 name"
"$P" diff base1.folded latin1.folded --format svg -o latin1-diff.svg 2>err.txt ||
    fail "diff svg of a Latin-1 name: $(cat err.txt)"
"$PY" -c '
import xml.dom.minidom
d = xml.dom.minidom.parse("latin1-diff.svg")
assert any(t.firstChild.data.startswith("caf\ufffd ") for t in d.getElementsByTagName("title"))' ||
    fail "diff svg with a Latin-1 name is not XML"
# A real recording of a stripped binary whose file name is Latin-1: its
# frames are named after the module.
b=$(printf 'spl\351t')
cp split "$b"
strip "$b"
"$P" record -q -o latin1.data "./$b" -r 300 >/dev/null
for fmt in json speedscope svg; do
    "$P" report -i latin1.data --format "$fmt" --title "$(printf 't\351')" -o "latin1.$fmt" 2>err.txt ||
        fail "report --format $fmt of Latin-1 names: $(cat err.txt)"
done
"$PY" - <<'PYEOF' || fail "report of Latin-1 names"
import json, xml.dom.minidom
j = json.load(open("latin1.json"))
assert j["samples"] > 0 and j["functions"], j
assert any(f["name"].startswith("spl\ufffdt+0x") for f in j["functions"]), j["functions"][:3]
assert all(k in f for f in j["functions"] for k in ("name", "self_pct", "total_pct"))
s = json.load(open("latin1.speedscope"))
assert s["name"] == "t\ufffd" and s["profiles"][0]["name"] == "t\ufffd"
assert any(f["name"].startswith("spl\ufffdt+0x") for f in s["shared"]["frames"])
d = xml.dom.minidom.parse("latin1.svg")
texts = [t.firstChild.data for t in d.getElementsByTagName("text") if t.firstChild]
assert any(t.startswith("t\ufffd ") for t in texts), texts[:2]
PYEOF

set +e
"$P" diff base.data 2>err.txt; rc=$?
[ "$rc" -eq 2 ] || fail "one profile: $rc"
# An empty file is refused, as report refuses it, on one line.
: >empty.data
"$P" diff empty.data base.folded 2>err.txt; rc=$?
[ "$rc" -eq 2 ] && [ "$(wc -l <err.txt)" -eq 1 ] && grep -q 'empty file' err.txt ||
    fail "empty file: exit $rc, $(cat err.txt)"
# A profile without samples is compared with a warning, not a margin of inf.
printf 'main 0\n' >zero.folded
"$P" diff zero.folded base.folded >zero.txt; rc=$?
[ "$rc" -eq 0 ] && grep -q 'base profile has no samples' zero.txt && ! grep -q inf zero.txt ||
    fail "no samples: exit $rc, $(cat zero.txt)"
set -e
echo ok
