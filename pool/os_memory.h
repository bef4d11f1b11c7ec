// pool/os_memory.h — the only place in pool/ that asks the OS for address space.
//
// Every mapping made here is private anonymous memory the pool owns: no swap reservation
// (MAP_NORESERVE), no transparent huge pages (so touching one 4 KiB page never makes 2 MiB
// resident), and named "uzswap-pool" in /proc/self/maps where the kernel supports
// anonymous VMA names. Each live mapping is recorded in a fixed table so that
// pool_owns_address() can tell the fault engine which ranges it must never register with
// userfaultfd.
#pragma once

#include <cstddef>

namespace uzswap::pool {

// Maps len bytes (a multiple of the page size); accessible=false maps PROT_NONE address
// space only. nullptr on failure. Not on any fault-serving path.
void* os_map(size_t len, bool accessible);
void os_unmap(void* addr, size_t len);
// Turns a PROT_NONE range inside an os_map() reservation into readable/writable memory.
bool os_commit(void* addr, size_t len);
// Returns a committed range to PROT_NONE and its memory to the OS.
void os_decommit(void* addr, size_t len);
// Drops the contents of a committed range (MADV_DONTNEED): RSS falls, it reads as zeros.
void os_discard(void* addr, size_t len);

// True if addr lies in a mapping made by os_map() that is still mapped.
bool pool_owns_address(const void* addr);

}  // namespace uzswap::pool
