// preload/elf_symbols.h — the name of the function that holds an address, read from the
// ELF file of its loaded object, for the crash report.
//
// Async-signal-safe: system calls only (open, fstat, mmap, munmap, close, made directly,
// around the interposed mmap), no allocation. libunwind's unw_get_proc_name is not used
// because it allocates with malloc (libunwind 1.6), which in a crash inside malloc (heap
// corruption found with an arena lock held) would wait forever on that lock, and whose
// heap the coverage scan may manage.
// The file's .symtab is used when present (unstripped builds of libuzswap.so, the
// program), else its .dynsym (exported functions only). Only a symbol whose [value,
// value + size) holds the address counts: in a stripped library an address inside an
// internal function gets no name rather than the nearest exported one.
#pragma once

#include <cstddef>
#include <cstdint>

namespace uzswap::preload {

// Looks up `vaddr` (an address minus its object's load bias) in the ELF file `path`.
// Writes the symbol's NUL-terminated name (truncated to fit) and the address's offset in
// it; false if the file cannot be read or no symbol holds the address.
bool elf_symbol_at(const char* path, uintptr_t vaddr, char* name, size_t name_size, uintptr_t* offset);

}  // namespace uzswap::preload
