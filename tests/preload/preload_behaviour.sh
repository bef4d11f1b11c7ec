#!/usr/bin/env bash
# preload_behaviour.sh CASE LIBUZSWAP PROBE — the preload library in real processes.
# Exit 0 pass, 1 fail, 77 skip (ctest SKIP_RETURN_CODE). Cases that need userfaultfd fail
# instead of skipping when CI=true and it is unavailable.
set -uo pipefail
case_name=$1 lib=$2 probe=$3
work=$(mktemp -d /tmp/uzswap-preload-test.XXXXXX)
chmod 1777 "$work"  # the fail-open case runs as nobody and publishes stats there
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
  env "$@" LD_PRELOAD="$lib" "$probe" "$mode" >"$work/uz.out" 2>"$work/uz.err"
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

case $case_name in
fail_open_unprivileged)
  [ "$(id -u)" -eq 0 ] || skip "needs root to run the probe as nobody"
  command -v setpriv >/dev/null || skip "setpriv (util-linux) missing"
  [ "$(cat /proc/sys/vm/unprivileged_userfaultfd)" = 0 ] || skip "vm.unprivileged_userfaultfd is not 0"
  as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all)
  "${as_nobody[@]}" test -r "$lib" || skip "nobody cannot read $lib"
  if "${as_nobody[@]}" test -r /dev/userfaultfd -a -w /dev/userfaultfd; then skip "nobody may open /dev/userfaultfd"; fi
  "${as_nobody[@]}" "$probe" hello >"$work/plain.out" 2>"$work/plain.err" || fail "plain run as nobody failed"
  "${as_nobody[@]}" env LD_PRELOAD="$lib" UZSWAP_LIMIT=16M "$probe" hello >"$work/uz.out" 2>"$work/uz.err" \
    || { show stderr "$work/uz.err"; fail "the program failed under uzswap as nobody"; }
  cmp -s "$work/plain.out" "$work/uz.out" || fail "stdout differs as nobody"
  [ "$(wc -l <"$work/uz.err")" -eq 1 ] || { show stderr "$work/uz.err"; fail "expected exactly one stderr line"; }
  grep -Eq '^uzswap\[[0-9]+\]: userfaultfd is not available to this process .*An administrator can grant it: .*/dev/userfaultfd.*vm\.unprivileged_userfaultfd=1' "$work/uz.err" \
    || { show stderr "$work/uz.err"; fail "the line does not say what an administrator can grant"; }
  [ -z "$(ls -A "$work" | grep '^uzswap\.')" ] || fail "a stats file was left behind"
  cat "$work/uz.err"
  ;;
disable_passes_through)
  run_both hello UZSWAP_DISABLE=1 UZSWAP_LIMIT=1M UZSWAP_SHOW_STATS=1 UZSWAP_VERBOSE=3
  [ ! -s "$work/uz.err" ] || { show stderr "$work/uz.err"; fail "UZSWAP_DISABLE=1 printed something"; }
  [ -z "$(ls -A "$work" | grep '^uzswap\.')" ] || fail "UZSWAP_DISABLE=1 created a stats file"
  ;;
bad_option_one_line)
  run_both hello UZSWAP_DISABLE=1 UZSWAP_HANDLERS=lots
  [ "$(wc -l <"$work/uz.err")" -eq 1 ] || { show stderr "$work/uz.err"; fail "expected exactly one stderr line"; }
  grep -Eq '^uzswap\[[0-9]+\]: UZSWAP_HANDLERS=lots: not an integer .*keeping the default 0$' "$work/uz.err" \
    || { show stderr "$work/uz.err"; fail "the line does not name the variable, value and default"; }
  ;;
