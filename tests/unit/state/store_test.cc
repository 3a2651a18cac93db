// The state store against real compiled patterns and engines: a checkpoint written
// anywhere in a stream and loaded into a fresh engine continues it exactly; checkpoints
// hold only what changed; an event is stored once; a changed pattern's keys are dropped;
// the reorder buffer survives; damaged records are errors naming the partition and key
// (never a crash). Also engine::DescribeClock and nfa::DescribeKeyRefs (`tern state`).
#include <doctest/doctest.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "compiler/compile.h"
#include "engine/clock_view.h"
#include "engine/engine.h"
#include "engine/event_parser.h"
#include "nfa/snapshot.h"
#include "state/format.h"
#include "state/store.h"

namespace tern::state {
namespace {

namespace fs = std::filesystem;

constexpr char kPartition[] = "p-0";

// A fresh directory, removed with everything in it at the end of the scope.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "tern_store_test_XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::unique_ptr<engine::Engine> Make(const std::string& source, engine::Options options = {}) {
  auto engine = std::make_unique<engine::Engine>(options);
  DiagnosticSink sink;
  auto programs =
      compiler::CompileSource(std::make_shared<SourceFile>("t.tern", source), engine->schema(), sink);
  REQUIRE_MESSAGE(!sink.has_errors(), RenderAll(sink.diagnostics()));
  engine->AddPrograms(programs);
  return engine;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (!l.empty()) lines.push_back(l);
  }
  return lines;
}

// The alert, and where its bound events are (a restore keeps identity and offset).
std::string Describe(const engine::Alert& a) {
  std::string out = a.json;
  for (const engine::BoundEvent& b : a.bound) {
    out += " " + std::to_string(b.partition) + "/" + std::to_string(b.position) + "@" + std::to_string(b.offset);
  }
  return out;
}

void Drain(engine::Engine& engine, std::vector<std::string>& alerts) {
  for (const engine::Alert& a : engine.alerts()) alerts.push_back(Describe(a));
  engine.alerts().clear();
}

// Pushes lines [from, to): position i + 1, offset i + 101.
void Feed(engine::Engine& engine, const std::vector<std::string>& lines, size_t from, size_t to,
          std::vector<std::string>& alerts) {
  engine::EventParser parser(engine.schema(), "ts");
  const uint32_t stream = engine.StreamId("events");
  for (size_t i = from; i < to; ++i) {
    nfa::StoredEvent* e = engine.NewEvent();
    std::string error;
    REQUIRE_MESSAGE(parser.Parse(lines[i], *e, &error), error);
    e->position = i + 1;
    e->offset = i + 101;
    e->stream = stream;
    engine.Push(e);
    Drain(engine, alerts);
  }
}

void Finish(engine::Engine& engine, std::vector<std::string>& alerts) {
  engine.Finish();
  Drain(engine, alerts);
}

std::unique_ptr<PartitionStore> OpenStore(const std::string& dir) {
  Status status;
  auto store = PartitionStore::Open(dir, kPartition, &status);
  REQUIRE_MESSAGE(store != nullptr, status.message);
  return store;
}

// Collects a checkpoint of `engine` at input position `line` and writes it.
std::unique_ptr<Checkpoint> Save(PartitionStore& store, engine::Engine& engine, uint64_t line) {
  PartitionMeta meta;
  meta.settings = "lateness_ms=0";
  meta.positions.emplace_back("line", line);
  std::unique_ptr<Checkpoint> checkpoint = store.Collect(engine, std::move(meta));
  Status status = store.Write(*checkpoint);
  REQUIRE_MESSAGE(status.ok(), status.message);
  return checkpoint;
}

// Reads the last checkpoint and loads it into `engine`.
Status LoadInto(PartitionStore& store, engine::Engine& engine, LoadReport* report,
                PartitionMeta* meta_out = nullptr) {
  PartitionMeta meta;
  Status status = store.ReadMeta(&meta);
  if (!status.ok()) return status;
  status = store.Load(engine, meta, report);
  if (meta_out != nullptr) *meta_out = meta;
  return status;
}

