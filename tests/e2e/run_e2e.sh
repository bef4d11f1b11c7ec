#!/usr/bin/env bash
# run_e2e.sh CASE LIBUZSWAP — a real Debian program, run plainly and under
# LD_PRELOAD=libuzswap.so with a small UZSWAP_LIMIT; their outputs must be identical and
# uzswap must really have run (not failed open). Exit 0 pass, 1 fail, 77 skip; userfaultfd
# missing is a failure when CI=true.
#   python   cold_dataset.py: 256 MiB of records in mmap'd memory + 1M small objects
#   python_copy  the same with UZSWAP_EVICT=copy (the write-protect + copy fallback)
#   sqlite3  a ~300 MB table in a database file with a 400 MB page cache, built and queried
#   sort     sort(1) of a ~200 MB file with a 256 MB buffer
#   xz       xz -T2 compressing and decompressing a ~20 MB file
#   redis    redis-server (Debian's, jemalloc) with ~190 MB of keys: values, DEBUG DIGEST, BGSAVE,
#            redis-check-rdb on the dump, and the digest after reloading it
#   pipeline awk | sort | uniq -c | sort | xz -9 | tee | xz -d | sha256sum over ~150 MB, every
#            process under uzswap (LD_PRELOAD exported to the bash running it, limit 16M)
#   python_regrtest  CPython's regression tests test_fork1 test_subprocess test_mmap
#            test_threading test_os (Debian's libpython3.11-testsuite) under a 16M limit: the
#            outcome of every test case must be the plain run's
#   fd_reuse a program closing every descriptor above 2 (as daemons do) after its data was
#            evicted: the data reads back the same
#   main_thread_exit  main_thread_exit.c (E2E_PROGRAM): main() ends with pthread_exit; the
#            process must end when its last thread returns; then a fork from a thread whose
#            child (taking uzswap over) must end when that thread returns
set -uo pipefail
case_name=$1 lib=$(realpath "$2")  # absolute: the programs run in other directories
here=$(cd "$(dirname "$0")" && pwd)
limit=${E2E_LIMIT:-64M}
work=$(mktemp -d /tmp/uzswap-e2e.XXXXXX)
trap 'rm -rf "$work"' EXIT
export UZSWAP_STATS_DIR=$work
# sqlite3, sort, xz and redis allocate through malloc: only the coverage scan reaches it.
export UZSWAP_COVERAGE=1
unset LD_PRELOAD

fail() { echo "FAIL ($case_name): $*" >&2; exit 1; }
# Under CI (CI=true) setup.sh has installed every program: anything missing is a failure.
skip() { [ "${CI:-}" = "true" ] && fail "$* (CI=true)"; echo "SKIP ($case_name): $*" >&2; exit 77; }

# run NAME CMD... : once plainly (NAME.plain.*), once under uzswap (NAME.uz.*).
run() {
  local name=$1; shift
  "$@" >"$work/$name.plain.out" 2>"$work/$name.plain.err" || { cat "$work/$name.plain.err" >&2; fail "plain $name failed"; }
  env LD_PRELOAD="$lib" UZSWAP_LIMIT="$limit" UZSWAP_SHOW_STATS=1 "$@" >"$work/$name.uz.out" 2>"$work/$name.uz.err"
  local rc=$?
  if grep -q "running without uzswap" "$work/$name.uz.err"; then
    cat "$work/$name.uz.err" >&2
    [ "${CI:-}" = "true" ] && fail "userfaultfd is unavailable (CI=true)"
    skip "userfaultfd is unavailable here"
  fi
  [ $rc -eq 0 ] || { cat "$work/$name.uz.err" >&2; fail "$name under uzswap exited $rc"; }
  cmp -s "$work/$name.plain.out" "$work/$name.uz.out" || {
    diff "$work/$name.plain.out" "$work/$name.uz.out" | head -20 >&2
    fail "$name: output under uzswap differs from the plain run"
  }
  grep "^uzswap" "$work/$name.uz.err" | sed "s/^/  [$name] /"
}

