// tests/uffd/engine_layout_test.cpp — the engine's range table against the kernel's VMAs:
// a zero run that crosses a VMA boundary, manage() of a range with a hole, and a page of a
// managed range whose VMA is not registered with the engine.
#include <dirent.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>

#include <atomic>
#include <thread>

#include "tests/uffd/test_util.h"

namespace uzswap::test {
namespace {

constexpr size_t kPages = 256;

// The engine's userfaultfd, found the way a debugger would: among our fds.
int find_userfaultfd() {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  int found = -1;
  while (dirent* de = readdir(d)) {
    char path[300], target[128];
    snprintf(path, sizeof path, "/proc/self/fd/%s", de->d_name);
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n <= 0) continue;
    target[n] = 0;
    if (strstr(target, "userfaultfd") != nullptr) found = atoi(de->d_name);
  }
  closedir(d);
  return found;
}

// Runs fn on a thread; false if it has not finished within `seconds` (a fault left
// waiting, or one retaken forever). The engine's stop() wakes such a thread later.
bool finishes_within(double seconds, const std::function<void()>& fn) {
  std::atomic<bool> done{false};
  std::thread t([&] {
    fn();
    done.store(true);
  });
  bool ok = wait_until([&] { return done.load(); }, seconds);
  t.detach();
  if (!ok) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return ok;
}

TEST(EngineLayout, ZeroRunStopsAtAVmaBoundary) {
  EngineConfig cfg;
  UZ_START_ENGINE(engine, cfg);
  auto* mem = static_cast<uint8_t*>(map_anon(kPages * kPage));
  ASSERT_NE(mem, nullptr);
  ASSERT_TRUE(engine->manage(mem, kPages * kPage));
  // Split the registered VMA: the first page's zero run would cross into the second half.
  ASSERT_EQ(mprotect(mem + 8 * kPage, (kPages - 8) * kPage, PROT_READ), 0);
  uint64_t split0 = count(Counter::fault_zero_run_split);
  std::atomic<int> sum{0};
  ASSERT_TRUE(finishes_within(10, [&] {
    int s = 0;
    for (size_t i = 0; i < kPages; ++i) s += mem[i * kPage];
    sum.store(s);
  })) << "a fault next to the VMA boundary was never resolved";
  EXPECT_EQ(sum.load(), 0);
  EXPECT_GT(count(Counter::fault_zero_run_split), split0);
  ASSERT_EQ(mprotect(mem, kPages * kPage, PROT_READ | PROT_WRITE), 0);
  for (size_t i = 0; i < kPages; ++i) fill_page(mem + i * kPage, i, 3);
  for (size_t i = 0; i < kPages; ++i) ASSERT_TRUE(check_page(mem + i * kPage, i, 3)) << i;
  engine->unmanage(mem, kPages * kPage, false);
  munmap(mem, kPages * kPage);
}

TEST(EngineLayout, ManageRefusesARangeWithAHole) {
  EngineConfig cfg;
  UZ_START_ENGINE(engine, cfg);
  auto* mem = static_cast<uint8_t*>(map_anon(kPages * kPage));
  ASSERT_NE(mem, nullptr);
  ASSERT_EQ(munmap(mem + 100 * kPage, 20 * kPage), 0);
  uint64_t refused0 = count(Counter::manage_refused_hole);
  EXPECT_FALSE(engine->manage(mem, kPages * kPage));
  EXPECT_FALSE(engine->is_managed(mem));
  EXPECT_FALSE(engine->is_managed(mem + 200 * kPage));
  EXPECT_EQ(count(Counter::manage_refused_hole), refused0 + 1);
  // Left untouched: plain memory, and a new mapping in the hole is plain memory too.
  void* fill = mmap(mem + 100 * kPage, 20 * kPage, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  ASSERT_NE(fill, MAP_FAILED);
  for (size_t i = 0; i < kPages; ++i) fill_page(mem + i * kPage, i, 5);
  for (size_t i = 0; i < kPages; ++i) ASSERT_TRUE(check_page(mem + i * kPage, i, 5)) << i;
  // Each piece alone is accepted.
  EXPECT_TRUE(engine->manage(mem, 100 * kPage));
  engine->unmanage(mem, 100 * kPage, false);
  munmap(mem, kPages * kPage);
}

TEST(EngineLayout, UnregisteredVmaInsideAManagedRangeIsNeverEvicted) {
  EngineConfig cfg = aggressive_config();
  UZ_START_ENGINE(engine, cfg);
  auto* mem = static_cast<uint8_t*>(map_anon(kPages * kPage));
  ASSERT_NE(mem, nullptr);
  for (size_t i = 0; i < kPages; ++i) fill_page(mem + i * kPage, i, 9);
  ASSERT_TRUE(engine->manage(mem, kPages * kPage));
  // Make the kernel and the table disagree, as a registration hole later filled by
  // memory no interposer saw would: unregister the first half behind the engine's back.
  int fd = find_userfaultfd();
  ASSERT_GE(fd, 0);
  uffdio_range range = {reinterpret_cast<uintptr_t>(mem), kPages / 2 * kPage};
  ASSERT_EQ(ioctl(fd, UFFDIO_UNREGISTER, &range), 0);
  // Let the reclaim evict the registered half and go round the range again.
  ASSERT_TRUE(wait_until([&] { return evicted_pages(engine) >= kPages / 2 * 9 / 10; }, 20));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (size_t i = 0; i < kPages; ++i) ASSERT_TRUE(check_page(mem + i * kPage, i, 9)) << "page " << i;
  EXPECT_GE(count(Counter::evict_skip_unregistered), kPages / 2);
}

}  // namespace
}  // namespace uzswap::test
