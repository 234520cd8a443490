#!/usr/bin/env bash
# Install the Debian packages perfbisect needs to build, test and benchmark.
# Shared by quickstart.sh, test.sh and the bench scripts; quick when all is there.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang
  libgit2-dev libunwind-dev libcmocka-dev libexpat1-dev libsqlite3-dev
  libjansson-dev libdw-dev libelf-dev
  python3
  git # not by perfbisect: the tests' builds ask git which commit they build, as real ones do
)
if [ "${1:-}" = "--bench" ]; then
  # Baselines the bench scripts compare against, in the same run.
  packages+=(hyperfine libgoogle-perftools-dev linux-perf)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