# exercised NAME: the processes of NAME under uzswap managed memory found by the coverage
# scan (glibc's heap and internal mappings) and evicted pages: uzswap really worked there.
exercised() {
  local name=$1 kib evicted
  kib=$(grep -o 'ranges [0-9]* ([0-9]* KiB) managed by the scan' "$work/$name.uz.err" | tr -d '(' | awk '{s += $3} END {print s + 0}')
  evicted=$(grep -o 'evict_\(staged\|fallback\)=[0-9]*' "$work/$name.uz.err" | cut -d= -f2 | awk '{s += $1} END {print s + 0}')
  echo "  [$name] the coverage scan managed ${kib} KiB; ${evicted} pages evicted"
  [ "$kib" -gt 0 ] || fail "$name: the coverage scan managed nothing"
  [ "$evicted" -gt 0 ] || fail "$name: no page was evicted"
}

case $case_name in
python | python_copy)
  command -v /usr/bin/python3 >/dev/null || skip "python3 missing"
  evict=move
  [ "$case_name" = python_copy ] && evict=copy
  DATASET_MB=256 OBJECTS=1000000 HOT_SECONDS=4 UZSWAP_EVICT=$evict run python /usr/bin/python3 "$here/cold_dataset.py"
  grep -q "UZSWAP_EVICT=$evict" <(env UZSWAP_EVICT=$evict "$(dirname "$lib")/uzswap-options" --check) \
    || fail "UZSWAP_EVICT=$evict is not what the options read"
  managed=$(grep -o 'mappings: [0-9]* managed' "$work/python.uz.err" | awk '{print $2}')
  [ "${managed:-0}" -gt 0 ] || fail "python: no mapping was managed"
  # The footprint while the program works on its hot part: below the plain run's (how far
  # below is the engine's benchmark, docs/benchmarks.md; under load reclaim lags).
  plain_rss=$(grep -o 'end of hot work, VmRSS [0-9]*' "$work/python.plain.err" | awk '{print $NF}')
  uz_rss=$(grep -o 'end of hot work, VmRSS [0-9]*' "$work/python.uz.err" | awk '{print $NF}')
  echo "  VmRSS at the end of the hot work: plain ${plain_rss} MiB, under uzswap ${uz_rss} MiB (limit $limit)"
  [ "${uz_rss:-999999}" -lt "${plain_rss:-0}" ] || fail "python: the footprint did not come down under UZSWAP_LIMIT=$limit"
  # Pages really went through the pool and came back (and the output is identical).
  from_pool=$(grep -o 'latency fault_pool: [0-9]* samples' "$work/python.uz.err" | awk '{print $3}')
  [ "${from_pool:-0}" -gt 0 ] || fail "python: no page was brought back from the pool"
  ;;
sqlite3)
  command -v sqlite3 >/dev/null || skip "sqlite3 missing"
  cat >"$work/build.sql" <<'SQL'
PRAGMA cache_size = -400000;
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer TEXT, item INTEGER, qty INTEGER, note TEXT);
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1500000)
INSERT INTO orders SELECT x, printf('customer-%05d', (x * 7) % 50000), (x * 13) % 9000, x % 97,
                          printf('%0200d', x * 2654435761 % 1000000007) FROM n;
CREATE INDEX orders_customer ON orders(customer);
SELECT count(*), sum(qty), sum(item), max(length(note)) FROM orders;
SELECT customer, count(*), sum(qty) FROM orders GROUP BY customer ORDER BY sum(qty) DESC, customer LIMIT 5;
SELECT item % 10, avg(qty), count(*) FROM orders GROUP BY item % 10 ORDER BY 1;
SELECT sum(length(note)) FROM orders WHERE customer BETWEEN 'customer-01000' AND 'customer-02000';
SQL
  run sqlite3 sh -c "rm -f '$work/db' && sqlite3 '$work/db' < '$work/build.sql'"
  exercised sqlite3
  ;;
sort)
  command -v sort >/dev/null || skip "sort missing"
  awk 'BEGIN { for (i = 0; i < 4000000; i++) printf "%010d %s line-%d\n", (i * 2654435761) % 1000000007, "payload-abcdefghijklmnop", i }' >"$work/input"
  run sort sort -S 256M --parallel=2 -k1,1 -k3 "$work/input"
  # sort closes its stderr in an exit handler; the summary must get out all the same.
  grep -q "at exit: footprint" "$work/sort.uz.err" || fail "sort: no at-exit summary"
  exercised sort
  ;;
