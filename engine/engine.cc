// The engine: routes each event to every program's key, keeps event time per
// input partition, fires window timers, and turns finished matches into alerts.
//
// IMPLEMENTATION
// Time (spec §8). Each partition's watermark is the largest event time it has
// shown minus the lateness. With lateness > 0 events wait in a per-partition
// reorder heap until the watermark passes them and are then released in event
// time order (arrival order among equal times); with lateness 0 every event is
// released the moment it arrives. An event older than its partition's watermark
// is late: counted, reported to the caller, and by default processed at once — it
// cannot be put back in time order, but dropping it would lose what it proves
// (Options::late = kDrop drops it from matching, as Flink does). Window
// timers (within, gap, stage within) fire from a min-heap of per-key deadlines
// against the smallest watermark of all partitions, so a slow partition never
// sees its keys time out early; before a released event is matched, its own
// key's runs are advanced to the event's time (Flink's CepOperator does
// advanceTime(ts) before process(ts)). A window that is already closed when it
// is registered (a late event's) closes at once (Schedule): state a late event
// creates never outlives it, even when the watermark will not move again.
//
// Time without events (the daemon's state partitions). AdvancePartition is Push's
// path for an event that concerns no program: the events a repartitioned source sent
// elsewhere, or that the relevance filter (routing.h) kept away, still move their
// partition's time, so the engine fires exactly what it would have fired had they been
// pushed (they would have changed no key: the filter is the engine's own IsNoop, and a
// key's time moves only with its own events and the watermark). AdvanceWatermark
// fires timers against an outside time without moving any partition, for an engine
// whose every partition is idle.
//
// Times are user input and may be anything an int64 holds. Window ends are
// compared exactly (a window ending past INT64_MAX never closes at an event
// time; only Finish, the end of time, closes it), and the watermark saturates.
#include "engine/engine.h"

#include <algorithm>
#include <deque>
#include <cstring>
#include <climits>
#include <queue>
#include <string>
#include <unordered_map>

#include "base/duration.h"
#include "base/json_writer.h"
#include "base/pool_allocator.h"
#include "engine/alert_writer.h"
#include "engine/key_table.h"
#include "engine/routing.h"
#include "engine/start_filter.h"
#include "nfa/eval.h"
#include "nfa/nfa.h"
#include "nfa/shared_buffer.h"
#include "nfa/snapshot.h"

namespace tern::engine {

namespace {

struct ProgramRuntime {
  std::shared_ptr<const nfa::Program> program;
  nfa::ExprMemo memo;
  std::unique_ptr<nfa::Nfa> nfa;
  std::string fingerprint;  // nfa::Fingerprint(*program)
  KeyTable keys;  // only keys that hold partial matches
  uint64_t live_runs = 0;  // partial matches of its keys: the sum of their counted_runs
  std::vector<uint8_t> stream_allowed;  // by stream id; empty = every stream
  uint32_t key_spec = 0;  // index into Impl::key_specs: programs keyed alike share it
};

// A program holding state for a key: its KeyTable entry.
struct KeyRef {
  uint32_t program;
  uint32_t entry;
};

// The programs holding state for one key, by program index: a few inline (read
// with the route entry, no further cache miss), more in pooled blocks.
class Holders {
 public:
  const KeyRef* begin() const { return size_ > kInline ? more_.data() : inline_; }
  const KeyRef* end() const { return begin() + size_; }
  bool empty() const { return size_ == 0; }
  void clear() {
    size_ = 0;
    more_.clear();
  }
  void Insert(KeyRef ref) {
    if (size_ == kInline) more_.assign(inline_, inline_ + kInline);
    if (size_ >= kInline) {
      auto pos = std::upper_bound(more_.begin(), more_.end(), ref.program,
                                  [](uint32_t p, const KeyRef& h) { return p < h.program; });
      more_.insert(pos, ref);
    } else {
      uint32_t i = size_;
      for (; i > 0 && inline_[i - 1].program > ref.program; --i) inline_[i] = inline_[i - 1];
      inline_[i] = ref;
    }
    ++size_;
  }
  void Erase(uint32_t program) {
    if (size_ > kInline) {
      for (auto it = more_.begin(); it != more_.end(); ++it) {
        if (it->program != program) continue;
        more_.erase(it);
        if (--size_ == kInline) {
          std::copy(more_.begin(), more_.end(), inline_);
          more_.clear();
        }
        return;
      }
      return;
    }
    for (uint32_t i = 0; i < size_; ++i) {
      if (inline_[i].program != program) continue;
      for (; i + 1 < size_; ++i) inline_[i] = inline_[i + 1];
      --size_;
      return;
    }
  }

 private:
  static constexpr uint32_t kInline = 4;
  KeyRef inline_[kInline];
  uint32_t size_ = 0;
  std::vector<KeyRef, PoolAllocator<KeyRef>> more_;  // all of them when size_ > kInline
};

// One key of a routed key spec that some program holds state for.
struct RouteEntry {
  std::string key_bytes;
  uint64_t hash = 0;
  bool live = false;
  Holders holders;
  void Reset() { holders.clear(); }
};

// Programs of one key spec whose start states act alike (nfa::StartIdentity).
struct StartGroup {
  uint32_t representative;  // its Nfa decides StartIsNoop for the whole group
  std::vector<uint32_t> programs;
};

// One distinct list of key slots among the programs, and the current event's key
// under it: encoded and hashed once per event however many programs use it.
struct KeySpec {
  std::vector<uint32_t> slots;
  std::string bytes;
  uint64_t hash = 0;
  uint64_t epoch = 0;  // event epoch of bytes/hash
  std::vector<uint32_t> programs;  // the programs keyed by it, in order
  // Key-first routing (specs with Options::route_min_programs or more): every key
  // some program holds state for, with those programs; the start groups, and the
  // filter that tells which of them an event may start.
  bool routed = false;
  KeyIndex<RouteEntry> routes;
  std::vector<StartGroup> starts;
  StartFilter start_filter;
};

// KeyTable entry of an active program: look it up, or known.
constexpr uint32_t kFindKey = 0xFFFFFFFEu;

// A program the current event may change (Process's first pass).
struct ActiveProgram {
  uint32_t program;
  uint32_t spec;
  uint32_t entry;  // kFindKey, KeyTable::kNone (no state for the key) or the entry
};

// Timers fire in deadline order, ties by program, then by key hash: an order that
// depends on the keys' state alone, not on the heap's history, so that an engine
// restored from a checkpoint fires (and alerts) in the order the uninterrupted one does.
struct Timer {
  int64_t last_open;  // the key's KeyEntry::last_open when registered: fires once the
                      // watermark passes it
  uint32_t program;
  uint32_t key;
  uint64_t key_hash;  // KeyEntry::hash (entry indices differ after a restore)
  friend bool operator>(const Timer& a, const Timer& b) {
    if (a.last_open != b.last_open) return a.last_open > b.last_open;
    if (a.program != b.program) return a.program > b.program;
    return a.key_hash > b.key_hash;
  }
};

struct ByEventId {
  bool operator()(const nfa::StoredEvent* a, const nfa::StoredEvent* b) const { return b->id < a->id; }
};

// A reorder buffer: a heap whose events a checkpoint can list.
struct ReorderHeap : std::priority_queue<nfa::StoredEvent*, std::vector<nfa::StoredEvent*>, ByEventId> {
  const std::vector<nfa::StoredEvent*>& items() const { return c; }
};

struct Partition {
  bool seen = false;
  bool declared = false;  // AddPartition: holds the watermark back before its first event
  bool idle = false;  // excluded from the global watermark until its next event
  int64_t max_ts = INT64_MIN;
  ReorderHeap reorder;
};

int64_t SatSub(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) return b > 0 ? INT64_MIN : INT64_MAX;
  return r;
}

}  // namespace

