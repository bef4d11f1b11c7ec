// preload/coverage_rules.h — which lines of /proc/self/maps the coverage scan manages
// (coverage.cpp). Pure: no state, unit tested (tests/coverage).
//
// Managed: private, readable and writable, not executable, anonymous (no path, [heap] or
// [anon:...]) mappings of at least min_mapping bytes. Never, each for a reason:
//   - shared mappings ('s'): another process or a fork child sees the pages through the
//     kernel, and userfaultfd MISSING on shmem is per file page, not ours to move;
//   - file-backed mappings (a path): the file is their backing store already;
//   - [stack]: the main thread's stack (signal handlers and our own constructor run there);
//   - other thread stacks: glibc puts a thread's stack, its static TLS and its descriptor
//     in one anonymous rw-p mapping directly above a PROT_NONE guard ("---p") of at most
//     kMaxGuardBytes (pthread_attr_setguardsize); a fault handler of ours runs on one;
//   - the .bss tail of a loaded ELF object (an anonymous line directly above a file-backed
//     one): libc's and ld.so's own state (locks, the thread list, lazy-binding data) lives
//     there, and every thread, ours included, may touch it;
//   - [vdso], [vvar] and other kernel-special mappings;
//   - read-only, PROT_NONE or executable mappings (reservations, JIT code).
// uzswap's own memory and mlock'ed ranges are subtracted by the caller (own_memory.h,
// locked.h): they cannot be told apart from the maps line alone.
#pragma once

#include <cstddef>

#include "preload/maps_reader.h"

namespace uzswap::preload {

enum class CoverageVerdict : int {
  Manage,
  Shared,
  FileBacked,
  MainStack,
  ThreadStack,
  ElfBss,
  Special,
  NotReadWrite,
  TooSmall,
};

constexpr size_t kMaxGuardBytes = size_t{1} << 20;

// `below` is the line just before `line` in the file (lower addresses), nullptr if none.
CoverageVerdict classify_maps_line(const MapsLine& line, const MapsLine* below, size_t min_mapping);

}  // namespace uzswap::preload
