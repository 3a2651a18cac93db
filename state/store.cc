// A state partition on RocksDB: load, collect a checkpoint, write it.
#include "state/store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/convenience.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

#include "base/printable.h"
#include "nfa/program.h"
#include "nfa/snapshot.h"

namespace tern::state {

namespace fs = std::filesystem;

struct PartitionStore::Db {
  std::unique_ptr<rocksdb::DB> db;
};


namespace {

Status Error(Errc code, std::string message) { return {code, std::move(message)}; }

Status FromRocks(const rocksdb::Status& s, const std::string& where) {
  if (s.ok()) return {};
  if (s.IsCorruption()) return Error(Errc::kCorrupt, where + ": " + s.ToString());
  return Error(Errc::kIo, where + ": " + s.ToString());
}

// RocksDB's info log (its LOG file), dropped. Writing it is where a full disk first
// bites (every open writes ~17 KB of options there), and Debian's librocksdb is built
// with assertions: a write to the LOG after a failed one aborts the process
// (WritableFileWriter::AssertFalseAndGetStatusForPrevError) instead of failing the
// open. Every error that matters comes back as a Status, with its message.
class NoInfoLog : public rocksdb::Logger {
 public:
  NoInfoLog() : rocksdb::Logger(rocksdb::InfoLogLevel::HEADER_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char*, va_list) override {}
  void Logv(const rocksdb::InfoLogLevel, const char*, va_list) override {}
  void LogHeader(const char*, va_list) override {}
};

constexpr size_t kWriteBufferBytes = 16 << 20;
constexpr size_t kFlushBytes = kWriteBufferBytes;  // PartitionStore::Write

rocksdb::Options DbOptions(bool create) {
  rocksdb::Options o;
  o.create_if_missing = create;
  o.info_log = std::make_shared<NoInfoLog>();
  // Small: an instance holds a store per owned partition.
  o.write_buffer_size = kWriteBufferBytes;
  o.max_write_buffer_number = 2;
  o.max_open_files = 256;
  o.paranoid_checks = true;
  // A damaged log record is an error, not the end of the log: the default (point in
  // time) would stop replaying the WAL at a flipped byte and open the store silently
  // one checkpoint back, or empty. An incomplete record at the very end (a checkpoint
  // whose write a crash cut short, never acknowledged) is still dropped.
  o.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  for (rocksdb::CompressionType c : rocksdb::GetSupportedCompressions()) {
    if (c == rocksdb::kLZ4Compression) o.compression = c;  // JSON payloads shrink well, cheaply
  }
  return o;
}

void PutLE32(std::string& out, uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }

PatternInfo InfoOf(const nfa::Program& p, const std::string& fingerprint) {
  PatternInfo info;
  info.name = p.name;
  info.fingerprint = fingerprint;
  info.within_ms = p.within_ms;
  info.state_names = p.state_names;
  for (const nfa::State& s : p.states) info.state_windows.push_back(s.window_ms);
  for (const nfa::StageInfo& s : p.stages) info.stage_names.push_back(s.name);
  return info;
}

// Writes an engine's changes into a checkpoint.
class Sink : public engine::StateSink {
 public:
  using Hashes = std::map<const nfa::Program*, HashedProgram>;
  Sink(Checkpoint* out, const Hashes* hashes) : out_(out), hashes_(hashes) {}
  void PutEvent(const nfa::StoredEvent& event) override {
    scratch_.clear();
    nfa::SerializeEvent(event, scratch_);
    value_.clear();
    Frame(scratch_, value_);
    out_->Put(EventKey(event.id.seq), value_);
  }
  void DeleteEvent(uint64_t seq) override { out_->Delete(EventKey(seq)); }
  void PutKey(const nfa::Program& pattern, std::string_view key_bytes, std::string_view key_json,
              std::string_view record) override {
    scratch_.clear();
    EncodeKey(key_json, record, scratch_);
    value_.clear();
    Frame(scratch_, value_);
    SetKey(pattern, key_bytes);
    out_->Put(key_, value_);
    ++keys_;
  }
  void DeleteKey(const nfa::Program& pattern, std::string_view key_bytes) override {
    SetKey(pattern, key_bytes);
    out_->Delete(key_);
    ++keys_;
  }
  size_t keys() const { return keys_; }

