#!/usr/bin/env bash
# Install what is needed, build with warnings as errors and run the whole
# suite; build again as Release (-O3 finds other warnings); run the suite
# under AddressSanitizer + UndefinedBehaviorSanitizer; then give every fuzz
# driver a short run. This is what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

jobs=$(nproc 2>/dev/null || echo 2)

echo "== build (-Werror) and test"
cmake -S . -B build/ci -DPB_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/ci -j"$jobs"
ctest --test-dir build/ci --output-on-failure -j"$jobs"

echo "== Release build (-O3 -Werror: the optimiser's warnings differ)"
cmake -S . -B build/release -DPB_WERROR=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$jobs"

echo "== build with ASan+UBSan and test"
cmake -S . -B build/asan -DPB_WERROR=ON -DPB_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build/asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan --output-on-failure -j"$jobs"

if ls tests/fuzz/fuzz_*.c >/dev/null 2>&1; then
  echo "== fuzz drivers (short runs)"
  CC=clang cmake -S . -B build/fuzz -DPB_FUZZ=ON -DPB_BUILD_TESTS=OFF >/dev/null
  cmake --build build/fuzz -j"$jobs" --target fuzzers
  for f in build/fuzz/fuzz/fuzz_*; do
    name=$(basename "$f")
    corpus=tests/fuzz/corpus/${name#fuzz_}
    work=$(mktemp -d)
    [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
    "$f" -max_total_time="${PB_FUZZ_SECONDS:-15}" -rss_limit_mb=2048 "$work" >"build/fuzz/$name.log" 2>&1 \
      || { tail -40 "build/fuzz/$name.log"; exit 1; }
    echo "$name: $(grep -Eo 'Done [0-9]+ runs' "build/fuzz/$name.log" || echo ok)"
    rm -rf "$work"
  done
fi