xz)
  command -v xz >/dev/null || skip "xz missing"
  awk 'BEGIN { for (i = 0; i < 600000; i++) printf "%d,%s,%d,%s\n", i, "record", (i * 7919) % 100003, "text text text" }' >"$work/input"
  run xz sh -c "xz -T2 -3 -c '$work/input' | tee '$work/compressed.xz' | sha256sum && xz -T2 -d -c '$work/compressed.xz' | sha256sum"
  exercised xz
  ;;
redis)
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || skip "redis-server missing"
  # redis_session NAME [ENV...]: a server on a free port, 1M keys, a few values and the
  # digest into NAME.*.out, then SHUTDOWN NOSAVE (the at-exit summary runs).
  redis_session() {
    local name=$1; shift
    local port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    env "$@" redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --enable-debug-command yes \
      --dir "$work" --dbfilename "$name.rdb" >"$work/$name.log" 2>"$work/$name.err" &
    local pid=$!
    for _ in $(seq 100); do redis-cli -p "$port" PING >/dev/null 2>&1 && break; sleep 0.1; done
    {
      redis-cli -p "$port" DEBUG POPULATE 1000000 key 100
      sleep 3  # under uzswap: the limit makes the reclaim evict most of it
      for k in 0 1 4242 99999 500000 999999; do redis-cli -p "$port" GET "key:$k"; done
      redis-cli -p "$port" DBSIZE
      redis-cli -p "$port" DEBUG DIGEST
      # BGSAVE: the fork child writes the dump from the parent's memory, evicted pages included.
      # Under uzswap the child reads every evicted page back under its own limit (about
      # 40 s on a quiet 2-CPU machine for this dataset): wait up to 10 minutes.
      redis-cli -p "$port" BGSAVE >/dev/null
      for _ in $(seq 1200); do
        redis-cli -p "$port" INFO persistence | grep -q 'rdb_bgsave_in_progress:0' && break
        sleep 0.5
      done
      redis-cli -p "$port" INFO persistence | grep -q 'rdb_bgsave_in_progress:0' || echo "BGSAVE still running after 10 minutes"
      redis-cli -p "$port" INFO persistence | grep rdb_last_bgsave_status | tr -d '\r'
    } >"$work/$name.out"
    redis-cli -p "$port" INFO memory | grep used_memory_rss_human | tr -d '\r' >&2
    redis-cli -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1
    wait "$pid"
    [ -s "$work/$name.rdb" ] || { cat "$work/$name.out" >&2; fail "$name: BGSAVE wrote no dump"; }
    redis-check-rdb "$work/$name.rdb" >"$work/$name.check" 2>&1 || { cat "$work/$name.check" >&2; fail "$name: redis-check-rdb refused the dump"; }
    # Reload the dump (under the same environment) and compare its digest.
    env "$@" redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --enable-debug-command yes \
      --dir "$work" --dbfilename "$name.rdb" >"$work/$name.reload.log" 2>>"$work/$name.err" &
    pid=$!
    for _ in $(seq 300); do redis-cli -p "$port" PING 2>/dev/null | grep -q PONG && break; sleep 0.1; done
    for _ in $(seq 300); do redis-cli -p "$port" INFO persistence 2>/dev/null | grep -q 'loading:0' && break; sleep 0.1; done
    redis-cli -p "$port" DEBUG DIGEST | sed 's/^/reloaded /' >>"$work/$name.out"
    redis-cli -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1
    wait "$pid"
  }
  redis_session redis.plain
  redis_session redis.uz LD_PRELOAD="$lib" UZSWAP_LIMIT="$limit" UZSWAP_SHOW_STATS=1
  grep -q "running without uzswap" "$work/redis.uz.err" && { [ "${CI:-}" = "true" ] && fail "userfaultfd is unavailable (CI=true)"; skip "userfaultfd is unavailable here"; }
  cmp -s "$work/redis.plain.out" "$work/redis.uz.out" || {
    diff "$work/redis.plain.out" "$work/redis.uz.out" | head -20 >&2
    fail "redis: values or digest under uzswap differ from the plain run"
  }
  grep -q 'rdb_last_bgsave_status:ok' "$work/redis.uz.out" || fail "redis: BGSAVE under uzswap failed"
  digest=$(sed -n 9p "$work/redis.uz.out")  # OK, 6 values, DBSIZE, then the digest
  [ "$(grep -c "^1000000$" "$work/redis.uz.out")" -eq 1 ] && [ ${#digest} -eq 40 ] || fail "redis: no DBSIZE or digest"
  grep -qx "reloaded $digest" "$work/redis.uz.out" || fail "redis: the reloaded dump's digest differs"
  grep "^uzswap" "$work/redis.uz.err" | sed "s/^/  [redis] /"
  evicted=$(grep -o 'evict_\(staged\|fallback\)=[0-9]*' "$work/redis.uz.err" | cut -d= -f2 | awk '{s += $1} END {print s + 0}')
  [ "$evicted" -gt 0 ] || fail "redis: no page was evicted"
  ;;
pipeline)
  for p in awk sort uniq xz sha256sum; do command -v $p >/dev/null || skip "$p missing"; done
  # A shell pipeline with LD_PRELOAD exported to the bash that runs it, so that every
  # process of it (bash and its forked subshells, awk, both sorts, uniq, both xz, tee,
  # sha256sum) runs under uzswap with its own limit. Each stage records its pid (exec keeps
  # it) so that the at-exit summaries can be told apart. 4M lines (~150 MB) over 250 007
  # distinct keys: sort holds them in a 192 MiB buffer, xz -9 a 64 MiB dictionary.
  cat >"$work/pipeline.sh" <<'SH'
stage() { echo "$BASHPID $1" >>"$PIDS"; shift; exec "$@"; }
stage gen awk 'BEGIN { for (i = 0; i < 4000000; i++) printf "%08d %s %d\n", (i * 2654435761) % 250007, "payload-abcdefghijklmnopqrstuvwxyz", i % 7 }' |
  stage sort1 sort -S 192M -k1,1 -k3n |
  stage uniq uniq -c -w 8 |
  stage sort2 sort -S 192M -k1,1n -k2 |
  stage xz-compress xz -9 -T1 -c |
  stage tee tee "$COMPRESSED" |
  stage xz-decompress xz -d -c |
  stage sha256sum sha256sum
sha256sum <"$COMPRESSED"
SH
  pipeline() {  # pipeline NAME [env...]
    local name=$1 start rc; shift
    start=$(date +%s.%N)
    env "$@" PIDS="$work/$name.pids" COMPRESSED="$work/$name.xz" bash "$work/pipeline.sh" \
      >"$work/$name.out" 2>"$work/$name.err"
    rc=$?
    echo "  [$name] $(echo "$(date +%s.%N) - $start" | bc | cut -c1-6) s"
    return $rc
  }
  pipeline pipeline.plain || { cat "$work/pipeline.plain.err" >&2; fail "the plain pipeline failed"; }
  pipeline pipeline.uz LD_PRELOAD="$lib" UZSWAP_LIMIT="${E2E_LIMIT:-16M}" UZSWAP_SHOW_STATS=1
  rc=$?
  if grep -q "running without uzswap" "$work/pipeline.uz.err"; then
    [ "${CI:-}" = "true" ] && fail "userfaultfd is unavailable (CI=true)"
    skip "userfaultfd is unavailable here"
  fi
  [ $rc -eq 0 ] || { cat "$work/pipeline.uz.err" >&2; fail "the pipeline under uzswap exited $rc"; }
  sed 's/^/  [plain] /' "$work/pipeline.plain.out"
  [ "$(wc -l <"$work/pipeline.plain.out")" -eq 2 ] || fail "the plain pipeline printed no digests"
  cmp -s "$work/pipeline.plain.out" "$work/pipeline.uz.out" || {
    diff "$work/pipeline.plain.out" "$work/pipeline.uz.out" >&2
    fail "pipeline: the digests under uzswap differ from the plain run"
  }
  # Per stage: its at-exit summary (every process under the preload printed one) and its
  # evicted pages. The big ones (both sorts' buffers, xz -9's match finder) must have
  # been evicted from under their 16M limit.
  while read -r pid stage_name; do
    grep -q "^uzswap\[$pid\]: at exit" "$work/pipeline.uz.err" || fail "pipeline: no at-exit summary from $stage_name ($pid)"
    evicted=$(grep "^uzswap\[$pid\]: counters" "$work/pipeline.uz.err" | grep -o 'evict_\(staged\|fallback\)=[0-9]*' | cut -d= -f2 | awk '{s += $1} END {print s + 0}')
    hwm=$(grep -o "^uzswap\[$pid\]: process: VmHWM [0-9.]* [KMG]iB" "$work/pipeline.uz.err" | awk '{print $4 $5}')
    cov=$(grep -o "^uzswap\[$pid\]: coverage [0-9.]*%" "$work/pipeline.uz.err" | awk '{print $3}')
    echo "  [$stage_name] pid $pid: VmHWM $hwm, coverage $cov, $evicted pages evicted"
    case $stage_name in
    sort1 | sort2 | xz-compress) [ "$evicted" -gt 0 ] || fail "pipeline: no page of $stage_name was evicted" ;;
    esac
  done <"$work/pipeline.uz.pids"
  [ "$(wc -l <"$work/pipeline.uz.pids")" -eq 8 ] || fail "pipeline: expected 8 stages"
  ;;
