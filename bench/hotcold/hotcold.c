// hotcold: a hot/cold random read/write workload over one big anonymous mapping, used to
// compare uzswap with the kernel's zram at equal footprint (bench/hotcold/run.sh).
//
// The mapping (MAP_PRIVATE|MAP_ANONYMOUS, --mib MiB) is filled with deterministic
// text-like records (JSON lines of orders: ids, words, dates and amounts; LZ4 compresses
// them about 3.3x per 4 KiB page, like real application data rather than zeros). Then
// --ops operations run: each picks a page, from the hot set (--hot-pct of the pages,
// scattered over the mapping by an odd-multiplier permutation) with probability
// --hot-access-pct, otherwise from the cold rest; reads 64 bytes into a checksum and,
// with probability --write-pct, rewrites those 64 bytes with a new record fragment. The
// operation sequence depends only on the seed, so the checksum of the values read and
// the hash of the whole mapping at the end must be identical in every mode: a lost or
// stale write changes them.
//
// The number of operations is fixed (not a duration) precisely so the checksums compare;
// throughput is operations / seconds of the access phase (the fill is timed separately).
//
// Output: one line of key=value pairs on stdout, including VmHWM (peak resident set,
// which under uzswap includes its in-process pool).
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static uint64_t rng_state;

// xorshift64*: fast, deterministic, good enough for picking pages.
static uint64_t rng(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1DULL;
}

static const char* const kWords[] = {
    "alpha",   "bravo",  "charlie", "delta",   "echo",    "foxtrot", "golf",    "hotel",
    "india",   "juliet", "kilo",    "lima",    "mike",    "november", "oscar",  "papa",
    "quebec",  "romeo",  "sierra",  "tango",   "uniform", "victor",  "whiskey", "xray",
    "yankee",  "zulu",   "amber",   "basalt",  "cobalt",  "dune",    "ember",   "fjord",
    "granite", "harbor", "island",  "jasper",  "kelp",    "lagoon",  "meadow",  "nectar",
    "orchid",  "pebble", "quartz",  "river",   "saffron", "timber",  "umber",   "valley",
    "willow",  "xenon",  "yarrow",  "zephyr",  "north",   "south",   "east",    "west",
    "open",    "closed", "pending", "shipped", "paid",    "refunded", "active", "archived"};
enum { kWordCount = sizeof kWords / sizeof kWords[0] };

// One record: a JSON line of an order, as a service would keep in memory or in a cache:
// repeated keys, a few words from a small vocabulary, dates and amounts.
static int format_record(char* out, size_t cap, uint64_t id) {
  uint64_t r = rng();
  return snprintf(out, cap,
                  "{\"id\":%010llu,\"customer\":\"%s %s\",\"status\":\"%s\",\"created\":"
                  "\"2026-%02u-%02uT%02u:%02u:00Z\",\"amount\":%llu.%02u,\"currency\":\"EUR\","
                  "\"channel\":\"web\",\"schema\":3,\"shipping\":{\"method\":\"standard\",\"country\":\"DE\"},"
                  "\"tags\":[\"%s\",\"%s\"]}\n",
                  (unsigned long long)id, kWords[r % kWordCount], kWords[(r >> 6) % kWordCount],
                  kWords[56 + ((r >> 12) % 8)], (unsigned)(1 + (r >> 15) % 12),
                  (unsigned)(1 + (r >> 19) % 28), (unsigned)((r >> 24) % 24),
                  (unsigned)((r >> 29) % 60), (unsigned long long)((r >> 35) % 10000),
                  (unsigned)((r >> 48) % 100), kWords[(r >> 54) % kWordCount],
                  kWords[(r >> 58) % kWordCount]);
}

// Records are drawn from a table of kTable preformatted lines (snprintf for every line of
// a GiB takes tens of seconds on a busy machine) with the id field rewritten, so ids stay
// unique and a page holds varied lines, as in a real table.
enum { kTable = 8192 };