 private:
  uint64_t Hash(const nfa::Program& p) {
    auto it = hashes_->find(&p);
    if (it != hashes_->end()) return it->second.hash;
    // A program that has left the engine since (a key that ended before a reload).
    return FingerprintHash(nfa::Fingerprint(p));
  }
  // key_ = KeyKey(pattern, hash, key_bytes), in a reused buffer.
  void SetKey(const nfa::Program& pattern, std::string_view key_bytes) {
    if (&pattern != last_program_) {
      last_program_ = &pattern;
      prefix_ = PatternPrefix(pattern.name, Hash(pattern));
    }
    key_.assign(prefix_);
    key_.append(key_bytes);
  }
  Checkpoint* out_;
  const Hashes* hashes_;
  const nfa::Program* last_program_ = nullptr;
  std::string prefix_, key_;
  std::string scratch_, value_;
  size_t keys_ = 0;
};

}  // namespace

void Checkpoint::Put(std::string_view key, std::string_view value) {
  records_.push_back('p');
  PutLE32(records_, static_cast<uint32_t>(key.size()));
  records_.append(key);
  PutLE32(records_, static_cast<uint32_t>(value.size()));
  records_.append(value);
  ++puts_;
}

void Checkpoint::Delete(std::string_view key) {
  records_.push_back('d');
  PutLE32(records_, static_cast<uint32_t>(key.size()));
  records_.append(key);
  ++deletes_;
}

std::string PartitionDirName(std::string_view name) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : name) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '.' || c == '-' || c == '_') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  if (out.empty() || out == "." || out == "..") out = "%" + out;
  return out;
}

std::vector<std::string> ListPartitions(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_directory(ec) || !fs::exists(entry.path() / "CURRENT", ec)) continue;
    const std::string d = entry.path().filename().string();
    std::string name;
    for (size_t i = 0; i < d.size(); ++i) {
      if (d[i] == '%' && i + 2 < d.size() && std::isxdigit(static_cast<unsigned char>(d[i + 1])) &&
          std::isxdigit(static_cast<unsigned char>(d[i + 2]))) {
        name.push_back(static_cast<char>(std::stoi(d.substr(i + 1, 2), nullptr, 16)));
        i += 2;
      } else if (d[i] != '%') {
        name.push_back(d[i]);
      }
    }
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

PartitionStore::PartitionStore(std::string dir, std::string name)
    : name_(std::move(name)), path_((fs::path(dir) / PartitionDirName(name_)).string()), db_(std::make_unique<Db>()) {}

PartitionStore::~PartitionStore() = default;

std::unique_ptr<PartitionStore> PartitionStore::Open(const std::string& dir, const std::string& name,
                                                     Status* status) {
  std::unique_ptr<PartitionStore> store(new PartitionStore(dir, name));
  std::error_code ec;
  fs::create_directories(store->path_, ec);
  if (ec) {
    *status = Error(Errc::kIo, "state partition " + name + ": cannot create " + store->path_ + ": " + ec.message());
    return nullptr;
  }
  rocksdb::DB* db = nullptr;
  *status = FromRocks(rocksdb::DB::Open(DbOptions(true), store->path_, &db), "state partition " + name);
  if (!status->ok()) return nullptr;
  store->db_->db.reset(db);
  return store;
}

std::unique_ptr<PartitionStore> PartitionStore::OpenForRead(const std::string& dir, const std::string& name,
                                                            Status* status) {
  std::unique_ptr<PartitionStore> store(new PartitionStore(dir, name));
  rocksdb::DB* db = nullptr;
  *status = FromRocks(rocksdb::DB::OpenForReadOnly(DbOptions(false), store->path_, &db),
                      "state partition " + name);
  if (!status->ok()) return nullptr;
  store->db_->db.reset(db);
  return store;
}

Status PartitionStore::ReadMeta(PartitionMeta* meta) {
  std::string value;
  rocksdb::ReadOptions read;
  read.verify_checksums = true;
  rocksdb::Status s = db_->db->Get(read, kMetaKey, &value);
  if (s.IsNotFound()) return Error(Errc::kAbsent, "state partition " + name_ + ": no checkpoint");
  if (!s.ok()) return FromRocks(s, "state partition " + name_ + ", partition record");
  std::string_view payload;
  std::string error;
  *meta = PartitionMeta{};
  if (!Unframe(value, &payload, &error) || !DecodeMeta(payload, meta, &error)) {
    return Error(Errc::kCorrupt, "state partition " + name_ + ", partition record: " + error);
  }
  return {};
}

