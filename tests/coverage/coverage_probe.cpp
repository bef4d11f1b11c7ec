// tests/coverage/coverage_probe.cpp — a program run under LD_PRELOAD=libuzswap.so by
// coverage_behaviour.sh. Memory made by glibc malloc (brk heap, arenas), thread stacks
// and mlock'ed ranges; every mode checks its bytes and prints "ok" on stdout, or a
// reason on stderr and exits 1.
//   heap MB            small malloc'd objects (the brk heap) filled, left cold, verified
//   mlock MB           two mmap'd ranges, one mlock'ed: it must stay wholly resident
//   mlockall MB        mlockall(MCL_CURRENT|MCL_FUTURE), then new malloc'd memory stays resident
//   stacks MB          8 threads each keep 1 MiB of their stack in use: stacks stay resident
//   threads SECONDS    16 threads churn and verify malloc'd buffers under a small limit
//   userstacks MB      threads on stacks glibc does not recognise as stacks (from malloc, from
//                      a plain mmap, glibc's own without a guard page) stay resident
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

// Compressible (16 equal words in a row) yet position-dependent: pages go to the pool, not
// back as incompressible, and a page restored at the wrong place is caught.
uint64_t pattern(uint64_t i, uint64_t seed) { return ((i >> 4) + 1) * 0x9E3779B97F4A7C15ull ^ seed; }

// Rss of the mapping containing addr, in KiB, from /proc/self/smaps; -1 if not found.
long smaps_rss_kib(const void* addr) {
  FILE* f = fopen("/proc/self/smaps", "r");
  if (!f) return -1;
  char line[512];
  auto a = reinterpret_cast<uintptr_t>(addr);
  bool in = false;
  long rss = -1;
  while (fgets(line, sizeof line, f)) {
    unsigned long b, e;
    if (sscanf(line, "%lx-%lx ", &b, &e) == 2 && strchr(line, '-') < strchr(line, ' ')) {
      in = a >= b && a < e;
      continue;
    }
    if (in && sscanf(line, "Rss: %ld kB", &rss) == 1) break;
  }
  fclose(f);
  return rss;
}


int fail(const char* what) {
  fprintf(stderr, "coverage_probe: %s\n", what);
  return 1;
}

int heap(size_t mb) {
  size_t n = mb * 1024 * 1024 / 256;
  auto** objs = static_cast<uint64_t**>(malloc(n * sizeof(uint64_t*)));
  for (size_t i = 0; i < n; ++i) {
    objs[i] = static_cast<uint64_t*>(malloc(240));
    for (int w = 0; w < 30; ++w) objs[i][w] = pattern(i * 30 + w, 7);
  }
  sleep(4);
  for (size_t i = 0; i < n; ++i)
    for (int w = 0; w < 30; ++w)
      if (objs[i][w] != pattern(i * 30 + w, 7)) return fail("heap: an object's bytes changed");
  printf("ok\n");
  return 0;
}