struct Engine::Impl {
  Impl(std::shared_ptr<nfa::Schema> s, Options o) : options(o), schema(std::move(s)), buffer(&events) {}

  Options options;
  std::shared_ptr<nfa::Schema> schema;  // never null; possibly shared with other engines
  nfa::EventStore events;
  nfa::SharedBuffer buffer;
  nfa::Evaluator evaluator;
  nfa::MemoStore memo_store;  // shared by every program (see AddProgram)
  std::unordered_map<std::string, uint32_t> memo_slots;  // ExprIdentity -> memo_store slot
  std::vector<std::shared_ptr<const nfa::Program>> programs;
  std::vector<ProgramRuntime> runtimes;
  std::vector<std::string> stream_names;
  std::vector<Partition> partitions;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers;
  AlertList alerts;
  Stats stats;
  uint64_t next_seq = 1;
  uint64_t epoch = 0;
  // The watermark the timers last fired against: every window that ends at or before
  // it is closed (no live key has a last_open below it). The global watermark as of the
  // last FireTimers, so it goes back when a partition behind the others counts again.
  int64_t fired_until = INT64_MIN;
  std::vector<nfa::Output> outputs;  // scratch
  std::vector<LimitedKey> limited_keys;  // Engine::limited_keys()
  // Remember(): matches of programs with `skip` that a re-read may not start inside,
  // by emission, until ForgetRereadBefore passes them.
  struct RecentMatch {
    uint64_t first;  // the smallest offset the match bound
    uint64_t last;   // the largest
  };
  std::deque<RecentMatch> recent_matches;
  // Options::order_across_partitions: where a re-read may start. Events come in offset
  // order (one log) but are matched in event-time order, so a re-read from offset O
  // matches as the engine did only if every event before O was matched before every
  // event from O on: none before O is later (EventId: time, then arrival) than one
  // after it. Otherwise an event from O on (say `a` of `a not_followed_by b`) is matched
  // again without an earlier-offset, later-time event it met (the `b`) and completes
  // a match that never was. Each cut: the offsets [lo, hi] a re-read may start at with
  // the same events before it, and the latest event time among those; an event earlier
  // than that time undoes the cut. Kept from the oldest not yet forgotten
  // (ForgetRereadBefore); the vector is reused, so it stops allocating once warm.
  struct Cut {
    uint64_t lo;
    uint64_t hi;
    int64_t prefix_max_ts;
  };
  std::vector<Cut> cuts;
  size_t cuts_head = 0;
  bool pushed_any = false;
  uint64_t pushed_last_offset = 0;
  int64_t pushed_max_ts = INT64_MIN;

  void NoteArrival(uint64_t offset, int64_t ts) {
    while (cuts.size() > cuts_head && cuts.back().prefix_max_ts > ts) cuts.pop_back();
    if (!pushed_any) {
      cuts.push_back({0, offset, INT64_MIN});
    } else if (offset > pushed_last_offset && pushed_max_ts <= ts) {
      cuts.push_back({pushed_last_offset + 1, offset, pushed_max_ts});
    }
    pushed_any = true;
    pushed_last_offset = std::max(pushed_last_offset, offset);
    pushed_max_ts = std::max(pushed_max_ts, ts);
    if (cuts.size() - cuts_head > kMaxCuts) ThinCuts();
  }

  // A commit held back for long (a partial match without `within`, alerts not yet
  // acknowledged) would keep a cut per event: past kMaxCuts every other one of the
  // older half goes. Fewer cuts only move a re-read earlier, never wrongly; the
  // recent ones, where commits land once the hold ends, stay dense.
  static constexpr size_t kMaxCuts = 4096;
  void ThinCuts() {
    const size_t n = cuts.size() - cuts_head;
    size_t out = cuts_head;
    for (size_t i = 0; i < n; ++i) {
      if (i < n / 2 && i % 2 == 1) continue;
      cuts[out++] = cuts[cuts_head + i];
    }
    cuts.resize(out);
  }

  // The latest cut at or below `offset` (0 when there is none).
  uint64_t CutAtOrBelow(uint64_t offset) const {
    if (!pushed_any || offset > pushed_last_offset) return offset;  // after every event: all matched
    auto begin = cuts.begin() + static_cast<std::ptrdiff_t>(cuts_head);
    auto it = std::upper_bound(begin, cuts.end(), offset, [](uint64_t o, const Cut& c) { return o < c.lo; });
    if (it == begin) return 0;
    return std::min(std::prev(it)->hi, offset);
  }
  std::vector<KeySpec> key_specs;
  std::vector<uint32_t> unrouted;      // programs of specs that do not route, in order
  std::vector<uint32_t> routed_specs;  // specs that route key first
  std::vector<ActiveProgram> active;  // per event scratch
  std::vector<uint32_t> starting;     // per event scratch: start groups that may fire
  std::string key_json_scratch;
  nfa::KeyState fresh;  // the state of a key seen for the first time
  AlertWriter writer;

  // Persistence (StartTracking, CollectChanges): the keys changed since the last
  // checkpoint (each once: KeyEntry::dirty), and the persisted keys that ended, with
  // their program (indices change with ReplacePrograms). gone_keys keeps its strings'
  // capacity: [0, gone_count) are in use.
  bool tracking = false;
  bool rewrite_events = false;  // StartTracking: the next CollectChanges writes every live event
  nfa::NodeOrder node_order;   // CollectChanges' scratch
  std::string record_scratch;  // CollectChanges' scratch
  std::vector<KeyRef> dirty;
  std::vector<std::pair<std::shared_ptr<const nfa::Program>, std::string>> gone_keys;
  size_t gone_count = 0;
  // A restore in progress (LoadClock .. FinishLoad).
  struct Loading {
    nfa::EventsBySeq events;  // in ascending seq, one reference each
    std::vector<std::vector<uint64_t>> reorder;               // per partition
    std::vector<int64_t> slot_of;  // stored slot -> current slot (-1: no longer read)
    std::vector<uint32_t> stream_of;  // stored stream id -> current one
    bool same_schema = true;
    bool reparse_needed = false;   // the current schema reads a field the stored one lacks
    Reparse reparse = nullptr;
    void* reparse_context = nullptr;
  };
  std::unique_ptr<Loading> loading;

  // Event-only expressions share memo slots with identical ones of other programs.
  void BindMemo(ProgramRuntime& rt) {
    const nfa::Program& program = *rt.program;
    rt.memo.store = &memo_store;
    rt.memo.slot.resize(program.exprs.size());
    for (nfa::ExprId e = 0; e < program.exprs.size(); ++e) {
      std::string identity = nfa::ExprIdentity(program, e);
      if (identity.empty()) {
        rt.memo.slot[e] = memo_store.Add();
        continue;
      }
      auto [it, added] = memo_slots.try_emplace(std::move(identity), 0);
      if (added) it->second = memo_store.Add();
      rt.memo.slot[e] = it->second;
    }
  }

