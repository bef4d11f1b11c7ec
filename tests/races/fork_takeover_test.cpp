// tests/races/fork_takeover_test.cpp — fork while reclaim and faults are in flight, with
// the engine's fork protocol driven directly (Engine::fork_prepare / fork_parent /
// fork_child, as preload/fork.cpp does from its atfork handlers).
//
// Writer threads keep rewriting their pages (each write stamps the first and the last
// word of a page with the page number and a generation), a few cold pages are never
// written again, a reclaim thread keeps evicting under a small limit, and the main
// thread forks again and again. Each child, which has
// only the forking thread plus the engine threads it restarts, checks that every page
// holds a whole stamp of its writer (at most one page per writer caught between its two
// stores), then evicts pages itself (stage_cold + compress_staged), rewrites them and
// reads them back through its own handlers. The parent checks its pages afterwards.
// Variants: UFFDIO_MOVE eviction and the write-protect + copy fallback; each also with
// the child's transitional phase (fork_child_early, faults served from a SIGBUS handler)
// checking the pages before fork_child.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <atomic>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "tests/uffd/test_util.h"
#include "uffd/core.h"

// Children start threads after a multi-threaded fork: what the engine's fork_child does.
extern "C" const char* __tsan_default_options() { return "die_after_fork=0"; }

