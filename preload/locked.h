// preload/locked.h — mlock'ed memory is never managed (DESIGN.md problem 10): the
// program asked for those pages to stay resident, often because they hold secrets.
//
// locked.cpp interposes mlock, mlock2, munlock, mlockall and munlockall:
//   mlock/mlock2 [a, a+n)  managed memory there is unmanaged (evicted pages brought back)
//                          before the kernel locks it; the range joins locked_ranges();
//   munlock [a, a+n)       locked ranges wholly inside leave the set (the coverage scan
//                          may manage them again);
//   mlockall(MCL_CURRENT)  every managed range is unmanaged, and nothing is managed again
//                          until munlockall (all_locked());
//   mlockall(MCL_FUTURE)   new mappings are never managed until munlockall (all_locked());
//   munlockall             clears both.
// State: one RangeSet (range_set.h) and one atomic flag word.
#pragma once

#include "preload/range_set.h"

namespace uzswap::preload {

RangeSet& locked_ranges();
bool locked_init();
// True after mlockall and before munlockall: nothing is managed.
bool all_locked();

}  // namespace uzswap::preload
