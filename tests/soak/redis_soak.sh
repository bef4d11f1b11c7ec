#!/usr/bin/env bash
# tests/soak/redis_soak.sh — a long data-integrity soak of redis-server under uzswap.
#
# Not part of the test suite (it runs for as long as it is given). Each round:
#   1. a redis-server under uzswap (UZSWAP_LIMIT=$LIMIT, the fork path of $PATHS in
#      turn), with zsstat reading its stats region the whole time;
#   2. a deterministic workload: DEBUG POPULATE 1M keys (grows the dict through
#      incremental rehashes while the reclaim evicts), then $UPDATES overwrites, INCRs and
#      list pushes through redis-cli --pipe, spread over the keyspace so that evicted
#      pages come back and are written;
#   3. DBSIZE and DEBUG DIGEST, which must equal a plain run's (computed once);
#   4. BGSAVE (a fork under uzswap), redis-check-rdb on the dump, and the dump loaded by a
#      plain redis-server: its digest must be the reference too.
# A failing round keeps its directory (server logs, uzswap's at-exit summary, the dump,
# zsstat's last output) and the soak stops with exit status 1.
# Usage: tests/soak/redis_soak.sh [build-dir]   (env: MINUTES=30 LIMIT=64M UPDATES=200000
#        PATHS="restore takeover" KEEP=/tmp/uzswap-soak)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BUILD=${1:-build}
LIB=$PWD/$BUILD/preload/libuzswap.so
ZSSTAT=$PWD/$BUILD/tools/zsstat
MINUTES=${MINUTES:-30}
LIMIT=${LIMIT:-64M}
UPDATES=${UPDATES:-200000}
PATHS=${PATHS:-"restore takeover"}
KEEP=${KEEP:-/tmp/uzswap-soak}
[[ -f $LIB && -x $ZSSTAT ]] || { echo "build first: $LIB and $ZSSTAT are needed" >&2; exit 1; }
for p in redis-server redis-cli redis-check-rdb python3; do
  command -v $p >/dev/null || { echo "$p missing (scripts/setup.sh installs it)" >&2; exit 1; }
done
mkdir -p "$KEEP"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The update workload, in redis' protocol: deterministic, so every run ends in one state.
make_updates() {
  python3 - "$UPDATES" >"$1" <<'PY'
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
def cmd(*args):
    out.write(b"*%d\r\n" % len(args))
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.write(b"$%d\r\n%s\r\n" % (len(a), a))
for i in range(n):
    k = (i * 2654435761) % 1000000
    if i % 3 == 0:
        cmd("SET", "key:%d" % k, "updated:%d:%s" % (i, "x" * (i % 200)))
    elif i % 3 == 1:
        cmd("INCR", "counter:%d" % (k % 5000))
    else:
        cmd("RPUSH", "list:%d" % (k % 2000), "item:%d" % i)
PY
}

# start NAME DIR [ENV...]: a server in DIR; prints its port, leaves its pid in DIR/pid.
start() {
  local name=$1 dir=$2; shift 2
  local port
  port=$(free_port)
  env "$@" redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --enable-debug-command yes \
    --dir "$dir" --dbfilename "$name.rdb" >"$dir/$name.log" 2>"$dir/$name.err" &
  echo $! >"$dir/pid"
  for _ in $(seq 300); do redis-cli -p "$port" PING 2>/dev/null | grep -q PONG && break; sleep 0.1; done
  for _ in $(seq 600); do redis-cli -p "$port" INFO persistence 2>/dev/null | grep -q 'loading:0' && break; sleep 0.1; done
  echo "$port"
}

stop() {  # stop PORT DIR
  redis-cli -p "$1" SHUTDOWN NOSAVE >/dev/null 2>&1
  wait "$(cat "$2/pid")" 2>/dev/null
}

# workload PORT: prints DBSIZE and the digest.
workload() {
  redis-cli -p "$1" DEBUG POPULATE 1000000 key 100 >/dev/null
  redis-cli -p "$1" --pipe <"$UPD" >/dev/null
  redis-cli -p "$1" DBSIZE
  redis-cli -p "$1" DEBUG DIGEST
}

bgsave() {  # bgsave PORT: waits for the end; prints the status line
  redis-cli -p "$1" BGSAVE >/dev/null
  for _ in $(seq 1200); do
    redis-cli -p "$1" INFO persistence | grep -q 'rdb_bgsave_in_progress:0' && break
    sleep 0.5
  done
  redis-cli -p "$1" INFO persistence | grep rdb_last_bgsave_status | tr -d '\r'
}

UPD=$KEEP/updates.resp
make_updates "$UPD"
ref_dir=$(mktemp -d "$KEEP/reference.XXXXXX")
port=$(start plain "$ref_dir")
reference=$(workload "$port")
stop "$port" "$ref_dir"
rm -rf "$ref_dir"
echo "reference (plain run): $(echo "$reference" | tr '\n' ' ')"

deadline=$(($(date +%s) + MINUTES * 60))
round=0
while [ "$(date +%s)" -lt "$deadline" ]; do
  for path in $PATHS; do
    round=$((round + 1))
    dir=$(mktemp -d "$KEEP/round$round-$path.XXXXXX")
    takeover=0; [ "$path" = takeover ] && takeover=1
    port=$(start uz "$dir" LD_PRELOAD="$LIB" UZSWAP_LIMIT="$LIMIT" UZSWAP_FORK_TAKEOVER=$takeover UZSWAP_SHOW_STATS=1)
    pid=$(cat "$dir/pid")
    ( while kill -0 "$pid" 2>/dev/null; do "$ZSSTAT" "$pid" --classes >"$dir/zsstat.out" 2>&1; sleep 0.2; done ) &
    watcher=$!
    got=$(workload "$port")
    status=$(bgsave "$port")
    stop "$port" "$dir"
    wait "$watcher" 2>/dev/null
    problem=""
    [ "$got" = "$reference" ] || problem="in-memory state differs: $(echo "$got" | tr '\n' ' ')"
    [ -z "$problem" ] && [ "$status" != "rdb_last_bgsave_status:ok" ] && problem="BGSAVE: $status"
    [ -z "$problem" ] && ! redis-check-rdb "$dir/uz.rdb" >"$dir/check.out" 2>&1 && problem="redis-check-rdb refused the dump"
    if [ -z "$problem" ]; then
      cp "$dir/uz.rdb" "$dir/reload.rdb"
      rport=$(start reload "$dir")  # plain redis loads the dump
      reloaded=$( { redis-cli -p "$rport" DBSIZE; redis-cli -p "$rport" DEBUG DIGEST; } )
      stop "$rport" "$dir"
      [ "$reloaded" = "$reference" ] || problem="the dump reloads as $(echo "$reloaded" | tr '\n' ' ')"
    fi
    if [ -n "$problem" ]; then
      echo "round $round ($path): FAILED: $problem; kept $dir"
      exit 1
    fi
    echo "round $round ($path): ok ($(grep -o 'evict_staged=[0-9]*' "$dir/uz.err" | head -1))"
    rm -rf "$dir"
  done
done
echo "soak: $round rounds, all correct"
