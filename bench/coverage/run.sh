#!/usr/bin/env bash
# Coverage of python3: the share of its anonymous resident memory that uzswap manages, as
# the at-exit summary reports it (coverage_measure: managed resident bytes / (RssAnon -
# pool - staging - metadata); "while running" is the scan thread's last measurement).
# python3 runs tests/e2e/cold_dataset.py (DATASET_MB of records in mmap'd memory plus
# OBJECTS small objects in Python's arenas) with the coverage scan on (UZSWAP_COVERAGE=1),
# once without a limit and once under UZSWAP_LIMIT=$LIMIT; the coverage_permille gauge
# (zsstat) is also read once the dataset is built, while the program holds all of it. redis-server's coverage is in
# bench/redis/run.sh's output.
# Usage: bench/coverage/run.sh [build-dir]  (env: DATASET_MB, OBJECTS, LIMIT)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BUILD=${1:-build}
LIB=$PWD/$BUILD/preload/libuzswap.so
ZSSTAT=$PWD/$BUILD/tools/zsstat
LIMIT=${LIMIT:-64M}
TMP=$(mktemp -d /tmp/uzswap-coverage-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
[[ -f $LIB && -x $ZSSTAT ]] || { echo "build first: $LIB and $ZSSTAT are needed"; exit 1; }

# python_coverage LABEL [env...]
python_coverage() {
  local label=$1; shift
  env "$@" LD_PRELOAD="$LIB" UZSWAP_COVERAGE=1 UZSWAP_SHOW_STATS=1 UZSWAP_STATS_DIR="$TMP" \
    DATASET_MB="${DATASET_MB:-256}" OBJECTS="${OBJECTS:-1000000}" HOT_SECONDS=4 \
    /usr/bin/python3 tests/e2e/cold_dataset.py >"$TMP/out" 2>"$TMP/err" &
  local pid=$! hot=""
  # Once the dataset is built: the coverage_permille gauge 2 s later (a scan a second).
  while kill -0 "$pid" 2>/dev/null; do
    if grep -q "phase: hot" "$TMP/err"; then
      sleep 2
      hot=$("$ZSSTAT" "$pid" --dir "$TMP" --json 2>/dev/null | /usr/bin/python3 -c '
import json, sys
g = json.load(sys.stdin)["gauges"]
print("%.1f%% during the hot phase" % (g["coverage_permille"] / 10))')
      break
    fi
    sleep 0.2
  done
  wait "$pid"
  local rc=$?
  if [[ $rc != 0 ]] || grep -q "running without uzswap" "$TMP/err"; then
    cat "$TMP/err"; echo "python3 ($label): exit $rc or uzswap did not run"; return 1
  fi
  echo "python3, $label: ${hot:-no sample during the hot phase}; $(grep -o 'coverage [0-9.]*% of the program.s anonymous RSS while running ([^)]*), [0-9.]*% at exit' "$TMP/err")"
  echo "  $(grep -o 'at exit: footprint.*' "$TMP/err")"
}
python_coverage "no limit"
python_coverage "UZSWAP_LIMIT=$LIMIT" UZSWAP_LIMIT="$LIMIT"