uint64_t PartitionStore::HashOf(const std::shared_ptr<const nfa::Program>& program) {
  auto it = hashes_.find(program.get());
  if (it != hashes_.end()) return it->second.hash;
  const uint64_t hash = FingerprintHash(nfa::Fingerprint(*program));
  hashes_[program.get()] = {program, hash};
  return hash;
}

Status PartitionStore::ScanImpl(std::string_view prefix, bool (*f)(void*, std::string_view, std::string_view),
                                void* context) {
  rocksdb::ReadOptions read;
  read.verify_checksums = true;
  std::unique_ptr<rocksdb::Iterator> it(db_->db->NewIterator(read));
  for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size())); it->Valid(); it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    if (key.substr(0, prefix.size()) != prefix) break;
    if (!f(context, key, std::string_view(it->value().data(), it->value().size()))) break;
  }
  return FromRocks(it->status(), "state partition " + name_);
}

Status PartitionStore::Load(engine::Engine& engine, const PartitionMeta& meta, LoadReport* report,
                            engine::Engine::Reparse reparse, void* reparse_context) {
  *report = LoadReport{};
  const std::string where = "state partition " + name_;
  std::string error;
  if (!engine.LoadClock(meta.clock, &error, reparse, reparse_context)) return Error(Errc::kCorrupt, where + ": " + error);

  Status failed;
  Status s = Scan("e", [&](std::string_view key, std::string_view value) {
    uint64_t seq = 0;
    std::string_view payload;
    if (!SplitEventKey(key, &seq)) {
      failed = Error(Errc::kCorrupt, where + ": malformed event key");
      return false;
    }
    if (!Unframe(value, &payload, &error) || !engine.LoadEvent(payload, &error)) {
      failed = Error(Errc::kCorrupt, where + ", event " + std::to_string(seq) + ": " + error);
      return false;
    }
    ++report->events;
    report->bytes += key.size() + value.size();
    return true;
  });
  if (!s.ok()) return s;
  if (!failed.ok()) return failed;

  const auto& programs = engine.programs();
  std::map<std::pair<std::string_view, uint64_t>, uint32_t> program_of;
  for (uint32_t p = 0; p < programs.size(); ++p) program_of[{programs[p]->name, HashOf(programs[p])}] = p;
  stored_patterns_.clear();
  s = Scan("k", [&](std::string_view key, std::string_view value) {
    std::string_view pattern, key_bytes, payload, key_json, refs;
    uint64_t hash = 0;
    if (!SplitKeyKey(key, &pattern, &hash, &key_bytes)) {
      failed = Error(Errc::kCorrupt, where + ": malformed key record key");
      return false;
    }
    auto program = program_of.find({pattern, hash});
    if (program == program_of.end()) {
      ++report->dropped_keys;  // a pattern that changed: the next Collect deletes it
      stored_patterns_[{std::string(pattern), hash}] = true;
      return true;
    }
    const std::string named = where + ", pattern " + std::string(pattern) + ", key ";
    if (!Unframe(value, &payload, &error) || !DecodeKey(payload, &key_json, &refs)) {
      if (error.empty()) error = "truncated key record";
      failed = Error(Errc::kCorrupt, named + Printable(std::string(key_bytes)) + " (encoded): " + error);
      return false;
    }
    if (!engine.LoadKey(program->second, key_bytes, key_json, refs, &error)) {
      failed = Error(Errc::kCorrupt, named + std::string(key_json) + ": " + error);
      return false;
    }
    ++report->keys;
    report->bytes += key.size() + value.size();
    return true;
  });
  if (!s.ok()) return s;
  if (!failed.ok()) return failed;
  if (!engine.FinishLoad(&error)) return Error(Errc::kCorrupt, where + ": " + error);
  for (const PatternInfo& info : meta.patterns) {
    if (program_of.count({info.name, FingerprintHash(info.fingerprint)}) == 0) {
      report->dropped_patterns.push_back(info.name);
    }
  }
  for (uint32_t p = 0; p < programs.size(); ++p) {
    stored_patterns_[{programs[p]->name, HashOf(programs[p])}] = true;
    report->partial_matches += engine.pattern_stats(p).live_runs;
  }
  checkpoint_ = meta.checkpoint;
  return {};
}

