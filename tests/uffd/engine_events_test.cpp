// tests/uffd/engine_events_test.cpp — mm events on evicted memory (MADV_DONTNEED,
// munmap, mremap), system calls reading and writing evicted buffers, a signal handler
// touching evicted memory, mlocked memory. Every test evicts first, then checks bytes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "pool/pool.h"
#include "tests/uffd/test_util.h"

namespace uzswap::test {
namespace {

constexpr size_t kPages = 512;

struct Evicted {
  uint8_t* mem = nullptr;
  size_t pages = 0;
};

// Maps, manages, fills and waits until most pages are stored compressed.
::testing::AssertionResult make_evicted(Engine* e, size_t pages, uint64_t seq, Evicted* out) {
  auto* mem = static_cast<uint8_t*>(map_anon(pages * kPage));
  if (mem == nullptr) return ::testing::AssertionFailure() << "mmap";
  if (!e->manage(mem, pages * kPage)) return ::testing::AssertionFailure() << "manage";
  for (size_t i = 0; i < pages; ++i) fill_page(mem + i * kPage, i, seq);
  if (!wait_until([&] { return e->stats().stored_pages >= pages * 9 / 10; }, 20))
    return ::testing::AssertionFailure() << "only " << e->stats().stored_pages << " stored";
  *out = Evicted{mem, pages};
  return ::testing::AssertionSuccess();
}

EngineConfig evict_config() {
  EngineConfig c = aggressive_config();
  return c;
}

TEST(EngineEvents, DontneedDropsEvictedPages) {
  UZ_START_ENGINE(engine, evict_config());
  Evicted ev;
  ASSERT_TRUE(make_evicted(engine, kPages, 5, &ev));
  uint64_t objects = engine->pool()->stats().objects;
  ASSERT_EQ(madvise(ev.mem, kPages / 2 * kPage, MADV_DONTNEED), 0);
  // madvise returns once a handler has read the event; it is applied just after.
  EXPECT_TRUE(wait_until([&] { return engine->pool()->stats().objects < objects; }, 5))
      << "dropped pages free their pool objects";
  for (size_t i = 0; i < kPages / 2; ++i)
    for (size_t k = 0; k < kPage; k += 256) ASSERT_EQ(ev.mem[i * kPage + k], 0) << "page " << i;
  for (size_t i = kPages / 2; i < kPages; ++i) ASSERT_TRUE(check_page(ev.mem + i * kPage, i, 5)) << i;
  // The dropped range keeps working: write, evict again, read back.
  for (size_t i = 0; i < kPages / 2; ++i) fill_page(ev.mem + i * kPage, i, 6);
  ASSERT_TRUE(wait_until([&] { return engine->stats().stored_pages >= kPages / 2; }, 20));
  for (size_t i = 0; i < kPages / 2; ++i) ASSERT_TRUE(check_page(ev.mem + i * kPage, i, 6)) << i;
  munmap(ev.mem, kPages * kPage);
}

TEST(EngineEvents, MunmapFreesEvictedPagesAndSplitsTheRange) {
  UZ_START_ENGINE(engine, evict_config());
  Evicted ev;
  ASSERT_TRUE(make_evicted(engine, kPages, 9, &ev));
  // Unmap the middle: the head and tail stay managed and intact.
  ASSERT_EQ(munmap(ev.mem + 128 * kPage, 256 * kPage), 0);
  EXPECT_FALSE(engine->is_managed(ev.mem + 200 * kPage));
  EXPECT_TRUE(engine->is_managed(ev.mem + 10 * kPage));
  EXPECT_TRUE(engine->is_managed(ev.mem + 400 * kPage));
  EXPECT_EQ(engine->stats().stored_pages, engine->pool()->stats().objects);
  for (size_t i = 0; i < 128; ++i) ASSERT_TRUE(check_page(ev.mem + i * kPage, i, 9)) << i;
  for (size_t i = 384; i < kPages; ++i) ASSERT_TRUE(check_page(ev.mem + i * kPage, i, 9)) << i;
  // A new mapping in the hole reads zeros, never the old data.
  void* again = mmap(ev.mem + 128 * kPage, 256 * kPage, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  ASSERT_NE(again, MAP_FAILED);
  ASSERT_TRUE(engine->manage(again, 256 * kPage));
  for (size_t i = 128; i < 384; ++i) ASSERT_EQ(ev.mem[i * kPage + 64], 0) << i;
  munmap(ev.mem, kPages * kPage);
  EXPECT_EQ(engine->stats().managed_bytes, 0u);
  // munmap returns once the event is read; it is applied just after.
  EXPECT_TRUE(wait_until([&] { return engine->pool()->stats().objects == 0; }, 5));
}

TEST(EngineEvents, MremapCarriesEvictedPages) {
  UZ_START_ENGINE(engine, evict_config());
  Evicted ev;
  ASSERT_TRUE(make_evicted(engine, kPages, 13, &ev));
  // Reserve a destination, then move the whole mapping there.
  void* dest = mmap(nullptr, kPages * kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(dest, MAP_FAILED);
  void* moved = mremap(ev.mem, kPages * kPage, kPages * kPage, MREMAP_MAYMOVE | MREMAP_FIXED, dest);
  ASSERT_EQ(moved, dest);
  auto* mem = static_cast<uint8_t*>(moved);
  EXPECT_TRUE(engine->is_managed(mem));
  EXPECT_FALSE(engine->is_managed(ev.mem));
  for (size_t i = 0; i < kPages; ++i) ASSERT_TRUE(check_page(mem + i * kPage, i, 13)) << i;
  // Move part of it again (splits the range), evict again, check.
  for (size_t i = 0; i < kPages; ++i) fill_page(mem + i * kPage, i, 14);
  ASSERT_TRUE(wait_until([&] { return engine->stats().stored_pages >= kPages * 9 / 10; }, 20));
  void* part = mremap(mem + 100 * kPage, 50 * kPage, 50 * kPage, MREMAP_MAYMOVE | MREMAP_FIXED,
                      ev.mem);  // back into the old, now free, address range
  ASSERT_EQ(part, ev.mem);
  for (size_t i = 0; i < 50; ++i) ASSERT_TRUE(check_page(ev.mem + i * kPage, 100 + i, 14)) << i;
  for (size_t i = 0; i < 100; ++i) ASSERT_TRUE(check_page(mem + i * kPage, i, 14)) << i;
  for (size_t i = 150; i < kPages; ++i) ASSERT_TRUE(check_page(mem + i * kPage, i, 14)) << i;
  munmap(mem, kPages * kPage);
  munmap(ev.mem, 50 * kPage);
  EXPECT_TRUE(wait_until([&] { return engine->pool()->stats().objects == 0; }, 5));
}

TEST(EngineEvents, SyscallsReadAndWriteEvictedBuffers) {
  UZ_START_ENGINE(engine, evict_config());
  Evicted src, dst;
  ASSERT_TRUE(make_evicted(engine, 64, 21, &src));
  ASSERT_TRUE(make_evicted(engine, 64, 22, &dst));
  char path[] = "/tmp/uzswap-engine-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  // write(2) from an evicted buffer: the kernel's copy_from_user faults it back.
  ASSERT_EQ(write(fd, src.mem, 64 * kPage), static_cast<ssize_t>(64 * kPage));
  ASSERT_TRUE(wait_until([&] { return engine->stats().stored_pages >= 100; }, 20));
  // pread(2) into an evicted buffer: the kernel's copy_to_user faults it back first.
  ASSERT_EQ(pread(fd, dst.mem, 64 * kPage, 0), static_cast<ssize_t>(64 * kPage));
  for (size_t i = 0; i < 64; ++i) ASSERT_TRUE(check_page(dst.mem + i * kPage, i, 21)) << i;
  // A pipe: another thread writes an evicted buffer in, we read into an evicted buffer.
  for (size_t i = 0; i < 64; ++i) fill_page(dst.mem + i * kPage, i, 23);
  ASSERT_TRUE(wait_until([&] { return engine->stats().stored_pages >= 100; }, 20));
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  std::thread writer([&] {
    size_t off = 0;
    while (off < 64 * kPage) {
      ssize_t n = write(p[1], dst.mem + off, 64 * kPage - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    close(p[1]);
  });
  size_t off = 0;
  while (off < 64 * kPage) {
    ssize_t n = read(p[0], src.mem + off, 64 * kPage - off);
    ASSERT_GT(n, 0);
    off += static_cast<size_t>(n);
  }
  writer.join();
  close(p[0]);
  close(fd);
  for (size_t i = 0; i < 64; ++i) ASSERT_TRUE(check_page(src.mem + i * kPage, i, 23)) << i;
  munmap(src.mem, 64 * kPage);
  munmap(dst.mem, 64 * kPage);
}

uint8_t* g_signal_page = nullptr;
volatile uint64_t g_signal_sum = 0;

void on_signal(int) {
  uint64_t sum = 0;
  for (size_t k = 0; k < kPage; ++k) sum += g_signal_page[k];
  g_signal_page[0] ^= 0;  // and a write
  g_signal_sum = sum;
}

TEST(EngineEvents, SignalHandlerTouchesEvictedMemory) {
  UZ_START_ENGINE(engine, evict_config());
  Evicted ev;
  ASSERT_TRUE(make_evicted(engine, 64, 31, &ev));
  uint8_t want[kPage];
  fill_page(want, 7, 31);
  uint64_t expect = 0;
  for (size_t k = 0; k < kPage; ++k) expect += want[k];
  g_signal_page = ev.mem + 7 * kPage;
  struct sigaction sa = {};
  sa.sa_handler = on_signal;
  ASSERT_EQ(sigaction(SIGUSR1, &sa, nullptr), 0);
  raise(SIGUSR1);
  signal(SIGUSR1, SIG_DFL);
  EXPECT_EQ(g_signal_sum, expect);
  munmap(ev.mem, 64 * kPage);
}

TEST(EngineEvents, MlockedPagesAreNeverEvicted) {
  UZ_START_ENGINE(engine, evict_config());
  auto* mem = static_cast<uint8_t*>(map_anon(64 * kPage));
  // The system call itself: sanitizers intercept mlock() and ignore it.
  ASSERT_EQ(syscall(SYS_mlock, mem, 64 * kPage), 0);  // locked (and populated) before we manage it
  ASSERT_TRUE(engine->manage(mem, 64 * kPage));
  for (size_t i = 0; i < 64; ++i) fill_page(mem + i * kPage, i, 41);
  // Reclaim keeps trying (the limit is 1 byte) for a second, and until it has been
  // refused at least once (a loaded machine may not schedule it in that second): nothing
  // may leave.
  uint64_t refused = count(Counter::evict_skip_refused);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  for (int i = 0; i < 300 && count(Counter::evict_skip_refused) == refused; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_GT(count(Counter::evict_skip_refused), refused);
  const EngineStats st = engine->stats();
  EXPECT_EQ(st.stored_pages + st.staged_pages + st.same_filled_pages, 0u)
      << "stored " << st.stored_pages << " staged " << st.staged_pages << " same-filled " << st.same_filled_pages;
  size_t bad = 0;
  for (size_t i = 0; i < 64; ++i) bad += check_page(mem + i * kPage, i, 41) ? 0 : 1;
  EXPECT_EQ(bad, 0u) << "pages that read back wrong";
  if (::testing::Test::HasFailure()) print_engine_counters();
  syscall(SYS_munlock, mem, 64 * kPage);
  munmap(mem, 64 * kPage);
}

// A fork shares every resident page with the child, and UFFDIO_MOVE refuses such pages
// (EBUSY) until a write fault makes them exclusive again: memory managed again after a
// fork (preload's restore path) could not be evicted. Once the child is gone, reclaim
// must make them exclusive (evict_unshared) and evict them within seconds: the clock hand
// walks on past the refusal marks the fork left on every page.
TEST(EngineEvents, PagesAFinishedForkSharedAreEvictedAgain) {
  constexpr size_t kShared = 8192;  // 32 MiB
  UZ_START_ENGINE(engine, evict_config());
  auto* mem = static_cast<uint8_t*>(map_anon(kShared * kPage));
  ASSERT_NE(mem, nullptr);
  for (size_t i = 0; i < kShared; ++i) fill_page(mem + i * kPage, i, 43);
  const uint64_t busy = count(Counter::evict_skip_busy), unshared = count(Counter::evict_unshared);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    usleep(1500 * 1000);  // holds the pages shared; touches nothing
    _exit(0);
  }
  ASSERT_TRUE(engine->manage(mem, kShared * kPage));
  const bool refused = wait_until([&] { return count(Counter::evict_skip_busy) > busy; }, 1.4);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  if (!refused && count(Counter::evict_fallback) > 0) GTEST_SKIP() << "no UFFDIO_MOVE here: copy eviction";
  ASSERT_TRUE(refused) << "no EBUSY while the child shared the pages";
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(wait_until([&] { return evicted_pages(engine) >= kShared * 9 / 10; }, 5))
      << "only " << evicted_pages(engine) << " of " << kShared << " pages evicted 5 s after the child ended (the hand once took 9 s here)";
  fprintf(stderr, "%zu of %zu pages evicted %.2f s after the child ended; %lu made exclusive again\n",
          static_cast<size_t>(evicted_pages(engine)), kShared,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
          static_cast<unsigned long>(count(Counter::evict_unshared) - unshared));
  EXPECT_GT(count(Counter::evict_unshared), unshared);
  size_t bad = 0;
  for (size_t i = 0; i < kShared; ++i) bad += check_page(mem + i * kPage, i, 43) ? 0 : 1;
  EXPECT_EQ(bad, 0u);
  engine->unmanage(mem, kShared * kPage, true);
  munmap(mem, kShared * kPage);
}

TEST(EngineEvents, UnprivilegedUserGetsUserModeOnly) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to drop privileges";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
    EngineStartResult r;
    Engine* e = Engine::start(EngineConfig{}, &r);
    if (e != nullptr) _exit(1);  // engine must not run: syscalls on evicted pages would fail
    _exit(r.error == EngineStartError::UserModeOnly || r.error == EngineStartError::NoUserfaultfd ? 0 : 2);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  FILE* f = fopen("/proc/sys/vm/unprivileged_userfaultfd", "r");
  int unpriv = 0;
  if (f) {
    if (fscanf(f, "%d", &unpriv) != 1) unpriv = 0;
    fclose(f);
  }
  if (unpriv == 1) GTEST_SKIP() << "vm.unprivileged_userfaultfd=1: full userfaultfd for everyone";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace uzswap::test
