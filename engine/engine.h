// The engine: every loaded pattern, run per key over event time. Events go in
// (already parsed), alerts come out the moment they are final. Incremental:
// nothing assumes an end of input except Finish().
// Tested by tests/unit/engine/engine_test.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nfa/event.h"
#include "nfa/program.h"
#include "nfa/schema.h"

namespace tern::engine {

// What matching does with a late event (one older than its partition's watermark).
// Either way it is counted (Stats::late) and Push reports it, for the late output.
enum class LatePolicy {
  kMatch,  // matched at its arrival position (Tern's default; docs/language.md R9)
  kDrop,   // left out of matching, as Flink's CEP operator does
};

struct Options {
  int64_t lateness_ms = 0;  // watermark = max event time seen in the partition - lateness
  LatePolicy late = LatePolicy::kMatch;
  // How far ahead of the latest event time its partition has shown an event may be
  // (CheckTime); 0 = no bound. Relative to the partition, not the wall clock, so a
  // replay gives the same result whenever it runs and whatever era its file is from,
  // and the first event of a partition is always accepted. 365 days: well past any
  // gap in a live stream, well short of the usual absurd times (a year 2100 or 9999
  // placeholder, microseconds or nanoseconds read as milliseconds).
  int64_t max_ahead_ms = int64_t{365} * 86'400'000;
  // Programs keyed alike route events key first once there are this many of them
  // (one key lookup finds the programs holding state; start states are checked once
  // per group of alike ones); fewer are asked one by one whether an event concerns
  // them. Same alerts either way; 1 routes every program (tests).
  size_t route_min_programs = 4;
  // Match the events of all partitions in one event-time order: each event waits in its
  // partition's reorder buffer until the global watermark (the smallest partition
  // watermark, idle partitions left out) passes it, and the buffers release in event id
  // order across partitions, as Flink's CEP operator sorts by timestamp. For an engine
  // whose partitions are the sources of one key's events (a repartition partition, whose
  // keys get events from every input partition): its alerts are then those of one
  // stream in time order, whatever the interleaving of its sources. Without it (replay,
  // an input partition's engine) a partition's events are matched as its own watermark
  // passes them, at once with lateness 0.
  bool order_across_partitions = false;
  // The most partial matches one key may hold for one pattern; a new one past it drops
  // the oldest (counted in Stats::dropped_runs; the first drop of a key is reported in
  // limited_keys()). 0: no bound. Generous: a key legitimately holds a few partial
  // matches per event in its window; a thousand times more is a runaway (a pattern
  // without `within`, a key that never ends), which would otherwise grow without bound.
  size_t max_runs_per_key = 100'000;
  // A routed spec's start filter re-chooses which guard triggers each start group
  // from the first 1,024 events of every this many (StartFilter; tests make it small).
  uint32_t start_filter_sample_period = 1u << 20;
};

enum class AlertKind : uint8_t { kMatch, kTimeout };

// An input event an alert bound: where it came from.
struct BoundEvent {
  uint32_t partition = 0;  // input partition (nfa::StoredEvent::partition)
  uint64_t position = 0;   // identity (nfa::StoredEvent::position), what the alert id hashes
  uint64_t offset = 0;     // where to read it again (nfa::StoredEvent::offset)
};

struct Alert {
  uint32_t pattern = 0;       // index into Engine::programs()
  AlertKind kind = AlertKind::kMatch;
  int64_t start = 0;          // first bound event time
  int64_t end = 0;            // last bound event time (timeouts: when the window closed)
  std::string id;             // deterministic: pattern, key, kind, positions of bound events
  std::string key_json;       // the key as JSON (null, a value, or a list for multi-field keys)
  std::string json;           // the whole alert, one JSON object, no newline (spec §9)
  std::string_view to;        // the pattern's `to` destination; empty = default
  // The events the match bound, in binding order: reading every input partition
  // again from its oldest one (and the event that completed the match, or the
  // watermark that closed the window) produces the alert again (the daemon holds
  // its commits there until the alert is acknowledged).
  std::vector<BoundEvent> bound;
};

// The alerts produced since the caller last cleared them, in order. clear() keeps
// the Alert objects and their strings' capacity, so a warm engine writes alerts
// without allocating (a vector<Alert> would free every string on clear()).
class AlertList {
 public:
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  Alert* begin() { return slots_.data(); }
  Alert* end() { return slots_.data() + size_; }
  const Alert* begin() const { return slots_.data(); }
  const Alert* end() const { return slots_.data() + size_; }
  void clear() { size_ = 0; }
  // Room for n alerts before any allocation of slots.
  void reserve(size_t n) {
    if (slots_.size() < n) slots_.resize(n);
  }
  // The slot for the next alert: a used one (its fields hold an earlier alert's
  // values; the writer overwrites them all) or a new one.
  Alert& Append() {
    if (size_ == slots_.size()) slots_.emplace_back();
    return slots_[size_++];
  }

