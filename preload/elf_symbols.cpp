// preload/elf_symbols.cpp — see elf_symbols.h.
#include "preload/elf_symbols.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <initializer_list>

namespace uzswap::preload {
namespace {

// A read-only private mapping of a whole file, made and removed with raw system calls.
class MappedFile {
 public:
  explicit MappedFile(const char* path) {
    int fd = static_cast<int>(syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC));
    if (fd < 0) return;
    struct stat st;
    if (syscall(SYS_fstat, fd, &st) == 0 && st.st_size > 0) {
      long p = syscall(SYS_mmap, nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
      if (p != -1) {
        data_ = reinterpret_cast<const unsigned char*>(p);
        size_ = static_cast<size_t>(st.st_size);
      }
    }
    syscall(SYS_close, fd);
  }
  ~MappedFile() {
    if (data_ != nullptr) syscall(SYS_munmap, data_, size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // The bytes [offset, offset + len) if they lie in the file, else nullptr.
  const unsigned char* at(uint64_t offset, uint64_t len) const {
    if (data_ == nullptr || offset > size_ || len > size_ - offset) return nullptr;
    return data_ + offset;
  }

 private:
  const unsigned char* data_ = nullptr;
  size_t size_ = 0;
};

const Elf64_Shdr* section(const MappedFile& f, const Elf64_Ehdr* eh, unsigned index) {
  if (index >= eh->e_shnum || eh->e_shentsize != sizeof(Elf64_Shdr)) return nullptr;
  return reinterpret_cast<const Elf64_Shdr*>(f.at(eh->e_shoff + uint64_t{index} * sizeof(Elf64_Shdr), sizeof(Elf64_Shdr)));
}

// The symbol table of the given type (SHT_SYMTAB or SHT_DYNSYM), or nullptr.
const Elf64_Shdr* symbol_table(const MappedFile& f, const Elf64_Ehdr* eh, uint32_t type) {
  for (unsigned i = 0; i < eh->e_shnum; ++i) {
    const Elf64_Shdr* sh = section(f, eh, i);
    if (sh != nullptr && sh->sh_type == type && sh->sh_entsize == sizeof(Elf64_Sym)) return sh;
  }
  return nullptr;
}

bool lookup(const MappedFile& f, const Elf64_Ehdr* eh, const Elf64_Shdr* symtab, uintptr_t vaddr, char* name,
            size_t name_size, uintptr_t* offset) {
  const Elf64_Shdr* strtab = section(f, eh, symtab->sh_link);
  if (strtab == nullptr) return false;
  const unsigned char* strings = f.at(strtab->sh_offset, strtab->sh_size);
  const unsigned char* syms = f.at(symtab->sh_offset, symtab->sh_size);
  if (strings == nullptr || syms == nullptr) return false;
  size_t count = symtab->sh_size / sizeof(Elf64_Sym);
  for (size_t i = 0; i < count; ++i) {
    Elf64_Sym sym;
    memcpy(&sym, syms + i * sizeof(Elf64_Sym), sizeof sym);
    if (sym.st_shndx == SHN_UNDEF || sym.st_size == 0) continue;
    if (vaddr < sym.st_value || vaddr - sym.st_value >= sym.st_size) continue;
    if (sym.st_name >= strtab->sh_size) return false;
    const char* s = reinterpret_cast<const char*>(strings + sym.st_name);
    size_t max = strtab->sh_size - sym.st_name;
    size_t n = 0;
    while (n + 1 < name_size && n < max && s[n] != '\0') {
      name[n] = s[n];
      ++n;
    }
    name[n] = '\0';
    *offset = vaddr - sym.st_value;
    return n > 0;
  }
  return false;
}

}  // namespace

bool elf_symbol_at(const char* path, uintptr_t vaddr, char* name, size_t name_size, uintptr_t* offset) {
  if (name_size == 0) return false;
  MappedFile f(path);
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(f.at(0, sizeof(Elf64_Ehdr)));
  if (eh == nullptr || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64) return false;
  for (uint32_t type : {uint32_t{SHT_SYMTAB}, uint32_t{SHT_DYNSYM}}) {
    const Elf64_Shdr* table = symbol_table(f, eh, type);
    if (table != nullptr && lookup(f, eh, table, vaddr, name, name_size, offset)) return true;
  }
  return false;
}

}  // namespace uzswap::preload
