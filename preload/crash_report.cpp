// preload/crash_report.cpp — see crash_report.h.
#define UNW_LOCAL_ONLY
#include "preload/crash_report.h"

#include <dlfcn.h>
#include <libunwind.h>
#include <link.h>
#include <sys/prctl.h>
#include <ucontext.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "common/fd_guard.h"
#include "preload/elf_symbols.h"

namespace uzswap::preload {
namespace {

#define UZ_SYMBOL_NAME2(x) #x
#define UZ_SYMBOL_NAME(x) UZ_SYMBOL_NAME2(x)  // the libunwind function a unw_* macro names

constexpr int kMaxFrames = 64;

struct Unwinder {
  decltype(&unw_init_local2) init_local2 = nullptr;
  decltype(&unw_step) step = nullptr;
  decltype(&unw_get_reg) get_reg = nullptr;
};

Unwinder g_unw;                   // all set, or all nullptr

// One stderr line built in a fixed buffer, written with a single write(2).
class Line {
 public:
  Line() {
    add("uzswap[");
    add_dec(static_cast<uint64_t>(getpid()));
    add("]: ");
  }
  Line& add(const char* s) {
    while (*s != '\0' && len_ < sizeof buf_ - 1) buf_[len_++] = *s++;
    return *this;
  }
  Line& add_dec(uint64_t v) {
    char digits[24];
    int n = 0;
    do digits[n++] = static_cast<char>('0' + v % 10); while ((v /= 10) != 0);
    while (n > 0 && len_ < sizeof buf_ - 1) buf_[len_++] = digits[--n];
    return *this;
  }
  Line& add_hex(uint64_t v) {
    add("0x");
    char digits[16];
    int n = 0;
    do digits[n++] = "0123456789abcdef"[v & 15]; while ((v >>= 4) != 0);
    while (n > 0 && len_ < sizeof buf_ - 1) buf_[len_++] = digits[--n];
    return *this;
  }
  void write() {
    buf_[len_++] = '\n';
    const char* p = buf_;
    size_t left = len_;
    while (left > 0) {
      ssize_t n = ::write(STDERR_FILENO, p, left);
      if (n <= 0) return;
      p += n;
      left -= static_cast<size_t>(n);
    }
  }

 private:
  char buf_[640];
  size_t len_ = 0;
};

const char* signal_name(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGILL: return "SIGILL";
    case SIGFPE: return "SIGFPE";
    case SIGABRT: return "SIGABRT";
    default: return "signal";
  }
}

template <typename Fn>
bool resolve(void* lib, const char* name, Fn* fn) {
  *fn = reinterpret_cast<Fn>(dlsym(lib, name));
  return *fn != nullptr;
}

// Walks the calling thread's own stack once (libunwind sets itself up on first use).
void warm_up() {
  ucontext_t uc;
  if (getcontext(&uc) != 0) return;
  unw_cursor_t cursor;
  if (g_unw.init_local2(&cursor, reinterpret_cast<unw_context_t*>(&uc), 0) != 0) return;
  for (int i = 0; i < 4 && g_unw.step(&cursor) > 0; ++i) {
  }
}

void print_signal_line(int sig, const siginfo_t* info) {
  char name[17] = {};
  prctl(PR_GET_NAME, name, 0, 0, 0);
  Line line;
  line.add("fatal signal ").add(signal_name(sig)).add(" (").add_dec(static_cast<uint64_t>(sig));
  if (info->si_code > 0) {
    line.add(", code ").add_dec(static_cast<uint64_t>(info->si_code)).add(", address ");
    line.add_hex(reinterpret_cast<uintptr_t>(info->si_addr));
  } else {
    line.add(", sent by pid ").add_dec(static_cast<uint64_t>(info->si_pid));
  }
  line.add(") in uzswap's thread \"").add(name).add("\" (tid ").add_dec(static_cast<uint64_t>(gettid())).add(")");
  line.write();
}

// The loaded object holding an address: its file, its name as shown, its load bias.
struct Module {
  uintptr_t address = 0;
  const char* path = nullptr;
  const char* name = nullptr;
  uintptr_t base = 0;
};

int find_module(struct dl_phdr_info* info, size_t, void* data) {
  auto* m = static_cast<Module*>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
    if (m->address < begin || m->address - begin >= ph.p_memsz) continue;
    m->base = info->dlpi_addr;
    bool program = info->dlpi_name == nullptr || info->dlpi_name[0] == '\0';
    m->path = program ? "/proc/self/exe" : info->dlpi_name;
    const char* name = program ? program_invocation_name : info->dlpi_name;
    const char* slash = strrchr(name, '/');
    m->name = slash != nullptr ? slash + 1 : name;
    return 1;
  }
  return 0;
}

// dl_iterate_phdr is what libunwind itself calls at every step to find unwind tables.
Module module_of(uintptr_t address) {
  Module m;
  m.address = address;
  dl_iterate_phdr(find_module, &m);
  return m;
}

void print_frame(int index, unw_cursor_t* cursor) {
  unw_word_t ip = 0;
  g_unw.get_reg(cursor, UNW_REG_IP, &ip);
  Line line;
  line.add("  #").add_dec(static_cast<uint64_t>(index)).add(" ").add_hex(ip).add(" ");
  Module m = module_of(ip);
  // Past frame #0 the address is a return address: the call is just before it.
  uintptr_t lookup = index == 0 ? ip : ip - 1;
  char symbol[256];
  uintptr_t offset = 0;
  if (m.path != nullptr && elf_symbol_at(m.path, lookup - m.base, symbol, sizeof symbol, &offset)) {
    line.add(symbol).add("+").add_hex(offset + (ip - lookup));
  } else {
    line.add("??");
  }
  if (m.name != nullptr) line.add(" (").add(m.name).add("+").add_hex(ip - m.base).add(")");
  line.write();
}

void print_backtrace(void* ucontext) {
  unw_cursor_t cursor;
  if (g_unw.init_local2 == nullptr ||
      g_unw.init_local2(&cursor, static_cast<unw_context_t*>(ucontext), UNW_INIT_SIGNAL_FRAME) != 0) {
    Line().add("no backtrace: libunwind is not available").write();
    return;
  }
  Line().add("backtrace (innermost first; names are C++-mangled, see c++filt; ?? where the file has no symbol):").write();
  for (int i = 0; i < kMaxFrames; ++i) {
    print_frame(i, &cursor);
    if (g_unw.step(&cursor) <= 0) return;
  }
  Line().add("  ... (more frames not shown)").write();
}

}  // namespace

bool crash_report_init() {
  void* lib = dlopen(UZSWAP_LIBUNWIND_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) return false;
  Unwinder u;
  if (!resolve(lib, UZ_SYMBOL_NAME(unw_init_local2), &u.init_local2) || !resolve(lib, UZ_SYMBOL_NAME(unw_step), &u.step) ||
      !resolve(lib, UZ_SYMBOL_NAME(unw_get_reg), &u.get_reg)) {
    dlclose(lib);
    return false;
  }
  g_unw = u;
  // The first unwind opens libunwind's memory-validation pipe: keep it above the numbers
  // programs use and out of their close loops (common/fd_guard.h).
  fd_open_high(warm_up);
  return true;
}

void crash_report_print(int sig, const siginfo_t* info, void* ucontext) {
  print_signal_line(sig, info);
  print_backtrace(ucontext);
  Line().add("this is a bug in uzswap: please report it with the lines above (addr2line -Cfe FILE OFFSET names a frame's line)").write();
}

}  // namespace uzswap::preload
