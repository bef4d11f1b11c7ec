#!/usr/bin/env bash
# coverage_behaviour.sh CASE LIBUZSWAP PROBE — the coverage scan in real processes.
# Exit 0 pass, 1 fail, 77 skip (userfaultfd missing is a failure when CI=true).
set -uo pipefail
case_name=$1 lib=$2 probe=$3
work=$(mktemp -d /tmp/uzswap-coverage.XXXXXX)
trap 'rm -rf "$work"' EXIT
export UZSWAP_STATS_DIR=$work
unset LD_PRELOAD

fail() { echo "FAIL ($case_name): $*" >&2; cat "$work/err" >&2 2>/dev/null; exit 1; }
skip() { echo "SKIP ($case_name): $*" >&2; exit 77; }

# uz LIMIT CMD... : runs CMD under uzswap with the summary; stdout in $work/out, stderr in $work/err.
uz() {
  local limit=$1; shift
  env LD_PRELOAD="$lib" UZSWAP_LIMIT="$limit" UZSWAP_SHOW_STATS=1 UZSWAP_COVERAGE=1 UZSWAP_COVERAGE_INTERVAL=0.2 \
    timeout 150 "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  if grep -q "running without uzswap" "$work/err"; then
    [ "${CI:-}" = "true" ] && fail "userfaultfd is unavailable (CI=true)"
    skip "userfaultfd is unavailable here"
  fi
  [ $rc -eq 124 ] && fail "timed out (a deadlock?)"
  [ $rc -eq 0 ] || fail "exited $rc"
  [ "$(cat "$work/out")" = "ok" ] || fail "the probe did not print ok"
}

# figure NAME: a number from the summary ("scan_ranges", "evict_staged", "coverage_permille").
scan_ranges() { grep -o 'ranges [0-9]* ([0-9]* KiB) managed by the scan' "$work/err" | awk '{s += $2} END {print s + 0}'; }
scan_kib() { grep -o 'ranges [0-9]* ([0-9]* KiB) managed by the scan' "$work/err" | tr -d '(' | awk '{s += $3} END {print s + 0}'; }
evicted() { grep -o 'evict_staged=[0-9]*' "$work/err" | cut -d= -f2 | awk '{s += $1} END {print s + 0}'; }

case $case_name in
malloc_heap_managed)
  # 64 MiB of small objects in glibc's brk heap, which no interposed mmap shows.
  uz 16M "$probe" heap 64
  [ "$(scan_kib)" -ge $((60 * 1024)) ] || fail "the scan managed only $(scan_kib) KiB of a 64 MiB heap"
  [ "$(evicted)" -gt 0 ] || fail "nothing of the heap was evicted under a 16 MiB limit"
  ;;
mlock_never_managed)
  uz 8M "$probe" mlock 16
  ;;
mlockall_future)
  uz 8M "$probe" mlockall 32
  ;;
stacks_never_managed)
  # A limit below what the stacks alone hold: everything evictable is evicted.
  uz 1M "$probe" stacks 64
  [ "$(evicted)" -gt 0 ] || fail "nothing was evicted (the test proves nothing)"
  ;;
user_stacks_never_managed)
  uz 1M "$probe" userstacks 64
  [ "$(evicted)" -gt 0 ] || fail "nothing was evicted (the test proves nothing)"
  ;;
own_memory_never_managed)
  # A program with no anonymous memory of its own worth managing: whatever the scan would
  # find there is uzswap's (its tables, the fork snapshot, the range lists, its arena).
  uz 0 sh -c 'sleep 1; echo ok'
  [ "$(scan_ranges)" -eq 0 ] || fail "the scan managed $(scan_ranges) ranges ($(scan_kib) KiB) of a shell that has none"
  ;;
threads_under_limit)
  # Many threads allocating and freeing through glibc's heap and arenas while the scan
  # manages them and the reclaim evicts: a handler that touched managed memory would hang.
  uz 24M "$probe" threads "${UZSWAP_STRESS_SECONDS:-10}"
  [ "$(scan_kib)" -gt 0 ] || fail "the scan managed nothing"
  [ "$(evicted)" -gt 0 ] || fail "nothing was evicted"
  ;;
*)
  fail "unknown case"
  ;;
esac
grep "coverage" "$work/err" | sed "s/^/  [$case_name] /"
echo "PASS ($case_name)"
