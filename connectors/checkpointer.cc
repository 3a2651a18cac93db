// Checkpoints of the daemon's state partitions: store, changelog, restore.
#include "connectors/checkpointer.h"

#include <spdlog/spdlog.h>

#include <time.h>

#include <charconv>
#include <filesystem>
#include <chrono>
#include <set>

#include "connectors/consumer.h"
#include "connectors/producer.h"

namespace tern::connectors {

namespace {
double ThreadCpuMs() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}
}  // namespace

namespace {

constexpr char kCheckpointHeader[] = "tern-ckpt";
constexpr char kMetadataPrefix[] = "tern-ckpt1 ";
constexpr int kChangelogFlushMs = 30000;
constexpr int kRestorePollMs = 100;
constexpr int kRestoreIdleLimitMs = 30000;  // no progress this long: the restore fails
constexpr size_t kRestoreSliceBytes = 8u << 20;  // records written to the store at once
constexpr int kWatermarksWaitMs = 10000;
constexpr uint64_t kMetaOpaque = 1;

double MsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

bool ParseU64(std::string_view s, uint64_t* v) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

std::string CheckpointMetadata(const CommittedCheckpoint& c) {
  return kMetadataPrefix + std::to_string(c.checkpoint) + " " + std::to_string(c.changelog_offset);
}

bool ParseCheckpointMetadata(std::string_view metadata, CommittedCheckpoint* out) {
  *out = CommittedCheckpoint{};
  if (!metadata.starts_with(kMetadataPrefix)) return false;
  metadata.remove_prefix(sizeof kMetadataPrefix - 1);
  const size_t space = metadata.find(' ');
  if (space == std::string_view::npos) return false;
  uint64_t checkpoint = 0, offset = 0;
  std::string_view offset_text = metadata.substr(space + 1);
  const bool none = offset_text == "-1";
  if (!ParseU64(metadata.substr(0, space), &checkpoint) || (!none && !ParseU64(offset_text, &offset))) return false;
  out->checkpoint = checkpoint;
  out->changelog_offset = none ? -1 : static_cast<int64_t>(offset);
  return true;
}

Result<std::unique_ptr<Checkpointer>> Checkpointer::Create(CheckpointerOptions options) {
  std::unique_ptr<Checkpointer> c(new Checkpointer(std::move(options)));
  ProducerOptions po;
  po.bootstrap_servers = c->options_.bootstrap_servers;
  po.properties = c->options_.producer_properties;
  Checkpointer* self = c.get();
  po.on_delivery = [self](const DeliveryReport& r) {
    if (!r.status.ok()) {
      if (self->delivery_error_.ok()) self->delivery_error_ = r.status;
      return;
    }
    if (r.opaque == kMetaOpaque) self->meta_offset_ = r.offset;
  };
  Result<std::unique_ptr<Producer>> producer = Producer::Create(std::move(po));
  if (!producer.ok()) return producer.status();
  c->producer_ = std::move(producer.value());
  // Connected (and, being idempotent, given its producer id) before the first checkpoint,
  // which would otherwise wait for it: commits start that much later after a start.
  c->producer_->ClusterId(2000);
  c->writer_ = std::thread([self] { self->WriterLoop(); });
  return c;
}

Checkpointer::~Checkpointer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
}

std::string Checkpointer::ChangelogTopic(std::string_view topic) const {
  return options_.changelog_prefix + "." + std::string(topic);
}

