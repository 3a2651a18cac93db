// Node pool with iterative release.
#include "nfa/shared_buffer.h"

#include "base/pool_allocator.h"

namespace tern::nfa {

NodeId SharedBuffer::Put(uint16_t stage, StoredEvent* event, NodeId parent) {
  NodeId id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    id = static_cast<NodeId>(nodes_.size());
    nodes_.emplace_back();
    KeepFreeListRoom(free_, nodes_);
  }
  Node& n = nodes_[id];
  n.event = event;
  n.parent = parent;
  n.refs = 1;
  n.stage = stage;
  events_->Ref(event);
  Ref(parent);
  return id;
}

void SharedBuffer::Release(NodeId n) {
  // Walk up the chain while we hold the last reference: no recursion, so a long
  // partial match cannot overflow the stack.
  while (n != kNoNode) {
    Node& node = nodes_[n];
    if (--node.refs != 0) return;
    NodeId parent = node.parent;
    events_->Unref(node.event);
    node.event = nullptr;
    node.parent = kNoNode;
    free_.push_back(n);
    n = parent;
  }
}

}  // namespace tern::nfa