  // After the set or order of runtimes changed: key specs (with their routes and
  // start groups), stream filters and the Nfa objects (each points at its runtime's
  // memo, which moves with the vector).
  void Wire() {
    key_specs.clear();
    for (uint32_t p = 0; p < runtimes.size(); ++p) {
      ProgramRuntime& rt = runtimes[p];
      const nfa::Program& program = *rt.program;
      rt.key_spec = static_cast<uint32_t>(key_specs.size());
      for (uint32_t k = 0; k < key_specs.size(); ++k) {
        if (key_specs[k].slots == program.key_slots) rt.key_spec = k;
      }
      if (rt.key_spec == key_specs.size()) {
        key_specs.emplace_back();
        key_specs.back().slots = program.key_slots;
      }
      key_specs[rt.key_spec].programs.push_back(p);
      rt.nfa = std::make_unique<nfa::Nfa>(&program, &buffer, &evaluator, &rt.memo);
      rt.stream_allowed.clear();
      for (const std::string& s : program.from) {
        uint32_t id = StreamIdOf(s);
        if (rt.stream_allowed.size() <= id) rt.stream_allowed.resize(stream_names.size(), 0);
        rt.stream_allowed[id] = 1;
      }
      if (!rt.stream_allowed.empty()) rt.stream_allowed.resize(stream_names.size(), 0);
    }
    unrouted.clear();
    routed_specs.clear();
    for (uint32_t s = 0; s < key_specs.size(); ++s) {
      KeySpec& spec = key_specs[s];
      spec.routed = spec.programs.size() >= std::max<size_t>(options.route_min_programs, 1);
      if (!spec.routed) {
        unrouted.insert(unrouted.end(), spec.programs.begin(), spec.programs.end());
        continue;
      }
      routed_specs.push_back(s);
      std::unordered_map<std::string, uint32_t> group_of;  // StartIdentity -> group
      for (uint32_t p : spec.programs) {
        auto [it, added] = group_of.try_emplace(nfa::StartIdentity(*runtimes[p].program),
                                                static_cast<uint32_t>(spec.starts.size()));
        if (added) spec.starts.push_back({p, {}});
        spec.starts[it->second].programs.push_back(p);
      }
      std::vector<StartFilter::Group> groups;
      for (const StartGroup& g : spec.starts) {
        ProgramRuntime& rt = runtimes[g.representative];
        groups.push_back({rt.nfa.get(), rt.program.get(), &rt.memo});
      }
      spec.start_filter = StartFilter(1024, options.start_filter_sample_period);
      spec.start_filter.Build(groups);
      starting.reserve(spec.starts.size());
    }
    // The routes of the keys programs already hold state for (a reload).
    for (uint32_t p = 0; p < runtimes.size(); ++p) {
      for (uint32_t k = 0; k < runtimes[p].keys.entries().size(); ++k) {
        if (runtimes[p].keys.entry(k).live) AddHolder(p, k);
      }
    }
    std::sort(unrouted.begin(), unrouted.end());
    active.reserve(runtimes.size());
  }

  // Keeps the routes of a routed spec in step with the programs' key tables.
  void AddHolder(uint32_t program, uint32_t k) {
    KeySpec& spec = key_specs[runtimes[program].key_spec];
    if (!spec.routed) return;
    const KeyEntry& entry = runtimes[program].keys.entry(k);
    uint32_t r = spec.routes.Find(entry.hash, entry.key_bytes);
    if (r == KeyTable::kNone) r = spec.routes.Insert(entry.hash, entry.key_bytes);
    spec.routes.entry(r).holders.Insert({program, k});
  }
  void RemoveHolder(uint32_t program, uint32_t k) {
    KeySpec& spec = key_specs[runtimes[program].key_spec];
    if (!spec.routed) return;
    const KeyEntry& entry = runtimes[program].keys.entry(k);
    uint32_t r = spec.routes.Find(entry.hash, entry.key_bytes);
    if (r == KeyTable::kNone) return;
    Holders& holders = spec.routes.entry(r).holders;
    holders.Erase(program);
    if (holders.empty()) spec.routes.Erase(r);
  }
  uint32_t InsertKey(uint32_t program, uint64_t hash, std::string_view bytes) {
    uint32_t k = runtimes[program].keys.Insert(hash, bytes);
    AddHolder(program, k);
    return k;
  }
  void EraseKey(uint32_t program, uint32_t k) {
    KeyEntry& entry = runtimes[program].keys.entry(k);
    if (entry.persisted) [[unlikely]] {
      if (gone_count == gone_keys.size()) gone_keys.emplace_back();
      gone_keys[gone_count].first = runtimes[program].program;
      gone_keys[gone_count].second.assign(entry.key_bytes);
      ++gone_count;
    }
    RemoveHolder(program, k);
    runtimes[program].keys.Erase(k);
  }

  uint32_t StreamIdOf(std::string_view name) {
    for (uint32_t i = 0; i < stream_names.size(); ++i) {
      if (stream_names[i] == name) return i;
    }
    stream_names.emplace_back(name);
    return static_cast<uint32_t>(stream_names.size() - 1);
  }

  // Inline: Push calls it per event (GCC stops inlining it once a few callers share it).
  [[gnu::always_inline]] int64_t GlobalWatermark() const {
    int64_t wm = INT64_MAX;
    bool any = false;
    for (const Partition& p : partitions) {
      if (p.idle) continue;
      if (!p.seen) {
        if (p.declared) return INT64_MIN;  // may still send anything
        continue;
      }
      any = true;
      wm = std::min(wm, SatSub(p.max_ts, options.lateness_ms));
    }
    return any ? wm : INT64_MIN;
  }

  bool StreamAllowed(ProgramRuntime& rt, uint32_t stream) {
    if (rt.program->from.empty()) return true;
    if (stream >= rt.stream_allowed.size()) return false;
    return rt.stream_allowed[stream] != 0;
  }

  // The event's key under `spec`, encoded and hashed at most once per event.
  KeySpec& EventKey(uint32_t spec, const nfa::StoredEvent& e) {
    KeySpec& k = key_specs[spec];
    if (k.epoch != epoch) {
      k.epoch = epoch;
      k.bytes.clear();
      for (uint32_t slot : k.slots) EncodeKeyPart(e.slot(slot), k.bytes);
      k.hash = KeyTable::Hash(k.bytes);
    }
    return k;
  }

  static void KeyJson(const ProgramRuntime& rt, const nfa::StoredEvent& e, std::string& out) {
    out.clear();
    const auto& slots = rt.program->key_slots;
    if (slots.empty()) {
      out = "null";
    } else if (slots.size() == 1) {
      AppendValueJson(e.slot(slots[0]), out);
    } else {
      out = "[";
      for (size_t s = 0; s < slots.size(); ++s) {
        if (s > 0) out += ",";
        AppendValueJson(e.slot(slots[s]), out);
      }
      out += "]";
    }
  }

  // Registers the key's next window expiry, or forgets the key when it holds nothing.
  //
  // A window that ends at or before the watermark the timers last fired against
  // (fired_until) is due already: a late event's partial match starts behind the
  // watermark. Its timer would fire only when the watermark next moves, which after
  // a far-future event is never. It closes here, at once, exactly as its timer would
  // have closed it (timeouts, absence matches, held matches released), so nothing a
  // late event creates outlives it.
  //
  // Every change to a key's runs is followed by a call, so it also keeps the program's
  // count of partial matches (stats() reads it in O(programs), not O(keys)).
  void Schedule(uint32_t program, uint32_t key) {
    ProgramRuntime& rt = runtimes[program];
    KeyEntry& entry = rt.keys.entry(key);
    if (tracking && !entry.dirty) {
      entry.dirty = true;
      dirty.push_back({program, key});
    }
    if (options.max_runs_per_key > 0 && entry.state.runs.size() > options.max_runs_per_key) [[unlikely]] {
      stats.dropped_runs += rt.nfa->DropOldestRuns(entry.state, options.max_runs_per_key);
      if (!entry.limited) {
        entry.limited = true;
        limited_keys.push_back({program, entry.key_json});
      }
    }
    if (!entry.state.empty()) {
      entry.last_open = rt.nfa->LastOpen(entry.state);
      if (entry.last_open < fired_until) {
        rt.nfa->AdvanceTime(entry.state, fired_until, outputs);
        Drain(program, entry);
        entry.last_open = rt.nfa->LastOpen(entry.state);  // now >= fired_until
      }
    }
    const uint32_t runs = static_cast<uint32_t>(entry.state.runs.size());
    rt.live_runs = rt.live_runs - entry.counted_runs + runs;
    entry.counted_runs = runs;
    if (entry.state.empty()) {
      EraseKey(program, key);
      return;
    }
    if (entry.last_open < entry.registered) {
      entry.registered = entry.last_open;
      timers.push({entry.last_open, program, key, entry.hash});
    }
  }