state::Status Checkpointer::Open(uint32_t id, const std::string& topic, int32_t partition,
                                 const CommittedCheckpoint& committed, bool skip_local,
                                 engine::Engine& engine, engine::Engine::Reparse reparse, void* reparse_context,
                                 Opened* out) {
  const auto start = std::chrono::steady_clock::now();
  *out = Opened{};
  const std::string name = topic + "-" + std::to_string(partition);
  state::Status status;
  std::shared_ptr<state::PartitionStore> store(state::PartitionStore::Open(options_.dir, name, &status));
  if (store == nullptr && skip_local && status.code == state::Errc::kCorrupt) {
    // A store RocksDB cannot even open: start it again (the changelog refills it).
    std::error_code ec;
    std::filesystem::remove_all(std::filesystem::path(options_.dir) / state::PartitionDirName(name), ec);
    spdlog::warn("state partition {}: local store removed ({})", name, status.message);
    store.reset(state::PartitionStore::Open(options_.dir, name, &status).release());
  }
  if (store == nullptr) return status;
  Open_ opened{store, ChangelogTopic(topic), partition};

  state::PartitionMeta meta;
  status = store->ReadMeta(&meta);
  if (committed.checkpoint == 0) {
    // A state `tern replay --kafka-partition` wrote (it has a "line" position): the
    // partition starts from it, at its offset (backfill).
    if (status.ok() && meta.checkpoint > 0 && state::PositionOf(meta, "line", UINT64_MAX) != UINT64_MAX &&
        state::PositionOf(meta, "offset", UINT64_MAX) != UINT64_MAX) {
      status = store->Load(engine, meta, &out->report, reparse, reparse_context);
      if (!status.ok()) return status;
      out->restored = true;
      out->seeded = true;
      out->checkpoint = meta.checkpoint;
      out->position = static_cast<int64_t>(state::PositionOf(meta, "offset", 0));
      // Its first checkpoint here writes everything (the changelog has none of it), and
      // deletes whatever the changelog holds (nothing of it was committed).
      engine.StartTracking();
      RepairChangelog(name, opened.changelog_topic, partition, 0, *store);
      out->restore_ms = MsSince(start);
      stores_[id] = std::move(opened);
      return {};
    }
    // The group never committed a checkpoint of this partition: whatever the local store
    // holds is not the group's state. Start empty at the committed offset.
    if (status.code != state::Errc::kAbsent) {
      spdlog::info("state partition {}: no checkpoint committed; local state (checkpoint {}) cleared", name,
                   status.ok() ? std::to_string(meta.checkpoint) : std::string("unreadable"));
      state::Status cleared = store->Clear();
      if (!cleared.ok()) return cleared;
    }
    engine.StartTracking();
    RepairChangelog(name, opened.changelog_topic, partition, 0, *store);
    stores_[id] = std::move(opened);
    return {};
  }
  const bool local = !skip_local && status.ok() && meta.checkpoint == committed.checkpoint;
  if (local) {
    status = store->Load(engine, meta, &out->report, reparse, reparse_context);
    if (status.ok()) {
      if (committed.changelog_offset >= 0) {
        RepairChangelog(name, opened.changelog_topic, partition, committed.changelog_offset + 1, *store);
      }
      out->restored = true;
      out->checkpoint = meta.checkpoint;
      out->position = static_cast<int64_t>(state::PositionOf(meta, "offset", 0));
      out->extra = meta.extra;
      out->restore_ms = MsSince(start);
      stores_[id] = std::move(opened);
      return {};
    }
    return status;  // the caller may try again with skip_local, on a fresh engine
  }
  if (status.code == state::Errc::kCorrupt && !skip_local) return status;
  if (committed.changelog_offset < 0) {
    return {state::Errc::kAbsent, "state partition " + name + ": checkpoint " + std::to_string(committed.checkpoint) +
                                      " is committed, but the local store " +
                                      (status.ok() ? "holds checkpoint " + std::to_string(meta.checkpoint)
                                                   : "has none (" + status.message + ")") +
                                      " and no changelog record of it is known"};
  }
  std::vector<std::string> junk;
  status = store->Clear();
  if (status.ok()) {
    status = RestoreFromChangelog(*store, opened.changelog_topic, partition, committed, &junk,
                                  &out->changelog_records);
  }
  if (status.ok()) status = store->ReadMeta(&meta);
  if (status.ok() && meta.checkpoint != committed.checkpoint) {
    status = {state::Errc::kCorrupt, "state partition " + name + ": the changelog ends at checkpoint " +
                                         std::to_string(meta.checkpoint) + ", not the committed " +
                                         std::to_string(committed.checkpoint)};
  }
  if (status.ok()) status = store->Load(engine, meta, &out->report, reparse, reparse_context);
  if (!status.ok()) return status;
  if (!junk.empty()) {
    // Records of checkpoints never committed follow the committed one in the changelog:
    // the next checkpoint writes their keys again as committed (or deletes them).
    store->RepairAtNextCheckpoint(std::move(junk));
  }
  out->restored = true;
  out->from_changelog = true;
  out->checkpoint = meta.checkpoint;
  out->position = static_cast<int64_t>(state::PositionOf(meta, "offset", 0));
  out->extra = meta.extra;
  out->restore_ms = MsSince(start);
  stores_[id] = std::move(opened);
  return {};
}

