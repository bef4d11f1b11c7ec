#!/usr/bin/env bash
# redis-server (Debian's, jemalloc) with a dataset about 4x its limit, plainly and under
# LD_PRELOAD=libuzswap.so UZSWAP_LIMIT=$LIMIT (coverage scan on, UZSWAP_COVERAGE=1), in one
# run so that the ratios compare like with like:
#   fill       KEYS keys "key:%012d" (redis-benchmark's -r key names) with VALUE-byte
#              JSON-like records through redis-cli --pipe, then SETTLE seconds idle;
#   requests/s redis-benchmark (50 clients, no pipelining) of GET and SET on random keys
#              over the whole keyspace and over a hot subset (the first HOT keys);
#   footprint  VmRSS after the fill and after the requests, VmHWM, and uzswap's at-exit
#              summary (footprint = resident + pool + staging + metadata, coverage);
#   fork       BGSAVE: INFO stats latest_fork_usec, and the dump's duration.
# Both servers run side by side and the measurements alternate between them (REPS times,
# median), so that changes in the machine's load hit both alike.
# Usage: bench/redis/run.sh [build-dir]  (env: KEYS, VALUE, HOT, LIMIT, REQUESTS, REPS, SETTLE)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BUILD=${1:-build}
LIB=$PWD/$BUILD/preload/libuzswap.so
ZSSTAT=$PWD/$BUILD/tools/zsstat
KEYS=${KEYS:-1000000}
VALUE=${VALUE:-256}
HOT=${HOT:-50000}
LIMIT=${LIMIT:-64M}
REQUESTS=${REQUESTS:-200000}
SETTLE=${SETTLE:-10}
REPS=${REPS:-3}
TMP=$(mktemp -d /tmp/uzswap-redis-bench.XXXXXX)

[[ -f $LIB && -x $ZSSTAT ]] || { echo "build first: $LIB and $ZSSTAT are needed"; exit 1; }
for p in redis-server redis-cli redis-benchmark; do
  command -v $p >/dev/null || { echo "$p missing (scripts/setup.sh installs it)"; exit 1; }
done

echo "machine: $(nproc) CPUs, $(uptime | sed 's/.*load average/load average/')"
echo "dataset: $KEYS keys of $VALUE-byte values ($((KEYS * VALUE / 1048576)) MiB of values); hot subset $HOT keys; limit $LIMIT"

# The fill, as Redis protocol: SET key:%012d <VALUE bytes of a record>. Generated once.
awk -v n="$KEYS" -v size="$VALUE" 'BEGIN {
  pad = ""; while (length(pad) < size + 64) pad = pad "lorem ipsum dolor sit amet consectetur "
  for (i = 0; i < n; i++) {
    v = sprintf("{\"id\":%d,\"customer\":\"customer-%05d\",\"item\":%d,\"qty\":%d,\"price\":%d.%02d,\"note\":\"%s",
                i, (i * 7) % 50000, (i * 2654435761) % 9001, i % 97, (i * 13) % 1000, i % 100, substr(pad, (i % 64) + 1))
    v = substr(v, 1, size - 2) "\"}"
    k = sprintf("key:%012d", i)
    printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v
  }
}' >"$TMP/fill.resp"

free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
status_kib() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }
info() { redis-cli -p "$1" INFO "$2" | tr -d '\r' | awk -F: -v f="$3" '$1 == f {print $2}'; }

# bench_rps PORT TEST KEYSPACE: requests/s of redis-benchmark's TEST on random keys in
# [0, KEYSPACE).
bench_rps() {
  redis-benchmark -p "$1" -t "$2" -r "$3" -n "$REQUESTS" -d "$VALUE" -c 50 --csv 2>/dev/null |
    awk -F'"' -v t="${2^^}" '$2 == t {print int($4)}'
}