  void Emit(uint32_t program, std::string_view key_bytes, std::string_view key_json, const nfa::Output& o) {
    ProgramRuntime& rt = runtimes[program];
    Alert& a = alerts.Append();
    a.pattern = program;
    a.kind = o.kind == nfa::OutputKind::kMatch ? AlertKind::kMatch : AlertKind::kTimeout;
    a.to = rt.program->to;
    writer.Write(*rt.program, buffer, evaluator, key_bytes, key_json, o, a);
    if (a.kind == AlertKind::kMatch) ++stats.matches;
    else ++stats.timeouts;
    buffer.Release(o.node);
    if (a.kind == AlertKind::kMatch && rt.program->skip != nfa::SkipKind::kNoSkip) Remember(a);
  }

  // A match of a program whose `skip` discards other partial matches: read again from
  // after its first event but not after its last, the partial matches that began inside
  // it come back without the match that discarded them, and complete matches of their
  // own that never were (the suffix of a greedy loop). So no re-read may start in
  // (first, last]: RereadPoint keeps it out.
  void Remember(const Alert& a) {
    uint64_t first = UINT64_MAX, last = 0;
    for (const BoundEvent& b : a.bound) {
      first = std::min(first, b.offset);
      last = std::max(last, b.offset);
    }
    if (first < last) recent_matches.push_back({first, last});
  }

  void Drain(uint32_t program, const KeyEntry& key) { Drain(program, key.key_bytes, key.key_json); }
  void Drain(uint32_t program, std::string_view key_bytes, std::string_view key_json) {
    for (const nfa::Output& o : outputs) Emit(program, key_bytes, key_json, o);
    outputs.clear();
  }

  // Fires every timer whose window has closed at watermark `time`. `time` may be
  // lower than the last one (a partition behind the others counts again): what fired
  // stays fired, and the windows that partition's events open close with its time.
  //
  // Runs twice per event: the test for a due timer is inline, the firing is not.
  void FireTimers(int64_t time) {
    fired_until = time;
    if (!timers.empty() && timers.top().last_open < time) [[unlikely]] FireDue(time);
  }
  [[gnu::noinline]] void FireDue(int64_t time) {
    while (!timers.empty() && timers.top().last_open < time) {
      Timer t = timers.top();
      timers.pop();
      ProgramRuntime& rt = runtimes[t.program];
      KeyEntry& entry = rt.keys.entry(t.key);
      // Superseded by an earlier registration, or the key has gone.
      if (!entry.live || entry.registered != t.last_open) continue;
      if (entry.last_open > t.last_open) {
        // The key's earliest window moved later since (a `gap` its events extended): it
        // fires at its real deadline, in that deadline's place in the order.
        entry.registered = entry.last_open;
        timers.push({entry.last_open, t.program, t.key, entry.hash});
        continue;
      }
      entry.registered = INT64_MAX;
      rt.nfa->AdvanceTime(entry.state, time, outputs);
      Drain(t.program, entry);
      Schedule(t.program, t.key);
    }
  }

  // Matches one released event against every program, in program order.
  //
  // A program keyed by a spec few programs share is asked first whether the event
  // can change anything (IsNoop: conditions on the event alone, shared across
  // programs); only then is the event's key looked up, after its index line was
  // prefetched, so the lookups of several programs overlap instead of missing the
  // cache one after another.
  //
  // A spec many programs share routes key first (Route): one lookup of the event's
  // key gives the programs holding state for it, and for the others only the start
  // state can act, which is decided once per start group. A program then costs
  // nothing for an event that neither starts it nor meets its state.
  void Process(nfa::StoredEvent* e) {
    ++epoch;
    active.clear();
    for (uint32_t p : unrouted) {
      ProgramRuntime& rt = runtimes[p];
      if (!StreamAllowed(rt, e->stream)) continue;
      // Most events leave every run where it is: then no key needs to be found.
      if (rt.nfa->IsNoop(e, epoch)) continue;
      KeySpec& key = EventKey(rt.key_spec, *e);
      rt.keys.Prefetch(key.hash);
      active.push_back({p, rt.key_spec, kFindKey});
    }
    if (!routed_specs.empty()) {
      for (uint32_t s : routed_specs) Route(s, e);
      // Insertion sort: a handful of programs, mostly in order already.
      for (size_t i = 1; i < active.size(); ++i) {
        const ActiveProgram a = active[i];
        size_t j = i;
        for (; j > 0 && active[j - 1].program > a.program; --j) active[j] = active[j - 1];
        active[j] = a;
      }
    }
    for (const ActiveProgram& a : active) Step(a, e);
    events.Unref(e);
  }

  // Adds the programs of routed spec `s` the event may change to `active`.
  void Route(uint32_t s, const nfa::StoredEvent* e) {
    KeySpec& spec = key_specs[s];
    const size_t first = active.size();
    spec.start_filter.Candidates(e, epoch, &starting);
    for (uint32_t group : starting) {
      const StartGroup& g = spec.starts[group];
      if (runtimes[g.representative].nfa->StartIsNoop(e, epoch)) continue;
      for (uint32_t p : g.programs) {
        if (StreamAllowed(runtimes[p], e->stream)) active.push_back({p, s, KeyTable::kNone});
      }
    }
    if (spec.routes.size() == 0) return;
    EventKey(s, *e);
    const uint32_t r = spec.routes.Find(spec.hash, spec.bytes);
    if (r == KeyTable::kNone) return;
    for (const KeyRef& h : spec.routes.entry(r).holders) {
      bool started = false;
      for (size_t i = first; i < active.size(); ++i) {
        if (active[i].program == h.program) {
          active[i].entry = h.entry;
          started = true;
          break;
        }
      }
      if (started) continue;
      ProgramRuntime& rt = runtimes[h.program];
      if (!StreamAllowed(rt, e->stream) || rt.nfa->IsNoop(e, epoch)) continue;
      active.push_back({h.program, s, h.entry});
    }
  }

  void Step(const ActiveProgram& a, nfa::StoredEvent* e) {
    const uint32_t p = a.program;
    ProgramRuntime& rt = runtimes[p];
    const KeySpec& key = EventKey(a.spec, *e);
    uint32_t k = a.entry == kFindKey ? rt.keys.Find(key.hash, key.bytes) : a.entry;
    if (k == KeyTable::kNone) {
      // A key without partial matches: only the start state can act. Keep the key
      // only if the event leaves it something. (IsNoop said no because of a state
      // some other key's run waits in: the start state alone may have nothing to do.
      // A routed program got here because its start group fired.)
      if (a.entry == kFindKey && rt.nfa->StartIsNoop(e, epoch)) return;
      rt.nfa->Step(fresh, e, epoch, outputs);
      if (!outputs.empty()) {
        KeyJson(rt, *e, key_json_scratch);
        Drain(p, key.bytes, key_json_scratch);
      }
      if (fresh.empty()) return;
      k = InsertKey(p, key.hash, key.bytes);
      KeyEntry& entry = rt.keys.entry(k);
      KeyJson(rt, *e, entry.key_json);
      entry.state.TakeFrom(fresh);  // copies: each vector keeps its capacity
      Schedule(p, k);
      return;
    }
    KeyEntry& entry = rt.keys.entry(k);
    if (entry.last_open < e->ts()) {
      rt.nfa->AdvanceTime(entry.state, e->ts(), outputs);
      Drain(p, entry);
    }
    rt.nfa->Step(entry.state, e, epoch, outputs);
    Drain(p, entry);
    Schedule(p, k);
  }

  // `global`: GlobalWatermark(), which matching does not change.
  void Release(nfa::StoredEvent* e, int64_t global) {
    FireTimers(std::min(e->ts(), global));
    Process(e);
  }

