// The daemon's durable state: a state::PartitionStore per owned state partition,
// checkpoints written off the engine thread and produced to the partition's changelog,
// and restore on assignment from the local store or, when that is missing or not the
// committed checkpoint, from the changelog.
// Tested by tests/daemon/daemon_test.py (scenarios state_*) and tests/daemon/scaleout_test.py --state.
//
// IMPLEMENTATION
// The protocol (docs/state.md). The loop thread collects a partition's changes
// (state::PartitionStore::Collect, cost proportional to them) and queues them; the
// writer thread writes them in one synced WriteBatch, produces every record to the
// changelog (key: the store key; value: the framed record, null for a deletion; header
// tern-ckpt: the checkpoint number; the partition record last) and waits for the
// broker's acknowledgement. Then the checkpoint is durable: the loop commits the
// partition's offset at the checkpoint's position, once every message produced before
// it was collected is acknowledged, with metadata naming the checkpoint and the offset
// of its partition record in the changelog.
//
// On assignment the committed metadata says which checkpoint the group's offset belongs
// to. A local store holding exactly that checkpoint is loaded as it is. Otherwise the
// changelog is read from its start up to that partition record, applying checkpoints
// whole (a checkpoint whose partition record never arrived, from an owner that died
// while producing it, is left out), and the result is loaded. What lies after the
// committed checkpoint in the changelog belongs to no committed state: the first
// checkpoint after the open writes those records' keys again as the committed
// checkpoint has them (or deletes them), so that a later restore, which applies them
// on its way, ends right.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "connectors/kafka_conf.h"
#include "connectors/status.h"
#include "engine/engine.h"
#include "state/store.h"

namespace tern::connectors {

class Consumer;
class Producer;

struct CheckpointerOptions {
  std::string dir;                  // state.dir
  std::string bootstrap_servers;
  std::string group;                // kafka.group (the restore consumer's group is derived)
  Properties consumer_properties;   // for the restore consumer
  Properties producer_properties;   // for the changelog producer
  std::string changelog_prefix;     // resolved: never empty
};

// What a checkpointed partition's commit metadata says: the checkpoint its offset
// belongs to, and where that checkpoint's partition record is in the changelog.
struct CommittedCheckpoint {
  uint64_t checkpoint = 0;        // 0: none (never checkpointed)
  int64_t changelog_offset = -1;  // -1: not produced (no changelog)
};
std::string CheckpointMetadata(const CommittedCheckpoint& c);
bool ParseCheckpointMetadata(std::string_view metadata, CommittedCheckpoint* out);

// A checkpoint that is written and acknowledged (or failed).
struct DurableCheckpoint {
  uint32_t partition = 0;     // the caller's partition id
  uint64_t checkpoint = 0;
  int64_t position = -1;      // the input offset it continues at
  uint64_t seq_gate = 0;      // messages below this sequence number came before it
  int64_t changelog_offset = -1;
  state::Status status;       // not ok: nothing of it may be committed
  size_t bytes = 0;
  size_t changed_keys = 0;
  double collect_ms = 0;      // on the loop thread (wall time: the pause)
  double collect_cpu_ms = 0;  // the loop thread's CPU time in it (the rest: preempted, faulting)
  double write_ms = 0;        // store write plus changelog acknowledgement
};

// Created by the daemon when state.dir is set; lives as long as it.
// Thread: the daemon's loop thread for every public call; a writer thread of its own
// writes and produces. Locks: mu_ (the queue and the results).
class Checkpointer {
 public:
  static Result<std::unique_ptr<Checkpointer>> Create(CheckpointerOptions options);
  ~Checkpointer();  // writes what is queued, then stops

  // The changelog topic of a state partition's topic.
  std::string ChangelogTopic(std::string_view topic) const;