namespace uzswap::test {
namespace {

constexpr size_t kPagesPerWriter = 512;  // 2 MiB each
constexpr size_t kColdPages = 256;       // after the writers' pages: written once, never again
constexpr size_t kWriters = 3;
constexpr size_t kWords = kPage / 8;

// Pages staged so far, by either eviction path (counters of this process).
uint64_t evicted() { return counter_read(Counter::evict_staged) + counter_read(Counter::evict_fallback); }

uint64_t stamp(size_t page, uint64_t gen) { return (static_cast<uint64_t>(page) << 32) | (gen & 0xffffffffu) | 1; }

// In the child: pages with a broken stamp (first/last word differ, wrong page, zero).
size_t torn_pages(const uint64_t* mem, size_t first_page, size_t npages) {
  size_t torn = 0;
  for (size_t p = first_page; p < first_page + npages; ++p) {
    uint64_t a = mem[p * kWords], b = mem[p * kWords + kWords - 1];
    // A writer caught between its two stores leaves one torn page; a stamp read as zeros
    // (a page lost at the fork) is never legitimate: it fails whatever the allowance.
    if (a == 0 || b == 0) return npages + 1;
    torn += a != b || (a >> 32) != p;
  }
  return torn;
}

// Cold pages not resident (evicted) now.
size_t cold_evicted(const uint64_t* cold) {
  unsigned char vec[kColdPages];
  if (mincore(const_cast<uint64_t*>(cold), kColdPages * kPage, vec) != 0) return 0;
  size_t out = 0;
  for (unsigned char v : vec) out += !(v & 1);
  return out;
}

// The transitional phase of a child (fork_child_early): faults arrive as SIGBUS in the
// faulting thread, as preload's signal chain hands them over.
Engine* g_child_engine = nullptr;
std::atomic<uint64_t> g_early_faults{0};

void on_child_sigbus(int, siginfo_t* info, void*) {
  if (info->si_code == BUS_ADRERR && g_child_engine->fork_child_fault(info->si_addr)) {
    g_early_faults.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  _exit(20);  // a SIGBUS that is not a page of ours
}

// Checks the writers' pages in the transitional phase: 0, or the child's exit code.
int check_in_transitional_phase(Engine* engine, const uint64_t* mem) {
  if (!engine->fork_child_early()) return 14;
  g_child_engine = engine;
  struct sigaction sa = {}, old = {};
  sa.sa_sigaction = on_child_sigbus;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGBUS, &sa, &old);
  size_t torn = 0;
  for (size_t w = 0; w < kWriters; ++w) torn += torn_pages(mem, w * kPagesPerWriter, kPagesPerWriter) > 1;
  // The cold pages are evicted at most forks: they make the phase serve faults.
  for (size_t p = kWriters * kPagesPerWriter; p < kWriters * kPagesPerWriter + kColdPages; ++p)
    torn += mem[p * kWords] != stamp(p, 0) || mem[p * kWords + kWords - 1] != stamp(p, 0);
  sigaction(SIGBUS, &old, nullptr);
  if (torn != 0) return 15;
  return 0;
}

constexpr int kNoEarlyFaults = 30;  // all good, but no page was evicted at this fork

// The child's part: returns its exit code (0 = all good). `early`: the pages are first
// checked in the transitional phase (fork_child_early), then again under fork_child.
// Resolutions the children found caught by their fork (in memory shared with the parent).
std::atomic<uint64_t>* g_repaired = nullptr;

int child_main(Engine* engine, uint64_t* mem, size_t npages, bool early) {
  const uint64_t repaired_before = counter_read(Counter::fork_child_repaired);  // the parent's, copied
  if (early) {
    if (int rc = check_in_transitional_phase(engine, mem)) return rc;
  }
  if (!engine->fork_child()) return 10;  // could not take the engine over
  g_repaired->fetch_add(counter_read(Counter::fork_child_repaired) - repaired_before);
  for (size_t w = 0; w < kWriters; ++w)
    if (torn_pages(mem, w * kPagesPerWriter, kPagesPerWriter) > 1) return 11;
  auto* core = static_cast<uffd::EngineCore*>(engine);
  for (size_t p = 0; p < npages; ++p) mem[p * kWords] = mem[p * kWords + kWords - 1] = stamp(p, 0xc0de);
  const uint64_t staged_before = evicted();  // the counters came along from the parent
  // The clock hand skips recently faulted (hot) pages once, and a round ends at a window
  // without candidates: go round until the child has evicted something of its own.
  for (int round = 0; round < 1000 && evicted() == staged_before; ++round) {
    core->stage_cold(npages);
    core->compress_staged(0, npages);
  }
  for (size_t p = 0; p < npages; ++p)
    if (mem[p * kWords] != stamp(p, 0xc0de) || mem[p * kWords + kWords - 1] != stamp(p, 0xc0de)) return 12;
  if (evicted() == staged_before) return 13;
  return early && g_early_faults.load() == 0 ? kNoEarlyFaults : 0;
}

void run(bool force_copy, bool early) {
  EngineConfig cfg;
  cfg.force_copy_evict = force_copy;
  cfg.handler_threads = 2;
  cfg.limit_bytes = 2 << 20;  // below the data: the reclaim thread evicts all the time
  cfg.stage_seconds = 0;
  UZ_START_ENGINE(engine, cfg);
  void* shared = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(shared, MAP_FAILED);
  g_repaired = new (shared) std::atomic<uint64_t>(0);
  const size_t npages = kWriters * kPagesPerWriter + kColdPages;
  auto* mem = static_cast<uint64_t*>(map_anon(npages * kPage));
  ASSERT_NE(mem, nullptr);
  ASSERT_TRUE(engine->manage(mem, npages * kPage));
  for (size_t p = 0; p < npages; ++p) mem[p * kWords] = mem[p * kWords + kWords - 1] = stamp(p, 0);

  std::atomic<bool> stop{false};
  std::atomic<size_t> bad{0};
  std::vector<std::thread> writers;
  for (size_t w = 0; w < kWriters; ++w)
    writers.emplace_back([&, w] {
      for (uint64_t gen = 1; !stop.load(std::memory_order_relaxed); ++gen) {
        for (size_t p = w * kPagesPerWriter; p < (w + 1) * kPagesPerWriter; ++p) {
          volatile uint64_t* pg = mem + p * kWords;
          if (pg[0] != stamp(p, gen - 1) || pg[kWords - 1] != stamp(p, gen - 1)) bad.fetch_add(1);
          pg[0] = stamp(p, gen);
          pg[kWords - 1] = stamp(p, gen);
        }
      }
    });

  // The cold pages are evicted before the first fork and, untouched by the parent, stay so.
  const auto cold_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (cold_evicted(mem + kWriters * kPagesPerWriter * kWords) < kColdPages / 2 &&
         std::chrono::steady_clock::now() < cold_deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const double seconds = stress_seconds() < 5 ? stress_seconds() : 5;
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  size_t forks = 0, failed = 0, taken_over = 0, early_served = 0;
  while (std::chrono::steady_clock::now() < end || forks < 3) {
    ASSERT_TRUE(engine->fork_prepare()) << "the kernel gives no faulting thread id?";
    pid_t pid = fork();
    if (pid == 0) _exit(child_main(engine, mem, npages, early));
    engine->fork_parent();
    ASSERT_GT(pid, 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ++forks;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
    if (code == 0 && early) ++early_served;
    if (code == kNoEarlyFaults) code = 0;
    if (code != 0) {
      if (failed++ < 5) fprintf(stderr, "child %zu exited %d\n", forks, code);
    } else {
      ++taken_over;
    }
  }
  stop = true;
  for (auto& t : writers) t.join();
  EXPECT_EQ(failed, 0u) << "of " << forks << " children";
  EXPECT_EQ(bad.load(), 0u) << "the parent's writers saw wrong bytes";
  EXPECT_GT(evicted(), 0u);
  if (early) {
    EXPECT_GT(early_served, 0u) << "no child served a fault in its transitional phase";
  }
  fprintf(stderr, "%zu forks, %zu children took the engine over (%zu served faults in their transitional phase, "
          "%llu repaired a resolution their fork caught); faults served while forks were prepared %llu, parked %llu, "
          "held events %llu\n", forks, taken_over, early_served, static_cast<unsigned long long>(g_repaired->load()),
          static_cast<unsigned long long>(counter_read(Counter::fork_served_faults)),
          static_cast<unsigned long long>(counter_read(Counter::fork_parked_faults)),
          static_cast<unsigned long long>(counter_read(Counter::fork_held_events)));
  munmap(shared, kPage);
}

// glibc takes its malloc arena locks and the stdio list lock after the atfork prepare
// handlers, ours included. A thread holding such a lock and faulting on an evicted page
// while the fork is being prepared must be served, or the fork waits for that lock for
// ever. Here the lock is a mutex the main thread takes between fork_prepare and fork(),
// while the other thread holds it across touches of evicted pages.
void run_lock_holder_faults(bool force_copy) {
  EngineConfig cfg;
  cfg.force_copy_evict = force_copy;
  cfg.handler_threads = 2;
  cfg.limit_bytes = 1 << 20;  // below the data: the reclaim thread keeps evicting
  cfg.stage_seconds = 0;
  UZ_START_ENGINE(engine, cfg);
  constexpr size_t kPages = 2048;
  auto* mem = static_cast<uint64_t*>(map_anon(kPages * kPage));
  ASSERT_NE(mem, nullptr);
  ASSERT_TRUE(engine->manage(mem, kPages * kPage));
  for (size_t p = 0; p < kPages; ++p) mem[p * kWords] = mem[p * kWords + kWords - 1] = stamp(p, 0);

  std::mutex lock;  // stands for glibc's arena lock
  std::atomic<int> round{0}, holding{-1};
  std::atomic<bool> stop{false};
  std::atomic<size_t> bad{0}, touched_evicted{0};
  std::thread holder([&] {
    for (int seen = 0; !stop.load();) {
      if (round.load() == seen) {
        std::this_thread::yield();
        continue;
      }
      seen = round.load();
      std::lock_guard g(lock);
      holding.store(seen);
      // Pages evicted now: each touch is a fault taken while the fork is being prepared.
      unsigned char vec[kPages];
      if (mincore(mem, kPages * kPage, vec) != 0) continue;
      size_t n = 0;
      for (size_t p = 0; p < kPages && n < 64; ++p) {
        if (vec[p] & 1) continue;
        ++n;
        if (mem[p * kWords] != stamp(p, 0) || mem[p * kWords + kWords - 1] != stamp(p, 0)) bad.fetch_add(1);
      }
      touched_evicted.fetch_add(n);
    }
  });
  // A hang is the failure this test is about: fail instead of waiting for ctest's timeout.
  std::atomic<bool> finished{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 1200 && !finished.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!finished.load()) {
      fprintf(stderr, "the fork never happened: a fault of the thread holding the lock was left waiting\n");
      _exit(3);
    }
  });
  size_t failed = 0;
  constexpr int kForks = 30;
  for (int i = 1; i <= kForks; ++i) {
    // Let reclaim evict the pages touched by the previous round.
    for (int w = 0; w < 200; ++w) {
      unsigned char vec[64];
      if (mincore(mem, 64 * kPage, vec) == 0 && !(vec[0] & 1)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_TRUE(engine->fork_prepare());
    round.store(i);
    while (holding.load() != i) std::this_thread::yield();
    pid_t pid;
    {
      std::lock_guard g(lock);  // what glibc's fork does after the prepare handlers
      pid = fork();
      if (pid == 0) {
        if (!engine->fork_child()) _exit(10);
        for (size_t p = 0; p < kPages; ++p)
          if (mem[p * kWords] != stamp(p, 0) || mem[p * kWords + kWords - 1] != stamp(p, 0)) _exit(11);
        _exit(0);
      }
    }
    engine->fork_parent();
    ASSERT_GT(pid, 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      if (failed++ < 5) fprintf(stderr, "child %d: status %#x\n", i, status);
    }
  }
  finished = true;
  stop = true;
  holder.join();
  watchdog.join();
  EXPECT_EQ(failed, 0u);
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GT(touched_evicted.load(), 0u) << "the lock holder never touched an evicted page";
  EXPECT_GT(counter_read(Counter::fork_served_faults), 0u);
  fprintf(stderr, "%d forks; the lock holder touched %zu evicted pages; %llu faults served while forks were prepared\n",
          kForks, touched_evicted.load(), static_cast<unsigned long long>(counter_read(Counter::fork_served_faults)));
}

TEST(ForkTakeover, LockHolderFaultsWhileForkPreparedMove) { run_lock_holder_faults(false); }
TEST(ForkTakeover, LockHolderFaultsWhileForkPreparedCopyFallback) { run_lock_holder_faults(true); }

TEST(ForkTakeover, WhileFaultsAndReclaimInFlightMove) { run(false, false); }
TEST(ForkTakeover, WhileFaultsAndReclaimInFlightCopyFallback) { run(true, false); }
TEST(ForkTakeover, TransitionalPhaseServesFaultsMove) { run(false, true); }
TEST(ForkTakeover, TransitionalPhaseServesFaultsCopyFallback) { run(true, true); }

}  // namespace
}  // namespace uzswap::test