  // Releases what the watermarks now allow from the reorder buffers: with
  // Options::order_across_partitions every buffer up to the global watermark in one
  // order, else `part`'s up to its own watermark.
  void ReleaseReady(Partition& part, int64_t global) {
    if (options.order_across_partitions) {
      ReleaseInOrder(global);
      return;
    }
    const int64_t wm = SatSub(part.max_ts, options.lateness_ms);
    while (!part.reorder.empty() && part.reorder.top()->ts() <= wm) {
      nfa::StoredEvent* next = part.reorder.top();
      part.reorder.pop();
      Release(next, global);
    }
  }

  // Options::order_across_partitions: releases, in event id order across partitions,
  // every buffered event the global watermark has passed.
  void ReleaseInOrder(int64_t global) {
    for (;;) {
      Partition* best = nullptr;
      for (Partition& p : partitions) {
        if (p.reorder.empty() || p.reorder.top()->ts() > global) continue;
        if (best == nullptr || p.reorder.top()->id < best->reorder.top()->id) best = &p;
      }
      if (best == nullptr) return;
      nfa::StoredEvent* e = best->reorder.top();
      best->reorder.pop();
      Release(e, global);
    }
  }
};

Engine::Engine(Options options) : Engine(std::make_shared<nfa::Schema>(), options) {}
Engine::Engine(std::shared_ptr<nfa::Schema> schema, Options options)
    : impl_(std::make_unique<Impl>(schema != nullptr ? std::move(schema) : std::make_shared<nfa::Schema>(), options)) {}
// Nothing to release one by one: the shared buffer's nodes and the events they and
// the reorder buffers hold go with the buffer and the store, which the engine owns
// (a revoked partition's engine with a million partial matches is freed in a few
// hundred milliseconds, most of it the events' own buffers; releasing each partial
// match first added a fifth). The keys' pooled vectors go back to this thread's pool.
Engine::~Engine() = default;

nfa::Schema& Engine::schema() { return *impl_->schema; }
const std::shared_ptr<nfa::Schema>& Engine::shared_schema() const { return impl_->schema; }

void Engine::AddProgram(std::shared_ptr<const nfa::Program> program) { AddPrograms({std::move(program)}); }

void Engine::AddPrograms(const std::vector<std::shared_ptr<const nfa::Program>>& programs) {
  Impl& m = *impl_;
  for (const auto& program : programs) {
    m.programs.push_back(program);
    m.runtimes.emplace_back();
    ProgramRuntime& rt = m.runtimes.back();
    rt.program = program;
    rt.fingerprint = nfa::Fingerprint(*rt.program);
    m.BindMemo(rt);
  }
  m.Wire();
}

size_t Engine::ReplacePrograms(std::vector<std::shared_ptr<const nfa::Program>> programs) {
  Impl& m = *impl_;
  std::vector<ProgramRuntime> old = std::move(m.runtimes);
  std::vector<uint8_t> taken(old.size(), 0);
  m.runtimes.clear();
  m.programs.clear();
  size_t kept = 0;
  for (auto& program : programs) {
    std::string fingerprint = nfa::Fingerprint(*program);
    size_t o = 0;
    while (o < old.size() && (taken[o] || old[o].fingerprint != fingerprint)) ++o;
    m.programs.push_back(program);
    if (o < old.size()) {
      taken[o] = 1;
      ++kept;
      m.runtimes.push_back(std::move(old[o]));
      continue;
    }
    m.runtimes.emplace_back();
    ProgramRuntime& rt = m.runtimes.back();
    rt.program = std::move(program);
    rt.fingerprint = std::move(fingerprint);
    m.BindMemo(rt);
  }
  for (size_t o = 0; o < old.size(); ++o) {
    if (taken[o]) continue;
    for (KeyEntry& k : old[o].keys.entries()) old[o].nfa->Clear(k.state);
  }
  old.clear();
  m.Wire();
  // Timers and the changed-key list name programs by index: register every live key
  // again, and list the changed ones anew (KeyEntry::dirty stays as it was: a reload
  // changes no key, so the next checkpoint writes what it would have written). A key
  // whose due window Schedule closes here did change.
  m.timers = {};
  m.dirty.clear();
  const bool tracking = m.tracking;
  m.tracking = false;
  for (uint32_t p = 0; p < m.runtimes.size(); ++p) {
    for (uint32_t k = 0; k < m.runtimes[p].keys.entries().size(); ++k) {
      KeyEntry& entry = m.runtimes[p].keys.entry(k);
      if (!entry.live) continue;
      entry.registered = INT64_MAX;
      const size_t runs = entry.state.runs.size(), held = entry.state.completed.size();
      m.Schedule(p, k);
      if (entry.live && (entry.state.runs.size() != runs || entry.state.completed.size() != held)) entry.dirty = true;
    }
  }
  m.tracking = tracking;
  if (tracking) {
    for (uint32_t p = 0; p < m.runtimes.size(); ++p) {
      auto& entries = m.runtimes[p].keys.entries();
      for (uint32_t k = 0; k < entries.size(); ++k) {
        if (entries[k].live && entries[k].dirty) m.dirty.push_back({p, k});
      }
    }
  }
  return kept;
}

void Engine::AddPartition(uint32_t partition) {
  Impl& m = *impl_;
  if (partition >= m.partitions.size()) {
    m.partitions.resize(partition + 1);
    ahead_limit_.resize(partition + 1, INT64_MAX);
  }
  Partition& p = m.partitions[partition];
  p.declared = true;
  if (!p.seen) p.idle = false;
}

void Engine::MarkIdle(uint32_t partition) {
  Impl& m = *impl_;
  if (partition >= m.partitions.size() || m.partitions[partition].idle) return;
  m.partitions[partition].idle = true;
  // Release what the other partitions' watermarks now allow, then fire the timers.
  int64_t wm = m.GlobalWatermark();
  if (m.options.order_across_partitions) m.ReleaseInOrder(wm);
  if (wm != INT64_MIN) m.FireTimers(wm);
}

void Engine::AdvancePartition(uint32_t partition, int64_t max_ts) {
  // Push's path for an event that matches nothing (kept apart so Push stays as it is).
  Impl& m = *impl_;
  if (partition >= m.partitions.size()) {
    m.partitions.resize(partition + 1);
    ahead_limit_.resize(partition + 1, INT64_MAX);
  }
  Partition& part = m.partitions[partition];
  if (part.seen && max_ts < SatSub(part.max_ts, m.options.lateness_ms)) return;  // a late event's
  if (!part.seen || max_ts > part.max_ts) {
    part.max_ts = std::max(part.max_ts, max_ts);
    SetAheadLimit(partition, part.max_ts);
  }
  part.seen = true;
  part.idle = false;
  const int64_t global = m.GlobalWatermark();
  m.ReleaseReady(part, global);
  m.FireTimers(global);
}

void Engine::AdvanceWatermark(int64_t wm) {
  Impl& m = *impl_;
  m.FireTimers(std::max(m.GlobalWatermark(), wm));
}

void Engine::OldestLivePositions(std::vector<uint64_t>* per_partition) const {
  const Impl& m = *impl_;
  per_partition->assign(m.partitions.size(), UINT64_MAX);
  m.events.ForEachLive([&](const nfa::StoredEvent& e) {
    if (e.partition < per_partition->size()) {
      uint64_t& oldest = (*per_partition)[e.partition];
      oldest = std::min(oldest, e.offset);
    }
  });
}

uint64_t Engine::RereadPoint(uint64_t offset) const {
  // Lowering it into one match's span may put it inside another's, or before a cut:
  // until nothing moves it.
  const Impl& m = *impl_;
  for (bool moved = true; moved;) {
    moved = false;
    for (const auto& r : m.recent_matches) {
      if (r.first < offset && offset <= r.last) {
        offset = r.first;
        moved = true;
      }
    }
    if (m.options.order_across_partitions) {
      const uint64_t cut = m.CutAtOrBelow(offset);
      if (cut != offset) {
        offset = cut;
        moved = true;
      }
    }
  }
  return offset;
}