// Every record of the store, by key.
std::vector<std::pair<std::string, std::string>> Records(PartitionStore& store, const std::string& prefix) {
  std::vector<std::pair<std::string, std::string>> out;
  Status status = store.Scan(prefix, [&](std::string_view key, std::string_view value) {
    out.emplace_back(std::string(key), std::string(value));
    return true;
  });
  REQUIRE_MESSAGE(status.ok(), status.message);
  return out;
}

// Runs `lines` whole, then cut at every point into three parts through the store
// (checkpoint, new engine, load; the second load is of an incremental checkpoint): the
// alerts must be the same. Returns how many cuts had events in the reorder buffer.
size_t CheckEverySplit(const std::string& pattern, const std::string& events, engine::Options options = {}) {
  const std::vector<std::string> lines = Lines(events);
  std::vector<std::string> whole;
  {
    auto reference = Make(pattern, options);
    Feed(*reference, lines, 0, lines.size(), whole);
    Finish(*reference, whole);
  }
  REQUIRE(!whole.empty());
  size_t buffered_cuts = 0;
  for (size_t cut = 0; cut <= lines.size(); ++cut) {
    CAPTURE(cut);
    const size_t cut2 = cut + (lines.size() - cut) / 2;
    TempDir dir;
    std::vector<std::string> got;
    {
      auto first = Make(pattern, options);
      auto store = OpenStore(dir.path());
      first->StartTracking();
      Feed(*first, lines, 0, cut, got);
      buffered_cuts += first->stats().buffered > 0 ? 1 : 0;
      Save(*store, *first, cut);
    }
    {
      auto second = Make(pattern, options);
      auto store = OpenStore(dir.path());
      LoadReport report;
      Status status = LoadInto(*store, *second, &report);
      REQUIRE_MESSAGE(status.ok(), status.message);
      CHECK(report.dropped_patterns.empty());
      Feed(*second, lines, cut, cut2, got);
      Save(*store, *second, cut2);
    }
    auto third = Make(pattern, options);
    auto store = OpenStore(dir.path());
    LoadReport report;
    Status status = LoadInto(*store, *third, &report);
    REQUIRE_MESSAGE(status.ok(), status.message);
    Feed(*third, lines, cut2, lines.size(), got);
    Finish(*third, got);
    auto joined = [](const std::vector<std::string>& v) {
      std::string out;
      for (const std::string& s : v) out += s + "\n";
      return out;
    };
    CHECK_MESSAGE(got == whole, "got:\n" << joined(got) << "whole:\n" << joined(whole));
  }
  return buffered_cuts;
}

constexpr char kPatterns[] = R"(
pattern pair {
  key k
  within 10s
  begin       a where t == "a"
  followed_by b where t == "b"
}
pattern absent_x {
  key k
  within 5s
  begin           a where t == "a"
  not_followed_by x where t == "x"
}
pattern funnel_timeout {
  key k
  within 8s
  begin       a where t == "a"
  followed_by x where t == "x"
  followed_by b where t == "b"
  on_timeout emit { last_id = id }
}
pattern held {
  key k
  within 30s
  skip past_last_event
  begin       a where t == "a"
  followed_by b where t == "b" and n == a.n
}
)";

constexpr char kEvents[] = R"(
{"id":1,"ts":1000,"k":"k1","t":"a","n":1}
{"id":2,"ts":2000,"k":"k2","t":"a","n":2}
{"id":3,"ts":2500,"k":"k1","t":"a","n":2}
{"id":4,"ts":3000,"k":"k1","t":"x","n":0}
{"id":5,"ts":4000,"k":"k2","t":"b","n":2}
{"id":6,"ts":4500,"k":"k1","t":"b","n":2}
{"id":7,"ts":6000,"k":"k3","t":"a","n":3}
{"id":8,"ts":9000,"k":"k1","t":"b","n":1}
{"id":9,"ts":12000,"k":"k3","t":"x","n":0}
{"id":10,"ts":13000,"k":"k2","t":"a","n":4}
{"id":11,"ts":16000,"k":"k3","t":"b","n":3}
{"id":12,"ts":25000,"k":"k2","t":"x","n":0}
)";

TEST_CASE("store: a checkpoint anywhere in the stream, loaded into a fresh engine, continues it") {
  CheckEverySplit(kPatterns, kEvents);
}

