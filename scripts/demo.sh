#!/usr/bin/env bash
# uzswap demo: a real program with a large cold dataset, run plainly and under uzswap.
#
# python3 (Debian's) builds DEMO_MB (default 1024) MiB of records in mmap'd memory plus two
# million small objects, works on a small hot part for HOT_SECONDS (default 8), then
# checksums all of it (tests/e2e/cold_dataset.py). It runs once plainly and once with
#   LD_PRELOAD=build/preload/libuzswap.so UZSWAP_LIMIT=$DEMO_LIMIT (default 512M)
# The script samples each run's footprint (VmRSS, which includes uzswap's pool and
# staging: they live in the process), shows both outputs (they must be identical), the
# at-exit statistics, and zsstat's view of the live process when tools/zsstat is built.
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO_MB=${DEMO_MB:-1024}
DEMO_LIMIT=${DEMO_LIMIT:-512M}
HOT_SECONDS=${HOT_SECONDS:-8}
BUILD_DIR=${BUILD_DIR:-build}

./scripts/setup.sh
echo "== building libuzswap.so ($BUILD_DIR/)"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=(uzswap)
if ninja -C "$BUILD_DIR" -t targets all 2>/dev/null | grep -q '^zsstat:'; then targets+=(zsstat); fi
cmake --build "$BUILD_DIR" --target "${targets[@]}" >/dev/null
lib=$PWD/$BUILD_DIR/preload/libuzswap.so
zsstat=$PWD/$BUILD_DIR/tools/zsstat
work=$(mktemp -d /tmp/uzswap-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT

# run NAME [env assignments...]: runs the program, sampling its VmRSS every 100 ms.
run() {
  local name=$1; shift
  local start end peak=0 rss
  start=$(date +%s.%N)
  env "$@" DATASET_MB="$DEMO_MB" HOT_SECONDS="$HOT_SECONDS" /usr/bin/python3 tests/e2e/cold_dataset.py \
    >"$work/$name.out" 2>"$work/$name.err" &
  local pid=$! shown_zsstat=0
  while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/^VmRSS:/ {print int($2 / 1024)}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$rss" ] && [ "$rss" -gt "$peak" ] && peak=$rss
    if [ "$name" = uzswap ] && [ $shown_zsstat -eq 0 ] && grep -q "phase: hot" "$work/$name.err" 2>/dev/null; then
      shown_zsstat=1
      sleep $(( HOT_SECONDS > 2 ? HOT_SECONDS - 2 : 1 ))
      if [ -x "$zsstat" ]; then
        echo "-- zsstat $pid (live, near the end of the hot phase):"
        "$zsstat" "$pid" 2>&1 | sed 's/^/   /' || true
      fi
    fi
    sleep 0.1
  done
  wait "$pid" || { cat "$work/$name.err"; echo "demo: the $name run failed" >&2; exit 1; }
  end=$(date +%s.%N)
  echo "-- program output:"
  sed 's/^/   /' "$work/$name.out"
  if grep -q '^uzswap' "$work/$name.err"; then
    echo "-- uzswap on stderr:"
    grep '^uzswap' "$work/$name.err" | sed 's/^/   /'
  fi
  local own
  own=$(grep '^footprint' "$work/$name.err" | sed 's/^footprint //')
  hot=$(grep -o 'end of hot work, VmRSS [0-9]*' "$work/$name.err" | awk '{print $NF}')
  printf -- "-- footprint: peak sampled VmRSS %d MiB; VmRSS %d MiB after the hot work; %s at the end; %.1f s\n" \
    "$peak" "$hot" "$own" \
    "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')"
  echo "$peak" >"$work/$name.peak"
  echo "$hot" >"$work/$name.hot"
}

echo
echo "== plain: python3 with a ${DEMO_MB} MiB cold dataset"
run plain
echo
echo "== under uzswap: LD_PRELOAD=$lib UZSWAP_LIMIT=$DEMO_LIMIT UZSWAP_SHOW_STATS=1"
run uzswap LD_PRELOAD="$lib" UZSWAP_LIMIT="$DEMO_LIMIT" UZSWAP_SHOW_STATS=1
echo
if cmp -s "$work/plain.out" "$work/uzswap.out"; then
  echo "== outputs identical: yes"
else
  echo "== outputs identical: NO"; diff "$work/plain.out" "$work/uzswap.out" || true; exit 1
fi
echo "== footprint after the hot work: plain $(cat "$work/plain.hot") MiB, under uzswap $(cat "$work/uzswap.hot") MiB (UZSWAP_LIMIT=$DEMO_LIMIT)"
echo "== peak footprint: plain $(cat "$work/plain.peak") MiB, under uzswap $(cat "$work/uzswap.peak") MiB"