char* filled_map(size_t len, uint64_t seed) {
  auto* p = static_cast<char*>(mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (p == MAP_FAILED) return nullptr;
  for (size_t i = 0; i < len / 8; ++i) reinterpret_cast<uint64_t*>(p)[i] = pattern(i, seed);
  return p;
}

bool verify(const char* p, size_t len, uint64_t seed) {
  for (size_t i = 0; i < len / 8; ++i)
    if (reinterpret_cast<const uint64_t*>(p)[i] != pattern(i, seed)) return false;
  return true;
}

int mlock_mode(size_t mb) {
  size_t len = mb << 20;
  char* locked = filled_map(len, 1);
  char* loose = filled_map(len, 2);
  if (!locked || !loose) return fail("mmap failed");
  sleep(2);  // the interposed mmap managed both; reclaim may already have evicted pages
  if (mlock(locked, len) != 0) return fail("mlock failed");
  sleep(4);
  long locked_rss = smaps_rss_kib(locked), loose_rss = smaps_rss_kib(loose);
  fprintf(stderr, "coverage_probe: rss locked %ld KiB, unlocked %ld KiB of %zu KiB\n", locked_rss, loose_rss, len >> 10);
  if (locked_rss != static_cast<long>(len >> 10)) return fail("the mlock'ed range is not wholly resident");
  if (loose_rss >= static_cast<long>(len >> 10)) return fail("the unlocked range was never evicted (test proves nothing)");
  if (!verify(locked, len, 1) || !verify(loose, len, 2)) return fail("bytes changed");
  printf("ok\n");
  return 0;
}

int mlockall_mode(size_t mb) {
  if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0) return fail("mlockall failed");
  size_t len = mb << 20;
  char* p = static_cast<char*>(malloc(len));  // glibc mmaps it internally: only the scan could see it
  for (size_t i = 0; i < len / 8; ++i) reinterpret_cast<uint64_t*>(p)[i] = pattern(i, 3);
  sleep(4);
  long rss = smaps_rss_kib(p);
  fprintf(stderr, "coverage_probe: rss %ld KiB\n", rss);
  if (rss < static_cast<long>(len >> 10)) return fail("memory made after mlockall(MCL_FUTURE) was evicted");
  if (!verify(p, len, 3)) return fail("bytes changed");
  printf("ok\n");
  return 0;
}

std::atomic<int> g_bad{0};
std::atomic<bool> g_stop{false};

void* stack_thread(void*) {
  volatile uint64_t frame[131072];  // 1 MiB of this thread's stack
  for (size_t i = 0; i < 131072; ++i) frame[i] = pattern(i, 9);
  while (!g_stop.load()) usleep(10000);
  long rss = smaps_rss_kib(const_cast<uint64_t*>(&frame[0]));
  if (rss < 1024) {
    fprintf(stderr, "coverage_probe: a thread stack has %ld KiB resident\n", rss);
    g_bad++;
  }
  for (size_t i = 0; i < 131072; ++i)
    if (frame[i] != pattern(i, 9)) g_bad++;
  return nullptr;
}

// Cold heap memory the reclaim should go for instead of the threads' stacks; then stops
// the threads (each checks its own stack) and gives the verdict.
int verdict_after_pressure(size_t mb, pthread_t* t, int n) {
  char* p = static_cast<char*>(malloc(mb << 20));
  memset(p, 5, mb << 20);
  sleep(4);
  g_stop = true;
  for (int i = 0; i < n; ++i) pthread_join(t[i], nullptr);
  for (size_t i = 0; i < (mb << 20); i += 4096)
    if (p[i] != 5) return fail("heap bytes changed");
  if (g_bad) return fail("a thread stack was evicted or changed");
  printf("ok\n");
  return 0;
}

int stacks(size_t mb) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 4 << 20);
  pthread_t t[8];
  for (auto& th : t) pthread_create(&th, &attr, stack_thread, nullptr);
  return verdict_after_pressure(mb, t, 8);
}

// True if every page of [p, p+len) is resident.
bool all_resident(const void* p, size_t len) {
  auto a = reinterpret_cast<uintptr_t>(p) & ~uintptr_t{4095};
  size_t n = (reinterpret_cast<uintptr_t>(p) + len - a + 4095) / 4096;
  unsigned char vec[1024];
  if (n > sizeof vec || mincore(reinterpret_cast<void*>(a), n * 4096, vec) != 0) return false;
  for (size_t i = 0; i < n; ++i)
    if (!(vec[i] & 1)) return false;
  return true;
}

void* user_stack_thread(void*) {
  volatile uint64_t frame[131072];  // 1 MiB of this thread's stack, left cold
  for (size_t i = 0; i < 131072; ++i) frame[i] = pattern(i, 13);
  while (!g_stop.load()) usleep(10000);
  if (!all_resident(const_cast<uint64_t*>(&frame[0]), sizeof frame)) {
    fprintf(stderr, "coverage_probe: part of a thread stack was evicted\n");
    g_bad++;
  }
  for (size_t i = 0; i < 131072; ++i)
    if (frame[i] != pattern(i, 13)) g_bad++;
  return nullptr;
}

