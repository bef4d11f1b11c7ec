#!/usr/bin/env bash
# Sets up, builds and runs every uzswap test:
#   1. the release build and its whole test suite (unit, model, stress, end-to-end with
#      real Debian programs under LD_PRELOAD);
#   2. the concurrency suites (ctest label "sanitize") under ThreadSanitizer;
#   3. the same under AddressSanitizer + UBSan.
# Environment: UZSWAP_STRESS_SECONDS (per stress test, default 10), JOBS (default nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

JOBS=${JOBS:-$(nproc)}
export UZSWAP_STRESS_SECONDS=${UZSWAP_STRESS_SECONDS:-10}

build() {  # build DIR [cmake args...]
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir" -j "$JOBS"
}

echo "== release build and full test suite"
build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
# "known-issue": reproducers of open bugs, if any (run them with ctest -L known-issue).
ctest --test-dir build --output-on-failure -j "$JOBS" --timeout 900 -LE known-issue

echo "== ThreadSanitizer: concurrency suites"
build build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUZSWAP_SANITIZER=thread -DUZSWAP_BENCH=OFF
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
  ctest --test-dir build-tsan --output-on-failure -L sanitize --timeout 900

echo "== AddressSanitizer + UBSan: concurrency suites"
build build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUZSWAP_SANITIZER=address -DUZSWAP_BENCH=OFF
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1" \
  ctest --test-dir build-asan --output-on-failure -L sanitize --timeout 900
