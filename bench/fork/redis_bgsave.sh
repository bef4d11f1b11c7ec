#!/usr/bin/env bash
# redis-server BGSAVE under uzswap's two fork paths: plain, uzswap with the restore path
# (UZSWAP_FORK_TAKEOVER=0: every evicted page brought back before the fork), uzswap with
# the takeover (UZSWAP_FORK_TAKEOVER=1: the child takes the engine over). Each: 1M keys of 100 bytes (DEBUG
# POPULATE, ~190 MiB resident plainly) under UZSWAP_LIMIT=$LIMIT, SETTLE seconds idle, one
# BGSAVE. Prints redis' own fork latency (latest_fork_usec), the BGSAVE's duration, the
# parent's VmRSS before it, right after it and AFTER seconds later (how soon the parent is
# back under its limit), and whether redis-check-rdb accepts the dump.
# Usage: bench/fork/redis_bgsave.sh [build-dir]  (env: LIMIT, SETTLE, AFTER, REPS)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
LIB=$PWD/${1:-build}/preload/libuzswap.so
LIMIT=${LIMIT:-64M}
SETTLE=${SETTLE:-5}
AFTER=${AFTER:-5}
REPS=${REPS:-2}
[[ -f $LIB ]] || { echo "build first: $LIB is needed"; exit 1; }
for p in redis-server redis-cli redis-check-rdb; do
  command -v $p >/dev/null || { echo "$p missing (scripts/setup.sh installs it)"; exit 1; }
done

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
status_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# one NAME [ENV...]: a server, the fill, one BGSAVE; prints one line of figures.
one() {
  local name=$1; shift
  local port dir pid t0 t1 rss0 rss1 rss2 fork ok
  port=$(free_port)
  dir=$(mktemp -d /tmp/uzswap-bgsave.XXXXXX)
  env "$@" redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --enable-debug-command yes \
    --dir "$dir" >/dev/null 2>"$dir/err" &
  pid=$!
  for _ in $(seq 100); do redis-cli -p "$port" PING >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$port" DEBUG POPULATE 1000000 key 100 >/dev/null
  sleep "$SETTLE"
  rss0=$(status_kib "$pid" VmRSS)
  t0=$(date +%s.%N)
  redis-cli -p "$port" BGSAVE >/dev/null
  for _ in $(seq 6000); do
    redis-cli -p "$port" INFO persistence | grep -q 'rdb_bgsave_in_progress:0' && break
    sleep 0.1
  done
  t1=$(date +%s.%N)
  fork=$(redis-cli -p "$port" INFO stats | awk -F: '/^latest_fork_usec/ {print $2}' | tr -d '\r')
  rss1=$(status_kib "$pid" VmRSS)
  sleep "$AFTER"
  rss2=$(status_kib "$pid" VmRSS)
  redis-cli -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1
  wait "$pid"
  ok=refused
  redis-check-rdb "$dir/dump.rdb" >/dev/null 2>&1 && ok=accepted
  printf "%-9s fork %7.1f ms   BGSAVE %6.1f s   parent VmRSS %4d MiB before, %4d MiB after, %4d MiB %s s later   dump %s\n" \
    "$name" "$(awk -v u="$fork" 'BEGIN {print u / 1000}')" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" \
    $((rss0 / 1024)) $((rss1 / 1024)) $((rss2 / 1024)) "$AFTER" "$ok"
  rm -rf "$dir"
}

echo "machine: $(nproc) CPUs, $(uptime | sed 's/.*load average/load average/'); limit $LIMIT"
for _ in $(seq "$REPS"); do
  one plain
  one restore LD_PRELOAD="$LIB" UZSWAP_LIMIT="$LIMIT" UZSWAP_FORK_TAKEOVER=0
  one takeover LD_PRELOAD="$LIB" UZSWAP_LIMIT="$LIMIT" UZSWAP_FORK_TAKEOVER=1
done