int user_stacks(size_t mb) {
  constexpr size_t kStack = 4 << 20;
  pthread_t t[3];
  pthread_attr_t attr[3];
  void* from_malloc = malloc(kStack);  // glibc mmaps it internally: only the scan sees it
  void* from_mmap = mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (from_malloc == nullptr || from_mmap == MAP_FAILED) return fail("no memory for the stacks");
  sleep(1);  // the scan manages the malloc'd block meanwhile
  for (auto& a : attr) pthread_attr_init(&a);
  pthread_attr_setstack(&attr[0], from_malloc, kStack);
  pthread_attr_setstack(&attr[1], from_mmap, kStack);
  pthread_attr_setstacksize(&attr[2], kStack);
  pthread_attr_setguardsize(&attr[2], 0);
  for (int i = 0; i < 3; ++i)
    if (pthread_create(&t[i], &attr[i], user_stack_thread, nullptr) != 0) return fail("pthread_create failed");
  return verdict_after_pressure(mb, t, 3);
}

void* churn_thread(void* arg) {
  auto seconds = reinterpret_cast<uintptr_t>(arg);
  uint64_t seed = reinterpret_cast<uintptr_t>(&seed);
  constexpr size_t kSlots = 256;
  uint64_t* slot[kSlots] = {};
  size_t len[kSlots] = {};
  time_t end = time(nullptr) + static_cast<time_t>(seconds);
  uint64_t r = seed;
  while (time(nullptr) < end) {
    r = r * 6364136223846793005ull + 1442695040888963407ull;
    size_t k = (r >> 33) % kSlots;
    if (slot[k]) {
      for (size_t i = 0; i < len[k]; ++i)
        if (slot[k][i] != pattern(i, seed ^ k ^ len[k])) g_bad++;
      free(slot[k]);
    }
    len[k] = 16 + (r >> 40) % 8192;  // 128 B .. 64 KiB: the brk heap and the arenas
    slot[k] = static_cast<uint64_t*>(malloc(len[k] * 8));
    for (size_t i = 0; i < len[k]; ++i) slot[k][i] = pattern(i, seed ^ k ^ len[k]);
  }
  for (size_t k = 0; k < kSlots; ++k) {
    for (size_t i = 0; slot[k] && i < len[k]; ++i)
      if (slot[k][i] != pattern(i, seed ^ k ^ len[k])) g_bad++;
    free(slot[k]);
  }
  return nullptr;
}

int threads(size_t seconds) {
  // A cold dataset in the brk heap so that the limit forces eviction throughout.
  size_t n = (96u << 20) / 4096;
  auto** cold = static_cast<uint64_t**>(malloc(n * sizeof(uint64_t*)));
  for (size_t i = 0; i < n; ++i) {
    cold[i] = static_cast<uint64_t*>(malloc(4000));
    for (int w = 0; w < 500; ++w) cold[i][w] = pattern(i * 500 + w, 11);
  }
  pthread_t t[16];
  for (auto& th : t) pthread_create(&th, nullptr, churn_thread, reinterpret_cast<void*>(seconds));
  for (auto& th : t) pthread_join(th, nullptr);
  for (size_t i = 0; i < n; ++i)
    for (int w = 0; w < 500; ++w)
      if (cold[i][w] != pattern(i * 500 + w, 11)) return fail("cold heap bytes changed");
  if (g_bad) return fail("a churned buffer's bytes changed");
  printf("ok\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return fail("usage: coverage_probe MODE N");
  size_t n = strtoul(argv[2], nullptr, 10);
  if (!strcmp(argv[1], "heap")) return heap(n);
  if (!strcmp(argv[1], "mlock")) return mlock_mode(n);
  if (!strcmp(argv[1], "mlockall")) return mlockall_mode(n);
  if (!strcmp(argv[1], "stacks")) return stacks(n);
  if (!strcmp(argv[1], "threads")) return threads(n);
  if (!strcmp(argv[1], "userstacks")) return user_stacks(n);
  return fail("unknown mode");
}
