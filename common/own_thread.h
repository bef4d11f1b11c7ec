// common/own_thread.h — which threads are uzswap's own.
//
// Every thread uzswap starts (fault handlers, reclaimers, the stats publisher, the
// coverage scan) calls own_thread_begin() first. The mark is a thread-local flag
// (initial-exec TLS, so a signal handler can read it): the crash report
// (preload/signal_chain.h) tells a fatal signal of uzswap's threads from one of the
// program's by it.
// uzswap's threads are created with every signal blocked, so that the program's signals
// never land on them. A fault whose signal is blocked kills the process without running
// any handler, so once own_threads_take_fatal_signals() was called (by the preload
// library, before it starts any thread) own_thread_begin() also unblocks the fatal
// signals (kFatalSignals) in the thread, letting the crash report run.
// State: the per-thread flag, and one process-wide relaxed atomic (the switch above).
#pragma once

namespace uzswap {

// The signals whose default action ends the process with a core, and that a bug of
// uzswap's own can raise: faults (SIGSEGV, SIGBUS, SIGILL, SIGFPE) and abort() (SIGABRT).
inline constexpr int kFatalSignals[] = {11 /*SIGSEGV*/, 7 /*SIGBUS*/, 4 /*SIGILL*/, 8 /*SIGFPE*/, 6 /*SIGABRT*/};

void own_thread_begin();
bool is_own_thread();
void own_threads_take_fatal_signals(bool take);

}  // namespace uzswap