TEST_CASE("store: a key with dozens of nodes (the collect's node table grows) continues as it ran") {
  std::string events;
  for (int i = 1; i <= 90; ++i) {
    events += R"({"id":)" + std::to_string(i) + R"(,"ts":)" + std::to_string(i * 10) + R"(,"k":"k)" +
              std::to_string(i % 3 == 0 ? 2 : 1) + R"(","t":")" + (i % 40 == 0 ? "b" : i % 7 == 0 ? "x" : "a") +
              R"(","n":)" + std::to_string(i % 5) + "}\n";
  }
  CheckEverySplit(kPatterns, events.c_str());
}

TEST_CASE("store: the reorder buffer (lateness > 0) survives a checkpoint") {
  constexpr char kLate[] = R"(
{"id":1,"ts":1000,"k":"k1","t":"a","n":1}
{"id":2,"ts":3000,"k":"k2","t":"a","n":2}
{"id":3,"ts":2000,"k":"k1","t":"b","n":1}
{"id":4,"ts":2500,"k":"k2","t":"x","n":0}
{"id":5,"ts":6000,"k":"k1","t":"a","n":5}
{"id":6,"ts":4000,"k":"k2","t":"b","n":2}
{"id":7,"ts":5500,"k":"k1","t":"x","n":0}
{"id":8,"ts":9000,"k":"k1","t":"b","n":5}
{"id":9,"ts":8000,"k":"k3","t":"a","n":3}
{"id":10,"ts":15000,"k":"k3","t":"b","n":3}
)";
  engine::Options options;
  options.lateness_ms = 2500;
  CHECK(CheckEverySplit(kPatterns, kLate, options) > 0);

  // The clock lists the buffered events, and the store holds them.
  TempDir dir;
  auto engine = Make(kPatterns, options);
  auto store = OpenStore(dir.path());
  std::vector<std::string> alerts;
  Feed(*engine, Lines(kLate), 0, 6, alerts);
  const uint64_t buffered = engine->stats().buffered;
  REQUIRE(buffered > 0);
  Save(*store, *engine, 6);
  PartitionMeta meta;
  REQUIRE(store->ReadMeta(&meta).ok());
  engine::ClockView clock;
  std::string error;
  REQUIRE_MESSAGE(engine::DescribeClock(meta.clock, &clock, &error), error);
  REQUIRE(clock.partitions.size() == 1);
  CHECK(clock.partitions[0].seen);
  CHECK(clock.partitions[0].max_ts == 6000);
  CHECK(clock.partitions[0].buffered.size() == buffered);
  CHECK(clock.next_seq == 7);
  CHECK(clock.stream_names == std::vector<std::string>{"events"});
  for (uint64_t seq : clock.partitions[0].buffered) CHECK(Records(*store, EventKey(seq)).size() == 1);
}

// Two windows of two patterns closing at the same watermark (11000): their alerts come
// out in the same order after a restore as in one run (timers order equal deadlines by
// program and key, not by the heap's history, which a restore changes). A split of
// `tern replay --state` at lines 5, 6 or 7 of this stream used to swap them.
TEST_CASE("store: alert order at equal window ends survives a restore") {
  constexpr char kTie[] = R"(
pattern absent_x {
  key k
  within 5s
  begin           a where t == "a"
  not_followed_by x where t == "x"
}
pattern funnel_timeout {
  key k
  within 8s
  begin       a where t == "a"
  followed_by x where t == "x"
  followed_by b where t == "b"
  on_timeout emit { last_id = id }
}
)";
  constexpr char kEventsTie[] = R"(
{"id":1,"ts":1000,"k":"k1","t":"a"}
{"id":2,"ts":3000,"k":"k2","t":"a"}
{"id":3,"ts":2000,"k":"k1","t":"b"}
{"id":4,"ts":2500,"k":"k2","t":"x"}
{"id":5,"ts":6000,"k":"k1","t":"a"}
{"id":6,"ts":4000,"k":"k2","t":"b"}
{"id":7,"ts":5500,"k":"k1","t":"x"}
{"id":8,"ts":9000,"k":"k1","t":"b"}
{"id":9,"ts":8000,"k":"k3","t":"a"}
{"id":10,"ts":15000,"k":"k3","t":"b"}
)";
  engine::Options options;
  options.lateness_ms = 2500;
  CheckEverySplit(kTie, kEventsTie, options);
}