state::Status Checkpointer::RestoreFromChangelog(state::PartitionStore& store, const std::string& topic,
                                                 int32_t partition, const CommittedCheckpoint& committed,
                                                 std::vector<std::string>* junk, uint64_t* records) {
  const std::string where = "changelog " + topic + "[" + std::to_string(partition) + "]";
  std::unique_ptr<Consumer> consumer;
  int64_t low = 0, high = 0;
  state::Status opened = OpenChangelog(topic, partition, &consumer, &low, &high);
  if (!opened.ok()) return opened;
  if (committed.changelog_offset >= high || committed.changelog_offset < low) {
    return {state::Errc::kAbsent, where + " holds offsets " + std::to_string(low) + ".." + std::to_string(high) +
                                      ", not the committed checkpoint's record at " +
                                      std::to_string(committed.changelog_offset)};
  }
  TopicPartitionOffset from{topic, partition, low, ""};
  Status s = consumer->Assign(std::span<const TopicPartitionOffset>(&from, 1));
  if (!s.ok()) return {state::Errc::kIo, where + ": " + s.message()};

  // Every record up to the committed checkpoint's partition record, in offset order: the
  // last version of each key wins. Not grouped by checkpoint: a compacted changelog keeps
  // only the newest partition record (one key), so older checkpoints have none left.
  // Records of a checkpoint that was never committed (its writer died) lie among them;
  // the open after that death wrote their keys again as committed, further on
  // (RepairChangelog), so they end right. Written to the store in slices of
  // kRestoreSliceBytes.
  state::Checkpoint pending;
  bool applied_committed = false;
  std::set<std::string> after;  // keys of records past the committed checkpoint
  int64_t next = low;
  auto last_progress = std::chrono::steady_clock::now();
  MessageBatch batch;
  state::Status status;
  while (next < high && status.ok()) {
    s = consumer->Poll(kRestorePollMs, 4096, &batch);
    if (!s.ok()) return {state::Errc::kIo, where + ": " + s.message()};
    if (batch.empty()) {
      if (MsSince(last_progress) > kRestoreIdleLimitMs) {
        return {state::Errc::kIo, where + ": no records for " + std::to_string(kRestoreIdleLimitMs / 1000) +
                                      " s at offset " + std::to_string(next) + " of " + std::to_string(high)};
      }
      continue;
    }
    last_progress = std::chrono::steady_clock::now();
    for (const Message& m : batch) {
      if (m.offset() < next) continue;
      next = m.offset() + 1;
      ++*records;
      if (m.offset() > committed.changelog_offset) {
        after.emplace(m.key());
        continue;
      }
      const bool tombstone = m.value().data() == nullptr;
      if (tombstone) {
        pending.Delete(m.key());
      } else {
        pending.Put(m.key(), m.value());
      }
      if (m.offset() == committed.changelog_offset) applied_committed = m.key() == state::kMetaKey && !tombstone;
      if (pending.bytes() >= kRestoreSliceBytes || m.offset() == committed.changelog_offset) {
        status = store.Write(pending);
        pending = state::Checkpoint();
      }
    }
  }
  if (status.ok() && pending.bytes() > 0) status = store.Write(pending);
  if (!status.ok()) return status;
  if (!applied_committed) {
    return {state::Errc::kCorrupt, where + ": the committed checkpoint's record at " +
                                       std::to_string(committed.changelog_offset) + " is not a partition record"};
  }
  junk->assign(after.begin(), after.end());
  return {};
}

