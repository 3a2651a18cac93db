// One state partition's store: a RocksDB database of its own (DIR/<partition>/),
// loaded into an engine on start or assign, and written by checkpoints that hold only
// what changed. The records are also the changelog's (connectors/ produces them).
// Tested by tests/unit/state/store_test.cc and tests/state/.
//
// IMPLEMENTATION
// A database per partition, as Kafka Streams keeps one per task: a partition's state
// is loaded, checkpointed, dropped or shipped on its own, and a damaged one damages
// nothing else. A checkpoint is one WriteBatch (synced): deleted keys, new events,
// changed keys, released events and the partition record, so the store moves from
// one checkpoint to the next atomically and a crash leaves the last one whole.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "state/format.h"

namespace tern::state {

enum class Errc : uint8_t {
  kOk,
  kAbsent,    // no checkpoint in the store
  kCorrupt,   // a record that does not decode (checksum, truncation, unknown format)
  kIo,        // the file system refused (missing or unwritable directory, full disk)
};

struct Status {
  Errc code = Errc::kOk;
  std::string message;  // names the partition, and the pattern and key when one is at fault
  bool ok() const { return code == Errc::kOk; }
};

// The records of one checkpoint of one partition, in the order they apply: built on
// the engine thread (PartitionStore::Collect), written on another (Write), and
// produced to the changelog as they are (a null value: a deletion).
// Thread: built by the engine thread, then handed over whole. Locks: none.
class Checkpoint {
 public:
  uint64_t id() const { return id_; }  // PartitionMeta::checkpoint
  size_t puts() const { return puts_; }
  size_t deletes() const { return deletes_; }
  size_t changed_keys() const { return changed_keys_; }
  size_t bytes() const { return records_.size(); }  // keys and values, roughly what is written

  void Put(std::string_view key, std::string_view value);
  void Delete(std::string_view key);
  // f(std::string_view key, const std::string_view* value), value null for a deletion.
  template <typename F>
  void ForEach(F&& f) const;

 private:
  friend class PartitionStore;
  uint64_t id_ = 0;
  size_t puts_ = 0, deletes_ = 0, changed_keys_ = 0;
  std::string records_;  // op(1) key-size(4) key [value-size(4) value], little-endian
};

// What Load found.
struct LoadReport {
  uint64_t keys = 0;          // restored
  uint64_t partial_matches = 0;
  uint64_t events = 0;
  uint64_t bytes = 0;
  // Patterns the store holds state of that are not loaded with the same program
  // (changed or gone): their state is dropped (deleted by the next checkpoint).
  std::vector<std::string> dropped_patterns;
  uint64_t dropped_keys = 0;
};

// A program and its FingerprintHash (PartitionStore's cache).
struct HashedProgram {
  std::shared_ptr<const nfa::Program> program;
  uint64_t hash;
};

// Thread: one at a time — the engine thread loads and collects; the writer thread
// writes (Write may run while the engine thread collects the next one). Locks: none
// (RocksDB's own).
class PartitionStore {
 public:
  // Opens DIR/<name> (`name` is made a safe directory name), creating it when absent.
  static std::unique_ptr<PartitionStore> Open(const std::string& dir, const std::string& name, Status* status);
  // Opens read only (`tern state`).
  static std::unique_ptr<PartitionStore> OpenForRead(const std::string& dir, const std::string& name,
                                                     Status* status);
  ~PartitionStore();
  PartitionStore(const PartitionStore&) = delete;
  PartitionStore& operator=(const PartitionStore&) = delete;

  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }

