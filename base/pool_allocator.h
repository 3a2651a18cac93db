// A stateless std allocator that recycles blocks through per-thread free lists
// by power-of-two size class, so containers that grow and shrink on the hot
// path (a key's partial matches) stop calling malloc once warm.
// Tested by tests/unit/base/base_test.cc and tests/alloc/alloc_test.cc.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>

namespace tern {

// For a slab of slots (a std::vector) recycled through a free list of their indices:
// keeps the free list able to hold every slot, growing it with the slab (amortised,
// as the slab grows) instead of when many slots are released at once (a window
// closing on every key), which would allocate on the hot path. Call after growing
// the slab.
template <typename FreeList, typename Slab>
inline void KeepFreeListRoom(FreeList& free_list, const Slab& slab) {
  if (free_list.capacity() < slab.capacity()) free_list.reserve(slab.capacity());
}

// Thread: each thread has its own pool; a block must be freed on the thread
// that allocated it (the engine is single-threaded). Locks: none.
class BlockPool {
 public:
  static constexpr size_t kClasses = 40;

  static void* Allocate(size_t bytes) {
    size_t c = Class(bytes);
    Pool& p = pool();
    if (p.free[c] != nullptr) {
      FreeBlock* b = p.free[c];
      p.free[c] = b->next;
      return b;
    }
    void* mem = std::malloc(size_t{1} << c);
    if (mem == nullptr) throw std::bad_alloc();
    return mem;
  }

  static void Free(void* ptr, size_t bytes) {
    if (ptr == nullptr) return;
    Pool& p = pool();
    auto* b = static_cast<FreeBlock*>(ptr);
    size_t c = Class(bytes);
    b->next = p.free[c];
    p.free[c] = b;
  }

 private:
  struct FreeBlock {
    FreeBlock* next;
  };
  struct Pool {
    FreeBlock* free[kClasses] = {};
    ~Pool() {
      for (FreeBlock* head : free) {
        while (head != nullptr) {
          FreeBlock* next = head->next;
          std::free(head);
          head = next;
        }
      }
    }
  };
  static Pool& pool() {
    thread_local Pool p;
    return p;
  }
  // Smallest c with 2^c >= bytes (at least 16 bytes).
  static size_t Class(size_t bytes) {
    size_t c = 4;
    while ((size_t{1} << c) < bytes) ++c;
    return c;
  }
};

template <typename T>
struct PoolAllocator {
  using value_type = T;
  PoolAllocator() = default;
  template <typename U>
  PoolAllocator(const PoolAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(BlockPool::Allocate(n * sizeof(T))); }
  void deallocate(T* p, size_t n) { BlockPool::Free(p, n * sizeof(T)); }
  friend bool operator==(const PoolAllocator&, const PoolAllocator&) { return true; }
  friend bool operator!=(const PoolAllocator&, const PoolAllocator&) { return false; }
};

}  // namespace tern