static void fill(char* base, size_t size) {
  static char table[kTable][256];
  static int len[kTable];
  for (int t = 0; t < kTable; t++) len[t] = format_record(table[t], sizeof table[t], 0);
  uint64_t id = 0;
  size_t at = 0;
  char digits[11];
  while (at < size) {
    int t = (int)(rng() % kTable);
    size_t n = (size_t)len[t] < size - at ? (size_t)len[t] : size - at;
    memcpy(base + at, table[t], n);
    snprintf(digits, sizeof digits, "%010llu", (unsigned long long)(id++ % 10000000000ULL));
    if (n >= 16) memcpy(base + at + 6, digits, 10);  // after {"id":
    at += n;
  }
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v;
  h *= 0x100000001B3ULL;
  return h ^ (h >> 29);
}

static uint64_t status_kib(const char* key) {
  FILE* f = fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  uint64_t v = 0;
  size_t klen = strlen(key);
  while (fgets(line, sizeof line, f))
    if (strncmp(line, key, klen) == 0) v = strtoull(line + klen, NULL, 10);
  fclose(f);
  return v;
}

static uint64_t arg_u64(int argc, char** argv, const char* name, uint64_t def) {
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp(argv[i], name) == 0) return strtoull(argv[i + 1], NULL, 10);
  return def;
}

int main(int argc, char** argv) {
  uint64_t mib = arg_u64(argc, argv, "--mib", 1024);
  uint64_t ops = arg_u64(argc, argv, "--ops", 10000000);
  uint64_t hot_pct = arg_u64(argc, argv, "--hot-pct", 10);
  uint64_t hot_access_pct = arg_u64(argc, argv, "--hot-access-pct", 90);
  uint64_t write_pct = arg_u64(argc, argv, "--write-pct", 30);
  rng_state = arg_u64(argc, argv, "--seed", 42) | 1;

  size_t size = (size_t)mib << 20;
  uint64_t pages = size / 4096;
  uint64_t hot_pages = pages * hot_pct / 100;
  if (pages == 0 || hot_pages == 0 || hot_pages >= pages) {
    fprintf(stderr, "hotcold: need --mib >= 1 and 0 < --hot-pct < 100\n");
    return 2;
  }
  char* base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) {
    perror("hotcold: mmap");
    return 1;
  }

  double t0 = now();
  fill(base, size);
  double t1 = now();

  // Page index i of the hot (i < hot_pages) or cold set -> page of the mapping. An odd
  // multiplier modulo a power of two is a bijection; otherwise fall back to identity.
  int pow2 = (pages & (pages - 1)) == 0;
  uint64_t checksum = 0xcbf29ce484222325ULL;
  char rec[256];
  for (uint64_t op = 0; op < ops; op++) {
    uint64_t r = rng();
    uint64_t i = (r % 100 < hot_access_pct) ? (r >> 8) % hot_pages
                                            : hot_pages + (r >> 8) % (pages - hot_pages);
    uint64_t page = pow2 ? (i * 0x9E3779B97F4A7C15ULL) & (pages - 1) : i;
    size_t off = ((r >> 40) % ((4096 - 64) / 8)) * 8;
    uint64_t* p = (uint64_t*)(base + page * 4096 + off);
    for (int w = 0; w < 8; w++) checksum = mix(checksum, p[w]);
    if ((r >> 33) % 100 < write_pct) {
      format_record(rec, sizeof rec, op);
      memcpy(p, rec, 64);
    }
  }
  double t2 = now();

  uint64_t final_hash = 0xcbf29ce484222325ULL;
  const uint64_t* words = (const uint64_t*)base;
  for (size_t w = 0; w < size / 8; w++) final_hash = mix(final_hash, words[w]);
  double t3 = now();

  printf("mib=%llu ops=%llu fill_s=%.3f access_s=%.3f ops_per_s=%.0f verify_s=%.3f "
         "checksum=%016llx final_hash=%016llx vm_hwm_kib=%llu vm_rss_kib=%llu\n",
         (unsigned long long)mib, (unsigned long long)ops, t1 - t0, t2 - t1,
         (double)ops / (t2 - t1), t3 - t2, (unsigned long long)checksum,
         (unsigned long long)final_hash, (unsigned long long)status_kib("VmHWM:"),
         (unsigned long long)status_kib("VmRSS:"));
  fflush(stdout);
  // No munmap: the mapping stays until exit so uzswap's at-exit summary still describes
  // it (unmapping forgets its stored pages).
  return 0;
}