 private:
  std::vector<Alert> slots_;  // [0, size_) are the alerts; the rest spare
  size_t size_ = 0;
};

struct Stats {
  uint64_t events = 0;          // accepted events (late ones included)
  uint64_t late = 0;            // events older than their partition's watermark
  uint64_t matches = 0;
  uint64_t timeouts = 0;
  uint64_t live_keys = 0;       // (pattern, key) pairs holding partial matches
  uint64_t live_runs = 0;       // partial matches
  uint64_t buffered = 0;        // events held in the reorder buffer
  uint64_t dropped_runs = 0;    // partial matches dropped by Options::max_runs_per_key
};

// A key that first passed Options::max_runs_per_key (the caller logs it once).
struct LimitedKey {
  uint32_t pattern = 0;  // index into Engine::programs()
  std::string key_json;
};

// One loaded pattern's share of Stats::live_keys and Stats::live_runs.
struct PatternStats {
  uint64_t live_keys = 0;  // keys holding partial matches of the pattern
  uint64_t live_runs = 0;  // its partial matches
};

// Where a checkpoint writes what changed (the state store, state/, implements it).
// Engine::CollectChanges calls it on the engine thread; what it is handed is valid
// only during the call.
class StateSink {
 public:
  virtual ~StateSink() = default;
  // An event a key's partial matches or a reorder buffer hold, not written before.
  virtual void PutEvent(const nfa::StoredEvent& event) = 0;
  // A written event nothing holds any more.
  virtual void DeleteEvent(uint64_t seq) = 0;
  // A key whose partial matches or held matches changed (or are new): `record` is its
  // state (nfa::SerializeKeyRefs). The events it names were handed to PutEvent at some
  // checkpoint, this one included.
  virtual void PutKey(const nfa::Program& pattern, std::string_view key_bytes, std::string_view key_json,
                      std::string_view record) = 0;
  // A key written before that holds nothing any more.
  virtual void DeleteKey(const nfa::Program& pattern, std::string_view key_bytes) = 0;
};

// Thread: one engine thread. Locks: none.
class Engine {
 public:
  // An engine with a schema of its own.
  explicit Engine(Options options = {});
  // An engine on a schema it shares with others (the daemon runs one engine per state
  // partition, all on one schema, one EventParser and programs compiled once): the
  // programs added must be compiled against `schema`. Another user may add slots to the
  // schema at any time between events (slots are only ever added); events parsed before
  // simply lack the new slots, which read as missing.
  Engine(std::shared_ptr<nfa::Schema> schema, Options options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Programs are compiled against schema(); add them before the first event.
  nfa::Schema& schema();
  const std::shared_ptr<nfa::Schema>& shared_schema() const;
  void AddProgram(std::shared_ptr<const nfa::Program> program);
  // Adds several at once: the engine is rewired once, not once per program (each
  // rewiring rebuilds every program's Nfa: adding a hundred one by one costs a
  // hundred rebuilds).
  void AddPrograms(const std::vector<std::shared_ptr<const nfa::Program>>& programs);
  const std::vector<std::shared_ptr<const nfa::Program>>& programs() const;
  // Replaces the loaded programs (hot reload). A new program whose nfa::Fingerprint
  // equals a loaded one's keeps that one's partial matches; the others start with
  // none; the partial matches of programs no longer loaded are released. Compile the
  // new programs against schema() (slots only ever get added, so events already held
  // stay valid). Returns how many programs kept their partial matches.
  size_t ReplacePrograms(std::vector<std::shared_ptr<const nfa::Program>> programs);

  // Names an input stream (for `from`); the same name gives the same id.
  uint32_t StreamId(std::string_view name);

  // A cleared event record with one reference owned by the caller, to be filled by
  // the event parser (payload, slots, ts, position, partition, stream) and handed
  // to Push, or given back with Discard.
  nfa::StoredEvent* NewEvent();
  void Discard(nfa::StoredEvent* event);

  // Takes over the caller's reference. Returns true when the event was late (older
  // than its partition's watermark): it is counted, and matched at its arrival
  // position or dropped (Options::late). Alerts produced are appended to alerts().
  bool Push(nfa::StoredEvent* event);

  // False, with *error set, when an event of `partition` at time `ts` lies more than
  // Options::max_ahead_ms ahead of the latest event time the partition has shown: the
  // caller treats it as malformed (dead letter, not pushed), so one absurd time does
  // not carry the watermark years ahead and make every later event late. Always true
  // for a partition's first event. Inline: it runs per event, and the answer is one
  // comparison with the partition's limit, kept by Push.
  bool CheckTime(uint32_t partition, int64_t ts, std::string* error) const {
    if (partition < ahead_limit_.size() && ts > ahead_limit_[partition]) [[unlikely]] {
      return TooFarAhead(partition, ts, error);
    }
    return true;
  }

  // An input partition that exists but has sent nothing yet (a Kafka partition just
  // assigned): until its first event or MarkIdle it holds back the watermark window
  // timers fire against, as Flink holds back for a source split that has not emitted.
  // Partitions never declared count from their first event.
  void AddPartition(uint32_t partition);
  // An input partition with nothing to say for now (a Kafka partition with no new
  // messages): it stops holding back the watermark every window timer fires
  // against, until its next event. Alerts the advance produces go to alerts().
  void MarkIdle(uint32_t partition);
  // Partition `partition` has shown event time up to `max_ts` without an event for this
  // engine (the source partition of a repartitioned stream whose events went to other
  // engines, or a watermark-only record). The same as pushing an event at `max_ts` that
  // concerns no program: the partition's latest time rises (never falls) and CheckTime's
  // bound with it, it counts again if it was idle (unless `max_ts` is late, which changes
  // nothing), its reorder buffer releases what its watermark now allows, and window
  // timers fire against the global watermark (alerts go to alerts()). A later event of
  // the partition older than max_ts - lateness is late. Not counted in Stats::events.
  void AdvancePartition(uint32_t partition, int64_t max_ts);
  // Closes the windows that end at or before `wm`, as if the global watermark were at
  // least `wm`, without moving any partition's time: for an engine whose every partition
  // is idle, `wm` is the time of the instance's other partitions. Alerts go to alerts().
  // Not sticky: the timers fire now, and the watermark the engine fires against goes
  // back to its own (the smallest partition watermark) at its next event, AdvancePartition
  // or MarkIdle; until then a partial match whose window ends at or before `wm` closes
  // as soon as it is made (Schedule: the fired-until mark is `wm` meanwhile). Its
  // partitions' later events are not late for it, but the windows it closed stay closed
  // (a key's runs are then as a late event would find them). Reorder buffers release
  // nothing (their partitions' watermarks did not move).
  void AdvanceWatermark(int64_t wm);
  // The smallest offset (nfa::StoredEvent::offset) among the events a partition's
  // reorder buffer still holds (not yet matched), or UINT64_MAX: the daemon never
  // commits an input offset at or past it.
  uint64_t OldestHeldPosition(uint32_t partition) const;
  // Per input partition, the smallest offset (nfa::StoredEvent::offset, not the
  // position) of an event the engine still holds:
  // waiting in a reorder buffer, or bound in a live partial match (UINT64_MAX when
  // none). Reading a partition again from there rebuilds every partial match that
  // involves it, so the daemon commits no offset past it (at-least-once across a
  // restart or a move of the partition, before partial matches are persisted).
  // O(events held): call it at commit time, not per event.
  void OldestLivePositions(std::vector<uint64_t>* per_partition) const;
  // For an engine whose partitions all come through one log (a Kafka partition; offsets
  // comparable): the latest offset at or below `offset` from which reading again
  // rebuilds the state as it ran. A match of a pattern with `skip` discards partial
  // matches; a re-read that starts after its first event and at or before its last
  // would bring back the partial matches that began inside it without the match that
  // discarded them (and they would complete matches that never were), so such a start
  // moves back to the match's first event. With Options::order_across_partitions it
  // also moves back to a cut: an offset such that no event before it is later (in
  // event-time order) than an event from it on, so the re-read matches those events in
  // the order they ran (an `a` read again without the later-time, earlier-offset `b`
  // that ended its partial match would complete `a not_followed_by b`). Sources that
  // lag one another can leave no cut for a while: the commit then waits (a durable
  // state checkpoint does not, docs/state.md). Apply it to the offset about to be
  // committed (after OldestLivePositions and the caller's own holds).
  uint64_t RereadPoint(uint64_t offset) const;
  // Offsets below `offset` will never be read again (it was committed): the matches
  // that ended before it and the cuts below it stop constraining RereadPoint.
  void ForgetRereadBefore(uint64_t offset);

  // End of input: the watermark goes to +infinity; buffered events are processed,
  // every window closes (timeouts, absence matches).
  void Finish();

  // The engine's whole state — partition watermarks, reorder buffers, and every
  // key's partial matches with the events they bound — as bytes. Restore loads it
  // into a fresh engine that has the same patterns (matched by name), after which
  // the two behave identically. The persistence issue writes this per key.
  void Snapshot(std::string& out) const;
  bool Restore(std::string_view data);

  // Persistence (state/ is the store; the engine only says what changed).
  //
  // Once tracking is on, every key whose state changes and every persisted event
  // released is remembered until the next CollectChanges. StartTracking marks everything
  // the engine holds as changed: the next checkpoint writes it all (keys the store holds
  // that end meanwhile are still deleted).
  void StartTracking();
  bool tracking() const;
  // Whether CollectChanges would hand over anything but the clock.
  bool HasChanges() const;
  // Keys changed or ended since the last CollectChanges (an upper bound: a key changed
  // and ended counts twice), in O(1).
  size_t ChangedKeys() const;
  // Hands what changed since the last call to `sink`: deleted keys, then new events
  // and changed keys, then deleted events. Cost: proportional to what changed (plus the
  // events the reorder buffers hold, which are few). Then the clock (SaveClock) gives
  // the rest of the state.
  void CollectChanges(StateSink& sink);
  // The engine's state outside its keys: sequence and timer positions, per input
  // partition its time and the seqs of the events its reorder buffer holds, the stream
  // names and the schema's field paths (so that events restore into another schema).
  // Versioned, little-endian. Small: O(partitions + buffered events).
  void SaveClock(std::string& out) const;

  // Restore, into an engine with its programs added and no event pushed yet: the
  // clock, then every event, then every key, then FinishLoad. Each returns false with
  // *error set on a malformed record; the engine is then unusable (drop it). `reparse`
  // (optional) refills an event's slots from its payload when the stored schema lacks
  // a field the current one reads (the daemon and replay pass their EventParser).
  using Reparse = bool (*)(void* context, nfa::StoredEvent& event, std::string* error);
  bool LoadClock(std::string_view clock, std::string* error, Reparse reparse = nullptr,
                 void* reparse_context = nullptr);
  bool LoadEvent(std::string_view record, std::string* error);
  bool LoadKey(uint32_t program, std::string_view key_bytes, std::string_view key_json,
               std::string_view record, std::string* error);
  // Puts the reorder buffers' events back and schedules every key's windows. Events no
  // key or buffer took are released (returned: how many).
  bool FinishLoad(std::string* error, uint64_t* unreferenced = nullptr);

  AlertList& alerts();
  // Keys that passed Options::max_runs_per_key for the first time since the caller last
  // cleared the list (each key once in its life).
  std::vector<LimitedKey>& limited_keys();
  // Counters, and the live keys and partial matches summed over the patterns: kept up to
  // date as keys change, so a call costs O(patterns + partitions), not O(keys).
  const Stats& stats() const;
  // The same for programs()[program] alone, in O(1).
  PatternStats pattern_stats(size_t program) const;
  // pattern_stats(program) counted afresh over every key, O(keys): tests check the
  // incremental counts against it.
  PatternStats TestingOnlyRecount(size_t program) const;

 private:
  struct Impl;
  // CheckTime's refusal, out of line (cold).
  bool TooFarAhead(uint32_t partition, int64_t ts, std::string* error) const;
  // Keeps ahead_limit_[partition] in step with the partition's latest event time.
  inline void SetAheadLimit(uint32_t partition, int64_t max_ts);

  std::unique_ptr<Impl> impl_;
  // Per partition, the latest event time CheckTime accepts (its latest time seen plus
  // Options::max_ahead_ms, saturated; INT64_MAX before its first event or when
  // max_ahead_ms is 0). As long as Impl::partitions; a partition past the end accepts any.
  std::vector<int64_t> ahead_limit_;
};

}  // namespace tern::engine
