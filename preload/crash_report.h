// preload/crash_report.h — the report printed when one of uzswap's own threads receives a
// fatal signal: what signal, which thread, and its backtrace, on stderr.
//
// libunwind is loaded by crash_report_init() with dlopen(RTLD_LOCAL), never linked: a
// library injected into any program must not put libunwind's _Unwind_* functions (the C++
// exception ABI, which libunwind also defines) ahead of the program's own unwinder in the
// global symbol scope. init also unwinds once, so that libunwind's one-time set-up
// happens here rather than in a signal handler.
// crash_report_print() is async-signal-safe: write(2) only, no allocation, no stdio;
// libunwind's local unwinding (UNW_LOCAL_ONLY: unw_init_local2, unw_step, unw_get_reg)
// is documented as signal-safe, and names come from elf_symbols.h rather than from
// unw_get_proc_name, which allocates. Each frame's object is found with dl_iterate_phdr,
// which libunwind calls at every step anyway.
// State: the libunwind entry points, written once by init
// (before any uzswap thread starts), read by print.
#pragma once

#include <csignal>

namespace uzswap::preload {

// Loads libunwind; false if it cannot (the report then says that it has no backtrace).
bool crash_report_init();

// Prints the report of signal `sig` (its siginfo and the ucontext the handler received)
// for the calling thread, starting the backtrace at the interrupted instruction.
void crash_report_print(int sig, const siginfo_t* info, void* ucontext);

}  // namespace uzswap::preload
