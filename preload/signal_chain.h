// preload/signal_chain.h — uzswap's handler of the fatal signals, chained in front of the
// program's own.
//
// A fatal signal (kFatalSignals, common/own_thread.h) that hits one of uzswap's own
// threads, through a fault of its own or a signal aimed at that thread (abort, raise,
// tgkill), prints a crash report (crash_report.h) and then takes its default action: the
// process ends with that signal. Every other one belongs to the program and gets exactly
// what the program asked for.
//
// Signal actions are process-wide, so one handler serves both. While the chain is
// installed the kernel's action for each fatal signal is ours, and the program's action is
// kept here as "the program's view": the action the program last set, normalised as the
// kernel normalises it, or the one in place when the chain was installed. The interposed
// sigaction/signal family (signal_interpose.cpp) reads and sets the view, so the program
// sees the old actions it would see without uzswap, and our action stays installed. Our
// action copies the program's sa_mask and SA_ONSTACK, SA_RESTART, SA_NODEFER, so the
// kernel runs it on the stack and with the mask the program's handler expects; the handler
// then calls the program's handler with the same arguments, or for SIG_DFL (or SIG_IGN
// and a fault, which the kernel never ignores) ends the process by the default action.
// SA_RESETHAND is applied to the view, as the kernel applies it to the action.
//
// States of the chain (process-wide):
//   Off       --signal_chain_install() (constructor, before uzswap starts a thread)--> On
//   On        --signal_chain_uninstall() (the engine could not start; a fork child
//               that runs without uzswap)--> Off: the views become the kernel's actions
//   On        --signal_chain_before_exec()--> On, with SIG_IGN views made real, since an
//               exec keeps ignored signals ignored but resets caught ones (ours) to SIG_DFL
// Off: every interposed call passes straight through.
// Data layout and locking: per fatal signal, the view's fields under a seqlock. Writers
// (program calls, SA_RESETHAND, install/uninstall) hold one spinlock with every signal
// blocked (sigaction is async-signal-safe: a handler may call it); the handler reads the
// view without locking. The kernel action is only changed under the spinlock, except by
// the handler itself when it ends the process. Lock order: the spinlock is a leaf (held
// only around the C library's sigaction); the crash report takes no lock but a one-slot
// "reporter" flag that a second crashing thread waits on (2 s at most).
#pragma once

#include <csignal>

namespace uzswap::preload {

// Installs the chain (and lets uzswap's threads take the fatal signals). False: not installed.
bool signal_chain_install();
void signal_chain_uninstall();
// In a fork child: frees what a thread of the parent held at the fork; uninstalls unless
// `keep_installed` (the child took the engine over and has uzswap threads of its own).
void signal_chain_fork_child(bool keep_installed);
// The first part of that alone, first thing in a fork child (before its SIGBUS hook).
void signal_chain_fork_child_reset();
void signal_chain_before_exec();
void signal_chain_after_failed_exec();

// The program's sigaction(sig, act, old) for a fatal signal while the chain is on: sets
// and reports the program's view. Returns false, doing nothing, when the chain is off or
// `sig` is not a fatal signal: the caller then makes the real call.
bool signal_chain_sigaction(int sig, const struct sigaction* act, struct sigaction* old);

// A fork child's transitional phase (uffd/engine_fork.cpp): while a hook is set, a SIGBUS
// from a memory access (BUS_ADRERR) is first offered to it; true means the page was
// brought in and the access is retried. nullptr removes it. The chain must be on.
using FaultHook = bool (*)(const void* addr);
void signal_chain_set_fault_hook(FaultHook hook);
// True if the chain is on and the kernel's action for `sig` is still the chain's.
bool signal_chain_owns(int sig);

// The next definition of sigaction (the C library's), resolved on first use.
int real_sigaction(int sig, const struct sigaction* act, struct sigaction* old);

}  // namespace uzswap::preload
