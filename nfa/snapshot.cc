// Key state records: a version byte, the events, the nodes (parents first),
// the runs and the held-back matches. Little-endian fixed-width integers.
#include "nfa/snapshot.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace tern::nfa {

namespace {

template <typename T>
void Put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

void PutBytes(std::string& out, std::string_view s) {
  Put<uint32_t>(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  template <typename T>
  bool Get(T* v) {
    if (pos_ + sizeof(T) > s_.size()) return false;
    std::memcpy(v, s_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool GetBytes(std::string_view* v) {
    uint32_t n;
    if (!Get(&n) || pos_ + n > s_.size()) return false;
    *v = s_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  size_t pos() const { return pos_; }
  void Skip(size_t n) { pos_ += n; }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

void PutRun(std::string& out, const Run& r, uint32_t local_node) {
  Put<uint32_t>(out, r.state);
  Put<uint32_t>(out, local_node);
  Put<int64_t>(out, r.start.ts);
  Put<uint64_t>(out, r.start.seq);
  Put<int64_t>(out, r.prev_ts);
}

}  // namespace

void SerializeEvent(const StoredEvent& event, std::string& out) {
  const StoredEvent* e = &event;
  Put<int64_t>(out, e->id.ts);
  Put<uint64_t>(out, e->id.seq);
  Put<uint64_t>(out, e->position);
  Put<uint64_t>(out, e->offset);
  Put<uint32_t>(out, e->partition);
  Put<uint32_t>(out, e->stream);
  PutBytes(out, e->payload);
  Put<uint32_t>(out, static_cast<uint32_t>(e->slots.size()));
  for (const Value& v : e->slots) {
    Put<uint8_t>(out, static_cast<uint8_t>(v.kind));
    switch (v.kind) {
      case ValueKind::kBool: Put<uint8_t>(out, v.b ? 1 : 0); break;
      case ValueKind::kInt: Put<int64_t>(out, v.i); break;
      case ValueKind::kDouble: Put<double>(out, v.d); break;
      case ValueKind::kString:
      case ValueKind::kJson: PutBytes(out, v.as_string()); break;
      default: break;  // missing, null; events never hold lists in slots
    }
  }
}

size_t NodeOrder::Find(NodeId n) const {
  const size_t mask = slots_.size() - 1;
  size_t i = (static_cast<size_t>(n) * 0x9E3779B97F4A7C15ull >> 32) & mask;
  while (slots_[i].stamp == current_ && slots_[i].node != n) i = (i + 1) & mask;
  return i;
}

void NodeOrder::Insert(NodeId n, uint32_t local) {
  if ((order_.size() + 1) * 2 > slots_.size()) {
    // Grow, and bring this key's entries along (order_ lists them all).
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(std::max<size_t>(64, old.size() * 2), Slot{kNoNode, 0, 0});
    current_ = 1;
    for (uint32_t k = 0; k < order_.size(); ++k) slots_[Find(order_[k])] = {order_[k], current_, k};
  }
  const size_t i = Find(n);
  slots_[i] = {n, current_, local};
}

void ReachableNodes(const KeyState& key, const SharedBuffer& buffer, NodeOrder& out) {
  out.order_.clear();
  if (out.slots_.empty()) out.slots_.assign(64, NodeOrder::Slot{kNoNode, 0, 0});
  if (++out.current_ == 0) {  // wrapped: every stamp is stale again
    std::fill(out.slots_.begin(), out.slots_.end(), NodeOrder::Slot{kNoNode, 0, 0});
    out.current_ = 1;
  }
  auto seen = [&](NodeId n) {
    const size_t i = out.Find(n);
    return out.slots_[i].stamp == out.current_;
  };
  auto visit = [&](NodeId n) {
    out.chain_.clear();
    while (n != kNoNode && !seen(n)) {
      out.chain_.push_back(n);
      n = buffer.node(n).parent;
    }
    for (auto it = out.chain_.rbegin(); it != out.chain_.rend(); ++it) {
      const uint32_t local = static_cast<uint32_t>(out.order_.size());
      out.Insert(*it, local);
      out.order_.push_back(*it);
    }
  };
  for (const Run& r : key.runs) visit(r.node);
  for (const Run& r : key.completed) visit(r.node);
}

void PutRuns(const KeyState& key, const NodeOrder& nodes, std::string& out) {
  Put<uint32_t>(out, static_cast<uint32_t>(key.runs.size()));
  for (const Run& r : key.runs) PutRun(out, r, nodes.local(r.node));
  Put<uint32_t>(out, static_cast<uint32_t>(key.completed.size()));
  for (const Run& r : key.completed) PutRun(out, r, nodes.local(r.node));
}

void SerializeKeyState(const KeyState& key, const SharedBuffer& buffer, std::string& out) {
  NodeOrder nodes;
  ReachableNodes(key, buffer, nodes);

  std::unordered_map<const StoredEvent*, uint32_t> event_index;
  std::vector<const StoredEvent*> events;
  for (NodeId n : nodes.order()) {
    const StoredEvent* e = buffer.node(n).event;
    if (event_index.emplace(e, static_cast<uint32_t>(events.size())).second) events.push_back(e);
  }

  Put<uint8_t>(out, kKeyStateFormat);
  Put<uint32_t>(out, static_cast<uint32_t>(events.size()));
  for (const StoredEvent* e : events) SerializeEvent(*e, out);
  Put<uint32_t>(out, static_cast<uint32_t>(nodes.order().size()));
  for (NodeId n : nodes.order()) {
    const Node& node = buffer.node(n);
    Put<uint32_t>(out, event_index[node.event]);
    Put<uint32_t>(out, nodes.local(node.parent));
    Put<uint16_t>(out, node.stage);
  }
  PutRuns(key, nodes, out);
}

namespace {
// Reads the event at data[*pos]; `known(seq)` returns a record restored before (then
// that is the result) or nullptr, in which case a new record of `store` gets it, sized
// exactly when `exact`, and `added(seq, e)` is told.
template <typename Known, typename Added>
bool RestoreEventImpl(std::string_view data, size_t* pos, EventStore& store, bool exact, Known&& known,
                      Added&& added, StoredEvent** out) {
  Reader in(data.substr(*pos));
  EventId id;
  uint64_t position, offset;
  uint32_t partition, stream, nslots;
  std::string_view payload;
  if (!in.Get(&id.ts) || !in.Get(&id.seq) || !in.Get(&position) || !in.Get(&offset) || !in.Get(&partition) ||
      !in.Get(&stream) || !in.GetBytes(&payload) || !in.Get(&nslots)) {
    return false;
  }
  // Slot values; strings are gathered first so their storage never moves.
  struct Slot {
    ValueKind kind;
    Value v;
    std::string_view bytes;
  };
  std::vector<Slot> slots(nslots < 65536 ? nslots : 0);
  if (slots.size() != nslots) return false;
  size_t string_bytes = 0;
  for (Slot& s : slots) {
    uint8_t kind;
    if (!in.Get(&kind) || kind > static_cast<uint8_t>(ValueKind::kValueList)) return false;
    s.kind = static_cast<ValueKind>(kind);
    switch (s.kind) {
      case ValueKind::kBool: {
        uint8_t b;
        if (!in.Get(&b)) return false;
        s.v = Value::Bool(b != 0);
        break;
      }
      case ValueKind::kInt: {
        int64_t x;
        if (!in.Get(&x)) return false;
        s.v = Value::Int(x);
        break;
      }
      case ValueKind::kDouble: {
        double x;
        if (!in.Get(&x)) return false;
        s.v = Value::Double(x);
        break;
      }
      case ValueKind::kString:
      case ValueKind::kJson:
        if (!in.GetBytes(&s.bytes)) return false;
        string_bytes += s.bytes.size();
        break;
      case ValueKind::kMissing: s.v = Value::Missing(); break;
      default: s.v = Value::Null(); break;
    }
  }
  *pos += in.pos();
  if (StoredEvent* before = known(id.seq)) {
    *out = before;
    return true;
  }
  StoredEvent* e = store.Acquire(/*reserve=*/!exact);
  e->id = id;
  e->position = position;
  e->offset = offset;
  e->partition = partition;
  e->stream = stream;
  e->payload.assign(payload);
  e->strings.reserve(string_bytes);
  e->slots.resize(nslots);
  for (uint32_t k = 0; k < nslots; ++k) {
    const Slot& s = slots[k];
    if (s.kind == ValueKind::kString || s.kind == ValueKind::kJson) {
      size_t at = e->strings.size();
      e->strings.append(s.bytes);
      std::string_view view(e->strings.data() + at, s.bytes.size());
      e->slots[k] = s.kind == ValueKind::kString ? Value::String(view) : Value::Json(view);
    } else {
      e->slots[k] = s.v;
    }
  }
  added(id.seq, e);
  *out = e;
  return true;
}
}  // namespace

bool RestoreEvent(std::string_view data, size_t* pos, EventStore& store,
                  std::unordered_map<uint64_t, StoredEvent*>& events_by_seq, StoredEvent** out) {
  return RestoreEventImpl(
      data, pos, store, /*exact=*/false,
      [&](uint64_t seq) -> StoredEvent* {
        auto it = events_by_seq.find(seq);
        return it != events_by_seq.end() ? it->second : nullptr;
      },
      [&](uint64_t seq, StoredEvent* e) { events_by_seq.emplace(seq, e); }, out);  // the map holds the reference
}

bool RestoreNewEvent(std::string_view data, size_t* pos, EventStore& store, StoredEvent** out) {
  return RestoreEventImpl(
      data, pos, store, /*exact=*/true, [](uint64_t) -> StoredEvent* { return nullptr; },
      [](uint64_t, StoredEvent*) {}, out);
}

StoredEvent* EventsBySeq::Find(uint64_t seq) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), seq,
                             [](const std::pair<uint64_t, StoredEvent*>& a, uint64_t s) { return a.first < s; });
  return it != entries_.end() && it->first == seq ? it->second : nullptr;
}

bool RestoreKeyState(std::string_view record, KeyState& key, SharedBuffer& buffer,
                     std::unordered_map<uint64_t, StoredEvent*>& events_by_seq, size_t* consumed) {
  Reader in(record);
  uint8_t format;
  if (!in.Get(&format) || format != kKeyStateFormat) return false;
  uint32_t num_events;
  if (!in.Get(&num_events)) return false;
  std::vector<StoredEvent*> events;
  events.reserve(num_events);
  for (uint32_t i = 0; i < num_events; ++i) {
    StoredEvent* e;
    size_t pos = in.pos();
    if (!RestoreEvent(record, &pos, buffer.events(), events_by_seq, &e)) return false;
    in.Skip(pos - in.pos());
    events.push_back(e);
  }

  uint32_t num_nodes;
  if (!in.Get(&num_nodes)) return false;
  std::vector<NodeId> nodes;
  nodes.reserve(num_nodes);
  bool ok = true;
  for (uint32_t i = 0; i < num_nodes && ok; ++i) {
    uint32_t event, parent;
    uint16_t stage;
    if (!in.Get(&event) || !in.Get(&parent) || !in.Get(&stage) || event >= events.size() ||
        (parent != kNoNode && parent >= nodes.size())) {
      ok = false;
      break;
    }
    // Put takes a reference on the parent; the reference Put returns is ours until
    // every run and child is restored, then dropped below.
    nodes.push_back(buffer.Put(stage, events[event], parent == kNoNode ? kNoNode : nodes[parent]));
  }
  auto read_runs = [&](RunVector& runs) {
    uint32_t n;
    if (!in.Get(&n)) return false;
    for (uint32_t i = 0; i < n; ++i) {
      Run r;
      uint32_t node;
      if (!in.Get(&r.state) || !in.Get(&node) || !in.Get(&r.start.ts) || !in.Get(&r.start.seq) ||
          !in.Get(&r.prev_ts) || (node != kNoNode && node >= nodes.size())) {
        return false;
      }
      r.node = node == kNoNode ? kNoNode : nodes[node];
      buffer.Ref(r.node);
      runs.push_back(r);
    }
    return true;
  };
  KeyState restored;
  ok = ok && read_runs(restored.runs) && read_runs(restored.completed);
  for (NodeId n : nodes) buffer.Release(n);  // drop the construction references
  if (!ok) {
    for (const Run& r : restored.runs) buffer.Release(r.node);
    for (const Run& r : restored.completed) buffer.Release(r.node);
    return false;
  }
  key = std::move(restored);
  if (consumed != nullptr) *consumed = in.pos();
  return true;
}

bool RestoreKeyRefs(std::string_view record, KeyState& key, SharedBuffer& buffer, const EventsBySeq& events_by_seq,
                    std::string* error) {
  Reader in(record);
  uint8_t format = 0;
  if (!in.Get(&format) || format != kKeyRefsFormat) {
    *error = "unknown key record format " + std::to_string(format);
    return false;
  }
  uint32_t num_nodes;
  if (!in.Get(&num_nodes) || num_nodes > record.size()) {
    *error = "truncated key record";
    return false;
  }
  std::vector<NodeId> nodes;
  nodes.reserve(num_nodes);
  bool ok = true;
  for (uint32_t i = 0; i < num_nodes; ++i) {
    uint64_t seq;
    uint32_t parent;
    uint16_t stage;
    if (!in.Get(&seq) || !in.Get(&parent) || !in.Get(&stage) || (parent != kNoNode && parent >= nodes.size())) {
      *error = "truncated or malformed key record (node " + std::to_string(i) + ")";
      ok = false;
      break;
    }
    StoredEvent* e = events_by_seq.Find(seq);
    if (e == nullptr) {
      *error = "key record names event " + std::to_string(seq) + ", which the store does not hold";
      ok = false;
      break;
    }
    nodes.push_back(buffer.Put(stage, e, parent == kNoNode ? kNoNode : nodes[parent]));
  }
  KeyState restored;
  auto read_runs = [&](RunVector& runs) {
    uint32_t n;
    if (!in.Get(&n)) return false;
    for (uint32_t i = 0; i < n; ++i) {
      Run r;
      uint32_t node;
      if (!in.Get(&r.state) || !in.Get(&node) || !in.Get(&r.start.ts) || !in.Get(&r.start.seq) ||
          !in.Get(&r.prev_ts) || (node != kNoNode && node >= nodes.size())) {
        return false;
      }
      r.node = node == kNoNode ? kNoNode : nodes[node];
      buffer.Ref(r.node);
      runs.push_back(r);
    }
    return true;
  };
  if (ok && !(read_runs(restored.runs) && read_runs(restored.completed) && in.pos() == record.size())) {
    *error = "truncated or malformed key record (runs)";
    ok = false;
  }
  for (NodeId n : nodes) buffer.Release(n);  // drop the construction references
  if (!ok) {
    for (const Run& r : restored.runs) buffer.Release(r.node);
    for (const Run& r : restored.completed) buffer.Release(r.node);
    return false;
  }
  key = std::move(restored);
  return true;
}

bool DescribeKeyRefs(std::string_view record, KeyRefsView* out, std::string* error) {
  *out = KeyRefsView{};
  Reader in(record);
  uint8_t format = 0;
  if (!in.Get(&format) || format != kKeyRefsFormat) {
    *error = "unknown key record format " + std::to_string(format);
    return false;
  }
  uint32_t num_nodes;
  // 14 bytes a node: a count the record cannot hold is a damaged one, not an allocation.
  if (!in.Get(&num_nodes) || num_nodes > record.size() / 14) {
    *error = "truncated key record";
    return false;
  }
  struct Local {
    uint64_t seq;
    uint32_t parent;
    uint16_t stage;
  };
  std::vector<Local> nodes(num_nodes);
  for (uint32_t i = 0; i < num_nodes; ++i) {
    Local& n = nodes[i];
    // Parents come first (ReachableNodes): a parent at or after its child is damage,
    // and would make the chain walk below loop.
    if (!in.Get(&n.seq) || !in.Get(&n.parent) || !in.Get(&n.stage) || (n.parent != kNoNode && n.parent >= i)) {
      *error = "truncated or malformed key record (node " + std::to_string(i) + ")";
      return false;
    }
  }
  out->nodes = num_nodes;
  auto read_runs = [&](std::vector<RunRefsView>& runs) {
    uint32_t n;
    if (!in.Get(&n) || n > record.size() / 32) return false;
    for (uint32_t i = 0; i < n; ++i) {
      RunRefsView r;
      uint32_t node;
      if (!in.Get(&r.state) || !in.Get(&node) || !in.Get(&r.start.ts) || !in.Get(&r.start.seq) ||
          !in.Get(&r.prev_ts) || (node != kNoNode && node >= nodes.size())) {
        return false;
      }
      for (uint32_t at = node; at != kNoNode; at = nodes[at].parent) {
        r.bindings.emplace_back(nodes[at].seq, nodes[at].stage);
      }
      std::reverse(r.bindings.begin(), r.bindings.end());
      runs.push_back(std::move(r));
    }
    return true;
  };
  if (!read_runs(out->runs) || !read_runs(out->held) || in.pos() != record.size()) {
    *error = "truncated or malformed key record (runs)";
    return false;
  }
  return true;
}

}  // namespace tern::nfa