TEST_CASE("store: checkpoints are incremental") {
  constexpr char kChain[] = R"(
pattern chain {
  key user
  within 1h
  begin       a where t == "a"
  followed_by b where t == "b"
  followed_by c where t == "c"
}
)";
  TempDir dir;
  auto engine = Make(kChain);
  auto store = OpenStore(dir.path());
  engine->StartTracking();
  std::vector<std::string> lines, alerts;
  for (int u = 0; u < 50; ++u) {
    lines.push_back(R"({"ts":)" + std::to_string(1000 + u) + R"(,"user":"u)" + std::to_string(u) +
                    R"(","t":"a"})");
  }
  Feed(*engine, lines, 0, lines.size(), alerts);
  auto first = Save(*store, *engine, lines.size());
  CHECK(first->id() == 1);
  CHECK(first->changed_keys() == 50);
  CHECK(first->puts() == 50 + 50 + 1);  // keys, events, the partition record
  CHECK(first->deletes() == 0);

  // Nothing changed: the partition record alone.
  auto idle = Save(*store, *engine, lines.size());
  CHECK(idle->changed_keys() == 0);
  CHECK(idle->puts() == 1);
  CHECK(idle->deletes() == 0);

  // Two keys move on: two keys and their two new events.
  const size_t before = lines.size();
  lines.push_back(R"({"ts":2000,"user":"u3","t":"b"})");
  lines.push_back(R"({"ts":2001,"user":"u7","t":"b"})");
  lines.push_back(R"({"ts":2002,"user":"nobody","t":"b"})");  // binds nothing: not stored
  Feed(*engine, lines, before, lines.size(), alerts);
  auto second = Save(*store, *engine, lines.size());
  CHECK(second->id() == 3);
  CHECK(second->changed_keys() == 2);
  CHECK(second->puts() == 2 + 2 + 1);
  CHECK(second->deletes() == 0);
  CHECK(second->bytes() * 10 < first->bytes());
  CHECK(Records(*store, "e").size() == 52);

  // A key's windows close: it ends, and the events only it held go.
  lines.push_back(R"({"ts":5000000,"user":"u9","t":"x"})");
  Feed(*engine, lines, lines.size() - 1, lines.size(), alerts);
  CHECK(engine->stats().live_keys == 0);
  auto ended = Save(*store, *engine, lines.size());
  CHECK(ended->changed_keys() == 50);
  CHECK(ended->puts() == 1);
  CHECK(ended->deletes() == 50 + 52);
  CHECK(Records(*store, "k").empty());
  CHECK(Records(*store, "e").empty());
}

TEST_CASE("store: an event bound by two keys of two patterns is stored once") {
  constexpr char kTwo[] = R"(
pattern by_user {
  key user
  within 1h
  begin       a where t == "a"
  followed_by b where t == "b"
}
pattern by_card {
  key card
  within 1h
  begin       a where t == "a"
  followed_by b where t == "b"
}
)";
  TempDir dir;
  auto engine = Make(kTwo);
  auto store = OpenStore(dir.path());
  std::vector<std::string> alerts;
  Feed(*engine, Lines(R"({"ts":1,"user":"u1","card":"c1","t":"a"})"), 0, 1, alerts);
  auto checkpoint = Save(*store, *engine, 1);
  CHECK(checkpoint->changed_keys() == 2);
  CHECK(Records(*store, "k").size() == 2);
  CHECK(Records(*store, "e").size() == 1);

  // Both keys name that one event, and a fresh engine gets it back for both.
  auto loaded = Make(kTwo);
  LoadReport report;
  Status status = LoadInto(*store, *loaded, &report);
  REQUIRE_MESSAGE(status.ok(), status.message);
  CHECK(report.keys == 2);
  CHECK(report.events == 1);
  Feed(*loaded, Lines(R"({"ts":2,"user":"u1","card":"c1","t":"b"})"), 0, 1, alerts);
  CHECK(alerts.size() == 2);
}

TEST_CASE("store: a changed pattern's keys are dropped, an unchanged one continues") {
  constexpr char kV1[] = R"(
pattern changes {
  key k
  within 1h
  begin       a where t == "a"
  followed_by b where t == "b"
}
pattern stays {
  key k
  within 1h
  begin       a where t == "a"
  followed_by b where t == "b"
}
)";
  constexpr char kV2[] = R"(
