#!/usr/bin/env bash
# signal_behaviour.sh CASE LIBUZSWAP PROBE — fatal signals under uzswap (signal_chain.h):
# a fatal signal of one of uzswap's own threads prints uzswap's crash report and ends the
# process with that signal; the program's own fatal signals, handlers and sigaction
# answers are exactly what they are without uzswap.
# Exit 0 pass, 1 fail, 77 skip (ctest SKIP_RETURN_CODE); with CI=true a missing
# userfaultfd fails instead of skipping (without it uzswap starts no thread and installs nothing).
set -uo pipefail
case_name=$1 lib=$2 probe=$3
work=$(mktemp -d /tmp/uzswap-signal-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
export UZSWAP_STATS_DIR=$work
unset LD_PRELOAD
python=/usr/bin/python3

fail() { echo "FAIL ($case_name): $*" >&2; exit 1; }
skip() { echo "SKIP ($case_name): $*" >&2; exit 77; }
show() { echo "--- $1:" >&2; cat "$2" >&2; }

require_chain() {  # uzswap runs here and its handler is the kernel's SIGSEGV action
  env LD_PRELOAD="$lib" "$probe" kernel-action >"$work/chain.out" 2>"$work/chain.err"
  if grep -q "running without uzswap" "$work/chain.err"; then
    cat "$work/chain.err" >&2
    [ "${CI:-}" = "true" ] && fail "userfaultfd is unavailable (CI=true)"
    skip "userfaultfd is unavailable here"
  fi
  grep -q "kernel SIGSEGV action: libuzswap.so" "$work/chain.out" || { show out "$work/chain.out"; fail "uzswap's handler is not installed"; }
}

# Runs the probe plainly and under uzswap: same exit status, same stdout, same stderr.
same_both() {  # mode [env assignments for both runs...]
  local mode=$1; shift
  env "$@" "$probe" "$mode" >"$work/plain.out" 2>"$work/plain.err"
  local plain_rc=$?
  env "$@" LD_PRELOAD="$lib" "$probe" "$mode" >"$work/uz.out" 2>"$work/uz.err"
  local uz_rc=$?
  [ $plain_rc -eq $uz_rc ] || { show "stderr under uzswap" "$work/uz.err"; fail "$mode: exit status $uz_rc under uzswap, $plain_rc plainly"; }
  cmp -s "$work/plain.out" "$work/uz.out" || { show plain "$work/plain.out"; show uzswap "$work/uz.out"; fail "$mode: stdout differs"; }
  cmp -s "$work/plain.err" "$work/uz.err" || { show plain "$work/plain.err"; show uzswap "$work/uz.err"; fail "$mode: stderr differs"; }
  return $plain_rc
}

# Kills uzswap's thread NAME with signal SIG and checks the report and the end.
crash_own() {  # name sig signame mangled-function [env assignments...]
  local name=$1 sig=$2 signame=$3 function=$4; shift 4
  env "$@" LD_PRELOAD="$lib" "$probe" crash-own "$name" "$sig" >"$work/uz.out" 2>"$work/uz.err"
  local rc=$?
  [ $rc -eq $((128 + sig)) ] || { show stdout "$work/uz.out"; show stderr "$work/uz.err"; fail "$name/$signame: exit status $rc, not $((128 + sig))"; }
  [ ! -s "$work/uz.out" ] || { show stdout "$work/uz.out"; fail "$name/$signame: the program printed (its handler ran?)"; }
  grep -Eq "^uzswap\[[0-9]+\]: fatal signal $signame \($sig, sent by pid [0-9]+\) in uzswap's thread \"$name\" \(tid [0-9]+\)$" "$work/uz.err" \
    || { show stderr "$work/uz.err"; fail "$name/$signame: no report line"; }
  grep -Eq "^uzswap\[[0-9]+\]:   #[0-9]+ 0x[0-9a-f]+ .*$function.*\(libuzswap\.so\+0x[0-9a-f]+\)$" "$work/uz.err" \
    || { show stderr "$work/uz.err"; fail "$name/$signame: no frame of $function in the backtrace"; }
  grep -q "this is a bug in uzswap: please report it" "$work/uz.err" || { show stderr "$work/uz.err"; fail "no closing line"; }
}

case $case_name in
own_thread_crash)
  require_chain
  crash_own uzswap-fault 11 SIGSEGV _ZN6uzswap4uffd10EngineCore12handler_mainEPv
  crash_own uzswap-reclaim 6 SIGABRT _ZN6uzswap6policy9Reclaimer11thread_mainEPv UZSWAP_LIMIT=64M
  crash_own uzswap-stats 7 SIGBUS publisher_main
  crash_own uzswap-fault 4 SIGILL _ZN6uzswap4uffd10EngineCore12handler_mainEPv
  crash_own uzswap-reclaim 8 SIGFPE _ZN6uzswap6policy9Reclaimer11thread_mainEPv UZSWAP_LIMIT=64M
  crash_own uzswap-coverage 11 SIGSEGV coverage_thread UZSWAP_COVERAGE=1
  cat "$work/uz.err"
  ;;
