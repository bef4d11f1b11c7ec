// preload/real_calls.h — the calls interpose.cpp wraps, as the next library defines them.
//
// resolve_real_calls() looks each one up with dlsym(RTLD_NEXT) once, from the
// constructor. Until then (calls from other libraries' constructors, or from inside dlsym
// itself, which may allocate and so mmap) the raw system call is used instead: no lookup
// can recurse into us.
#pragma once

#include <cstddef>
#include <sys/types.h>

namespace uzswap::preload {

void resolve_real_calls();

void* real_mmap(void* addr, size_t len, int prot, int flags, int fd, off_t offset);
int real_munmap(void* addr, size_t len);
void* real_mremap(void* old_addr, size_t old_len, size_t new_len, int flags, void* new_addr);

}  // namespace uzswap::preload