pattern changes {
  key k
  within 1h
  begin       a where t == "a" and n > 0
  followed_by b where t == "b"
}
pattern stays {
  key k
  within 1h
  begin       a where t == "a"
  followed_by b where t == "b"
}
)";
  const std::vector<std::string> lines = Lines(R"(
{"ts":1,"k":"k1","t":"a","n":0}
{"ts":2,"k":"k2","t":"a","n":0}
{"ts":3,"k":"k1","t":"b","n":0}
{"ts":4,"k":"k2","t":"b","n":1}
)");
  TempDir dir;
  std::vector<std::string> alerts;
  {
    auto v1 = Make(kV1);
    auto store = OpenStore(dir.path());
    Feed(*v1, lines, 0, 2, alerts);
    Save(*store, *v1, 2);
  }
  auto v2 = Make(kV2);
  auto store = OpenStore(dir.path());
  LoadReport report;
  Status status = LoadInto(*store, *v2, &report);
  REQUIRE_MESSAGE(status.ok(), status.message);
  CHECK(report.dropped_patterns == std::vector<std::string>{"changes"});
  CHECK(report.dropped_keys == 2);
  CHECK(report.keys == 2);
  CHECK(v2->pattern_stats(0).live_keys == 0);
  CHECK(v2->pattern_stats(1).live_keys == 2);
  Feed(*v2, lines, 2, 4, alerts);
  REQUIRE(alerts.size() == 2);  // `stays` matches for both keys; `changes` started afresh
  for (const std::string& a : alerts) CHECK(a.find("\"stays\"") != std::string::npos);

  // The next checkpoint deletes the old version's keys.
  auto checkpoint = Save(*store, *v2, 4);
  CHECK(checkpoint->deletes() >= 2);
  const uint64_t old_hash = [&] {
    auto v1 = Make(kV1);
    return FingerprintHash(nfa::Fingerprint(*v1->programs()[0]));
  }();
  CHECK(Records(*store, PatternPrefix("changes", old_hash)).empty());
}

// Writes a store holding keys and events of kPatterns, closed on return.
void WriteValidStore(const std::string& dir) {
  auto engine = Make(kPatterns);
  auto store = OpenStore(dir);
  std::vector<std::string> alerts;
  Feed(*engine, Lines(kEvents), 0, 7, alerts);
  Save(*store, *engine, 7);
}

// Replaces the value of the first record whose key starts with `prefix` through
// RocksDB itself (the store closed); returns that key.
std::string Damage(const std::string& dir, const std::string& prefix,
                   const std::function<std::string(std::string)>& damage) {
  rocksdb::DB* raw = nullptr;
  const std::string path = (fs::path(dir) / PartitionDirName(kPartition)).string();
  rocksdb::Status s = rocksdb::DB::Open(rocksdb::Options(), path, &raw);
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  it->Seek(prefix);
  REQUIRE(it->Valid());
  std::string key = it->key().ToString();
  REQUIRE(key.compare(0, prefix.size(), prefix) == 0);
  const std::string value = damage(it->value().ToString());
  it.reset();
  REQUIRE(db->Put(rocksdb::WriteOptions(), key, value).ok());
  return key;
}

Status LoadFresh(const std::string& dir) {
  auto engine = Make(kPatterns);
  auto store = OpenStore(dir);
  LoadReport report;
  return LoadInto(*store, *engine, &report);
}