void Engine::ForgetRereadBefore(uint64_t offset) {
  Impl& m = *impl_;
  std::erase_if(m.recent_matches, [offset](const auto& r) { return r.last < offset; });
  // Keep the cut holding `offset`: later commits are at or above it.
  while (m.cuts.size() - m.cuts_head > 1 && m.cuts[m.cuts_head + 1].lo <= offset) ++m.cuts_head;
  if (m.cuts_head > 1024 && m.cuts_head * 2 > m.cuts.size()) {
    m.cuts.erase(m.cuts.begin(), m.cuts.begin() + static_cast<std::ptrdiff_t>(m.cuts_head));
    m.cuts_head = 0;
  }
}

uint64_t Engine::OldestHeldPosition(uint32_t partition) const {
  const Impl& m = *impl_;
  if (partition >= m.partitions.size()) return UINT64_MAX;
  auto copy = m.partitions[partition].reorder;  // a priority_queue cannot be iterated
  uint64_t oldest = UINT64_MAX;
  while (!copy.empty()) {
    oldest = std::min(oldest, copy.top()->offset);
    copy.pop();
  }
  return oldest;
}

const std::vector<std::shared_ptr<const nfa::Program>>& Engine::programs() const { return impl_->programs; }

uint32_t Engine::StreamId(std::string_view name) {
  Impl& m = *impl_;
  const size_t known = m.stream_names.size();
  uint32_t id = m.StreamIdOf(name);
  if (id < known) return id;
  for (auto& rt : m.runtimes) {
    rt.stream_allowed.resize(m.stream_names.size(), 0);
    for (const auto& s : rt.program->from) {
      if (s == name) rt.stream_allowed[id] = 1;
    }
  }
  return id;
}

nfa::StoredEvent* Engine::NewEvent() { return impl_->events.Acquire(); }
void Engine::Discard(nfa::StoredEvent* event) { impl_->events.Unref(event); }

void Engine::SetAheadLimit(uint32_t partition, int64_t max_ts) {
  int64_t limit;
  if (__builtin_add_overflow(max_ts, impl_->options.max_ahead_ms, &limit)) limit = INT64_MAX;
  if (impl_->options.max_ahead_ms > 0) ahead_limit_[partition] = limit;
}

bool Engine::Push(nfa::StoredEvent* e) {
  Impl& m = *impl_;
  e->id.seq = m.next_seq++;
  ++m.stats.events;
  if (e->partition >= m.partitions.size()) {
    m.partitions.resize(e->partition + 1);
    ahead_limit_.resize(e->partition + 1, INT64_MAX);
  }
  Partition& part = m.partitions[e->partition];
  bool late = part.seen && e->ts() < SatSub(part.max_ts, m.options.lateness_ms);
  if (late) {
    ++m.stats.late;
    if (m.options.late == LatePolicy::kDrop) {
      m.events.Unref(e);
    } else {
      m.Process(e);  // at its arrival position: see the file comment
    }
    return true;
  }
  if (!part.seen || e->ts() > part.max_ts) {
    part.max_ts = std::max(part.max_ts, e->ts());
    SetAheadLimit(e->partition, part.max_ts);
  }
  part.seen = true;
  part.idle = false;
  const int64_t global = m.GlobalWatermark();
  if (m.options.lateness_ms <= 0 && !m.options.order_across_partitions) {
    m.Release(e, global);  // nothing to wait for
  } else {
    if (m.options.order_across_partitions) m.NoteArrival(e->offset, e->ts());
    part.reorder.push(e);
    m.ReleaseReady(part, global);
  }
  m.FireTimers(global);
  return false;
}

bool Engine::TooFarAhead(uint32_t partition, int64_t ts, std::string* error) const {
  const Impl& m = *impl_;
  const int64_t max_ts = m.partitions[partition].max_ts;
  *error = "event time " + std::to_string(ts) + " is more than " + FormatDuration(m.options.max_ahead_ms) +
           " ahead of the latest event time of its partition (" + std::to_string(max_ts) + ")";
  return false;
}

void Engine::Finish() {
  Impl& m = *impl_;
  // Release what the reorder buffers hold, in event time order across partitions.
  for (;;) {
    Partition* best = nullptr;
    for (Partition& p : m.partitions) {
      if (!p.reorder.empty() && (best == nullptr || p.reorder.top()->id < best->reorder.top()->id)) best = &p;
    }
    if (best == nullptr) break;
    nfa::StoredEvent* e = best->reorder.top();
    best->reorder.pop();
    m.FireTimers(e->ts());
    m.Process(e);
  }
  m.FireTimers(INT64_MAX);
  // The watermark goes past every event time: the windows that end after INT64_MAX
  // (partial matches started near it), which no timer holds, close too.
  for (uint32_t p = 0; p < m.runtimes.size(); ++p) {
    ProgramRuntime& rt = m.runtimes[p];
    for (uint32_t k = 0; k < rt.keys.entries().size(); ++k) {
      KeyEntry& entry = rt.keys.entry(k);
      if (!entry.live || entry.last_open != INT64_MAX) continue;
      rt.nfa->CloseAllWindows(entry.state, m.outputs);
      m.Drain(p, entry);
      m.Schedule(p, k);
    }
  }
}

