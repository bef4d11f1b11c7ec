#!/usr/bin/env bash
# Sets up, builds (release) and runs uzswap's benchmarks; the figures recorded in
# docs/benchmarks.md come from these programs. Run on a quiet machine: the figures are
# wall-clock latencies and throughputs.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)"

echo "== pool: alloc/free, map/unmap, migration on/off, compaction on real compressed sizes"
build/bench/pool/pool_bench --benchmark_min_time=0.1 --benchmark_repetitions=5 \
  --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true

echo "== fault engine: fault latency by kind, eviction throughput"
build/bench/uffd/uffd_fault_bench

echo "== fork of a process with 512 MiB evicted: restore path vs takeover"
build/bench/fork/fork_bench

echo "== hot/cold workload: plain, kernel zram under a 25% memory cgroup limit, uzswap at zram's footprint"
if [[ $(id -u) == 0 ]]; then
  MIB=1024 OPS=20000000 bench/hotcold/run.sh build
else
  echo "skipped: bench/hotcold/run.sh needs root (zram, swapon, memory cgroup)"
fi

echo "== redis-server: ~4x its limit, requests/s, footprint and BGSAVE fork latency, plain vs uzswap"
bench/redis/run.sh build

echo "== redis-server BGSAVE: plain, uzswap's restore path, uzswap's takeover"
bench/fork/redis_bgsave.sh build

echo "== coverage: python3's anonymous memory managed by uzswap (redis-server's is above)"
bench/coverage/run.sh build