std::unique_ptr<Checkpoint> PartitionStore::Collect(engine::Engine& engine, PartitionMeta meta,
                                                    std::unique_ptr<Checkpoint> reuse) {
  std::unique_ptr<Checkpoint> checkpoint = reuse != nullptr ? std::move(reuse) : std::make_unique<Checkpoint>();
  checkpoint->puts_ = checkpoint->deletes_ = checkpoint->changed_keys_ = 0;
  checkpoint->records_.clear();  // its capacity stays
  checkpoint->id_ = ++checkpoint_;
  if (!engine.tracking()) engine.StartTracking();  // the first checkpoint: everything
  // First, so that what the engine writes below wins.
  std::string stored;
  for (const std::string& key : pending_repairs_) {
    rocksdb::Status got = db_->db->Get(rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()), &stored);
    if (got.ok()) {
      checkpoint->Put(key, stored);
    } else if (got.IsNotFound()) {
      checkpoint->Delete(key);
    } else {
      engine.StartTracking();  // unreadable now: write the whole state after it instead
    }
  }
  pending_repairs_.clear();
  // Versions of patterns no loaded program is (a reload changed them, or a load found
  // them changed): their keys go.
  std::set<std::pair<std::string, uint64_t>> current;
  meta.patterns.clear();
  for (const auto& program : engine.programs()) {
    const uint64_t hash = HashOf(program);
    current.insert({program->name, hash});
    meta.patterns.push_back(InfoOf(*program, nfa::Fingerprint(*program)));
  }
  for (const auto& [version, unused] : stored_patterns_) {
    if (current.count(version) > 0) continue;
    ScanImpl(
        PatternPrefix(version.first, version.second),
        [](void* c, std::string_view key, std::string_view) {
          static_cast<Checkpoint*>(c)->Delete(key);
          return true;
        },
        checkpoint.get());
  }
  stored_patterns_.clear();
  for (const auto& version : current) stored_patterns_[version] = true;

  Sink sink(checkpoint.get(), &hashes_);
  engine.CollectChanges(sink);
  std::erase_if(hashes_, [&](const auto& h) {
    return current.count({h.second.program->name, h.second.hash}) == 0;
  });
  checkpoint->changed_keys_ = sink.keys();
  meta.checkpoint = checkpoint->id_;
  meta.partition = name_;
  meta.clock.clear();
  engine.SaveClock(meta.clock);
  std::string payload, value;
  EncodeMeta(meta, payload);
  Frame(payload, value);
  checkpoint->Put(kMetaKey, value);
  return checkpoint;
}

Status PartitionStore::Write(const Checkpoint& checkpoint) {
  rocksdb::WriteBatch batch;
  checkpoint.ForEach([&](std::string_view key, const std::string_view* value) {
    if (value == nullptr) {
      batch.Delete(rocksdb::Slice(key.data(), key.size()));
    } else {
      batch.Put(rocksdb::Slice(key.data(), key.size()), rocksdb::Slice(value->data(), value->size()));
    }
  });
  rocksdb::WriteOptions write;
  write.sync = true;
  const std::string where = "state partition " + name_ + ", checkpoint " + std::to_string(checkpoint.id());
  Status s = FromRocks(db_->db->Write(write, &batch), where);
  // A batch larger than the write buffer stays in the write-ahead log until a flush, and
  // the next open replays it (seconds for a full first checkpoint of a big state, e.g.
  // tern replay --state before tern run): flush it to a table now.
  if (s.ok() && checkpoint.bytes() > kFlushBytes) s = FromRocks(db_->db->Flush(rocksdb::FlushOptions()), where);
  return s;
}

Status PartitionStore::Clear() {
  rocksdb::WriteOptions write;
  write.sync = true;
  Status s = FromRocks(db_->db->DeleteRange(write, db_->db->DefaultColumnFamily(), "a", "z"),
                       "state partition " + name_ + ": clear");
  if (s.ok()) {
    checkpoint_ = 0;
    stored_patterns_.clear();
  }
  return s;
}

}  // namespace tern::state