state::Status Checkpointer::OpenChangelog(const std::string& topic, int32_t partition,
                                          std::unique_ptr<Consumer>* consumer, int64_t* low, int64_t* high) {
  const std::string where = "changelog " + topic + "[" + std::to_string(partition) + "]";
  ConsumerOptions co;
  co.bootstrap_servers = options_.bootstrap_servers;
  co.group_id = options_.group + ".tern.restore";  // never joined: Assign only
  co.properties = options_.consumer_properties;
  Result<std::unique_ptr<Consumer>> made = Consumer::Create(std::move(co));
  if (!made.ok()) return {state::Errc::kIo, where + ": " + made.status().message()};
  *consumer = std::move(made.value());
  Status s = (*consumer)->QueryWatermarks(topic, partition, low, high, kWatermarksWaitMs);
  if (!s.ok()) return {state::Errc::kIo, where + ": " + s.message()};
  return {};
}

state::Status Checkpointer::ChangelogKeysFrom(const std::string& topic, int32_t partition, int64_t from,
                                              std::vector<std::string>* keys) {
  keys->clear();
  const std::string where = "changelog " + topic + "[" + std::to_string(partition) + "]";
  std::unique_ptr<Consumer> consumer;
  int64_t low = 0, high = 0;
  state::Status opened = OpenChangelog(topic, partition, &consumer, &low, &high);
  if (!opened.ok()) return opened;
  from = std::max(from, low);
  if (from >= high) return {};
  TopicPartitionOffset start{topic, partition, from, ""};
  Status s = consumer->Assign(std::span<const TopicPartitionOffset>(&start, 1));
  if (!s.ok()) return {state::Errc::kIo, where + ": " + s.message()};
  std::set<std::string> seen;
  int64_t next = from;
  auto last_progress = std::chrono::steady_clock::now();
  MessageBatch batch;
  while (next < high) {
    s = consumer->Poll(kRestorePollMs, 4096, &batch);
    if (!s.ok()) return {state::Errc::kIo, where + ": " + s.message()};
    if (batch.empty()) {
      if (MsSince(last_progress) > kRestoreIdleLimitMs) {
        return {state::Errc::kIo, where + ": no records at offset " + std::to_string(next)};
      }
      continue;
    }
    last_progress = std::chrono::steady_clock::now();
    for (const Message& m : batch) {
      if (m.offset() < next) continue;
      next = m.offset() + 1;
      seen.emplace(m.key());
    }
  }
  keys->assign(seen.begin(), seen.end());
  return {};
}

void Checkpointer::RepairChangelog(const std::string& name, const std::string& topic, int32_t partition,
                                   int64_t from, state::PartitionStore& store) {
  std::vector<std::string> keys;
  state::Status s = ChangelogKeysFrom(topic, partition, from, &keys);
  if (!s.ok()) {
    spdlog::warn("state partition {}: {}; records of uncommitted checkpoints there, if any, stay", name, s.message);
    return;
  }
  if (keys.empty()) return;
  spdlog::info("state partition {}: {} keys in {}[{}] from offset {} belong to no committed checkpoint; the "
               "next checkpoint writes them again as committed", name, keys.size(), topic, partition, from);
  store.RepairAtNextCheckpoint(std::move(keys));
}

