// Event record pool.
#include "nfa/event.h"

#include "base/pool_allocator.h"

namespace tern::nfa {

const Value StoredEvent::kMissingSlot = Value::Missing();

StoredEvent* EventStore::Acquire(bool reserve) {
  StoredEvent* e;
  if (!free_.empty()) {
    e = records_[free_.back()].get();
    free_.pop_back();
  } else {
    records_.push_back(std::make_unique<StoredEvent>());
    e = records_.back().get();
    if (reserve) {
      e->payload.reserve(kPayloadReserve);
      e->strings.reserve(kStringsReserve);
    }
    e->index = static_cast<uint32_t>(records_.size() - 1);
    KeepFreeListRoom(free_, records_);
  }
  e->refs = 1;
  e->persisted = false;
  e->id = {};
  e->position = 0;
  e->offset = 0;
  e->partition = 0;
  e->stream = 0;
  e->payload.clear();
  e->strings.clear();
  e->slots.clear();
  return e;
}

}  // namespace tern::nfa
