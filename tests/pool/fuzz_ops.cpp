// tests/pool/fuzz_ops.cpp — libFuzzer target over pool operation sequences (build with
// -DUZSWAP_FUZZ=ON and clang). Each input byte pair is one operation: alloc (size from the
// next bytes), free, verify, partial write, compact, migrate/putback a page, pack chunks,
// change the limit. A std::map model holds the expected bytes; any difference aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

#include "pool/pool.h"

using namespace uzswap::pool;

namespace {

struct Input {
  const uint8_t* p;
  size_t n;
  uint8_t byte() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  uint16_t word() { return static_cast<uint16_t>(byte() | byte() << 8); }
};

void check(bool ok) {
  if (!ok) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::unique_ptr<Pool> pool = Pool::create({});
  std::map<Handle, std::vector<uint8_t>> live;
  Input in{data, size};
  uint8_t fill = 1;
  while (in.n > 0) {
    uint8_t op = in.byte() % 9;
    Handle pick = live.empty() ? kNoHandle : std::next(live.begin(), in.byte() % live.size())->first;
    switch (op) {
      case 0:
      case 1: {
        size_t sz = 1 + in.word() % kPageSize;
        Handle h = pool->alloc(sz);
        if (h == kNoHandle) break;  // the limit may refuse
        std::vector<uint8_t> bytes(sz, fill++);
        pool->write(h, bytes.data(), sz);
        live[h] = std::move(bytes);
        break;
      }
      case 2:
        if (pick) pool->free(pick), live.erase(pick);
        break;
      case 3:
        if (pick) {
          auto* q = static_cast<uint8_t*>(pool->map(pick, MapMode::ReadOnly));
          check(q && memcmp(q, live[pick].data(), live[pick].size()) == 0);
          pool->unmap(pick);
        }
        break;
      case 4:
        if (pick) {
          auto* q = static_cast<uint8_t*>(pool->map(pick, MapMode::ReadWrite));
          size_t off = in.word() % live[pick].size();
          q[off] = live[pick][off] = in.byte();
          pool->unmap(pick);
        }
        break;
      case 5:
        pool->compact();
        break;
      case 6: {
        std::vector<void*> pages;
        pool->walk_backing_pages([&](void* pg) { pages.push_back(pg); });
        if (pages.empty()) break;
        void* pg = pages[in.word() % pages.size()];
        check(pool->isolate_page(pg));
        if (in.byte() & 1)
          check(pool->migrate_page(pg));
        else
          pool->putback_page(pg);
        break;
      }
      case 7:
        pool->pack_chunks();
        break;
      case 8:
        pool->set_limit(in.byte() < 128 ? 0 : size_t{in.byte()} * kPageSize);
        break;
    }
  }
  for (auto& [h, bytes] : live) {
    check(pool->object_size(h) == bytes.size());
    auto* q = static_cast<uint8_t*>(pool->map(h, MapMode::ReadOnly));
    check(q && memcmp(q, bytes.data(), bytes.size()) == 0);
    pool->unmap(h);
    pool->free(h);
  }
  pool->set_limit(0);
  pool->compact();
  check(pool->stats().objects == 0 && pool->stats().backing_pages == 0);
  return 0;
}