fd_reuse)
  command -v /usr/bin/python3 >/dev/null || skip "python3 missing"
  # A program that closes every descriptor above 2 after its data was evicted, as a daemon
  # does when it starts (daemon(7)); the data must read back the same. uzswap's own
  # descriptors must survive what the program does to the ones it did not open.
  cat >"$work/fd_reuse.py" <<'PY'
import hashlib, os, time
data = bytearray(b"".join(b"record %09d payload abcdefghij\n" % i for i in range(2_000_000)))
before = hashlib.sha256(data).hexdigest()
time.sleep(3)  # under uzswap: the limit makes the reclaim evict most of it
os.closerange(3, os.sysconf("SC_OPEN_MAX"))
print(before, hashlib.sha256(data).hexdigest(), flush=True)
PY
  limit=${E2E_LIMIT:-16M}
  run fd_reuse /usr/bin/python3 "$work/fd_reuse.py"
  read -r before after <"$work/fd_reuse.uz.out"
  [ "$before" = "$after" ] || fail "fd_reuse: the data changed after closing descriptors 3 and up"
  ;;
main_thread_exit)
  # E2E_PROGRAM: main_thread_exit.c built. Its main thread ends with pthread_exit; the
  # process must end when its last thread does. SIGKILL after 30 s: a process whose every
  # thread but uzswap's has ended cannot take SIGTERM (uzswap's threads block signals).
  [ -x "${E2E_PROGRAM:-}" ] || fail "E2E_PROGRAM (main_thread_exit) is not built"
  limit=${E2E_LIMIT:-16M}
  run main_thread_exit timeout -s KILL 30 "$E2E_PROGRAM"
  # A fork from a thread, the child taking uzswap over: the child ends when that thread
  # returns from its start routine.
  run main_thread_exit_fork env UZSWAP_FORK_TAKEOVER=1 timeout -s KILL 30 "$E2E_PROGRAM" fork
  grep -qx 'child exited 0' "$work/main_thread_exit_fork.uz.out" || fail "the fork child did not end with its last thread"
  grep -q '[1-9] forks taken over by the child' "$work/main_thread_exit_fork.uz.err" || fail "the fork did not take the takeover path"
  ;;