TEST_CASE("store: a truncated or bit-flipped record is an error naming the partition and key") {
  struct Case {
    const char* name;
    std::string prefix;
    std::function<std::string(std::string)> damage;
    const char* says;  // in the message
  };
  const std::vector<Case> cases = {
      {"truncated key record", "k", [](std::string v) { return v.substr(0, v.size() - 3); }, "checksum mismatch"},
      {"key record cut inside its header", "k", [](std::string v) { return v.substr(0, 3); }, "truncated record"},
      {"bit-flipped key record", "k",
       [](std::string v) {
         v[v.size() / 2] ^= 0x10;
         return v;
       },
       "checksum mismatch"},
      {"unknown format", "k",
       [](std::string v) {
         v[0] = 9;
         return v;
       },
       "record format 9"},
      {"bit-flipped event record", "e",
       [](std::string v) {
         v[v.size() - 2] ^= 0x01;
         return v;
       },
       "checksum mismatch"},
      {"truncated partition record", "m", [](std::string v) { return v.substr(0, v.size() / 2); },
       "checksum mismatch"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    TempDir dir;
    WriteValidStore(dir.path());
    const std::string key = Damage(dir.path(), c.prefix, c.damage);
    Status status = LoadFresh(dir.path());
    CHECK(status.code == Errc::kCorrupt);
    CHECK_MESSAGE(status.message.find(std::string("state partition ") + kPartition) != std::string::npos,
                  status.message);
    CHECK_MESSAGE(status.message.find(c.says) != std::string::npos, status.message);
    if (c.prefix == "k") {
      std::string_view pattern, key_bytes;
      uint64_t hash;
      REQUIRE(SplitKeyKey(key, &pattern, &hash, &key_bytes));
      CHECK_MESSAGE(status.message.find(", pattern " + std::string(pattern) + ", key ") != std::string::npos,
                    status.message);
    } else if (c.prefix == "e") {
      uint64_t seq = 0;
      REQUIRE(SplitEventKey(key, &seq));
      CHECK_MESSAGE(status.message.find(", event " + std::to_string(seq) + ":") != std::string::npos,
                    status.message);
    } else {
      CHECK_MESSAGE(status.message.find("partition record") != std::string::npos, status.message);
    }
  }
}

// A damaged payload framed with a valid checksum (a writer bug, or damage before
// framing): decoding must refuse it or restore something that runs on safely, never
// crash or half-restore. The damage goes in through a checkpoint of its own.
TEST_CASE("store: a record with a valid checksum but a malformed payload is refused") {
  TempDir dir;
  WriteValidStore(dir.path());
  auto store = OpenStore(dir.path());
  const std::vector<std::string> lines = Lines(kEvents);
  auto load_with = [&](const std::string& key, const std::string& value, bool* loaded) {
    Checkpoint damage;
    damage.Put(key, value);
    Status status = store->Write(damage);
    REQUIRE_MESSAGE(status.ok(), status.message);
    auto engine = Make(kPatterns);
    LoadReport report;
    status = LoadInto(*store, *engine, &report);
    *loaded = status.ok();
    if (status.ok()) {
      std::vector<std::string> alerts;  // whatever they are: no crash, no sanitizer report
      Feed(*engine, lines, 7, lines.size(), alerts);
      Finish(*engine, alerts);
    }
    return status;
  };
  for (const std::string prefix : {"k", "e"}) {
    for (const auto& [key, value] : Records(*store, prefix)) {
      CAPTURE(prefix);
      std::string_view payload;
      std::string error;
      REQUIRE(Unframe(value, &payload, &error));
      // Every proper prefix of the payload, re-framed: refused.
      for (size_t n = 0; n < payload.size(); ++n) {
        CAPTURE(n);
        std::string framed;
        Frame(payload.substr(0, n), framed);
        bool loaded = false;
        Status status = load_with(key, framed, &loaded);
        CHECK(status.code == Errc::kCorrupt);
        CHECK(status.message.find(std::string("state partition ") + kPartition) != std::string::npos);
      }
      // Every byte with a bit flipped, re-framed: refused, or restored and runs on.
      for (size_t at = 0; at < payload.size(); ++at) {
        for (const char bit : {'\x01', '\x80'}) {
          CAPTURE(at);
          CAPTURE(static_cast<int>(bit));
          std::string flipped(payload), framed;
          flipped[at] ^= bit;
          Frame(flipped, framed);
          bool loaded = false;
          Status status = load_with(key, framed, &loaded);
          if (!loaded) CHECK(status.code == Errc::kCorrupt);
        }
      }
      bool loaded = false;
      load_with(key, value, &loaded);
      REQUIRE(loaded);
      break;  // one record of each kind
    }
  }
}

TEST_CASE("store: DescribeKeyRefs reads what SerializeKeyRefs wrote") {
  TempDir dir;
  auto engine = Make(kPatterns);
  auto store = OpenStore(dir.path());
  std::vector<std::string> alerts;
  Feed(*engine, Lines(kEvents), 0, 4, alerts);  // k1: a(1) a(3) x(4); k2: a(2)
  Save(*store, *engine, 4);
  PartitionMeta meta;
  REQUIRE(store->ReadMeta(&meta).ok());
  size_t runs = 0, records = 0;
  for (const auto& [key, value] : Records(*store, "k")) {
    std::string_view pattern, key_bytes, payload, key_json, refs;
    uint64_t hash;
    std::string error;
    REQUIRE(SplitKeyKey(key, &pattern, &hash, &key_bytes));
    REQUIRE(Unframe(value, &payload, &error));
    REQUIRE(DecodeKey(payload, &key_json, &refs));
    nfa::KeyRefsView view;
    REQUIRE_MESSAGE(nfa::DescribeKeyRefs(refs, &view, &error), error);
    runs += view.runs.size();
    ++records;
    for (const nfa::RunRefsView& r : view.runs) {
      REQUIRE(!r.bindings.empty());
      // Oldest first: the first binding is the run's first event (seq = line here).
      CHECK(r.bindings.front().first == r.start.seq);
      CHECK(r.bindings.front().second == 0);
      for (size_t b = 1; b < r.bindings.size(); ++b) CHECK(r.bindings[b - 1].first < r.bindings[b].first);
    }
    if (pattern == "funnel_timeout" && key_json == "\"k1\"") {
      // a(1) then x(4) waits for b; a(3) then x(4) too; a(1) and a(3) may still take an x.
      bool chained = false;
      for (const nfa::RunRefsView& r : view.runs) {
        if (r.bindings.size() == 2) {
          chained = true;
          CHECK(r.bindings[1].first == 4);
          CHECK(r.prev_ts == 3000);
        }
      }
      CHECK(chained);
    }
    // Every proper prefix is refused cleanly.
    for (size_t n = 0; n < refs.size(); ++n) CHECK_FALSE(nfa::DescribeKeyRefs(refs.substr(0, n), &view, &error));
  }
  uint64_t live = 0;
  for (size_t p = 0; p < engine->programs().size(); ++p) live += engine->pattern_stats(p).live_runs;
  CHECK(runs == live);
  CHECK(records == engine->stats().live_keys);

  engine::ClockView clock;
  std::string error;
  for (size_t n = 0; n < meta.clock.size(); ++n) {
    CHECK_FALSE(engine::DescribeClock(meta.clock.substr(0, n), &clock, &error));
  }
  CHECK(engine::DescribeClock(meta.clock, &clock, &error));
  CHECK_FALSE(engine::DescribeClock(meta.clock + "x", &clock, &error));
  CHECK(error == "engine clock: trailing bytes");
}

TEST_CASE("store: OpenForRead sees the last checkpoint while the store is open for writing") {
  TempDir dir;
  auto engine = Make(kPatterns);
  auto writer = OpenStore(dir.path());
  std::vector<std::string> alerts;
  Feed(*engine, Lines(kEvents), 0, 3, alerts);
  Save(*writer, *engine, 3);
  Status status;
  auto reader = PartitionStore::OpenForRead(dir.path(), kPartition, &status);
  REQUIRE_MESSAGE(reader != nullptr, status.message);
  PartitionMeta meta;
  REQUIRE(reader->ReadMeta(&meta).ok());
  CHECK(meta.checkpoint == 1);
  CHECK(PositionOf(meta, "line", 0) == 3);
  CHECK(ListPartitions(dir.path()) == std::vector<std::string>{kPartition});
  // The writer goes on; the reader keeps the view it opened.
  Save(*writer, *engine, 3);
  REQUIRE(reader->ReadMeta(&meta).ok());
  CHECK(meta.checkpoint == 1);
}

TEST_CASE("store: a directory that cannot be created is an I/O error naming the partition") {
  TempDir dir;
  const std::string file = (fs::path(dir.path()) / "file").string();
  { std::ofstream(file) << "x"; }
  Status status;
  auto store = PartitionStore::Open((fs::path(file) / "state").string(), kPartition, &status);
  CHECK(store == nullptr);
  CHECK(status.code == Errc::kIo);
  CHECK_MESSAGE(status.message.find(std::string("state partition ") + kPartition) != std::string::npos,
                status.message);
  store = PartitionStore::OpenForRead((fs::path(dir.path()) / "absent").string(), kPartition, &status);
  CHECK(store == nullptr);
  CHECK(status.code != Errc::kOk);
}

}  // namespace
}  // namespace tern::state