# start NAME [env...]: a redis-server on a free port (NAME.port, NAME.pid), filled; figures
# go to NAME.fig as "key value" lines.
start() {
  local name=$1; shift
  local port pid t0 t1
  port=$(free_port)
  env "$@" redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$TMP" --dbfilename "$name.rdb" >"$TMP/$name.log" 2>"$TMP/$name.err" &
  pid=$!
  PIDS+=("$pid")
  echo "$port" >"$TMP/$name.port"
  echo "$pid" >"$TMP/$name.pid"
  for _ in $(seq 100); do redis-cli -p "$port" PING 2>/dev/null | grep -q PONG && break; sleep 0.1; done
  t0=$(date +%s.%N)
  redis-cli -p "$port" --pipe <"$TMP/fill.resp" >"$TMP/$name.fill" 2>&1
  t1=$(date +%s.%N)
  {
    echo "fill_s $(echo "$t1 - $t0" | bc)"
    echo "dbsize $(redis-cli -p "$port" DBSIZE)"
    echo "rss_fill_kib $(status_kib "$pid" VmRSS)"
  } >"$TMP/$name.fig"
}
# uz_sample LABEL: the uzswap server's footprint from zsstat (its live statistics).
uz_sample() {
  "$ZSSTAT" "$(pid_of uzswap)" --dir "$TMP" --json 2>/dev/null | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)["summary"]
m = lambda k: s[k] / 1048576
print("%s: footprint %.0f MiB = resident %.0f + pool %.0f + staging %.0f + metadata %.1f MiB; stored %.0f MiB compressed %.2fx%s"
      % (sys.argv[1], m("footprint_bytes"), m("resident_bytes"), m("total_bytes"), m("staging_bytes"), m("metadata_bytes"),
         m("data_bytes"), s["ratio"], " (limit unreachable: the compressed data alone exceeds it)" if s["over_limit_unreachable"] else ""))
' "$1" >>"$TMP/uzswap.samples"
}
port_of() { cat "$TMP/$1.port"; }
pid_of() { cat "$TMP/$1.pid"; }
note() { echo "$2 $3" >>"$TMP/$1.fig"; }

# bgsave_and_stop NAME: BGSAVE (fork latency, duration, footprint after), then SHUTDOWN
# NOSAVE (uzswap's at-exit summary).
bgsave_and_stop() {
  local name=$1 port pid
  port=$(port_of "$name") pid=$(pid_of "$name")
  redis-cli -p "$port" BGSAVE >/dev/null
  for _ in $(seq 1200); do [[ $(info "$port" persistence rdb_bgsave_in_progress) == 0 ]] && break; sleep 0.1; done
  note "$name" fork_usec "$(info "$port" stats latest_fork_usec)"
  note "$name" bgsave_status "$(info "$port" persistence rdb_last_bgsave_status)"
  note "$name" bgsave_s "$(info "$port" persistence rdb_last_bgsave_time_sec)"
  note "$name" rss_bgsave_kib "$(status_kib "$pid" VmRSS)"
  note "$name" hwm_kib "$(status_kib "$pid" VmHWM)"
  redis-cli -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1
  wait "$pid"
}

PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT
start plain
start uzswap LD_PRELOAD="$LIB" UZSWAP_LIMIT="$LIMIT" UZSWAP_COVERAGE=1 UZSWAP_SHOW_STATS=1 UZSWAP_STATS_DIR="$TMP"
if grep -q "running without uzswap" "$TMP/uzswap.err"; then cat "$TMP/uzswap.err"; echo "uzswap did not run"; exit 1; fi
uz_sample "zsstat after the fill"
sleep "$SETTLE"
uz_sample "zsstat after $SETTLE s idle"
for name in plain uzswap; do
  note $name rss_settled_kib "$(status_kib "$(pid_of $name)" VmRSS)"
  note $name used_memory "$(info "$(port_of $name)" memory used_memory)"
done
# Both servers run side by side; each measurement alternates between them REPS times and
# keeps the median, so that the machine's load changes hit both alike. GETs first: the
# SETs overwrite values with redis-benchmark's (more compressible) payload.
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
for test in "get $KEYS get_all" "get $HOT get_hot" "set $KEYS set_all" "set $HOT set_hot"; do
  read -r cmd keyspace key <<<"$test"
  for rep in $(seq "$REPS"); do
    for name in plain uzswap; do bench_rps "$(port_of $name)" "$cmd" "$keyspace" >>"$TMP/$name.$key"; done
  done
  for name in plain uzswap; do note $name "$key" "$(median <"$TMP/$name.$key")"; done
