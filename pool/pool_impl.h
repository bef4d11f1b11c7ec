// pool/pool_impl.h — the Pool implementation's shared declarations, split over
// pool.cpp (alloc/free/zspage lifecycle), map.cpp (map/unmap), compact.cpp, migrate.cpp
// and pool_stats.cpp. Layout, states and the lock order are at the top of pool.cpp.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

#include "pool/handle_table.h"
#include "pool/page_provider.h"
#include "pool/pool.h"
#include "pool/size_class.h"
#include "pool/zspage.h"

namespace uzswap::pool {

// Per size class: the zspage lists by fullness group and the class's accounting, all
// under `lock`.
struct alignas(64) ClassState {
  std::mutex lock;
  uint32_t list[kNumFullnessGroups] = {};  // head descriptor index per group (0 = empty)
  uint64_t zspages = 0;                    // Live zspages of the class
  uint64_t obj_used = 0;                   // allocated objects
  uint64_t almost_full = 0;                // zspages with 3/4 max < inuse < max
  uint64_t almost_empty = 0;               // zspages with 0 < inuse <= 3/4 max
};

class PoolImpl final : public Pool {
 public:
  PoolImpl() = default;
  ~PoolImpl() override;
  bool init(const PoolConfig& config);

  Handle alloc(size_t size, AllocError* error) override;
  void free(Handle handle) override;
  void* map(Handle handle, MapMode mode) override;
  void unmap(Handle handle) override;
  size_t object_size(Handle handle) override;
  void write(Handle handle, const void* src, size_t len) override;
  void read(Handle handle, void* dst, size_t len) override;
  size_t compact() override;
  bool isolate_page(void* page) override;
  bool migrate_page(void* page) override;
  void putback_page(void* page) override;
  size_t pack_chunks() override;
  void walk_objects(const std::function<void(Handle, size_t)>& fn) override;
  void walk_backing_pages(const std::function<void(void*)>& fn) override;
  PoolStats stats() override;
  size_t num_classes() override { return classes_.count(); }
  ClassStats class_stats(size_t class_index) override;
  size_t footprint_bytes() override;
  void set_limit(size_t limit_bytes) override;
  void reset_locks_after_fork() override;

  const ClassTable& classes() const { return classes_; }

 private:
  // pool.cpp: zspage lifecycle and list maintenance (class lock held where noted).
  uint32_t build_zspage(uint16_t class_index, AllocError* error);
  void place_object(ClassState& cs, const SizeClass& sc, uint32_t zi, Handle h, size_t size);
  void release_object(ClassState& cs, const SizeClass& sc, uint32_t zi, uint32_t obj);
  uint32_t alloc_target(ClassState& cs);                        // class lock
  void list_insert(ClassState& cs, uint32_t zi);                // class lock
  void list_remove(ClassState& cs, uint32_t zi);                // class lock
  void set_inuse(ClassState& cs, const SizeClass& sc, uint32_t zi, uint32_t inuse);  // class lock
  // Unlinks an empty zspage and marks it Free (class lock); the caller then calls
  // finish_free_zspage() without the class lock.
  void retire_zspage(ClassState& cs, const SizeClass& sc, uint32_t zi, char** pages, size_t* npages);
  void finish_free_zspage(uint32_t zi, char** pages, size_t npages);
  bool reserve_backing(size_t pages, AllocError* error);
  void maybe_auto_compact();

  // compact.cpp
  size_t compact_class(uint16_t class_index);
  size_t merge_zspages(uint16_t class_index);
  size_t free_empty_zspages(uint16_t class_index);
  bool pick_compaction_pair(ClassState& cs, uint32_t* src, uint32_t* dst);  // class lock
  void move_objects(ClassState& cs, const SizeClass& sc, uint32_t src, uint32_t dst);  // class lock

  // migrate.cpp
  // Locks the class of the zspage owning `page` and returns it with the page's slot, or
  // false (nothing locked) if the page is not a backing page of a Live zspage.
  bool lock_page_owner(void* page, std::unique_lock<std::mutex>* lk, uint32_t* zi, int* slot);
  bool migrate_page_to(void* page, bool denser_chunk_only);

  PoolConfig config_{};
  std::unique_ptr<PageProvider> owned_provider_;
  PageProvider* provider_ = nullptr;
  ClassTable classes_;
  ClassState class_state_[kNumRawClasses];
  HandleTable handles_;
  ZspageTable zspages_;

  std::atomic<uint64_t> objects_{0};
  std::atomic<uint64_t> object_bytes_{0};
  std::atomic<uint64_t> backing_pages_{0};    // pages of Building and Live zspages
  std::atomic<uint64_t> live_zspages_{0};
  std::atomic<uint64_t> isolated_pages_{0};
  std::atomic<uint64_t> limit_pages_{0};      // 0 = no limit
  std::atomic<bool> auto_compacting_{false};  // one automatic compaction at a time
  std::atomic<uint64_t> frees_since_auto_{0};
};

}  // namespace uzswap::pool
