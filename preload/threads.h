// preload/threads.h — the program's thread stacks are never managed (DESIGN.md problem
// 10: a stack is hot by nature, and a thread must be able to run its signal handlers).
//
// glibc's own stacks are recognised without help: glibc maps them with MAP_STACK (the
// interposed mmap refuses those) and puts a guard page below them (the coverage scan's
// stack rule). Two kinds are not: a stack the program supplies (pthread_attr_setstack,
// from malloc or a plain mmap, both of which may be managed) and a glibc stack without a
// guard (pthread_attr_setguardsize 0). threads.cpp interposes pthread_create: the new
// thread first records its own stack in thread_stacks() and unmanages it if any of it is
// managed (evicted pages brought back), then runs the program's start routine; when the
// thread ends (a thread-specific-data destructor, which pthread_exit runs too) its stack
// leaves the set. The coverage scan subtracts the set.
//
// Threads uzswap starts itself (called from libuzswap.so) go straight to the real
// pthread_create: they must not malloc (the program's heap may be managed and evicted),
// and their glibc stacks carry a guard page. So does every thread while uzswap is not
// running. Not seen: threads started before libuzswap.so's constructor (by constructors
// of the program's own libraries, which run first) and threads made with C11 thrd_create,
// which glibc does not route through pthread_create's symbol; their stacks still fall
// under the guard rule.
//
// pthread_exit is interposed too: when the main thread ends with it, the process must still
// end with its last thread, though uzswap's threads never end on their own (threads.cpp,
// the reaper).
//
// State: one RangeSet (range_set.h), its slots mmap'd once by threads_init(); a flag for
// the reaper thread.
#pragma once

#include "preload/range_set.h"

namespace uzswap::preload {

RangeSet& thread_stacks();
bool threads_init();
// In a fork child that keeps uzswap (single-threaded): no reaper runs here yet.
void threads_fork_child();

}  // namespace uzswap::preload