void Checkpointer::Checkpoint(uint32_t id, engine::Engine& engine, int64_t position, std::string extra,
                              uint64_t seq_gate) {
  auto it = stores_.find(id);
  if (it == stores_.end()) return;
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = ThreadCpuMs();
  state::PartitionMeta meta;
  meta.positions.emplace_back("offset", static_cast<uint64_t>(position));
  meta.extra = std::move(extra);
  Job job;
  job.id = id;
  job.store = it->second.store;
  std::unique_ptr<state::Checkpoint> reuse;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!spare_.empty()) {
      reuse = std::move(spare_.back());
      spare_.pop_back();
    }
  }
  job.checkpoint = job.store->Collect(engine, std::move(meta), std::move(reuse));
  job.changelog_topic = it->second.changelog_topic;
  job.changelog_partition = it->second.partition;
  job.result.partition = id;
  job.result.checkpoint = job.checkpoint->id();
  job.result.position = position;
  job.result.seq_gate = seq_gate;
  job.result.bytes = job.checkpoint->bytes();
  job.result.changed_keys = job.checkpoint->changed_keys();
  job.result.collect_ms = MsSince(start);
  job.result.collect_cpu_ms = ThreadCpuMs() - cpu_start;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void Checkpointer::TakeDurable(std::vector<DurableCheckpoint>* out) {
  out->clear();
  std::lock_guard<std::mutex> lock(mu_);
  out->swap(durable_);
}

void Checkpointer::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [this] { return queue_.empty() && writing_ == 0; });
}

void Checkpointer::Close(uint32_t id) {
  // A queued write still holds the store open (RocksDB's lock): a partition lost and
  // assigned again at once would find it locked.
  Wait();
  stores_.erase(id);
}

void Checkpointer::WriterLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) {
      if (stop_) return;
      continue;
    }
    Job job = std::move(queue_.front());
    queue_.pop_front();
    ++writing_;
    lock.unlock();
    WriteJob(job);
    lock.lock();
    --writing_;
    durable_.push_back(std::move(job.result));
    if (spare_.size() < kSpareCheckpoints && job.checkpoint->bytes() <= kSpareBytes) {
      spare_.push_back(std::move(job.checkpoint));
    }
    if (queue_.empty() && writing_ == 0) done_.notify_all();
  }
}

void Checkpointer::WriteJob(Job& job) {
  const auto start = std::chrono::steady_clock::now();
  DurableCheckpoint& r = job.result;
  r.status = job.store->Write(*job.checkpoint);
  if (!r.status.ok()) return;
  meta_offset_ = -1;
  delivery_error_ = Status();
  char id_text[24];
  auto [end, ec] = std::to_chars(id_text, id_text + sizeof id_text, job.checkpoint->id());
  const Header header{kCheckpointHeader, std::string_view(id_text, end - id_text)};
  Status produced;
  job.checkpoint->ForEach([&](std::string_view key, const std::string_view* value) {
    if (!produced.ok()) return;
    const uint64_t opaque = key == state::kMetaKey ? kMetaOpaque : 0;
    for (;;) {
      produced = producer_->Produce(job.changelog_topic, key, value != nullptr ? *value : std::string_view(),
                                    std::span<const Header>(&header, 1), opaque, job.changelog_partition);
      if (produced.code() != Errc::kQueueFull) break;
      producer_->Poll(10);
    }
  });
  Status flushed = produced.ok() ? producer_->Flush(kChangelogFlushMs) : produced;
  if (flushed.ok() && !delivery_error_.ok()) flushed = delivery_error_;
  if (flushed.ok() && meta_offset_ < 0) flushed = Status::Error(Errc::kTimedOut, "no offset for the partition record");
  if (!flushed.ok()) {
    r.status = {state::Errc::kIo, "changelog " + job.changelog_topic + "[" + std::to_string(job.changelog_partition) +
                                      "], checkpoint " + std::to_string(job.checkpoint->id()) + ": " +
                                      flushed.message()};
    return;
  }
  r.changelog_offset = meta_offset_;
  r.write_ms = MsSince(start);
}

}  // namespace tern::connectors
