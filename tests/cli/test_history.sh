#!/usr/bin/env bash
# perfbisect history end to end: CI reports of every kind imported into the
# store of a generated repository, a step found at the commit where the
# series moved, show/export in every format (export feeding perftriage), and
# the usage errors.
source "$(dirname "$0")/lib.sh"

mkrepo "$TMP/repo" "commits 30 1.0"
cd "$TMP/repo"
H() { "$PERFBISECT" history "$@"; }

# 30 commits, one Google Benchmark report each, an hour apart: BM_step is
# 1.0 ms until commit 17 and 1.2 ms from it on (3% noise, 3 repetitions
# and their aggregates); BM_flat never moves.
python3 - "$TMP" <<'EOF'
import json, random, sys
random.seed(7)
for i in range(30):
    level = 1.2 if i >= 17 else 1.0
    bms = []
    for rep in range(3):
        bms.append({"name": "BM_step", "run_type": "iteration", "time_unit": "ms",
                    "real_time": level * random.lognormvariate(0, 0.03)})
        bms.append({"name": "BM_flat", "run_type": "iteration", "time_unit": "us",
                    "real_time": 500 * random.lognormvariate(0, 0.03)})
    bms.append({"name": "BM_step_mean", "run_type": "aggregate", "time_unit": "ms",
                "real_time": 99.0})
    json.dump({"context": {"date": "2026-03-%02dT%02d:00:00+00:00" % (1 + i // 24, i % 24)},
               "benchmarks": bms}, open("%s/gb-%d.json" % (sys.argv[1], i), "w"))
EOF
for i in $(seq 0 29); do
    H import --gbench "$TMP/gb-$i.json" --commit "$(id "$TMP/repo" "$i")" 2>>"$TMP/import.err"
done
check "gbench: every report imported" [ "$(grep -c 'imported 6 values of 2 benchmarks' "$TMP/import.err")" = 30 ]
check "the store is the repository's" [ -s .git/perfbisect.db ]
H export >"$TMP/all.csv"
check "export: a header and 180 values (aggregates left out)" [ "$(wc -l <"$TMP/all.csv")" = 181 ]
check "export: values in seconds (ms converted)" \
    awk -F, '$1 == "BM_step" { ok += ($5 > 0.0008 && $5 < 0.0015) } END { exit ok != 90 }' "$TMP/all.csv"

H regressions --format json >"$TMP/reg.json"
check "regressions: one, BM_step" [ "$(json "$TMP/reg.json" '[r["benchmark"] for r in j["regressions"]]')" = "['BM_step']" ]
check "regressions: first slow commit is the 17th" \
    [ "$(json "$TMP/reg.json" 'j["regressions"][0]["commit"]')" = "$(id "$TMP/repo" 17)" ]
check "regressions: the last fast one is the 16th" \
    [ "$(json "$TMP/reg.json" 'j["regressions"][0]["previous"]')" = "$(id "$TMP/repo" 16)" ]
check "regressions: change about +20%" \
    [ "$(json "$TMP/reg.json" '17 < j["regressions"][0]["change_pct"] < 23')" = True ]
H regressions >"$TMP/reg.txt"
check "regressions text: says how to bisect it" \
    grep -q "bisect with: perfbisect run --good $(id "$TMP/repo" 16 | cut -c1-12) --bad $(id "$TMP/repo" 17 | cut -c1-12)" "$TMP/reg.txt"
H regressions --format markdown >"$TMP/reg.md"
check "regressions markdown: a table row for BM_step" grep -q '^| BM_step | \*\*+' "$TMP/reg.md"
# Throughput: the same step is an improvement, and only --all lists it.
H regressions --higher-is-better --format json >"$TMP/up.json"
check "higher is better: no regression" [ "$(json "$TMP/up.json" 'len(j["regressions"])')" = 0 ]
H regressions --higher-is-better --all --format json >"$TMP/all.json"
check "--all: the step, not worse" [ "$(json "$TMP/all.json" '[r["worse"] for r in j["regressions"]]')" = "[False]" ]
H regressions --benchmark BM_flat >"$TMP/flat.txt"
check "a flat series: no regression" grep -q '^no regression in 90 values of BM_flat' "$TMP/flat.txt"

# JUnit: the suite's commit property and timestamp, "classname::name", passed
# attempts only; a run's directory of splits.
mkdir "$TMP/junit"
cat >"$TMP/junit/junit-1.xml" <<'EOF'
<testsuite name="s" timestamp="2026-04-01T08:00:00">
  <properties><property name="commit" value="0123456789abcdef0123456789abcdef01234567"/></properties>
  <testcase classname="bench.io" name="read" time="0.25"/>
  <testcase classname="bench.io" name="write" time="0.5"><failure message="slow"/></testcase>
</testsuite>
EOF
cat >"$TMP/junit/junit-2.xml" <<'EOF'
<testsuite name="s" timestamp="2026-04-01T08:00:00">
  <properties><property name="commit" value="0123456789abcdef0123456789abcdef01234567"/></properties>
  <testcase classname="bench.io" name="seek" time="0.125"/>
</testsuite>
EOF
H import --junit "$TMP/junit" --branch main 2>/dev/null
H show --benchmark bench.io::read --format json >"$TMP/read.json"
check "junit: the test's time, commit, branch and time" \
    [ "$(json "$TMP/read.json" '[(r["value"], r["commit"][:8], r["branch"], r["time"]) for r in j["history"]]')" = \
      "[(0.25, '01234567', 'main', '2026-04-01T08:00:00Z')]" ]
H show --benchmark bench.io::write --format json >"$TMP/write.json"
check "junit: a failed attempt is no value" [ "$(json "$TMP/write.json" 'len(j["history"])')" = 0 ]
H show --benchmark bench.io::seek --format json >"$TMP/seek.json"
check "junit: every split of the run" [ "$(json "$TMP/seek.json" 'len(j["history"])')" = 1 ]

# hyperfine: each run's time, named by its command; without --commit a
# report that names none was measured here: HEAD's.
cat >"$TMP/hf.json" <<'EOF'
{"results": [{"command": "sleep 0.1", "mean": 0.1, "times": [0.101, 0.102, 0.099]}]}
EOF
H import --hyperfine "$TMP/hf.json" --timestamp 2026-05-01T00:00:00Z 2>/dev/null
H show --benchmark 'sleep 0.1' --format json >"$TMP/hf-show.json"
check "hyperfine: every run, at HEAD, at --timestamp" \
    [ "$(json "$TMP/hf-show.json" '[(r["value"], r["commit"], r["timestamp"]) for r in j["history"]]')" = \
      "[(0.101, '$(git rev-parse HEAD)', 1777593600), (0.102, '$(git rev-parse HEAD)', 1777593600), (0.099, '$(git rev-parse HEAD)', 1777593600)]" ]

# pytest-benchmark: each round (stats.data), commit_info's id and branch.
cat >"$TMP/pyb.json" <<'EOF'
{"datetime": "2026-05-02T00:00:00", "commit_info": {"id": "fedcba9876543210fedcba9876543210fedcba98", "branch": "dev"},
 "benchmarks": [{"name": "test_x", "fullname": "tests/test_a.py::test_x", "stats": {"mean": 0.02, "data": [0.02, 0.021]}}]}
EOF
H import --pytest-benchmark "$TMP/pyb.json" 2>/dev/null
H show --benchmark tests/test_a.py::test_x --format json >"$TMP/pyb-show.json"
check "pytest-benchmark: rounds, commit and branch of the report" \
    [ "$(json "$TMP/pyb-show.json" '[(r["value"], r["commit"][:6], r["branch"]) for r in j["history"]]')" = \
      "[(0.02, 'fedcba', 'dev'), (0.021, 'fedcba', 'dev')]" ]

# record: values given, or a perfbisect measure file; --commit is resolved.
H record --benchmark manual --value 1.5 --value 1.75 --commit HEAD~1 --unit s
"$PERFBISECT" measure --runs 3 --warmup 0 --format json -- true >"$TMP/m.json" 2>/dev/null
H record --benchmark measured "$TMP/m.json"
H show --benchmark manual --format json >"$TMP/manual.json"
check "record: --value, at the resolved --commit" \
    [ "$(json "$TMP/manual.json" '[(r["value"], r["commit"]) for r in j["history"]]')" = \
      "[(1.5, '$(git rev-parse HEAD~1)'), (1.75, '$(git rev-parse HEAD~1)')]" ]
H show --benchmark measured --format json >"$TMP/measured.json"
check "record: a measure file's values" [ "$(json "$TMP/measured.json" 'len(j["history"])')" = 3 ]

# export --format triage is what perftriage reads as --history.
H export --format triage >"$TMP/triage.csv"
check "export triage: a row per value" [ "$(wc -l <"$TMP/triage.csv")" = $((1 + 180 + 2 + 3 + 2 + 2 + 3)) ]
check "perftriage reads the export" eval '"$PB_BIN/perftriage" parse --history "$TMP/triage.csv" >/dev/null'

# Branches: a series of main then one of dev (twice as slow) step up when
# mixed, and not when --branch keeps one.
for i in $(seq 0 23); do
    if [ "$i" -lt 12 ]; then b=main v=1; else b=dev v=2; fi
    H record --benchmark br --value "$v" --branch "$b" --commit "$(id "$TMP/repo" "$i")" \
        --timestamp $((1780000000 + i))
done
H regressions --benchmark br --format json >"$TMP/br.json"
check "branches mixed: a step" [ "$(json "$TMP/br.json" 'len(j["regressions"])')" = 1 ]
H regressions --benchmark br --branch main --format json >"$TMP/br-main.json"
check "--branch main: no step" [ "$(json "$TMP/br-main.json" 'len(j["regressions"])')" = 0 ]
H show --benchmark br --branch dev --format json >"$TMP/br-dev.json"
check "show --branch dev: its 12 values" \
    [ "$(json "$TMP/br-dev.json" '(len(j["history"]), {(r["branch"], r["value"]) for r in j["history"]})')" = "(12, {('dev', 2.0)})" ]

# The dashboard: one page, the regression listed, a chart per benchmark,
# names and units escaped; DIR made with its parents.
H record --benchmark '<b>&"x' --value 1 --unit '<i>u'
"$PERFBISECT" dashboard -o "$TMP/dash/a/b" 2>/dev/null
page=$TMP/dash/a/b/index.html
nbench=$(H export | awk -F, 'NR > 1 { print $1 }' | sort -u | wc -l)
check "dashboard: a chart per benchmark" [ "$(grep -c '^<svg' "$page")" = "$nbench" ]
check "dashboard: the regression, at the 17th commit" \
    grep -q "<tr><td>BM_step</td><td class=\"num\">+[0-9.]*%</td><td><code>$(id "$TMP/repo" 16)</code></td><td><code>$(id "$TMP/repo" 17)</code>" "$page"
check "dashboard: the step marked on its chart" grep -q '^<line class="worse"' "$page"
check "dashboard: a name is escaped" grep -q '^<h2>&lt;b&gt;&amp;&quot;x</h2>' "$page"
check "dashboard: no raw name" eval '! grep -q "<b>&\"x" "$page"'
check "dashboard: a unit is escaped" grep -q '&lt;i&gt;u' "$page"
check "dashboard: no raw unit" eval '! grep -q "<i>u" "$page"'

# Text from reports is quoted in CSV: a commit of pytest-benchmark's with a
# comma, a quote and a line break stays one field.
cat >"$TMP/odd.json" <<'EOF'
{"commit_info": {"id": "ab,\"c\nd", "branch": "x"},
 "benchmarks": [{"fullname": "odd::t,1", "stats": {"mean": 0.5}}]}
EOF
H --db "$TMP/odd.db" import --pytest-benchmark "$TMP/odd.json" 2>/dev/null
H --db "$TMP/odd.db" record --benchmark neg --value -1 --value 2 --unit s
H --db "$TMP/odd.db" export >"$TMP/odd.csv"
check "export: odd text round-trips through CSV" python3 -c '
import csv, sys
r = list(csv.reader(open(sys.argv[1])))
sys.exit(not (["odd::t,1", "ab,\"c\nd"] in [x[:2] for x in r] and {len(x) for x in r} == {7}))' "$TMP/odd.csv"
H --db "$TMP/odd.db" export --format triage >"$TMP/odd-triage.csv" 2>"$TMP/odd.err"
check "export triage: a negative value is left out, and said so" \
    grep -q 'left out 1 values perftriage cannot read' "$TMP/odd.err"
check "export triage: perftriage reads what is left" \
    eval '"$PB_BIN/perftriage" parse --history "$TMP/odd-triage.csv" >/dev/null'

# A store named by --db or PERFBISECT_DB, also outside a repository.
cd "$TMP"
H --db "$TMP/other.db" import --gbench "$TMP/gb-0.json" --commit 0123abc 2>/dev/null
check "--db outside a repository: an id as given" \
    [ "$(PERFBISECT_DB="$TMP/other.db" H export | awk -F, 'NR == 2 { print $2 }')" = 0123abc ]

# Usage and input errors: exit 2, one line.
expect_usage_error "no action" history --db "$TMP/other.db"
expect_usage_error "unknown action" history --db "$TMP/other.db" frob
expect_usage_error "two reports" history --db "$TMP/other.db" import --gbench a --junit b
expect_usage_error "no store outside a repository" history show
expect_usage_error "a missing report" history --db "$TMP/other.db" import --gbench "$TMP/none.json"
expect_usage_error "not a gbench report" history --db "$TMP/other.db" import --gbench "$TMP/hf.json"
expect_usage_error "an option the action does not take" history --db "$TMP/other.db" show --alpha 0.1
expect_usage_error "a bad timestamp" history --db "$TMP/other.db" import --gbench "$TMP/gb-0.json" \
    --timestamp soon
expect_usage_error "a timestamp past int64" history --db "$TMP/other.db" record --benchmark x \
    --value 1 --timestamp 99999999999999999999999
expect_usage_error "two reports of a kind" history --db "$TMP/other.db" import \
    --gbench "$TMP/gb-0.json" --gbench "$TMP/gb-1.json"
expect_usage_error "a commit that is no id" history --db "$TMP/other.db" import \
    --gbench "$TMP/gb-0.json" --commit v1.0
expect_usage_error "record without values" history --db "$TMP/other.db" record --benchmark x
expect_usage_error "record without a name" history --db "$TMP/other.db" record --benchmark '' \
    --value 1
expect_usage_error "an unknown export format" history --db "$TMP/other.db" export --format xml
expect_usage_error "show on a store not there" history --db "$TMP/none.db" show
check "show on a store not there: says so" grep -q 'no result store at .*none.db' "$TMP/err"
expect_usage_error "a dashboard of a store not there" dashboard --db "$TMP/none.db" -o "$TMP/d2"
check "reading leaves no store behind" [ ! -e "$TMP/none.db" ]
expect_usage_error "dashboard without -o" dashboard --db "$TMP/other.db"
expect_usage_error "dashboard into a file's place" dashboard --db "$TMP/other.db" -o "$TMP/triage.csv"

finish