done
for name in plain uzswap; do note $name rss_bench_kib "$(status_kib "$(pid_of $name)" VmRSS)"; done
uz_sample "zsstat after the requests"
bgsave_and_stop plain
bgsave_and_stop uzswap
echo "load after: $(uptime | sed 's/.*load average/load average/')"

fig() { awk -v k="$2" '$1 == k {print $2}' "$TMP/$1.fig"; }
mib() { awk -v v="$1" 'BEGIN {printf "%.0f MiB", v / 1024}'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.1f%%", 100 * a / b; else print "-"}'; }


printf '%-46s %16s %16s %9s\n' "" plain "uzswap $LIMIT" "ratio"
row() { printf '%-46s %16s %16s %9s\n' "$1" "$2" "$3" "$4"; }
for k in get_all get_hot set_all set_hot; do
  case $k in get_all) l="GET, random over all $KEYS keys" ;; get_hot) l="GET, random over the first $HOT keys" ;;
    set_all) l="SET, random over all keys" ;; set_hot) l="SET, random over the hot keys" ;; esac
  row "$l (req/s)" "$(fig plain $k)" "$(fig uzswap $k)" "$(pct "$(fig uzswap $k)" "$(fig plain $k)")"
done
row "fill through redis-cli --pipe (s)" "$(printf %.2f "$(fig plain fill_s)")" "$(printf %.2f "$(fig uzswap fill_s)")" ""
for k in rss_fill_kib rss_settled_kib rss_bench_kib rss_bgsave_kib hwm_kib; do
  case $k in rss_fill_kib) l="VmRSS right after the fill" ;; rss_settled_kib) l="VmRSS after ${SETTLE} s idle" ;;
    rss_bench_kib) l="VmRSS after the requests" ;; rss_bgsave_kib) l="VmRSS after BGSAVE" ;; hwm_kib) l="VmHWM (peak)" ;; esac
  row "$l" "$(mib "$(fig plain $k)")" "$(mib "$(fig uzswap $k)")" "$(pct "$(fig uzswap $k)" "$(fig plain $k)")"
done
row "used_memory (redis' own count)" "$(mib $(($(fig plain used_memory) / 1024)))" "$(mib $(($(fig uzswap used_memory) / 1024)))" ""
row "BGSAVE fork (latest_fork_usec)" "$(fig plain fork_usec)" "$(fig uzswap fork_usec)" "$(awk -v a="$(fig uzswap fork_usec)" -v b="$(fig plain fork_usec)" 'BEGIN {if (b > 0) printf "%.1fx", a / b}')"
row "BGSAVE duration (s), status" "$(fig plain bgsave_s), $(fig plain bgsave_status)" "$(fig uzswap bgsave_s), $(fig uzswap bgsave_status)" ""
row "keys" "$(fig plain dbsize)" "$(fig uzswap dbsize)" ""
echo "uzswap server's footprint, sampled:"
sed 's/^/  /' "$TMP/uzswap.samples"
# The server's own lines (a BGSAVE child under uzswap may print a summary of its own).
server=$(pid_of uzswap)
echo "uzswap's at-exit summary (redis-server, pid $server):"
grep "^uzswap\[$server\]" "$TMP/uzswap.err" | grep -v ": latency" | sed 's/^uzswap\[[0-9]*\]: /  /'
grep "^uzswap\[$server\]: latency fault_pool" "$TMP/uzswap.err" | sed 's/^uzswap\[[0-9]*\]: /  /'
grep "^uzswap\[" "$TMP/uzswap.err" | grep -v "^uzswap\[$server\]" | sed 's/^/  other process: /'
echo "coverage (redis-server): $(grep "^uzswap\[$server\]" "$TMP/uzswap.err" | grep -o 'coverage [0-9.]*% of the program.s anonymous RSS while running ([^)]*), [0-9.]*% at exit')"