namespace {

// 2: events carry their offset (StoredEvent::offset).
constexpr uint8_t kEngineFormat = 2;
// SaveClock's format.
constexpr uint8_t kClockFormat = 1;

template <typename T>
void PutPod(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
void PutStr(std::string& out, std::string_view s) {
  PutPod<uint32_t>(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}
template <typename T>
bool GetPod(std::string_view d, size_t* pos, T* v) {
  if (*pos + sizeof(T) > d.size()) return false;
  std::memcpy(v, d.data() + *pos, sizeof(T));
  *pos += sizeof(T);
  return true;
}
bool GetStr(std::string_view d, size_t* pos, std::string_view* s) {
  uint32_t n;
  if (!GetPod(d, pos, &n) || *pos + n > d.size()) return false;
  *s = d.substr(*pos, n);
  *pos += n;
  return true;
}

}  // namespace

void Engine::Snapshot(std::string& out) const {
  const Impl& m = *impl_;
  PutPod<uint8_t>(out, kEngineFormat);
  PutPod<uint64_t>(out, m.next_seq);
  PutPod<int64_t>(out, m.fired_until);
  PutPod<uint32_t>(out, static_cast<uint32_t>(m.partitions.size()));
  for (const Partition& p : m.partitions) {
    PutPod<uint8_t>(out, p.seen ? 1 : 0);
    PutPod<int64_t>(out, p.max_ts);
    auto copy = p.reorder;  // a priority_queue cannot be iterated
    PutPod<uint32_t>(out, static_cast<uint32_t>(copy.size()));
    while (!copy.empty()) {
      nfa::SerializeEvent(*copy.top(), out);
      copy.pop();
    }
  }
  PutPod<uint32_t>(out, static_cast<uint32_t>(m.runtimes.size()));
  for (const ProgramRuntime& rt : m.runtimes) {
    PutStr(out, rt.program->name);
    uint32_t live = 0;
    for (const KeyEntry& k : rt.keys.entries()) live += k.live && !k.state.empty() ? 1 : 0;
    PutPod<uint32_t>(out, live);
    for (const KeyEntry& k : rt.keys.entries()) {
      if (!k.live || k.state.empty()) continue;
      PutStr(out, k.key_bytes);
      PutStr(out, k.key_json);
      nfa::SerializeKeyState(k.state, m.buffer, out);
    }
  }
}

bool Engine::Restore(std::string_view d) {
  Impl& m = *impl_;
  size_t pos = 0;
  uint8_t format;
  uint32_t num_partitions;
  if (!GetPod(d, &pos, &format) || format != kEngineFormat || !GetPod(d, &pos, &m.next_seq) ||
      !GetPod(d, &pos, &m.fired_until) || !GetPod(d, &pos, &num_partitions)) {
    return false;
  }
  std::unordered_map<uint64_t, nfa::StoredEvent*> events_by_seq;
  bool ok = true;
  m.partitions.assign(num_partitions, Partition{});
  ahead_limit_.assign(num_partitions, INT64_MAX);
  for (Partition& p : m.partitions) {
    uint8_t seen;
    uint32_t n;
    if (!GetPod(d, &pos, &seen) || !GetPod(d, &pos, &p.max_ts) || !GetPod(d, &pos, &n)) {
      ok = false;
      break;
    }
    p.seen = seen != 0;
    if (p.seen) SetAheadLimit(static_cast<uint32_t>(&p - m.partitions.data()), p.max_ts);
    for (uint32_t i = 0; i < n && ok; ++i) {
      nfa::StoredEvent* e;
      ok = nfa::RestoreEvent(d, &pos, m.events, events_by_seq, &e);
      if (ok) {
        m.events.Ref(e);
        p.reorder.push(e);
      }
    }
  }
  uint32_t num_programs = 0;
  ok = ok && GetPod(d, &pos, &num_programs);
  for (uint32_t i = 0; i < num_programs && ok; ++i) {
    std::string_view name;
    uint32_t num_keys;
    if (!GetStr(d, &pos, &name) || !GetPod(d, &pos, &num_keys)) {
      ok = false;
      break;
    }
    uint32_t program = 0;
    while (program < m.runtimes.size() && m.runtimes[program].program->name != name) ++program;
    if (program == m.runtimes.size()) {
      ok = false;  // a pattern the snapshot has and this engine does not
      break;
    }
    ProgramRuntime& rt = m.runtimes[program];
    for (uint32_t k = 0; k < num_keys && ok; ++k) {
      std::string_view key_bytes, key_json;
      if (!GetStr(d, &pos, &key_bytes) || !GetStr(d, &pos, &key_json)) {
        ok = false;
        break;
      }
      uint64_t hash = KeyTable::Hash(key_bytes);
      if (rt.keys.Find(hash, key_bytes) != KeyTable::kNone) {
        ok = false;  // the same key twice
        break;
      }
      uint32_t index = m.InsertKey(program, hash, key_bytes);
      KeyEntry& entry = rt.keys.entry(index);
      entry.key_json.assign(key_json);
      size_t used = 0;
      ok = nfa::RestoreKeyState(d.substr(pos), entry.state, m.buffer, events_by_seq, &used);
      pos += used;
      if (ok) m.Schedule(program, index);
    }
  }
  for (auto& [seq, e] : events_by_seq) m.events.Unref(e);  // drop the restore references
  return ok && pos == d.size();
}

// Persistence.

void Engine::StartTracking() {
  Impl& m = *impl_;
  m.tracking = true;
  // Everything is written again: every key, and every event (the store may lack any of
  // them: a store started afresh, or one whose changelog holds records of checkpoints
  // never committed, which the next checkpoint overwrites). What the store is known to
  // hold (KeyEntry::persisted, StoredEvent::persisted) stays known, so that a key or
  // event that ends before that checkpoint is still deleted.
  m.rewrite_events = true;
  m.dirty.clear();
  for (uint32_t p = 0; p < m.runtimes.size(); ++p) {
    auto& entries = m.runtimes[p].keys.entries();
    for (uint32_t k = 0; k < entries.size(); ++k) {
      KeyEntry& entry = entries[k];
      entry.dirty = entry.live;
      if (entry.live) m.dirty.push_back({p, k});
    }
  }
}

bool Engine::tracking() const { return impl_->tracking; }

size_t Engine::ChangedKeys() const { return impl_->dirty.size() + impl_->gone_count; }

bool Engine::HasChanges() const {
  const Impl& m = *impl_;
  return !m.dirty.empty() || m.gone_count > 0 || m.events.has_forgotten();
}

void Engine::CollectChanges(StateSink& sink) {
  Impl& m = *impl_;
  for (size_t i = 0; i < m.gone_count; ++i) {
    sink.DeleteKey(*m.gone_keys[i].first, m.gone_keys[i].second);
    m.gone_keys[i].first.reset();
  }
  m.gone_count = 0;
  auto put_event = [&sink](nfa::StoredEvent& e) {
    sink.PutEvent(e);
    e.persisted = true;
  };
  if (m.rewrite_events) {
    m.rewrite_events = false;
    m.events.ForEachLiveMutable(put_event);
  }
  std::string& record = m.record_scratch;
  for (const KeyRef& ref : m.dirty) {
    ProgramRuntime& rt = m.runtimes[ref.program];
    KeyEntry& entry = rt.keys.entry(ref.entry);
    if (!entry.live || !entry.dirty) continue;  // ended (DeleteKey above), or listed twice
    entry.dirty = false;
    entry.persisted = true;
    record.clear();
    nfa::SerializeKeyRefs(entry.state, m.buffer, m.node_order, record, put_event);
    sink.PutKey(*rt.program, entry.key_bytes, entry.key_json, record);
  }
  m.dirty.clear();
  for (Partition& p : m.partitions) {
    for (nfa::StoredEvent* e : p.reorder.items()) {
      if (!e->persisted) put_event(*e);
    }
  }
  m.events.TakeForgotten([&sink](uint64_t seq) { sink.DeleteEvent(seq); });
}

void Engine::SaveClock(std::string& out) const {
  const Impl& m = *impl_;
  PutPod<uint8_t>(out, kClockFormat);
  PutPod<uint64_t>(out, m.next_seq);
  PutPod<int64_t>(out, m.fired_until);
  PutPod<uint32_t>(out, static_cast<uint32_t>(m.partitions.size()));
  for (const Partition& p : m.partitions) {
    PutPod<uint8_t>(out, (p.seen ? 1 : 0) | (p.declared ? 2 : 0) | (p.idle ? 4 : 0));
    PutPod<int64_t>(out, p.max_ts);
    PutPod<uint32_t>(out, static_cast<uint32_t>(p.reorder.size()));
    for (const nfa::StoredEvent* e : p.reorder.items()) PutPod<uint64_t>(out, e->id.seq);
  }
  PutPod<uint32_t>(out, static_cast<uint32_t>(m.stream_names.size()));
  for (const std::string& name : m.stream_names) PutStr(out, name);
  PutPod<uint32_t>(out, m.schema->size());
  for (const nfa::FieldPath& path : m.schema->paths()) PutStr(out, path.text);
}

bool Engine::LoadClock(std::string_view d, std::string* error, Reparse reparse, void* reparse_context) {
  Impl& m = *impl_;
  auto fail = [error](std::string what) {
    *error = "engine clock: " + what;
    return false;
  };
  size_t pos = 0;
  uint8_t format;
  uint32_t num_partitions;
  if (!GetPod(d, &pos, &format)) return fail("empty");
  if (format != kClockFormat) return fail("unknown format " + std::to_string(format));
  m.loading = std::make_unique<Impl::Loading>();
  Impl::Loading& load = *m.loading;
  if (!GetPod(d, &pos, &m.next_seq) || !GetPod(d, &pos, &m.fired_until) || !GetPod(d, &pos, &num_partitions) ||
      num_partitions > d.size()) {
    return fail("truncated");
  }
  m.partitions.assign(num_partitions, Partition{});
  ahead_limit_.assign(num_partitions, INT64_MAX);
  load.reorder.resize(num_partitions);
  for (uint32_t i = 0; i < num_partitions; ++i) {
    Partition& p = m.partitions[i];
    uint8_t flags;
    uint32_t n;
    if (!GetPod(d, &pos, &flags) || !GetPod(d, &pos, &p.max_ts) || !GetPod(d, &pos, &n) || n > d.size() / 8) {
      return fail("truncated (partition " + std::to_string(i) + ")");
    }
    p.seen = (flags & 1) != 0;
    p.declared = (flags & 2) != 0;
    p.idle = (flags & 4) != 0;
    if (p.seen) SetAheadLimit(i, p.max_ts);
    load.reorder[i].resize(n);
    for (uint64_t& seq : load.reorder[i]) {
      if (!GetPod(d, &pos, &seq)) return fail("truncated (reorder buffer " + std::to_string(i) + ")");
    }
  }
  uint32_t num_streams, num_slots;
  if (!GetPod(d, &pos, &num_streams) || num_streams > d.size()) return fail("truncated (streams)");
  for (uint32_t i = 0; i < num_streams; ++i) {
    std::string_view name;
    if (!GetStr(d, &pos, &name)) return fail("truncated (streams)");
    load.stream_of.push_back(StreamId(name));  // events name their stream by the stored id
  }
  if (!GetPod(d, &pos, &num_slots) || num_slots > d.size()) return fail("truncated (schema)");
  std::unordered_map<std::string_view, uint32_t> current;
  for (uint32_t s = 0; s < m.schema->size(); ++s) current.emplace(m.schema->path(s).text, s);
  std::vector<uint8_t> covered(m.schema->size(), 0);
  load.same_schema = num_slots == m.schema->size();
  load.slot_of.assign(num_slots, -1);
  for (uint32_t s = 0; s < num_slots; ++s) {
    std::string_view path;
    if (!GetStr(d, &pos, &path)) return fail("truncated (schema)");
    auto it = current.find(path);
    if (it != current.end()) {
      load.slot_of[s] = it->second;
      covered[it->second] = 1;
    }
    if (it == current.end() || it->second != s) load.same_schema = false;
  }
  if (pos != d.size()) return fail("trailing bytes");
  for (uint8_t c : covered) load.reparse_needed |= c == 0;
  load.reparse = reparse;
  load.reparse_context = reparse_context;
  return true;
}

bool Engine::LoadEvent(std::string_view record, std::string* error) {
  Impl& m = *impl_;
  Impl::Loading& load = *m.loading;
  size_t pos = 0;
  nfa::StoredEvent* e = nullptr;
  if (!nfa::RestoreNewEvent(record, &pos, m.events, &e)) {
    *error = "truncated or malformed event record";
    return false;
  }
  if (pos != record.size() || !load.events.Append(e->id.seq, e)) {
    *error = pos != record.size() ? "truncated or malformed event record"
                                  : "event " + std::to_string(e->id.seq) + " stored twice or out of order";
    m.events.Unref(e);
    return false;
  }
  e->persisted = true;
  if (e->stream >= load.stream_of.size()) {
    *error = "event " + std::to_string(e->id.seq) + " names stream " + std::to_string(e->stream) +
             ", which the clock does not";
    return false;
  }
  e->stream = load.stream_of[e->stream];
  if (load.same_schema) return true;
  if (load.reparse_needed && load.reparse != nullptr) {
    // Parsing sets every field from the payload: keep the stored identity.
    const nfa::EventId id = e->id;
    const uint64_t position = e->position, offset = e->offset;
    const uint32_t partition = e->partition, stream = e->stream;
    std::string why;
    if (!load.reparse(load.reparse_context, *e, &why)) {
      *error = "event " + std::to_string(id.seq) + " no longer parses: " + why;
      return false;
    }
    e->id = id;
    e->position = position;
    e->offset = offset;
    e->partition = partition;
    e->stream = stream;
    return true;
  }
  // Move the slot values to the current schema's slots (fields no longer read go).
  std::vector<nfa::Value> moved(m.schema->size(), nfa::Value::Missing());
  for (size_t s = 0; s < e->slots.size() && s < load.slot_of.size(); ++s) {
    if (load.slot_of[s] >= 0) moved[load.slot_of[s]] = e->slots[s];
  }
  e->slots = std::move(moved);  // string values still point into e->strings
  return true;
}

bool Engine::LoadKey(uint32_t program, std::string_view key_bytes, std::string_view key_json,
                     std::string_view record, std::string* error) {
  Impl& m = *impl_;
  ProgramRuntime& rt = m.runtimes[program];
  uint64_t hash = KeyTable::Hash(key_bytes);
  if (rt.keys.Find(hash, key_bytes) != KeyTable::kNone) {
    *error = "key stored twice";
    return false;
  }
  nfa::KeyState state;
  if (!nfa::RestoreKeyRefs(record, state, m.buffer, m.loading->events, error)) return false;
  auto valid = [&](const nfa::RunVector& runs) {
    for (const nfa::Run& r : runs) {
      if (r.state >= rt.program->states.size()) return false;
    }
    return true;
  };
  if (!valid(state.runs) || !valid(state.completed)) {
    rt.nfa->Clear(state);
    *error = "key record names a state the pattern does not have";
    return false;
  }
  uint32_t index = m.InsertKey(program, hash, key_bytes);
  KeyEntry& entry = rt.keys.entry(index);
  entry.key_json.assign(key_json);
  entry.state.TakeFrom(state);
  entry.persisted = true;
  // Scheduled in FinishLoad, once every partition's time is back.
  return true;
}

bool Engine::FinishLoad(std::string* error, uint64_t* unreferenced) {
  Impl& m = *impl_;
  Impl::Loading& load = *m.loading;
  for (uint32_t p = 0; p < load.reorder.size(); ++p) {
    for (uint64_t seq : load.reorder[p]) {
      nfa::StoredEvent* e = load.events.Find(seq);
      if (e == nullptr) {
        *error = "reorder buffer of partition " + std::to_string(p) + " names event " + std::to_string(seq) +
                 ", which the store does not hold";
        return false;
      }
      m.events.Ref(e);
      m.partitions[p].reorder.push(e);
    }
  }
  uint64_t dropped = 0;
  load.events.ForEach([&](uint64_t, nfa::StoredEvent* e) {
    dropped += e->refs == 1 ? 1 : 0;
    m.events.Unref(e);  // the restore's reference (an event nothing took is forgotten)
  });
  if (unreferenced != nullptr) *unreferenced = dropped;
  m.loading.reset();
  // Keys restored with persisted = true and dirty = false: nothing to write until they
  // change. Tracking starts here: the next CollectChanges writes what changes from now.
  m.tracking = false;
  for (uint32_t p = 0; p < m.runtimes.size(); ++p) {
    auto& entries = m.runtimes[p].keys.entries();
    for (uint32_t k = 0; k < entries.size(); ++k) {
      if (entries[k].live) m.Schedule(p, k);
    }
  }
  m.tracking = true;
  m.dirty.clear();
  m.gone_count = 0;
  return true;
}

AlertList& Engine::alerts() { return impl_->alerts; }
std::vector<LimitedKey>& Engine::limited_keys() { return impl_->limited_keys; }

PatternStats Engine::pattern_stats(size_t program) const {
  const ProgramRuntime& rt = impl_->runtimes[program];
  return {rt.keys.size(), rt.live_runs};
}

PatternStats Engine::TestingOnlyRecount(size_t program) const {
  PatternStats s;
  for (const KeyEntry& k : impl_->runtimes[program].keys.entries()) {
    if (!k.live) continue;
    if (!k.state.empty()) ++s.live_keys;
    s.live_runs += k.state.runs.size();
  }
  return s;
}

const Stats& Engine::stats() const {
  Impl& m = *impl_;
  m.stats.live_keys = 0;
  m.stats.live_runs = 0;
  for (const auto& rt : m.runtimes) {
    m.stats.live_keys += rt.keys.size();  // a key is erased when its state empties
    m.stats.live_runs += rt.live_runs;
  }
  m.stats.buffered = 0;
  for (const auto& p : m.partitions) m.stats.buffered += p.reorder.size();
  return m.stats;
}

}  // namespace tern::engine
