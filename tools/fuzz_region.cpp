// tools/fuzz_region.cpp — libFuzzer target for the region parser (cmake -DUZSWAP_FUZZ=ON
// with clang). Every input is a region; parse_region must never crash or read out of
// bounds, whatever it returns. Seed it with real regions (tests/tools write some).
#include <cstdint>
#include <cstring>
#include <vector>

#include "tools/region_reader.h"
#include "tools/views.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint64_t> aligned((size + 7) / 8);  // the parser requires 8-byte alignment
  if (size) memcpy(aligned.data(), data, size);
  uzswap::zsstat::Snapshot snap;
  uzswap::zsstat::ParseResult r =
      uzswap::zsstat::parse_region(reinterpret_cast<const uint8_t*>(aligned.data()), size, &snap, 1);
  if (r.ok()) {
    (void)uzswap::zsstat::json_process(snap, nullptr);
    FILE* null = fopen("/dev/null", "w");
    if (null) {
      uzswap::zsstat::print_process(null, snap, nullptr, true);
      uzswap::zsstat::print_classes(null, snap, true);
      fclose(null);
    }
  }
  return 0;
}