own_thread_crash_program_handlers)
  require_chain
  # The program's handlers (which would print and exit 40+sig) never see uzswap's crash,
  # whether installed before uzswap's constructor or after it.
  crash_own uzswap-fault 11 SIGSEGV handler_main PROBE_HANDLER=1
  crash_own uzswap-fault 11 SIGSEGV handler_main PROBE_HANDLER=1 PROBE_EARLY=1
  crash_own uzswap-reclaim 6 SIGABRT thread_main PROBE_HANDLER=1 PROBE_EARLY=1 UZSWAP_LIMIT=64M
  ;;
backtrace_option)
  require_chain
  for env in UZSWAP_BACKTRACE=0 UZSWAP_DISABLE=1; do
    env $env LD_PRELOAD="$lib" "$probe" kernel-action >"$work/uz.out" 2>&1
    grep -q "kernel SIGSEGV action: SIG_DFL" "$work/uz.out" || { show out "$work/uz.out"; fail "$env: uzswap's handler is installed"; }
  done
  same_both view UZSWAP_BACKTRACE=0
  ;;
program_recovers)
  require_chain
  same_both recover || fail "recover exited non-zero"
  grep -q "handler calls: 9" "$work/uz.out" || { show stdout "$work/uz.out"; fail "the handlers did not all run"; }
  same_both recover PROBE_EARLY=1 || fail "recover (handlers before the constructors) exited non-zero"
  grep -q "handler calls: 9" "$work/uz.out" || { show stdout "$work/uz.out"; fail "the early handlers did not all run"; }
  same_both resethand || fail "resethand exited non-zero"
  grep -q "after SA_RESETHAND: SIG_DFL" "$work/uz.out" || { show stdout "$work/uz.out"; fail "SA_RESETHAND not applied"; }
  ;;
program_dies_plainly)
  require_chain
  same_both segv; rc=$?
  [ $rc -eq 139 ] || fail "segv: exit status $rc, not 139"
  same_both abort; rc=$?
  [ $rc -eq 134 ] || fail "abort: exit status $rc, not 134"
  ;;
sigaction_view)
  require_chain
  same_both view || fail "view exited non-zero"
  grep -q "sig 11 after handler_a (returned 0): handler_a" "$work/uz.out" || { show stdout "$work/uz.out"; fail "view output incomplete"; }
  ;;
program_unwinder)
  require_chain
  # libunwind is loaded privately: the program's C++ exceptions keep their own unwinder.
  same_both unwinder || fail "unwinder exited non-zero"
  ;;
python_faulthandler)
  require_chain
  [ -x "$python" ] || fail "$python missing"
  for flags in "-X faulthandler" ""; do
    # shellcheck disable=SC2086
    "$python" $flags -c "import ctypes; ctypes.string_at(0)" >"$work/plain.out" 2>"$work/plain.err"
    plain_rc=$?
    # shellcheck disable=SC2086
    env LD_PRELOAD="$lib" "$python" $flags -c "import ctypes; ctypes.string_at(0)" >"$work/uz.out" 2>"$work/uz.err"
    uz_rc=$?
    [ $plain_rc -eq 139 ] && [ $uz_rc -eq 139 ] || fail "python $flags: exit status $plain_rc plainly, $uz_rc under uzswap"
    # Only the thread's address differs between two runs.
    sed -E 's/0x[0-9a-f]+/0x?/g' "$work/plain.err" >"$work/plain.norm"
    sed -E 's/0x[0-9a-f]+/0x?/g' "$work/uz.err" >"$work/uz.norm"
    cmp -s "$work/plain.norm" "$work/uz.norm" || { show plain "$work/plain.err"; show uzswap "$work/uz.err"; fail "python $flags: stderr differs"; }
  done
  grep -q "Fatal Python error: Segmentation fault" "$work/uz.err" && fail "python without faulthandler printed a traceback?"
  ;;
redis_crash_log)
  require_chain
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || fail "redis-server missing (scripts/setup.sh installs it)"
  # redis-server's own SIGSEGV handler (SA_SIGINFO | SA_NODEFER | SA_RESETHAND | SA_ONSTACK)
  # writes its bug report and re-raises: the same log and end under uzswap. (Its memory
  # test of every writable mapping is off: under uzswap it would walk uzswap's reservations.)
  for run in plain uz; do
    port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    preload=""
    [ $run = uz ] && preload=$lib
    env LD_PRELOAD="$preload" redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
      --enable-debug-command yes --crash-memcheck-enabled no >"$work/$run.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do redis-cli -p "$port" PING >/dev/null 2>&1 && break; sleep 0.1; done
    redis-cli -p "$port" DEBUG SEGFAULT >/dev/null 2>&1
    wait $pid
    rc=$?
    [ $rc -eq 139 ] || { show "$run log" "$work/$run.log"; fail "$run: redis-server exited $rc, not 139"; }
    grep -q "crashed by signal: 11" "$work/$run.log" && grep -q "REDIS BUG REPORT END" "$work/$run.log" \
      || { show "$run log" "$work/$run.log"; fail "$run: no complete bug report from redis-server"; }
  done
  grep -q "uzswap\[" "$work/uz.log" && { show "uzswap log" "$work/uz.log"; fail "uzswap printed something"; }
  ;;
*)
  fail "unknown case"
  ;;
esac
echo "PASS ($case_name)"
