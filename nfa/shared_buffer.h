// The shared buffer of partial matches (SASE+, Agrawal et al. SIGMOD 2008;
// Flink CEP's SharedBuffer): each event is stored once (EventStore); each
// partial match is a chain of reference-counted nodes, and partial matches that
// branched from a common prefix share the nodes of that prefix.
// Tested through the engine: tests/unit/engine/engine_test.cc (partial matches
// released), tests/unit/engine/snapshot_test.cc and tests/alloc/alloc_test.cc.
#pragma once

#include <cstdint>
#include <vector>

#include "nfa/event.h"

namespace tern::nfa {

using NodeId = uint32_t;
inline constexpr NodeId kNoNode = 0xFFFFFFFFu;

// One binding: `event` bound to `stage`, after the bindings of `parent`.
// A node is a version of a partial match; its children are the versions that
// extend it. Freed when no run, match or child references it.
struct Node {
  StoredEvent* event = nullptr;
  NodeId parent = kNoNode;
  uint32_t refs = 0;
  uint16_t stage = 0;
};

// Thread: engine thread. Locks: none.
class SharedBuffer {
 public:
  explicit SharedBuffer(EventStore* events) : events_(events) {}
  SharedBuffer(const SharedBuffer&) = delete;
  SharedBuffer& operator=(const SharedBuffer&) = delete;

  // A new node with one reference (the caller's). Takes a reference on the event
  // and on the parent.
  NodeId Put(uint16_t stage, StoredEvent* event, NodeId parent);
  void Ref(NodeId n) {
    if (n != kNoNode) ++nodes_[n].refs;
  }
  // Drops one reference; frees the node and, iteratively, every ancestor whose
  // last reference it held, releasing their events.
  void Release(NodeId n);

  const Node& node(NodeId n) const { return nodes_[n]; }
  size_t live_nodes() const { return nodes_.size() - free_.size(); }
  size_t capacity() const { return nodes_.size(); }  // every NodeId is below it
  EventStore& events() { return *events_; }

 private:
  EventStore* events_;
  std::vector<Node> nodes_;
  std::vector<NodeId> free_;
};

}  // namespace tern::nfa