  struct Opened {
    bool restored = false;          // state was loaded (else the engine starts empty)
    bool from_changelog = false;
    bool seeded = false;            // a state `tern replay --kafka-partition` wrote: read from `position`
    uint64_t checkpoint = 0;
    int64_t position = -1;          // the checkpoint's input offset
    std::string extra;              // PartitionMeta::extra
    state::LoadReport report;
    uint64_t changelog_records = 0; // read while restoring
    double restore_ms = 0;
  };
  // On assignment: opens the partition's store and loads the committed checkpoint into
  // `engine` (programs added, no event yet). Not ok: the state could not be restored
  // (the message says why, naming partition and key); the engine is then unusable.
  // `skip_local`: restore from the changelog even if the local store has the checkpoint
  // (a second try after the local one proved damaged, state.on.corruption = changelog).
  state::Status Open(uint32_t id, const std::string& topic, int32_t partition, const CommittedCheckpoint& committed,
                     bool skip_local, engine::Engine& engine, engine::Engine::Reparse reparse,
                     void* reparse_context, Opened* out);
  bool has(uint32_t id) const { return stores_.count(id) > 0; }
  // Collects `id`'s changes now and queues them for writing. `position`: the input offset
  // the state continues at; `seq_gate`: the daemon's next message sequence number.
  void Checkpoint(uint32_t id, engine::Engine& engine, int64_t position, std::string extra, uint64_t seq_gate);
  // Checkpoints that became durable (or failed) since the last call, in order.
  void TakeDurable(std::vector<DurableCheckpoint>* out);
  // Waits until every queued checkpoint is written (revoke, shutdown).
  void Wait();
  // Forgets `id`'s store once the queued writes are done; its files stay for a quick
  // return.
  void Close(uint32_t id);

 private:
  struct Job {
    uint32_t id;
    std::shared_ptr<state::PartitionStore> store;
    std::unique_ptr<state::Checkpoint> checkpoint;
    std::string changelog_topic;
    int32_t changelog_partition;
    DurableCheckpoint result;
  };
  struct Open_ {
    std::shared_ptr<state::PartitionStore> store;
    std::string changelog_topic;
    int32_t partition = 0;
  };
  explicit Checkpointer(CheckpointerOptions options) : options_(std::move(options)) {}
  void WriterLoop();
  void WriteJob(Job& job);
  // A consumer outside the group for one changelog partition, and its watermarks.
  state::Status OpenChangelog(const std::string& topic, int32_t partition, std::unique_ptr<Consumer>* consumer,
                              int64_t* low, int64_t* high);
  // The keys of the changelog records at offsets `from` and later (records of checkpoints
  // never committed).
  state::Status ChangelogKeysFrom(const std::string& topic, int32_t partition, int64_t from,
                                  std::vector<std::string>* keys);
  // After loading (or starting empty), while `store` holds the committed checkpoint: the
  // next checkpoint writes the keys ChangelogKeysFrom finds again as `store` has them
  // (PartitionStore::RepairAtNextCheckpoint).
  void RepairChangelog(const std::string& name, const std::string& topic, int32_t partition, int64_t from,
                       state::PartitionStore& store);
  state::Status RestoreFromChangelog(state::PartitionStore& store, const std::string& topic, int32_t partition,
                                     const CommittedCheckpoint& committed, std::vector<std::string>* junk,
                                     uint64_t* records);

  CheckpointerOptions options_;
  std::unique_ptr<Producer> producer_;  // the writer thread's
  std::map<uint32_t, Open_> stores_;

  std::mutex mu_;
  std::condition_variable wake_;      // writer: a job or stop
  std::condition_variable done_;      // Wait: the queue emptied
  std::deque<Job> queue_;
  // Written checkpoints, for the next Collect to fill again (kSpareCheckpoints at most;
  // one past kSpareBytes, a full rewrite's, is freed instead).
  std::vector<std::unique_ptr<state::Checkpoint>> spare_;  // guarded by mu_
  static constexpr size_t kSpareCheckpoints = 4;
  static constexpr size_t kSpareBytes = 4u << 20;             // guarded by mu_
  size_t writing_ = 0;                // jobs taken, not finished; guarded by mu_
  std::vector<DurableCheckpoint> durable_;  // guarded by mu_
  bool stop_ = false;                 // guarded by mu_
  std::thread writer_;
  // Writer thread: delivery results of the job at hand.
  int64_t meta_offset_ = -1;
  Status delivery_error_;
};

}  // namespace tern::connectors