no_stdout_pollution)
  require_uffd
  run_both hello UZSWAP_LIMIT=1M UZSWAP_VERBOSE=3 UZSWAP_SHOW_STATS=1 UZSWAP_MIN_MAPPING=4K
  grep -q "option UZSWAP_LIMIT=1048576" "$work/uz.err" || { show stderr "$work/uz.err"; fail "verbose 3 did not print the options"; }
  grep -q "at exit: footprint" "$work/uz.err" || { show stderr "$work/uz.err"; fail "no at-exit summary"; }
  ;;
manages_and_restores)
  require_uffd
  run_both evict UZSWAP_LIMIT=16M UZSWAP_SHOW_STATS=1 PROBE_MB=64 PROBE_RSS_MB=40
  grep -Eq 'mappings: [1-9][0-9]* managed' "$work/uz.err" || { show stderr "$work/uz.err"; fail "nothing was managed"; }
  [ -z "$(ls -A "$work" | grep '^uzswap\.')" ] || fail "the stats file outlived the process"
  cat "$work/uz.err"
  ;;
fork_child_sees_evicted)
  require_uffd
  run_both fork UZSWAP_LIMIT=16M UZSWAP_SHOW_STATS=1 PROBE_MB=64 PROBE_RSS_MB=40
  grep -Eq 'restored for fork' "$work/uz.err" || { show stderr "$work/uz.err"; fail "no summary"; }
  ;;
exec_starts_clean)
  require_uffd
  # Descriptors inherited from the test runner would survive the exec too: close them
  # first, so that any descriptor the exec'd image finds beyond 0-2 is uzswap's.
  close_inherited() { for fd in /proc/$BASHPID/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done; }
  ( close_inherited; run_both exec UZSWAP_LIMIT=16M PROBE_MB=64 PROBE_RSS_MB=40 ) || exit $?
  ;;
descriptors_kept)
  require_uffd
  # The probe closes what it did not open; the runner's own descriptors must not count.
  close_inherited() { for fd in /proc/$BASHPID/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done; }
  ( close_inherited; run_both closefds UZSWAP_LIMIT=16M UZSWAP_SHOW_STATS=1 PROBE_MB=64 PROBE_RSS_MB=40 ) || exit $?
  grep -q "at exit: footprint" "$work/uz.err" || { show stderr "$work/uz.err"; fail "no at-exit summary (its stderr copy was closed)"; }
  ;;
remap_and_unmap)
  require_uffd
  run_both remap UZSWAP_LIMIT=16M PROBE_MB=64 PROBE_RSS_MB=40
  ;;
own_memory_not_managed)
  require_uffd
  # The probe maps 4 MiB once; the engine maps its own tables, staging and pool through
  # the same mmap symbol. With every size eligible, only the probe's mapping may be managed.
  run_both hello UZSWAP_LIMIT=1M UZSWAP_MIN_MAPPING=4K UZSWAP_SHOW_STATS=1
  grep -q 'mappings: 1 managed (4.0 MiB)' "$work/uz.err" || { show stderr "$work/uz.err"; fail "uzswap's own memory was managed"; }
  ;;
mapping_churn|mapping_churn_copy)
  require_uffd
  evict=move
  [ "$case_name" = mapping_churn_copy ] && evict=copy
  # Mappings made, evicted, checked, remapped and unmapped by several threads at once
  # while reclaim runs (UZSWAP_COLD_AGE and a small limit keep it busy).
  seconds=${UZSWAP_STRESS_SECONDS:-10}
  [ "$seconds" -gt 20 ] && seconds=20
  run_both churn UZSWAP_EVICT="$evict" UZSWAP_LIMIT=8M UZSWAP_COLD_AGE=0.2 UZSWAP_SHOW_STATS=1 UZSWAP_MIN_MAPPING=1M \
    PROBE_THREADS=4 PROBE_SECONDS="$seconds"
  grep -E "probe: churn|mappings:" "$work/uz.err"
  grep -Eq 'mappings: [1-9][0-9]* managed' "$work/uz.err" || fail "nothing was managed"
  ;;
*)
  fail "unknown case"
  ;;
esac
echo "PASS ($case_name)"