python_regrtest)
  [ -f /usr/lib/python3.11/test/test_subprocess.py ] || skip "libpython3.11-testsuite missing"
  # CPython's own tests of fork, subprocesses, mmap, threads and os, in one process (run
  # serially: the top process does the work and prints the at-exit summary), each test
  # file stopped after 300 s. The processes the tests start inherit LD_PRELOAD and the
  # limit, but not UZSWAP_SHOW_STATS: several tests compare a child's stderr with what
  # they expect, and the summary would be an extra line of the test's making, not
  # uzswap's. The plain run runs the same command.
  regrtest=(/usr/bin/python3 -c 'import os, runpy, sys
os.environ.pop("UZSWAP_SHOW_STATS", None)
sys.argv[0] = "python3 -m test"
runpy.run_module("test", run_name="__main__", alter_sys=True)'
    --timeout 300 test_fork1 test_subprocess test_mmap test_threading test_os)
  mkdir -p "$work/plain" "$work/uz"
  start=$(date +%s)
  (cd "$work/plain" && "${regrtest[@]}" --junit-xml "$work/plain.xml" >"$work/regrtest.plain.out" 2>&1)
  plain_rc=$?
  echo "  [plain] $(($(date +%s) - start)) s"
  start=$(date +%s)
  # Its pid (env and the subshell exec): forked children may print summaries of their own.
  (cd "$work/uz" && exec env LD_PRELOAD="$lib" UZSWAP_LIMIT="${E2E_LIMIT:-16M}" UZSWAP_SHOW_STATS=1 \
    "${regrtest[@]}" --junit-xml "$work/uz.xml" >"$work/regrtest.uz.out" 2>&1) &
  top=$!
  wait $top
  uz_rc=$?
  echo "  [uzswap] $(($(date +%s) - start)) s"
  # Children that tests run as another user (nobody) print "running without uzswap": only
  # the test process's own start decides.
  if grep -q "^uzswap\[$top\]: .*running without uzswap" "$work/regrtest.uz.out"; then
    [ "${CI:-}" = "true" ] && fail "userfaultfd is unavailable (CI=true)"
    skip "userfaultfd is unavailable here"
  fi
  grep -E "^(Total tests|Result|Tests result|[0-9]+ tests? )" "$work/regrtest.plain.out" | sed 's/^/  [plain] /'
  grep -E "^(Total tests|Result|Tests result|[0-9]+ tests? )" "$work/regrtest.uz.out" | sed 's/^/  [uzswap] /'
  [ -s "$work/plain.xml" ] || { tail -20 "$work/regrtest.plain.out" >&2; fail "the plain run wrote no report"; }
  [ -s "$work/uz.xml" ] || { tail -40 "$work/regrtest.uz.out" >&2; fail "the run under uzswap wrote no report (exit $uz_rc)"; }
  /usr/bin/python3 "$here/regrtest_compare.py" "$work/plain.xml" "$work/uz.xml" >"$work/compare.out" || {
    cat "$work/compare.out"
    grep -B2 -A30 -E "^(FAIL|ERROR):" "$work/regrtest.uz.out" | head -120 >&2
    fail "the test outcomes under uzswap differ from the plain run"
  }
  cat "$work/compare.out"
  # regrtest exits 2 when a test failed: allowed only for the inherent differences named in
  # regrtest_compare.py, which it has just listed.
  if [ "$plain_rc" -ne "$uz_rc" ]; then
    [ "$plain_rc" -eq 0 ] && [ "$uz_rc" -eq 2 ] && grep -q "differs (inherent" "$work/compare.out" \
      || fail "exit status $uz_rc under uzswap, $plain_rc plainly"
  fi
  # The top process's at-exit summary: pages were evicted and brought back from the pool.
  grep -q "^uzswap\[$top\]: at exit" "$work/regrtest.uz.out" || fail "no at-exit summary from the test process"
  grep "^uzswap\[$top\]" "$work/regrtest.uz.out" | grep -v "^uzswap\[$top\]: latency" | sed "s/^/  [regrtest] /"
  evicted=$(grep "^uzswap\[$top\]: counters" "$work/regrtest.uz.out" | grep -o 'evict_\(staged\|fallback\)=[0-9]*' | cut -d= -f2 | awk '{s += $1} END {print s + 0}')
  from_pool=$(grep "^uzswap\[$top\]: counters" "$work/regrtest.uz.out" | grep -o 'fault_pool=[0-9]*' | cut -d= -f2)
  echo "  [regrtest] ${evicted} pages evicted, ${from_pool:-0} brought back from the pool"
  [ "$evicted" -gt 0 ] || fail "python_regrtest: no page was evicted"
  [ "${from_pool:-0}" -gt 0 ] || fail "python_regrtest: no page was brought back from the pool"
  ;;
*)
  fail "unknown case"
  ;;
esac
echo "PASS ($case_name)"
