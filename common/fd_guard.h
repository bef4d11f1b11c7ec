// common/fd_guard.h — uzswap's own descriptors, kept out of the program's way.
//
// A program may close descriptors it did not open (a daemon closes everything above 2, a
// subprocess child all but its pass_fds), dup2 onto a number it believes free (a shell's
// `exec 3>file`), or list its descriptors below 256 and expect only its own. Closing the
// userfaultfd would unregister every managed range: evicted pages would read as zeros.
// So each long-lived descriptor of uzswap's (the userfaultfd, /proc/self/pagemap, the
// handlers' eventfd, the at-exit summary's stderr) is moved above the numbers programs
// use when it is made (fd_adopt) and recorded; the preload library refuses to close or
// replace a recorded descriptor on the program's behalf (preload/fd_guard.cpp). uzswap
// forgets a descriptor (fd_release) before closing it itself.
//
// Data layout: kFdGuardSlots atomic ints holding descriptor + 1, 0 = free. Lock-free: fd_adopt claims a free slot by
// CAS, fd_release frees it by CAS, queries are plain loads. A descriptor is recorded
// before its number is given to anyone and forgotten before it is closed, so a query
// never sees a number that belongs to the program.
#pragma once

#include <cstddef>

namespace uzswap {

inline constexpr size_t kFdGuardSlots = 16;

// Moves `fd` to the lowest free number at or above the high base (when the limit allows),
// records it and returns the number to use from now on (the old one is closed). Returns
// `fd` unchanged (but recorded) if it cannot be moved; -1 stays -1.
int fd_adopt(int fd);
// Forgets `fd`; call before closing it.
void fd_release(int fd);
// True if `fd` is one of uzswap's.
bool fd_is_ours(int fd);
// uzswap's descriptors in ascending order; returns how many (at most `cap`).
size_t fd_ours(int* out, size_t cap);
// Runs fn() with every free number below the high base taken, so that the descriptors a
// library opens inside it (libunwind's memory-validation pipe) land above the numbers
// programs use; records those as ours. From the constructor.
void fd_open_high(void (*fn)());
// Forgets every descriptor without closing any (a fork child that rebuilds its own).
void fd_forget_all();

}  // namespace uzswap
