// preload/coverage_rules.cpp — see coverage_rules.h. No state.
#include "preload/coverage_rules.h"

namespace uzswap::preload {
namespace {

// A PROT_NONE anonymous mapping ending exactly where `line` starts and no bigger than a
// thread stack guard: `line` is laid out like a glibc thread stack.
bool sits_on_guard(const MapsLine& line, const MapsLine* below) {
  return below != nullptr && below->end == line.begin && !below->read && !below->write && !below->exec &&
         !below->shared && below->name == MapsName::None && below->end - below->begin <= kMaxGuardBytes;
}

// A file-backed mapping ending exactly where `line` starts: `line` is that object's .bss.
bool follows_file(const MapsLine& line, const MapsLine* below) {
  return below != nullptr && below->end == line.begin && below->name == MapsName::File;
}

}  // namespace

CoverageVerdict classify_maps_line(const MapsLine& line, const MapsLine* below, size_t min_mapping) {
  if (line.shared) return CoverageVerdict::Shared;
  switch (line.name) {
    case MapsName::File: return CoverageVerdict::FileBacked;
    case MapsName::MainStack: return CoverageVerdict::MainStack;
    case MapsName::Special: return CoverageVerdict::Special;
    case MapsName::None:
    case MapsName::Heap:
    case MapsName::AnonNamed: break;
  }
  if (line.inode != 0) return CoverageVerdict::FileBacked;
  if (!line.read || !line.write || line.exec) return CoverageVerdict::NotReadWrite;
  if (sits_on_guard(line, below)) return CoverageVerdict::ThreadStack;
  if (line.name == MapsName::None && follows_file(line, below)) return CoverageVerdict::ElfBss;
  if (line.end - line.begin < min_mapping) return CoverageVerdict::TooSmall;
  return CoverageVerdict::Manage;
}

}  // namespace uzswap::preload
