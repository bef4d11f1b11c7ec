#!/usr/bin/env bash
# fork_behaviour.sh CASE LIBUZSWAP PROBE — fork under uzswap in real processes: the child
# takes the engine over (preload/fork.cpp). Exit 0 pass, 1 fail, 77 skip; cases fail
# instead of skipping when CI=true and userfaultfd is unavailable.
set -uo pipefail
case_name=$1 lib=$2 probe=$3
work=$(mktemp -d /tmp/uzswap-fork-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
export UZSWAP_STATS_DIR=$work
unset LD_PRELOAD

fail() { echo "FAIL ($case_name): $*" >&2; exit 1; }
skip() { echo "SKIP ($case_name): $*" >&2; exit 77; }
show() { echo "--- $1:" >&2; cat "$2" >&2; }

# Runs the probe plainly and under uzswap; leaves plain.out, uz.out, uz.err in $work.
run_both() {  # mode [env assignments for the uzswap run...]
  local mode=$1; shift
  "$probe" "$mode" >"$work/plain.out" 2>"$work/plain.err" || { show "plain stderr" "$work/plain.err"; fail "plain run of $mode failed"; }
  env "$@" LD_PRELOAD="$lib" ${probe_wrap:-} "$probe" "$mode" >"$work/uz.out" 2>"$work/uz.err"
  local rc=$?
  if [ $rc -ne 0 ]; then show "stderr under uzswap" "$work/uz.err"; fail "$mode under uzswap exited $rc"; fi
  cmp -s "$work/plain.out" "$work/uz.out" || { show plain "$work/plain.out"; show uzswap "$work/uz.out"; fail "stdout differs"; }
}

require_uffd() {
  env LD_PRELOAD="$lib" UZSWAP_VERBOSE=1 true 2>"$work/probe.err"
  if grep -q "running without uzswap" "$work/probe.err"; then
    cat "$work/probe.err" >&2
    [ "${CI:-}" = "true" ] && fail "userfaultfd is unavailable (CI=true)"
    skip "userfaultfd is unavailable here"
  fi
}

# expect_err REGEX MESSAGE: uzswap's stderr matches REGEX, else the test fails with MESSAGE.
expect_err() { grep -Eq -- "$1" "$work/uz.err" || { show stderr "$work/uz.err"; fail "$2"; }; }

no_stats_left() {
  [ -z "$(ls -A "$work" | grep '^uzswap\.')" ] || { ls -l "$work" >&2; fail "a stats file outlived its process"; }
}

case $case_name in
takeover)
  require_uffd
  # The child holds 128 MiB of its own data (the inherited region rewritten + a new one):
  # a resident set of at most 96 MiB proves that it evicts under its own limit.
  run_both takeover UZSWAP_FORK_TAKEOVER=1 UZSWAP_LIMIT=16M UZSWAP_SHOW_STATS=1 PROBE_MB=64 PROBE_RSS_MB=40 \
    PROBE_CHILD_RSS_MB=96 PROBE_EXPECT_STATS=1
  expect_err '1 forks taken over by the child' "the fork did not take the takeover path"
  # Two summaries with fork_child_restarted: the child's and its grandchild's.
  [ "$(grep -c 'counters:.*fork_child_restarted=1' "$work/uz.err")" = 2 ] || { show stderr "$work/uz.err"; fail "no summary of the child or the grandchild"; }
  grep 'counters:.*fork_child_restarted=1' "$work/uz.err" | grep -Eq 'evict_staged=[1-9]' || { show stderr "$work/uz.err"; fail "the child did not evict"; }
  # Each process forked once: a count of 2 is its parent's carried over.
  grep -Eq 'fork_quiesced=[2-9]|[2-9] forks taken over' "$work/uz.err" && { show stderr "$work/uz.err"; fail "a child's counters include its parent's"; }
  no_stats_left
  ;;
takeover_no_ptrace)
  # Without CAP_SYS_PTRACE (the capability UFFD_FEATURE_EVENT_FORK and userfaultfd(2) need
  # when vm.unprivileged_userfaultfd is 0): uzswap opens /dev/userfaultfd, and the child
  # still takes the engine over. Root drops the capability from its bounding set, so the
  # probe (and the child) never have it.
  require_uffd
  if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
    [ "${CI:-}" = "true" ] && fail "needs root and setpriv (CI=true)"
    skip "needs root and setpriv"
  fi
  [ -r /dev/userfaultfd ] || { [ "${CI:-}" = "true" ] && fail "no /dev/userfaultfd (CI=true)"; skip "no /dev/userfaultfd"; }
  probe_wrap="setpriv --bounding-set -sys_ptrace"
  eff=$($probe_wrap awk '/^CapEff/ {print $2}' /proc/self/status)
  (( (16#$eff >> 19) & 1 )) && fail "setpriv left CAP_SYS_PTRACE in place ($eff)"
  run_both takeover UZSWAP_FORK_TAKEOVER=1 UZSWAP_LIMIT=16M UZSWAP_SHOW_STATS=1 PROBE_MB=64 PROBE_RSS_MB=40 PROBE_CHILD_RSS_MB=96
  expect_err '1 forks taken over by the child' "the fork did not take the takeover path"
  [ "$(grep -c 'counters:.*fork_child_restarted=1' "$work/uz.err")" = 2 ] || { show stderr "$work/uz.err"; fail "the child or the grandchild did not take uzswap over"; }
  no_stats_left
  ;;
early)
  require_uffd
  run_both early UZSWAP_FORK_TAKEOVER=1 UZSWAP_LIMIT=16M UZSWAP_COLD_AGE=1 UZSWAP_SHOW_STATS=1 PROBE_MB=64 PROBE_RSS_MB=80
  expect_err '1 forks taken over by the child' "the fork did not take the takeover path"
  expect_err 'counters:.*fork_child_early_faults=[1-9]' "the early handler's touches were not served in the transitional phase"
  no_stats_left
  ;;
early_restore)
  # The same under the default restore path: the early handler's memory calls pass through.
  require_uffd
  run_both early UZSWAP_LIMIT=16M UZSWAP_COLD_AGE=1 UZSWAP_SHOW_STATS=1 PROBE_MB=64 PROBE_RSS_MB=80
  expect_err '0 forks taken over by the child' "the fork took the takeover path"
  no_stats_left
  ;;
storm)
  require_uffd
  run_both storm UZSWAP_FORK_TAKEOVER=1 UZSWAP_LIMIT=16M UZSWAP_SHOW_STATS=1 PROBE_MB=8 PROBE_THREADS=3 PROBE_FORKS=8
  expect_err 'counters:.*fork_quiesced=8' "not every fork took the takeover path"
  expect_err 'counters:.*evict_staged=[1-9]' "nothing was evicted during the storm"
  no_stats_left
  ;;
exec)
  require_uffd
  # Descriptors inherited from the test runner would survive the exec too: close them
  # first, so that any descriptor the exec'd image finds beyond 0-2 is uzswap's.
  close_inherited() { for fd in /proc/$BASHPID/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done; }
  ( close_inherited; run_both exec UZSWAP_LIMIT=16M PROBE_MB=64 PROBE_RSS_MB=40 ) || exit $?
  no_stats_left
  ;;
*)
  fail "unknown case"
  ;;
esac
echo "PASS ($case_name)"