  // The last checkpoint's partition record (kAbsent: none yet).
  Status ReadMeta(PartitionMeta* meta);
  // Loads the checkpoint described by `meta` (from ReadMeta) into `engine`, which has its
  // programs and has seen no event. Keys of patterns whose program changed are left out
  // (LoadReport::dropped_patterns) and deleted by the next checkpoint. Tracking starts:
  // the next Collect writes only what changes from here.
  Status Load(engine::Engine& engine, const PartitionMeta& meta, LoadReport* report,
              engine::Engine::Reparse reparse = nullptr, void* reparse_context = nullptr);
  // Engine thread: the changes since the last checkpoint (all the state the first time
  // after Load of nothing), with the partition record made of `meta` (checkpoint number,
  // patterns and clock filled in here).
  // `reuse`: a checkpoint written before, whose buffer is kept (no growth, no fresh
  // pages on the engine thread once warm); null: a new one.
  std::unique_ptr<Checkpoint> Collect(engine::Engine& engine, PartitionMeta meta,
                                      std::unique_ptr<Checkpoint> reuse = nullptr);
  // One WriteBatch, synced. Any thread; one write at a time per partition.
  Status Write(const Checkpoint& checkpoint);
  // Removes every record (before a restore from the changelog).
  Status Clear();
  // Records the next Collect deletes first (a changelog restore's leftovers).
  // Keys that records of uncommitted checkpoints in the changelog wrote (a crash after
  // producing them, before the commit): the next checkpoint writes each again as this
  // store holds it now (the committed checkpoint's value), or deletes it when it holds
  // none, so that the changelog read up to that checkpoint comes out as the store.
  // Costs one read per key, not a rewrite of the whole state.
  void RepairAtNextCheckpoint(std::vector<std::string> keys) {
    for (auto& k : keys) pending_repairs_.push_back(std::move(k));
  }

  // For `tern state`: calls f(key, value) for every record whose key starts with
  // `prefix`, in key order; stops at the first false.
  template <typename F>
  Status Scan(std::string_view prefix, F&& f);

 private:
  struct Db;
  PartitionStore(std::string dir, std::string name);
  Status ScanImpl(std::string_view prefix, bool (*f)(void*, std::string_view, std::string_view), void* context);
  uint64_t HashOf(const std::shared_ptr<const nfa::Program>& program);

  std::string name_;
  std::string path_;
  std::unique_ptr<Db> db_;
  uint64_t checkpoint_ = 0;  // the last one collected
  std::vector<std::string> pending_repairs_;  // RepairAtNextCheckpoint
  // Versions of patterns whose keys the store may hold, by name and fingerprint hash:
  // those no loaded program matches are deleted by the next Collect.
  std::map<std::pair<std::string, uint64_t>, bool> stored_patterns_;
  // FingerprintHash per program, holding the program so that its address is not reused
  // while listed (pruned to the loaded programs by every Collect).
  std::map<const nfa::Program*, HashedProgram> hashes_;
};

// The directory name of a partition name (letters, digits, '.', '-', '_' kept; any
// other byte as %XX).
std::string PartitionDirName(std::string_view name);
// The partitions a state directory holds (their names).
std::vector<std::string> ListPartitions(const std::string& dir);

template <typename F>
void Checkpoint::ForEach(F&& f) const {
  size_t pos = 0;
  auto read32 = [&] {
    uint32_t n;
    __builtin_memcpy(&n, records_.data() + pos, 4);
    pos += 4;
    return n;
  };
  while (pos < records_.size()) {
    const char op = records_[pos++];
    const uint32_t key_size = read32();
    std::string_view key(records_.data() + pos, key_size);
    pos += key_size;
    if (op == 'd') {
      f(key, static_cast<const std::string_view*>(nullptr));
      continue;
    }
    const uint32_t value_size = read32();
    std::string_view value(records_.data() + pos, value_size);
    pos += value_size;
    f(key, &value);
  }
}

template <typename F>
Status PartitionStore::Scan(std::string_view prefix, F&& f) {
  return ScanImpl(
      prefix,
      [](void* context, std::string_view key, std::string_view value) {
        return (*static_cast<std::remove_reference_t<F>*>(context))(key, value);
      },
      const_cast<void*>(static_cast<const void*>(&f)));
}

}  // namespace tern::state
