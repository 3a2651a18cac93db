// tern_state_bench: the durable state store (issue 15) on a real RocksDB on disk.
//   checkpoint  checkpoint size and time vs the number of changed keys, as the total
//               state grows (the cost must follow the changed keys, not the state);
//   recovery    time from start to the first processed record with a large store
//               (ReadMeta + Load into a fresh engine + one Push), cold page cache
//               when it can be dropped; peak RSS of the filled engine and of the load.
//   fill, recover: the two halves of `recovery`, each its own process (so that
//               each peak RSS is its own); `recovery` runs them as children.
//   changelog   restore from the Kafka changelog (librdkafka's mock broker in this
//               process): a full checkpoint produced as the daemon's Checkpointer writes
//               it, then restored into an empty state dir by a child process
//               (`changelog-restore`) through Checkpointer::Open, and through its steps
//               timed one by one; records/s, read vs store Write vs Load, first record.
// Tested by CTest state_bench_smoke (tiny sizes); figures in bench/results/*-state.md and
// bench/results/*-changelog-restore.md.
//
// IMPLEMENTATION
// One pattern keeps partial matches open: `a` events (v = 0) start them and only a
// `b` with a larger v completes them, which the fill never sends. Events are JSON lines (ts, k, type,
// v, pad to --payload bytes) parsed by the EventParser as `tern replay` does, so
// stored events have realistic payloads; event time advances 1 ms per 4 events, so
// nothing reaches the 1 h window. Fill: --per-key `a` events on every key, one pass
// over the keys per round. Touch (the changes between two checkpoints): one event on
// each of C keys taken along a fixed permutation of the keys (stride coprime with T),
// so successive rounds take keys not touched before as long as there are any:
//   a         an `a`: one more partial match (a key put and an event put);
//   miss      a `b` whose v fails `v > a.v`: the key's runs are stepped, nothing changes;
//   complete  a `b` that completes every partial match of the key: the key ends (a
//             key delete and its events' deletes);
//   reload    Engine::ReplacePrograms with the pattern compiled afresh (unchanged, so
//             it keeps its state), then `a` events as above.
// Timings are steady_clock around the calls, with the calling thread's CPU time and
// the minor page faults (first touches: costly on a VM); Collect runs on this (the
// engine) thread and Write is one synced WriteBatch, as tern replay and the daemon do.
#include <malloc.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/diagnostic.h"
#include "base/source.h"
#include "compiler/compile.h"
#include "connectors/checkpointer.h"
#include "connectors/consumer.h"
#include "connectors/mock_cluster.h"
#include "connectors/producer.h"
#include "engine/engine.h"
#include "engine/event_parser.h"
#include "nfa/program.h"
#include "state/format.h"
#include "state/store.h"

namespace {

namespace fs = std::filesystem;
using tern::engine::Engine;

constexpr char kPattern[] =
    "pattern p {\n"
    "  key    k\n"
    "  within 1h\n"
    "  begin       a where type == \"a\"\n"
    "  followed_by b where type == \"b\" and v > a.v\n"
    "}\n";

constexpr const char* kUsage =
    "usage: tern_state_bench checkpoint [--dir D] [--totals 10000,100000,1000000]\n"
    "                                   [--changed 100,1000,10000,100000] [--per-key 2]\n"
    "                                   [--reps 5] [--touch a|miss|complete|reload]\n"
    "                                   [--payload 128]\n"
    "       tern_state_bench recovery   [--dir D] [--keys 250000] [--per-key 4] [--runs 3]\n"
    "                                   [--payload 128] [--no-drop-caches] [--reuse]\n"
    "       tern_state_bench fill       --dir D [--keys N] [--per-key M] [--payload B]\n"
    "                                   [--after K]  (K incremental checkpoints of 1,000 keys)\n"
    "       tern_state_bench recover    --dir D [--breakdown | --scan-only] [--prefault MB]\n"
    "       tern_state_bench changelog  [--dir D] [--matches 10000,100000,1000000] [--per-key 4]\n"
    "                                   [--payload 128] [--runs 3] [--via checkpointer|steps|both]\n"
    "                                   [--linger 20] [--producer NAME=VALUE]... [--consumer NAME=VALUE]...\n"
    "                                   [--after K] [--after-keys 1000] [--no-hugepages] [--compacted]\n"
    "  checkpoint: per total T (keys), fill, a full checkpoint, then per changed count\n"
    "    C <= T, --reps rounds of touching C keys then Collect + Write; medians.\n"
    "  recovery: `fill` once (unless --reuse and the store exists), one `recover` (the\n"
    "    first open after the big first checkpoint replays it from RocksDB's log), then\n"
    "    --runs times each of `recover`, `recover` on huge pages (GLIBC_TUNABLES=\n"
    "    glibc.malloc.hugetlb=1, as tern run starts), `recover --breakdown`, `recover\n"
    "    --scan-only` and `recover --prefault` as child processes, dropping the page cache before each\n"
    "    (root only; else warm, said).\n"
    "  changelog: librdkafka's mock broker in this process; per size (partial matches),\n"
    "    fill, Collect the full checkpoint and produce it to a changelog topic as the\n"
    "    Checkpointer's writer does (producer: linger.ms --linger, then --producer settings),\n"
    "    then K incremental checkpoints of --after-keys keys (each its own flush); then --runs\n"
    "    times per --via a child restores it into an empty state dir: `checkpointer` through\n"
    "    Checkpointer::Open (the daemon's path), `steps` through the calls Open makes, timed\n"
    "    one by one (changelog read, store Write, Load). Children run on huge pages as\n"
    "    tern run does unless --no-hugepages; --consumer settings go to the restore consumer\n"
    "    after the daemon's (socket.nagle.disable=true, fetch.wait.max.ms=10). A patched\n"
    "    mock: LD_LIBRARY_PATH (bench/mock/build.sh). --compacted: also the same changelog as\n"
    "    compaction leaves it (the last record of each key), restored once.\n"
    "  --prefault MB: grow the heap by MB (touched, freed, kept) before the load, so that\n"
    "    the load's own time excludes first-touch page faults (an experiment).\n"
    "  default --dir: /tmp/tern_state_bench\n"
    "Each figure line also comes as 'RESULT key=value ...'.\n";

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

uint64_t CurrentRssBytes();

// ru_maxrss lags the resident size a little (it is updated on some page events only).
uint64_t PeakRssBytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return std::max(static_cast<uint64_t>(usage.ru_maxrss) * 1024, CurrentRssBytes());
}

uint64_t CurrentRssBytes() {
  long pages = 0, resident = 0;
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  std::fclose(f);
  return static_cast<uint64_t>(resident) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

// CPU time of this thread, and of the whole process (RocksDB's threads included), in
// seconds: on a loaded 2-core machine wall time is mostly waiting for a core.
double ThreadCpu() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}
double ProcessCpu() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

// Minor page faults so far (first touches of memory): on a VM they can dominate.
uint64_t MinorFaults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<uint64_t>(usage.ru_minflt);
}

// The cost of a first touch of a fresh page now, in microseconds (16 MiB mapped and
// touched): on a VM it is far above bare metal (~0.1-0.3 us) and moves with the load.
double FaultMicros() {
  constexpr size_t kBytes = 16 << 20;
  const auto t0 = std::chrono::steady_clock::now();
  void* p = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return 0;
  for (size_t i = 0; i < kBytes; i += 4096) static_cast<volatile char*>(p)[i] = 1;
  const double s = Since(t0);
  munmap(p, kBytes);
  return s * 1e6 / (kBytes / 4096);
}

uint64_t HeapInUse() { return mallinfo2().uordblks + mallinfo2().hblkhd; }

uint64_t DiskBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec)) total += entry.file_size(ec);
  }
  return total;
}

double MB(double bytes) { return bytes / 1e6; }

std::vector<uint64_t> ParseList(const char* text) {
  std::vector<uint64_t> out;
  for (const char* p = text; *p != '\0';) {
    char* end = nullptr;
    out.push_back(std::strtoull(p, &end, 10));
    if (end == p) break;
    p = *end == ',' ? end + 1 : end;
  }
  return out;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// An engine with the pattern, its parser, and the event generator.
class Feeder {
 public:
  explicit Feeder(size_t payload) : payload_(payload), parser_(engine_.schema(), "ts") {
    tern::DiagnosticSink sink;
    auto source = std::make_shared<const tern::SourceFile>("state_bench.tern", kPattern);
    engine_.AddPrograms(tern::compiler::CompileSource(source, engine_.schema(), sink));
    if (sink.has_errors() || engine_.programs().size() != 1) {
      std::fputs(tern::RenderAll(sink.diagnostics()).c_str(), stderr);
      std::abort();
    }
    stream_ = engine_.StreamId("events");
  }

  // A reload with the pattern unchanged (the daemon's reload: compiled afresh, replaced):
  // the pattern keeps its partial matches.
  void Reload() {
    tern::DiagnosticSink sink;
    auto source = std::make_shared<const tern::SourceFile>("state_bench.tern", kPattern);
    if (engine_.ReplacePrograms(tern::compiler::CompileSource(source, engine_.schema(), sink)) != 1) std::abort();
  }

  Engine& engine() { return engine_; }
  tern::engine::EventParser& parser() { return parser_; }
  uint64_t events() const { return events_; }
  // Event time of the next event: 1 ms per 4 events from a fixed origin.
  void set_events(uint64_t n) { events_ = n; }

  // One event on key `key`: type 'a' (v = 0: any b with v > 0 completes it) or 'b'.
  void Push(uint64_t key, char type, int64_t v) {
    line_.clear();
    char head[160];
    const int n = std::snprintf(head, sizeof head,
                                "{\"ts\":%lld,\"k\":\"key%08llu\",\"type\":\"%c\",\"v\":%lld,\"pad\":\"",
                                static_cast<long long>(kOrigin + static_cast<int64_t>(events_ / 4)),
                                static_cast<unsigned long long>(key), type, static_cast<long long>(v));
    line_.append(head, static_cast<size_t>(n));
    if (line_.size() + 2 < payload_) line_.append(payload_ - line_.size() - 2, 'x');
    line_.append("\"}");
    tern::nfa::StoredEvent* event = engine_.NewEvent();
    std::string error;
    if (!parser_.Parse(line_, *event, &error)) {
      std::fprintf(stderr, "tern_state_bench: %s: %s\n", error.c_str(), line_.c_str());
      std::abort();
    }
    event->position = events_;
    event->offset = events_;
    event->partition = 0;
    event->stream = stream_;
    ++events_;
    engine_.Push(event);
    alerts_ += engine_.alerts().size();
    engine_.alerts().clear();
  }
  uint64_t alerts() const { return alerts_; }

 private:
  static constexpr int64_t kOrigin = 1'700'000'000'000;
  size_t payload_;
  Engine engine_;
  tern::engine::EventParser parser_;
  uint32_t stream_ = 0;
  uint64_t events_ = 0, alerts_ = 0;
  std::string line_;
};

// The keys 0..total-1 in a fixed scattered order (i * stride mod total).
class KeyCursor {
 public:
  explicit KeyCursor(uint64_t total) : total_(total) {
    stride_ = 2654435761ull % total;
    while (std::gcd(stride_, total) != 1) ++stride_;
  }
  uint64_t Next() { return (next_++ % total_) * stride_ % total_; }
  uint64_t taken() const { return next_; }

 private:
  uint64_t total_, stride_ = 1, next_ = 0;
};

void Fill(Feeder& feeder, uint64_t keys, uint64_t per_key) {
  for (uint64_t round = 0; round < per_key; ++round) {
    for (uint64_t k = 0; k < keys; ++k) feeder.Push(k, 'a', 0);
  }
}

struct CheckpointFigures {
  size_t puts = 0, deletes = 0, changed_keys = 0, bytes = 0;
  double collect_s = 0, write_s = 0;
  double collect_cpu_s = 0, write_cpu_s = 0;  // this (the engine) thread's CPU
  uint64_t collect_faults = 0, write_faults = 0;  // minor page faults
};

// Collect, then Write unless `write` is false.
CheckpointFigures TakeCheckpoint(tern::state::PartitionStore& store, Engine& engine, uint64_t events,
                                 bool write = true) {
  CheckpointFigures f;
  tern::state::PartitionMeta meta;
  meta.positions.emplace_back("line", events);
  uint64_t faults = MinorFaults();
  double cpu = ThreadCpu();
  auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<tern::state::Checkpoint> checkpoint = store.Collect(engine, std::move(meta));
  f.collect_s = Since(t0);
  f.collect_cpu_s = ThreadCpu() - cpu;
  f.collect_faults = MinorFaults() - faults;
  faults = MinorFaults();
  cpu = ThreadCpu();
  t0 = std::chrono::steady_clock::now();
  tern::state::Status status = write ? store.Write(*checkpoint) : tern::state::Status{};
  f.write_s = Since(t0);
  f.write_cpu_s = ThreadCpu() - cpu;
  f.write_faults = MinorFaults() - faults;
  if (!status.ok()) {
    std::fprintf(stderr, "tern_state_bench: write: %s\n", status.message.c_str());
    std::exit(1);
  }
  f.puts = checkpoint->puts();
  f.deletes = checkpoint->deletes();
  f.changed_keys = checkpoint->changed_keys();
  f.bytes = checkpoint->bytes();
  return f;
}

struct Args {
  std::string dir = "/tmp/tern_state_bench";
  std::vector<uint64_t> totals = {10'000, 100'000, 1'000'000};
  std::vector<uint64_t> changed = {100, 1'000, 10'000, 100'000};
  uint64_t per_key = 2, reps = 5, keys = 250'000, runs = 3, after = 0, prefault_mb = 0;
  bool per_key_set = false;
  size_t payload = 128;
  std::string touch = "a";
  bool drop_caches = true, reuse = false, breakdown = false, scan_only = false;
  // changelog, changelog-restore
  std::vector<uint64_t> matches = {10'000, 100'000, 1'000'000};
  uint64_t after_keys = 1'000;
  int linger_ms = 20;
  tern::connectors::Properties producer_properties, consumer_properties;
  std::string brokers, prefix, via = "both";
  uint64_t checkpoint = 0;
  int64_t changelog_offset = -1;
  bool hugepages = true, compacted = false;
};

// ---- checkpoint ----

int RunCheckpoint(const Args& args) {
  const char type = args.touch == "a" || args.touch == "reload" ? 'a' : 'b';
  const int64_t v = args.touch == "complete" ? 1 : -1;  // a's v is 0: 1 completes, -1 misses
  std::printf("checkpoint: pattern `a followed_by b` within 1h, %llu partial matches per key, "
              "%zu-byte events, touch '%s', %llu reps: median (min) wall ms, median CPU ms of the calling\n"
              "thread, median page faults\n",
              static_cast<unsigned long long>(args.per_key), args.payload, args.touch.c_str(),
              static_cast<unsigned long long>(args.reps));
  std::printf("first-touch page fault: %.1f us per 4 KiB page now\n", FaultMicros());
  std::printf("| T keys | partial matches | C | puts | deletes | bytes | B/changed key | collect ms | "
              "collect CPU ms | collect faults | write ms | write CPU ms | write faults |\n"
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  std::fflush(stdout);
  for (uint64_t total : args.totals) {
    const std::string dir = args.dir + "/checkpoint-" + std::to_string(total);
    std::error_code ec;
    fs::remove_all(dir, ec);
    Feeder feeder(args.payload);
    Engine& engine = feeder.engine();
    auto t0 = std::chrono::steady_clock::now();
    Fill(feeder, total, args.per_key);
    const double fill_s = Since(t0);
    const uint64_t rss_filled = CurrentRssBytes();
    tern::state::Status status;
    auto store = tern::state::PartitionStore::Open(dir, "bench", &status);
    if (store == nullptr) {
      std::fprintf(stderr, "tern_state_bench: %s\n", status.message.c_str());
      return 1;
    }
    const CheckpointFigures full = TakeCheckpoint(*store, engine, feeder.events());
    const uint64_t live_runs = engine.stats().live_runs;
    std::printf("| %llu | %llu | all (first) | %zu | %zu | %zu | %.0f | %.1f | %.1f | %llu | %.1f | %.1f | %llu |\n",
                static_cast<unsigned long long>(total), static_cast<unsigned long long>(live_runs), full.puts,
                full.deletes, full.bytes, static_cast<double>(full.bytes) / static_cast<double>(full.changed_keys),
                full.collect_s * 1e3, full.collect_cpu_s * 1e3, static_cast<unsigned long long>(full.collect_faults),
                full.write_s * 1e3, full.write_cpu_s * 1e3, static_cast<unsigned long long>(full.write_faults));
    std::printf("RESULT mode=full T=%llu runs=%llu puts=%zu deletes=%zu bytes=%zu collect_ms=%.3f "
                "write_ms=%.3f collect_faults=%llu write_faults=%llu fill_s=%.3f rss_filled=%llu "
                "peak_rss=%llu disk_bytes=%llu\n",
                static_cast<unsigned long long>(total), static_cast<unsigned long long>(live_runs), full.puts,
                full.deletes, full.bytes, full.collect_s * 1e3, full.write_s * 1e3,
                static_cast<unsigned long long>(full.collect_faults),
                static_cast<unsigned long long>(full.write_faults), fill_s,
                static_cast<unsigned long long>(rss_filled), static_cast<unsigned long long>(PeakRssBytes()),
                static_cast<unsigned long long>(DiskBytes(dir)));
    std::fflush(stdout);
    KeyCursor cursor(total);
    for (uint64_t c : args.changed) {
      if (c > total) continue;
      std::vector<double> collect, write, collect_cpu, write_cpu, collect_faults, write_faults, puts, deletes,
          bytes, keys;
      for (uint64_t r = 0; r < args.reps; ++r) {
        t0 = std::chrono::steady_clock::now();
        if (args.touch == "reload") feeder.Reload();
        for (uint64_t i = 0; i < c; ++i) feeder.Push(cursor.Next(), type, v);
        const double touch_s = Since(t0);
        const CheckpointFigures f = TakeCheckpoint(*store, engine, feeder.events());
        collect.push_back(f.collect_s * 1e3);
        write.push_back(f.write_s * 1e3);
        collect_cpu.push_back(f.collect_cpu_s * 1e3);
        write_cpu.push_back(f.write_cpu_s * 1e3);
        collect_faults.push_back(static_cast<double>(f.collect_faults));
        write_faults.push_back(static_cast<double>(f.write_faults));
        puts.push_back(static_cast<double>(f.puts));
        deletes.push_back(static_cast<double>(f.deletes));
        bytes.push_back(static_cast<double>(f.bytes));
        keys.push_back(static_cast<double>(f.changed_keys));
        std::printf("RESULT mode=%s T=%llu C=%llu rep=%llu puts=%zu deletes=%zu changed_keys=%zu bytes=%zu "
                    "collect_ms=%.3f write_ms=%.3f collect_cpu_ms=%.3f write_cpu_ms=%.3f collect_faults=%llu "
                    "write_faults=%llu touch_ms=%.3f live_runs=%llu keys_taken=%llu\n",
                    args.touch.c_str(), static_cast<unsigned long long>(total), static_cast<unsigned long long>(c),
                    static_cast<unsigned long long>(r), f.puts, f.deletes, f.changed_keys, f.bytes,
                    f.collect_s * 1e3, f.write_s * 1e3, f.collect_cpu_s * 1e3, f.write_cpu_s * 1e3,
                    static_cast<unsigned long long>(f.collect_faults),
                    static_cast<unsigned long long>(f.write_faults), touch_s * 1e3,
                    static_cast<unsigned long long>(engine.stats().live_runs),
                    static_cast<unsigned long long>(cursor.taken()));
      }
      std::printf("| %llu | %llu | %llu | %.0f | %.0f | %.0f | %.0f | %.2f (%.2f) | %.2f | %.0f | %.2f (%.2f) | %.2f | "
                  "%.0f |\n",
                  static_cast<unsigned long long>(total), static_cast<unsigned long long>(engine.stats().live_runs),
                  static_cast<unsigned long long>(c), Median(puts), Median(deletes), Median(bytes),
                  Median(bytes) / std::max(1.0, Median(keys)), Median(collect),
                  *std::min_element(collect.begin(), collect.end()), Median(collect_cpu), Median(collect_faults),
                  Median(write), *std::min_element(write.begin(), write.end()), Median(write_cpu),
                  Median(write_faults));
      std::fflush(stdout);
    }
    store.reset();
    std::printf("RESULT mode=disk T=%llu disk_bytes=%llu fill_s=%.3f rss_filled=%llu\n",
                static_cast<unsigned long long>(total), static_cast<unsigned long long>(DiskBytes(dir)), fill_s,
                static_cast<unsigned long long>(rss_filled));
  }
  return 0;
}

// ---- fill / recover ----

int RunFill(const Args& args) {
  std::error_code ec;
  fs::remove_all(args.dir, ec);
  const uint64_t heap0 = HeapInUse();
  Feeder feeder(args.payload);
  auto t0 = std::chrono::steady_clock::now();
  Fill(feeder, args.keys, args.per_key);
  const double fill_s = Since(t0);
  const uint64_t rss_filled = CurrentRssBytes(), heap_filled = HeapInUse() - heap0;
  const uint64_t peak_filled = PeakRssBytes();
  tern::state::Status status;
  auto store = tern::state::PartitionStore::Open(args.dir, "bench", &status);
  if (store == nullptr) {
    std::fprintf(stderr, "tern_state_bench: %s\n", status.message.c_str());
    return 1;
  }
  const CheckpointFigures full = TakeCheckpoint(*store, feeder.engine(), feeder.events());
  // A few ordinary checkpoints after the first, as a running instance would have written.
  KeyCursor cursor(args.keys);
  for (uint64_t i = 0; i < args.after; ++i) {
    for (uint64_t k = 0; k < 1000 && k < args.keys; ++k) feeder.Push(cursor.Next(), 'b', -1);
    TakeCheckpoint(*store, feeder.engine(), feeder.events());
  }
  store.reset();  // closes RocksDB (what is not flushed stays in its log)
  const tern::engine::Stats stats = feeder.engine().stats();
  std::printf("fill: %llu keys x %llu = %llu partial matches, %llu events, %.2f s; engine RSS %.1f MB "
              "(heap %.1f MB, %.0f B per partial match); first checkpoint %zu puts, %.1f MB, collect "
              "%.2f s, write %.2f s; peak RSS %.1f MB before the checkpoint, %.1f MB with it; store %.1f MB "
              "on disk\n",
              static_cast<unsigned long long>(args.keys), static_cast<unsigned long long>(args.per_key),
              static_cast<unsigned long long>(stats.live_runs), static_cast<unsigned long long>(feeder.events()),
              fill_s, MB(static_cast<double>(rss_filled)), MB(static_cast<double>(heap_filled)),
              static_cast<double>(heap_filled) / static_cast<double>(std::max<uint64_t>(1, stats.live_runs)),
              full.puts, MB(static_cast<double>(full.bytes)), full.collect_s, full.write_s,
              MB(static_cast<double>(peak_filled)), MB(static_cast<double>(PeakRssBytes())),
              MB(static_cast<double>(DiskBytes(args.dir))));
  std::printf("RESULT fill_keys=%llu live_runs=%llu events=%llu fill_s=%.3f rss_filled=%llu heap_filled=%llu "
              "peak_rss_filled=%llu peak_rss=%llu full_puts=%zu full_bytes=%zu full_collect_s=%.3f "
              "full_write_s=%.3f disk_bytes=%llu\n",
              static_cast<unsigned long long>(stats.live_keys), static_cast<unsigned long long>(stats.live_runs),
              static_cast<unsigned long long>(feeder.events()), fill_s, static_cast<unsigned long long>(rss_filled),
              static_cast<unsigned long long>(heap_filled), static_cast<unsigned long long>(peak_filled),
              static_cast<unsigned long long>(PeakRssBytes()), full.puts, full.bytes, full.collect_s,
              full.write_s, static_cast<unsigned long long>(DiskBytes(args.dir)));
  std::fflush(stdout);
  std::_Exit(0);  // the engine's teardown is not part of any figure
}

bool ReparseEvent(void* context, tern::nfa::StoredEvent& event, std::string* error) {
  const std::string payload = event.payload;
  return static_cast<tern::engine::EventParser*>(context)->Parse(payload, event, error);
}

// Grows the heap by `mb` MB of touched memory and frees it, kept (not trimmed): later
// allocations reuse pages already faulted in.
double Prefault(uint64_t mb) {
  const auto t0 = std::chrono::steady_clock::now();
  mallopt(M_TRIM_THRESHOLD, INT32_MAX);
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_ARENA_MAX, 1);  // RocksDB's threads allocate from the same heap
  constexpr size_t kBlock = 64 << 10;
  std::vector<void*> blocks;
  for (uint64_t i = 0; i < mb * (1 << 20) / kBlock; ++i) {
    void* p = std::malloc(kBlock);
    std::memset(p, 1, kBlock);
    blocks.push_back(p);
  }
  for (void* p : blocks) std::free(p);
  return Since(t0);
}

int RunRecover(const Args& args, std::chrono::steady_clock::time_point start) {
  namespace st = tern::state;
  const double prefault_s = args.prefault_mb > 0 ? Prefault(args.prefault_mb) : 0;
  const auto restart = std::chrono::steady_clock::now();  // after the experiment's prefault
  Feeder feeder(args.payload);
  Engine& engine = feeder.engine();
  const double setup_s = Since(start) - prefault_s;
  auto t0 = std::chrono::steady_clock::now();
  st::Status status;
  auto store = st::PartitionStore::Open(args.dir, "bench", &status);
  if (store == nullptr) {
    std::fprintf(stderr, "tern_state_bench: %s\n", status.message.c_str());
    return 1;
  }
  const double open_s = Since(t0);
  t0 = std::chrono::steady_clock::now();
  st::PartitionMeta meta;
  status = store->ReadMeta(&meta);
  const double meta_s = Since(t0);
  if (!status.ok()) {
    std::fprintf(stderr, "tern_state_bench: %s\n", status.message.c_str());
    return 1;
  }
  double load_s = 0, clock_s = 0, events_s = 0, keys_s = 0, finish_s = 0;
  uint64_t events = 0, keys = 0, bytes = 0;
  std::string error;
  const uint64_t faults = MinorFaults();
  const double cpu0 = ProcessCpu();
  t0 = std::chrono::steady_clock::now();
  if (args.scan_only) {
    // RocksDB iteration and the CRC of every value, no engine.
    for (const char* prefix : {"e", "k"}) {
      auto t1 = std::chrono::steady_clock::now();
      status = store->Scan(prefix, [&](std::string_view key, std::string_view value) {
        std::string_view payload;
        if (!st::Unframe(value, &payload, &error)) std::abort();
        (*prefix == 'e' ? events : keys) += 1;
        bytes += key.size() + value.size();
        return true;
      });
      (*prefix == 'e' ? events_s : keys_s) = Since(t1);
    }
  } else if (args.breakdown) {
    // PartitionStore::Load's steps, timed one by one (the same public calls).
    auto t1 = std::chrono::steady_clock::now();
    if (!engine.LoadClock(meta.clock, &error, ReparseEvent, &feeder.parser())) std::abort();
    clock_s = Since(t1);
    t1 = std::chrono::steady_clock::now();
    status = store->Scan("e", [&](std::string_view key, std::string_view value) {
      std::string_view payload;
      if (!st::Unframe(value, &payload, &error) || !engine.LoadEvent(payload, &error)) std::abort();
      ++events;
      bytes += key.size() + value.size();
      return true;
    });
    events_s = Since(t1);
    t1 = std::chrono::steady_clock::now();
    const uint64_t hash = st::FingerprintHash(tern::nfa::Fingerprint(*engine.programs()[0]));
    status = store->Scan("k", [&](std::string_view key, std::string_view value) {
      std::string_view pattern, key_bytes, payload, key_json, refs;
      uint64_t stored_hash = 0;
      if (!st::SplitKeyKey(key, &pattern, &stored_hash, &key_bytes) || stored_hash != hash ||
          !st::Unframe(value, &payload, &error) || !st::DecodeKey(payload, &key_json, &refs) ||
          !engine.LoadKey(0, key_bytes, key_json, refs, &error)) {
        std::fprintf(stderr, "tern_state_bench: key record: %s\n", error.c_str());
        std::abort();
      }
      ++keys;
      bytes += key.size() + value.size();
      return true;
    });
    keys_s = Since(t1);
    t1 = std::chrono::steady_clock::now();
    if (!engine.FinishLoad(&error)) std::abort();
    finish_s = Since(t1);
  } else {
    st::LoadReport report;
    status = store->Load(engine, meta, &report, ReparseEvent, &feeder.parser());
    events = report.events;
    keys = report.keys;
    bytes = report.bytes;
  }
  load_s = Since(t0);
  const uint64_t load_faults = MinorFaults() - faults;
  const double load_cpu_s = ProcessCpu() - cpu0;
  if (!status.ok()) {
    std::fprintf(stderr, "tern_state_bench: %s\n", status.message.c_str());
    return 1;
  }
  const uint64_t rss_loaded = CurrentRssBytes();
  double first_s = 0;
  if (!args.scan_only) {
    feeder.set_events(tern::state::PositionOf(meta, "line", 0));
    t0 = std::chrono::steady_clock::now();
    feeder.Push(0, 'a', 0);  // the first record after the restart
    first_s = Since(t0);
  }
  const double total_s = setup_s + Since(restart);
  // The checkpoint after a load holds only what changed since: the key and event just
  // pushed, and one key completed (its key record and its events deleted).
  CheckpointFigures after;
  uint64_t completed_runs = 0;
  if (!args.scan_only) {
    const uint64_t keys_total = std::max<uint64_t>(1, engine.stats().live_keys);
    const uint64_t runs_before = engine.stats().live_runs;
    // A key no earlier run completed (each run that writes moves the position by 2).
    feeder.Push(1 + tern::state::PositionOf(meta, "line", 0) / 2 * 7919 % keys_total, 'b', 1);
    completed_runs = runs_before - engine.stats().live_runs;
    // --breakdown loads around PartitionStore::Load, which is what sets the store's
    // checkpoint number: it collects, but does not write.
    after = TakeCheckpoint(*store, engine, feeder.events(), !args.breakdown);
  }
  const char* mode = args.scan_only ? "scan-only" : args.breakdown ? "breakdown" : args.prefault_mb ? "prefault" : "load";
  std::printf("RESULT mode=%s setup_s=%.4f open_s=%.4f meta_s=%.4f load_s=%.4f clock_s=%.4f events_s=%.4f "
              "keys_s=%.4f finish_s=%.4f first_push_s=%.6f total_s=%.4f prefault_s=%.4f load_faults=%llu load_cpu_s=%.4f "
              "after_puts=%zu after_deletes=%zu after_completed=%llu after_collect_ms=%.3f events=%llu keys=%llu bytes=%llu live_runs=%llu rss_loaded=%llu peak_rss=%llu\n",
              mode, setup_s, open_s, meta_s, load_s, clock_s, events_s, keys_s, finish_s, first_s, total_s,
              prefault_s, static_cast<unsigned long long>(load_faults), load_cpu_s, after.puts, after.deletes,
              static_cast<unsigned long long>(completed_runs), after.collect_s * 1e3,
              static_cast<unsigned long long>(events), static_cast<unsigned long long>(keys),
              static_cast<unsigned long long>(bytes),
              static_cast<unsigned long long>(engine.stats().live_runs),
              static_cast<unsigned long long>(rss_loaded), static_cast<unsigned long long>(PeakRssBytes()));
  std::fflush(stdout);
  std::_Exit(0);
}

// ---- recovery: fill and recover as child processes ----

using Result = std::map<std::string, double>;

// Runs this executable with `args`, echoes its output, returns its last RESULT line.
// `env`: assignments for its environment (sh syntax), or empty.
bool RunChild(const std::string& args, Result* result, double* wall_s, const std::string& env = "") {
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return false;
  self[n] = '\0';
  const std::string command = env + (env.empty() ? "" : " ") + "'" + self + "' " + args;
  auto t0 = std::chrono::steady_clock::now();
  std::FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return false;
  char line[8192];
  std::string last;
  while (std::fgets(line, sizeof line, pipe) != nullptr) {
    std::fputs(line, stdout);
    if (std::strncmp(line, "RESULT ", 7) == 0) last = line + 7;
  }
  const int rc = pclose(pipe);
  *wall_s = Since(t0);
  if (rc != 0 || last.empty()) return false;
  result->clear();
  size_t at = 0;
  while (at < last.size()) {
    size_t end = last.find_first_of(" \n", at);
    if (end == std::string::npos) end = last.size();
    const std::string item = last.substr(at, end - at);
    const size_t eq = item.find('=');
    if (eq != std::string::npos) (*result)[item.substr(0, eq)] = std::atof(item.c_str() + eq + 1);
    at = end + 1;
  }
  return true;
}

bool DropCaches() {
  sync();
  std::FILE* f = std::fopen("/proc/sys/vm/drop_caches", "w");
  if (f == nullptr) return false;
  const bool ok = std::fputs("3\n", f) >= 0;
  return std::fclose(f) == 0 && ok;
}

int RunRecovery(const Args& args) {
  const std::string common = "--dir '" + args.dir + "' --payload " + std::to_string(args.payload);
  Result fill, first;
  double wall = 0, first_wall = 0;
  bool cold = args.drop_caches;
  auto drop = [&] {
    if (cold && !DropCaches()) {
      std::printf("cannot drop the page cache (/proc/sys/vm/drop_caches): warm figures\n");
      cold = false;
    }
  };
  const bool have = args.reuse && fs::exists(fs::path(args.dir) / "bench" / "CURRENT");
  if (!have) {
    const std::string fill_args = "fill " + common + " --keys " + std::to_string(args.keys) + " --per-key " +
                                  std::to_string(args.per_key) + " --after " + std::to_string(args.after);
    if (!RunChild(fill_args, &fill, &wall)) {
      std::fprintf(stderr, "tern_state_bench: fill failed\n");
      return 1;
    }
    // The first open after the fill replays RocksDB's log (the first checkpoint was
    // one WriteBatch larger than the memtable: it sits in the log until a flush).
    drop();
    if (!RunChild("recover " + common, &first, &first_wall)) {
      std::fprintf(stderr, "tern_state_bench: recover failed\n");
      return 1;
    }
  }
  // Enough pre-faulted heap for the load (the filled engine's size and a margin).
  const uint64_t prefault_mb =
      fill.count("rss_filled") ? static_cast<uint64_t>(fill["rss_filled"] * 1.2 / (1 << 20)) + 16 : 2048;
  // "--hugepages": `Load` with glibc's heap on transparent huge pages, as `tern run` and
  // `tern replay` start (cli/main.cc UseHugePages); the others with 4 KiB pages.
  const std::vector<std::string> modes = {"", "--hugepages", "--breakdown", "--scan-only",
                                          "--prefault " + std::to_string(prefault_mb)};
  std::map<std::string, std::vector<Result>> runs;
  std::map<std::string, std::vector<double>> walls;
  for (uint64_t r = 0; r < args.runs; ++r) {
    for (const std::string& mode : modes) {
      drop();
      Result result;
      const bool huge = mode == "--hugepages";
      if (!RunChild("recover " + common + " " + (huge ? std::string() : mode), &result, &wall,
                    huge ? "GLIBC_TUNABLES=glibc.malloc.hugetlb=1" : "GLIBC_TUNABLES=")) {
        std::fprintf(stderr, "tern_state_bench: recover %s failed\n", mode.c_str());
        return 1;
      }
      runs[mode].push_back(result);
      walls[mode].push_back(wall);
    }
  }
  auto med = [&](const std::string& mode, const char* key) {
    std::vector<double> v;
    for (const Result& r : runs[mode]) v.push_back(r.count(key) ? r.at(key) : 0);
    return Median(v);
  };
  std::printf("\nrecovery: %s page cache, medians of %llu runs (seconds); first-touch page fault %.1f us per "
              "4 KiB page now\n",
              cold ? "cold (dropped)" : "warm", static_cast<unsigned long long>(args.runs), FaultMicros());
  if (!fill.empty()) {
    std::printf("store: %.0f keys, %.0f partial matches, %.0f events; %.1f MB on disk after the fill; first "
                "checkpoint %.1f MB, collect %.2f s, write %.2f s; filled engine RSS %.1f MB (heap %.1f MB), "
                "peak %.1f MB with the first checkpoint\n",
                fill["fill_keys"], fill["live_runs"], fill["events"], MB(fill["disk_bytes"]),
                MB(fill["full_bytes"]), fill["full_collect_s"], fill["full_write_s"], MB(fill["rss_filled"]),
                MB(fill["heap_filled"]), MB(fill["peak_rss"]));
    std::printf("first start after the fill (RocksDB replays its log): DB open %.3f s, start to first record "
                "%.3f s; store %.1f MB on disk after it\n",
                first["open_s"], first["total_s"], MB(static_cast<double>(DiskBytes(args.dir))));
  }
  std::printf("| mode | process setup | DB open | ReadMeta | load | clock | events scan | keys scan | "
              "FinishLoad | first Push | start to first record | child wall | load CPU | load page faults | "
              "RSS loaded MB | peak RSS MB |\n"
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const std::string& mode : modes) {
    const std::string name = mode.empty() ? "Load" : mode.substr(2);
    std::printf("| %s | %.3f | %.3f | %.4f | %.3f | %.4f | %.3f | %.3f | %.3f | %.4f | %.3f | %.3f | %.3f | %.0f | "
                "%.0f | %.0f |\n",
                name.c_str(), med(mode, "setup_s"), med(mode, "open_s"), med(mode, "meta_s"), med(mode, "load_s"),
                med(mode, "clock_s"), med(mode, "events_s"), med(mode, "keys_s"), med(mode, "finish_s"),
                med(mode, "first_push_s"), med(mode, "total_s"), Median(walls[mode]), med(mode, "load_cpu_s"),
                med(mode, "load_faults"),
                MB(med(mode, "rss_loaded")), MB(med(mode, "peak_rss")));
  }
  std::printf("checkpoint after the load, one `a` and one completing `b` pushed: %.0f puts, %.0f deletes "
              "(incremental: 3 puts, 1 + %.0f deletes), collect %.3f ms\n",
              med("", "after_puts"), med("", "after_deletes"), med("", "after_completed"),
              med("", "after_collect_ms"));
  std::printf("RESULT recovery cold=%d total_s=%.4f hugepages_total_s=%.4f load_s=%.4f open_s=%.4f first_open_s=%.4f "
              "first_total_s=%.4f peak_rss=%.0f disk_bytes=%.0f\n",
              cold ? 1 : 0, med("", "total_s"), med("--hugepages", "total_s"), med("", "load_s"), med("", "open_s"),
              first.count("open_s") ? first["open_s"] : 0, first.count("total_s") ? first["total_s"] : 0,
              med("", "peak_rss"), static_cast<double>(DiskBytes(args.dir)));
  return 0;
}

// ---- changelog: a full checkpoint produced to a changelog on the mock broker, restored ----

namespace tc = tern::connectors;

constexpr char kChangelogHeader[] = "tern-ckpt";  // connectors/checkpointer.cc kCheckpointHeader
constexpr uint64_t kMetaOpaque = 1;

struct Delivery {
  int64_t meta_offset = -1;  // the partition record's offset
  uint64_t failed = 0;
  std::string error;
};

struct Produced {
  uint64_t records = 0, bytes = 0;  // keys and values
  double seconds = 0;               // first Produce to Flush's return (every record acknowledged)
  int64_t meta_offset = -1;
};

// Produces `checkpoint` as Checkpointer::WriteJob does: in Collect's order (the partition
// record last), key = the store key, value = the framed record (null for a deletion),
// header tern-ckpt = the checkpoint number, to partition 0; a full queue is polled and
// the record produced again; then Flush waits for every acknowledgement.
// What a compacted changelog keeps (--compacted): the last record of each key, in the
// order of those records, with its checkpoint number.
struct Compaction {
  struct Last {
    uint64_t seq = 0, checkpoint = 0;
    bool tombstone = false;
    std::string value;
  };
  std::map<std::string, Last> last;
  uint64_t seq = 0;
};

bool ProduceCheckpoint(tc::Producer& producer, Delivery& delivery, const std::string& topic,
                       const tern::state::Checkpoint& checkpoint, Produced* out, int32_t partition = 0,
                       Compaction* compaction = nullptr) {
  char id_text[24];
  auto [end, ec] = std::to_chars(id_text, id_text + sizeof id_text, checkpoint.id());
  (void)ec;
  const tc::Header header{kChangelogHeader, std::string_view(id_text, static_cast<size_t>(end - id_text))};
  delivery.meta_offset = -1;
  tc::Status produced;
  const auto t0 = std::chrono::steady_clock::now();
  checkpoint.ForEach([&](std::string_view key, const std::string_view* value) {
    if (!produced.ok()) return;
    const uint64_t opaque = key == tern::state::kMetaKey ? kMetaOpaque : 0;
    for (;;) {
      produced = producer.Produce(topic, key, value != nullptr ? *value : std::string_view(),
                                  std::span<const tc::Header>(&header, 1), opaque, partition);
      if (produced.code() != tc::Errc::kQueueFull) break;
      producer.Poll(10);
    }
    ++out->records;
    out->bytes += key.size() + (value != nullptr ? value->size() : 0);
    if (compaction != nullptr) {
      Compaction::Last& last = compaction->last[std::string(key)];
      last.seq = ++compaction->seq;
      last.checkpoint = checkpoint.id();
      last.tombstone = value == nullptr;
      last.value = value != nullptr ? std::string(*value) : std::string();
    }
  });
  const tc::Status flushed = produced.ok() ? producer.Flush(300'000) : produced;
  out->seconds += Since(t0);
  if (!flushed.ok() || delivery.failed > 0 || delivery.meta_offset < 0) {
    std::fprintf(stderr, "tern_state_bench: changelog %s: %s%s (%llu failed deliveries)\n", topic.c_str(),
                 flushed.ok() ? "" : flushed.message().c_str(), delivery.error.c_str(),
                 static_cast<unsigned long long>(delivery.failed));
    return false;
  }
  out->meta_offset = delivery.meta_offset;
  return true;
}

// The librdkafka this process runs (a patched mock through LD_LIBRARY_PATH shows here).
std::string LoadedRdkafka() {
  std::FILE* f = std::fopen("/proc/self/maps", "r");
  if (f == nullptr) return "?";
  char line[4096];
  std::string found = "?";
  while (std::fgets(line, sizeof line, f) != nullptr) {
    const char* at = std::strstr(line, "librdkafka.so");
    if (at == nullptr) continue;
    const char* path = std::strchr(line, '/');
    if (path == nullptr) continue;
    found.assign(path, std::strcspn(path, "\n"));
    break;
  }
  std::fclose(f);
  return found;
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

// The changelog read alone, by a plain librdkafka consumer (the daemon's restore consumer
// settings, no apply): records/s of the broker and client, and the number of Fetch
// requests, from librdkafka's statistics. librdkafka 2.0.2's mock answers a Fetch with one
// record batch per partition, so the requests that returned records are the batches.
struct ReadProbe {
  double seconds = 0;
  uint64_t records = 0;
  int64_t fetches = -1;  // Fetch requests sent (the last empty ones included)
};

int ProbeStats(rd_kafka_t*, char* json, size_t, void* opaque) {
  int64_t total = 0;
  bool found = false;
  for (const char* at = std::strstr(json, "\"Fetch\":"); at != nullptr; at = std::strstr(at + 1, "\"Fetch\":")) {
    total += std::strtoll(at + 8, nullptr, 10);
    found = true;
  }
  if (found) *static_cast<int64_t*>(opaque) = total;
  return 0;  // librdkafka frees the JSON
}

ReadProbe ProbeRead(const std::string& brokers, const std::string& topic, int64_t low, int64_t high,
                    const tc::Properties& extra) {
  ReadProbe probe;
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  tc::Properties properties = {{"bootstrap.servers", brokers},
                               {"group.id", "clbench.probe"},
                               {"enable.auto.commit", "false"},
                               {"enable.partition.eof", "false"},
                               {"socket.nagle.disable", "true"},
                               {"fetch.wait.max.ms", "10"},
                               {"statistics.interval.ms", "100"}};
  for (const auto& p : extra) properties.push_back(p);
  for (const auto& [k, v] : properties) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), error, sizeof error) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "tern_state_bench: probe: %s\n", error);
      rd_kafka_conf_destroy(conf);
      return probe;
    }
  }
  int64_t fetches = -1;
  rd_kafka_conf_set_stats_cb(conf, ProbeStats);
  rd_kafka_conf_set_opaque(conf, &fetches);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return probe;
  }
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), 0)->offset = low;
  const auto t0 = std::chrono::steady_clock::now();
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  int64_t next = low;
  while (next < high && Since(t0) < 300) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->offset >= next) {
      next = m->offset + 1;
      ++probe.records;
    }
    rd_kafka_message_destroy(m);
  }
  probe.seconds = Since(t0);
  // Paused, the partition is fetched no more (else empty fetches go on every 10 ms); the
  // next statistics (every 100 ms) count every Fetch sent: the batches, and the empty
  // fetch or two in flight when the last record came.
  list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), 0);
  rd_kafka_pause_partitions(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  const auto t1 = std::chrono::steady_clock::now();
  while (Since(t1) < 0.25) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 20);
    if (m != nullptr) rd_kafka_message_destroy(m);
  }
  probe.fetches = fetches;
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return probe;
}

int RunChangelog(const Args& args) {
  spdlog::set_level(spdlog::level::warn);
  auto started = tc::MockCluster::Start(1);
  if (!started.ok()) {
    std::fprintf(stderr, "tern_state_bench: mock cluster: %s\n", started.status().message().c_str());
    return 1;
  }
  std::unique_ptr<tc::MockCluster> mock = std::move(started.value());
  std::vector<std::string> vias = args.via == "both" ? std::vector<std::string>{"checkpointer", "steps"}
                                                     : std::vector<std::string>{args.via};
  std::string producer_text = "linger.ms=" + std::to_string(args.linger_ms);
  for (const auto& [k, v] : args.producer_properties) producer_text += " " + k + "=" + v;
  std::string consumer_text = "daemon's (socket.nagle.disable=true fetch.wait.max.ms=10)";
  for (const auto& [k, v] : args.consumer_properties) consumer_text += " " + k + "=" + v;
  std::printf("changelog: mock broker %s in this process (librdkafka %s, %s); %llu partial matches per key, "
              "%zu-byte events, %llu incremental checkpoints of %llu keys after the full one; producer %s; "
              "restore consumer %s; restores as child processes%s, %llu runs\n",
              mock->bootstrap_servers().c_str(), rd_kafka_version_str(), LoadedRdkafka().c_str(),
              static_cast<unsigned long long>(args.per_key), args.payload,
              static_cast<unsigned long long>(args.after), static_cast<unsigned long long>(args.after_keys),
              producer_text.c_str(), consumer_text.c_str(),
              args.hugepages ? " on huge pages (GLIBC_TUNABLES=glibc.malloc.hugetlb=1, as tern run)" : "",
              static_cast<unsigned long long>(args.runs));
  std::printf("first-touch page fault: %.1f us per 4 KiB page now\n", FaultMicros());
  std::fflush(stdout);

  struct Row {
    uint64_t matches = 0, keys = 0, runs = 0, events = 0, checkpoint = 0;
    int64_t low = 0, high = 0, meta_offset = -1;
    Produced full, after;
    double fill_s = 0, collect_s = 0;
    std::map<std::string, std::vector<Result>> results;
    std::map<std::string, std::vector<double>> walls, broker_cpu;
    bool mismatch = false, failed = false;
    int64_t fetches = -1, compacted_meta_offset = -1;
    uint64_t probe_records = 0, compacted_records = 0;
    double probe_s = 0, probe_min_s = 0;
  };
  std::vector<Row> rows;
  for (uint64_t matches : args.matches) {
    Row row;
    row.matches = matches;
    const uint64_t keys = std::max<uint64_t>(1, matches / args.per_key);
    const std::string prefix = "clbench" + std::to_string(matches) + "x" + std::to_string(args.after);
    const std::string topic = prefix + ".bench";
    tc::Status created = mock->CreateTopic(topic, 2);  // partition 1: the producer's warm-up
    if (!created.ok()) {
      std::fprintf(stderr, "tern_state_bench: %s: %s\n", topic.c_str(), created.message().c_str());
      return 1;
    }
    {
      Feeder feeder(args.payload);
      Engine& engine = feeder.engine();
      auto t0 = std::chrono::steady_clock::now();
      Fill(feeder, keys, args.per_key);
      row.fill_s = Since(t0);
      const std::string writer_dir = args.dir + "/changelog-writer";
      std::error_code ec;
      fs::remove_all(writer_dir, ec);
      tern::state::Status status;
      auto store = tern::state::PartitionStore::Open(writer_dir, "bench", &status);
      if (store == nullptr) {
        std::fprintf(stderr, "tern_state_bench: %s\n", status.message.c_str());
        return 1;
      }
      Delivery delivery;
      tc::ProducerOptions po;
      po.bootstrap_servers = mock->bootstrap_servers();
      // The Checkpointer's producer: the Producer's defaults (idempotent, acks=all,
      // linger.ms=1) and socket.nagle.disable, then kafka.producer's settings.
      po.properties = {{"socket.nagle.disable", "true"}, {"linger.ms", std::to_string(args.linger_ms)}};
      for (const auto& p : args.producer_properties) po.properties.push_back(p);
      po.on_delivery = [&delivery](const tc::DeliveryReport& r) {
        if (!r.status.ok()) {
          if (delivery.failed++ == 0) delivery.error = r.status.message();
          return;
        }
        if (r.opaque == kMetaOpaque) delivery.meta_offset = r.offset;
      };
      auto made = tc::Producer::Create(std::move(po));
      if (!made.ok()) {
        std::fprintf(stderr, "tern_state_bench: producer: %s\n", made.status().message().c_str());
        return 1;
      }
      std::unique_ptr<tc::Producer> producer = std::move(made.value());
      producer->ClusterId(2000);  // connected, as Checkpointer::Create does
      {
        // A long-running daemon's producer has its producer id and the topic's metadata:
        // one record to the changelog topic's partition 1 (the restore reads partition 0)
        // keeps their first-use wait (about 1 s) out of the figures.
        Produced warmup;
        tern::state::Checkpoint none;
        none.Put(tern::state::kMetaKey, "warm-up");
        if (!ProduceCheckpoint(*producer, delivery, topic, none, &warmup, 1)) return 1;
        std::printf("producer warm-up (producer id, metadata): %.3f s\n", warmup.seconds);
      }
      // The store is not written: only the records go to the changelog.
      auto collect = [&] {
        tern::state::PartitionMeta meta;
        meta.positions.emplace_back("offset", feeder.events());
        return store->Collect(engine, std::move(meta));
      };
      t0 = std::chrono::steady_clock::now();
      std::unique_ptr<tern::state::Checkpoint> checkpoint = collect();
      row.collect_s = Since(t0);
      Compaction compaction;
      Compaction* compact = args.compacted ? &compaction : nullptr;
      if (!ProduceCheckpoint(*producer, delivery, topic, *checkpoint, &row.full, 0, compact)) return 1;
      row.checkpoint = checkpoint->id();
      row.meta_offset = row.full.meta_offset;
      checkpoint.reset();
      KeyCursor cursor(keys);
      for (uint64_t i = 0; i < args.after; ++i) {
        for (uint64_t k = 0; k < args.after_keys && k < keys; ++k) feeder.Push(cursor.Next(), 'b', -1);
        checkpoint = collect();
        if (!ProduceCheckpoint(*producer, delivery, topic, *checkpoint, &row.after, 0, compact)) return 1;
        row.checkpoint = checkpoint->id();
        row.meta_offset = row.after.meta_offset;
      }
      if (compact != nullptr) {
        // The same changelog as Kafka's log cleaner leaves it once it has compacted every
        // segment (tombstones kept): produced to <prefix>c.bench.
        std::vector<std::pair<uint64_t, const std::pair<const std::string, Compaction::Last>*>> order;
        for (const auto& entry : compaction.last) order.emplace_back(entry.second.seq, &entry);
        std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        const std::string compacted_topic = prefix + "c.bench";
        if (!mock->CreateTopic(compacted_topic, 1).ok()) return 1;
        delivery.meta_offset = -1;
        for (const auto& [seq, entry] : order) {
          const std::string id = std::to_string(entry->second.checkpoint);
          const tc::Header header{kChangelogHeader, id};
          const uint64_t opaque = entry->first == tern::state::kMetaKey ? kMetaOpaque : 0;
          tc::Status produced;
          do {
            produced = producer->Produce(compacted_topic, entry->first,
                                         entry->second.tombstone ? std::string_view() : entry->second.value,
                                         std::span<const tc::Header>(&header, 1), opaque, 0);
            if (produced.code() == tc::Errc::kQueueFull) producer->Poll(10);
          } while (produced.code() == tc::Errc::kQueueFull);
          if (!produced.ok()) return 1;
        }
        if (!producer->Flush(300'000).ok() || delivery.meta_offset < 0) return 1;
        row.compacted_records = order.size();
        row.compacted_meta_offset = delivery.meta_offset;
      }
      const tern::engine::Stats stats = engine.stats();
      row.keys = stats.live_keys;
      row.runs = stats.live_runs;
      row.events = feeder.events();
      producer.reset();
      store.reset();
      std::printf("RESULT mode=produce matches=%llu keys=%llu live_runs=%llu fill_s=%.3f collect_s=%.3f "
                  "records=%llu bytes=%llu produce_s=%.4f after_records=%llu after_bytes=%llu after_s=%.4f "
                  "checkpoint=%llu meta_offset=%lld\n",
                  static_cast<unsigned long long>(matches), static_cast<unsigned long long>(row.keys),
                  static_cast<unsigned long long>(row.runs), row.fill_s, row.collect_s,
                  static_cast<unsigned long long>(row.full.records), static_cast<unsigned long long>(row.full.bytes),
                  row.full.seconds, static_cast<unsigned long long>(row.after.records),
                  static_cast<unsigned long long>(row.after.bytes), row.after.seconds,
                  static_cast<unsigned long long>(row.checkpoint), static_cast<long long>(row.meta_offset));
      std::fflush(stdout);
    }
    malloc_trim(0);
    {
      tc::ConsumerOptions co;
      co.bootstrap_servers = mock->bootstrap_servers();
      co.group_id = "clbench.probe";
      auto probe = tc::Consumer::Create(std::move(co));
      if (!probe.ok() || !probe.value()->QueryWatermarks(topic, 0, &row.low, &row.high, 10'000).ok()) {
        std::fprintf(stderr, "tern_state_bench: %s: no watermarks\n", topic.c_str());
        return 1;
      }
    }
    if (row.low > 0) {
      std::printf("WARNING %s: the mock holds offsets %lld..%lld only: it dropped the oldest %lld records "
                  "(librdkafka 2.0.2's mock keeps 5 MB or 100,000 batches per partition)\n",
                  topic.c_str(), static_cast<long long>(row.low), static_cast<long long>(row.high),
                  static_cast<long long>(row.low));
    }
    // Three reads by a plain consumer: the transport's own rate, and the batch count.
    std::vector<double> probe_s;
    for (int i = 0; i < 3; ++i) {
      const ReadProbe probe = ProbeRead(mock->bootstrap_servers(), topic, row.low, row.high, args.consumer_properties);
      probe_s.push_back(probe.seconds);
      row.fetches = probe.fetches;
      row.probe_records = probe.records;
    }
    row.probe_s = Median(probe_s);
    row.probe_min_s = *std::min_element(probe_s.begin(), probe_s.end());
    std::printf("RESULT mode=probe matches=%llu records=%llu fetches=%lld probe_s=%.4f probe_min_s=%.4f\n",
                static_cast<unsigned long long>(matches), static_cast<unsigned long long>(row.probe_records),
                static_cast<long long>(row.fetches), row.probe_s, row.probe_min_s);
    std::fflush(stdout);
    std::string child = "changelog-restore --dir " + Quote(args.dir + "/changelog-restore") + " --brokers " +
                        Quote(mock->bootstrap_servers()) + " --prefix " + Quote(prefix) + " --checkpoint " +
                        std::to_string(row.checkpoint) + " --offset " + std::to_string(row.meta_offset) +
                        " --payload " + std::to_string(args.payload);
    for (const auto& [k, v] : args.consumer_properties) child += " --consumer " + Quote(k + "=" + v);
    for (uint64_t r = 0; r < args.runs && !row.failed; ++r) {
      for (const std::string& via : vias) {
        std::error_code ec;
        fs::remove_all(args.dir + "/changelog-restore", ec);  // an empty state dir: restore from the changelog
        Result result;
        double wall = 0;
        const double cpu0 = ProcessCpu();  // this process runs the mock broker's thread, nothing else now
        if (!RunChild(child + " --via " + via, &result, &wall,
                      args.hugepages ? "GLIBC_TUNABLES=glibc.malloc.hugetlb=1" : "GLIBC_TUNABLES=")) {
          std::printf("FAILED %llu partial matches: changelog-restore --via %s (its error above)\n",
                      static_cast<unsigned long long>(matches), via.c_str());
          std::fflush(stdout);
          row.failed = true;
          break;
        }
        row.broker_cpu[via].push_back(ProcessCpu() - cpu0);
        if (result["keys"] != static_cast<double>(row.keys) ||
            result["partial_matches"] != static_cast<double>(row.runs)) {
          std::printf("MISMATCH %s: restored %.0f keys, %.0f partial matches; the engine had %llu, %llu\n",
                      via.c_str(), result["keys"], result["partial_matches"],
                      static_cast<unsigned long long>(row.keys), static_cast<unsigned long long>(row.runs));
          row.mismatch = true;
        }
        row.results[via].push_back(result);
        row.walls[via].push_back(wall);
      }
    }
    if (row.compacted_meta_offset >= 0) {
      std::error_code ec;
      fs::remove_all(args.dir + "/changelog-restore", ec);
      std::string compacted = "changelog-restore --dir " + Quote(args.dir + "/changelog-restore") + " --brokers " +
                              Quote(mock->bootstrap_servers()) + " --prefix " + Quote(prefix + "c") +
                              " --checkpoint " + std::to_string(row.checkpoint) + " --offset " +
                              std::to_string(row.compacted_meta_offset) + " --payload " +
                              std::to_string(args.payload) + " --via checkpointer";
      Result result;
      double wall = 0;
      std::printf("compacted changelog (%llu records: the last of each key), restored through Checkpointer::Open:\n",
                  static_cast<unsigned long long>(row.compacted_records));
      std::fflush(stdout);
      if (!RunChild(compacted, &result, &wall, args.hugepages ? "GLIBC_TUNABLES=glibc.malloc.hugetlb=1" : "")) {
        std::printf("COMPACTED %llu partial matches: the restore failed (its error above); the engine had %llu "
                    "keys, %llu partial matches\n",
                    static_cast<unsigned long long>(matches), static_cast<unsigned long long>(row.keys),
                    static_cast<unsigned long long>(row.runs));
      } else {
        std::printf("COMPACTED %llu partial matches: restored %.0f keys, %.0f partial matches from %.0f records; the "
                    "engine had %llu keys, %llu partial matches\n",
                    static_cast<unsigned long long>(matches), result["keys"], result["partial_matches"],
                    result["records"], static_cast<unsigned long long>(row.keys),
                    static_cast<unsigned long long>(row.runs));
      }
      std::fflush(stdout);
    }
    rows.push_back(std::move(row));
  }

  auto med = [](const std::vector<Result>& v, const char* key) {
    std::vector<double> x;
    for (const Result& r : v) x.push_back(r.count(key) ? r.at(key) : 0);
    return Median(x);
  };
  auto min = [](const std::vector<Result>& v, const char* key) {
    double m = 1e300;
    for (const Result& r : v) m = std::min(m, r.count(key) ? r.at(key) : 0);
    return v.empty() ? 0 : m;
  };
  std::printf("\nproduce: the full checkpoint (and the incremental ones) to the changelog, acknowledged\n"
              "| partial matches | keys | records | MB | fill s | Collect s | produce s | records/s | MB/s | "
              "after: records | after s | changelog offsets | committed record | Fetch requests (~ batches) | "
              "records per batch | plain read s | plain read records/s |\n"
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|\n");
  for (const Row& row : rows) {
    std::printf("| %llu | %llu | %llu | %.1f | %.2f | %.2f | %.2f | %.0f | %.1f | %llu | %.2f | %lld..%lld | %lld | "
                "%lld | %.0f | %.3f (%.3f) | %.0f |\n",
                static_cast<unsigned long long>(row.runs), static_cast<unsigned long long>(row.keys),
                static_cast<unsigned long long>(row.full.records), MB(static_cast<double>(row.full.bytes)),
                row.fill_s, row.collect_s, row.full.seconds,
                static_cast<double>(row.full.records) / std::max(1e-9, row.full.seconds),
                MB(static_cast<double>(row.full.bytes)) / std::max(1e-9, row.full.seconds),
                static_cast<unsigned long long>(row.after.records), row.after.seconds,
                static_cast<long long>(row.low), static_cast<long long>(row.high),
                static_cast<long long>(row.meta_offset), static_cast<long long>(row.fetches),
                static_cast<double>(row.high - row.low) / std::max<double>(1, static_cast<double>(row.fetches)),
                row.probe_s, row.probe_min_s,
                static_cast<double>(row.probe_records) / std::max(1e-9, row.probe_s));
  }
  std::printf("\nrestore through Checkpointer::Open on an empty state dir (the daemon's path): median (min) "
              "of %llu runs, seconds\n"
              "| partial matches | records read | Checkpointer::Create | Open (restore) | records/s | MB/s | "
              "first Push | start to first record | Open CPU s | broker CPU s | Open faults | RSS MB | peak RSS MB |\n"
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
              static_cast<unsigned long long>(args.runs));
  for (const Row& row : rows) {
    auto it = row.results.find("checkpointer");
    if (it == row.results.end()) continue;
    const auto& v = it->second;
    const double bytes = static_cast<double>(row.full.bytes + row.after.bytes);
    std::printf("| %llu | %.0f | %.3f | %.3f (%.3f) | %.0f | %.1f | %.4f | %.3f (%.3f) | %.2f | %.2f | %.0f | %.0f | %.0f |\n",
                static_cast<unsigned long long>(row.runs), med(v, "records"), med(v, "create_s"),
                med(v, "restore_s"), min(v, "restore_s"), med(v, "records") / std::max(1e-9, med(v, "restore_s")),
                MB(bytes) / std::max(1e-9, med(v, "restore_s")), med(v, "first_push_s"), med(v, "total_s"),
                min(v, "total_s"), med(v, "restore_cpu_s"), Median(row.broker_cpu.at("checkpointer")),
                med(v, "restore_faults"), MB(med(v, "rss_loaded")), MB(med(v, "peak_rss")));
  }
  std::printf("\nrestore by Checkpointer::Open's steps (the same calls, timed one by one): median (min), seconds\n"
              "| partial matches | store open+clear | consumer+watermarks | first batch | changelog read | "
              "records/s | MB/s | store Write | Load | restore total | start to first record | read CPU s | "
              "Write CPU s | Load CPU s | broker CPU s | Load faults | RSS after read MB | peak RSS MB |\n"
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const Row& row : rows) {
    auto it = row.results.find("steps");
    if (it == row.results.end()) continue;
    const auto& v = it->second;
    std::printf("| %llu | %.3f | %.3f | %.3f | %.3f (%.3f) | %.0f | %.1f | %.3f (%.3f) | %.3f (%.3f) | %.3f (%.3f) | "
                "%.3f | %.2f | %.2f | %.2f | %.2f | %.0f | %.0f | %.0f |\n",
                static_cast<unsigned long long>(row.runs), med(v, "store_open_s"), med(v, "connect_s"),
                med(v, "first_batch_s"), med(v, "read_s"), min(v, "read_s"),
                med(v, "records") / std::max(1e-9, med(v, "read_s")),
                MB(med(v, "bytes")) / std::max(1e-9, med(v, "read_s")), med(v, "write_s"), min(v, "write_s"),
                med(v, "load_s"), min(v, "load_s"), med(v, "restore_s"), min(v, "restore_s"), med(v, "total_s"),
                med(v, "read_cpu_s"), med(v, "write_cpu_s"), med(v, "load_cpu_s"), Median(row.broker_cpu.at("steps")),
                med(v, "load_faults"), MB(med(v, "rss_read")), MB(med(v, "peak_rss")));
  }
  bool mismatch = false;
  for (const Row& row : rows) mismatch = mismatch || row.mismatch || row.failed;
  return mismatch ? 1 : 0;
}

// One restore from the changelog into an empty state dir, then one record pushed.
int RunChangelogRestore(const Args& args, std::chrono::steady_clock::time_point start) {
  namespace st = tern::state;
  spdlog::set_level(spdlog::level::warn);
  Feeder feeder(args.payload);
  Engine& engine = feeder.engine();
  const double setup_s = Since(start);
  // The daemon's restore consumer (connectors/daemon.cc PrepareState), then kafka.consumer's.
  tc::Properties consumer_properties = {{"socket.nagle.disable", "true"}, {"fetch.wait.max.ms", "10"}};
  for (const auto& p : args.consumer_properties) consumer_properties.push_back(p);
  const std::string group = "clbench";
  const std::string topic = args.prefix + ".bench";
  double create_s = 0, restore_s = 0, restore_cpu_s = 0, store_open_s = 0, connect_s = 0, first_batch_s = 0,
         read_s = 0, poll_s = 0, write_s = 0, load_s = 0, read_cpu_s = 0, write_cpu_s = 0, load_cpu_s = 0;
  uint64_t records = 0, bytes = 0, restore_faults = 0, load_faults = 0, polls = 0, rss_read = 0;
  int64_t position = 0;
  st::LoadReport report;
  std::unique_ptr<tc::Checkpointer> checkpointer;  // kept: the daemon keeps its store open
  std::unique_ptr<st::PartitionStore> store;
  if (args.via != "steps") {
    tc::CheckpointerOptions co;
    co.dir = args.dir;
    co.bootstrap_servers = args.brokers;
    co.group = group;
    co.consumer_properties = consumer_properties;
    co.producer_properties = {{"socket.nagle.disable", "true"}};
    co.changelog_prefix = args.prefix;
    auto t0 = std::chrono::steady_clock::now();
    auto made = tc::Checkpointer::Create(std::move(co));
    create_s = Since(t0);
    if (!made.ok()) {
      std::fprintf(stderr, "tern_state_bench: checkpointer: %s\n", made.status().message().c_str());
      return 1;
    }
    checkpointer = std::move(made.value());
    tc::CommittedCheckpoint committed;
    committed.checkpoint = args.checkpoint;
    committed.changelog_offset = args.changelog_offset;
    tc::Checkpointer::Opened opened;
    const uint64_t faults = MinorFaults();
    const double cpu = ProcessCpu();
    t0 = std::chrono::steady_clock::now();
    st::Status status = checkpointer->Open(0, "bench", 0, committed, false, engine, ReparseEvent, &feeder.parser(),
                                           &opened);
    restore_s = Since(t0);
    restore_cpu_s = ProcessCpu() - cpu;
    restore_faults = MinorFaults() - faults;
    if (!status.ok() || !opened.from_changelog) {
      std::fprintf(stderr, "tern_state_bench: Open: %s\n",
                   status.ok() ? "not restored from the changelog" : status.message.c_str());
      return 1;
    }
    records = opened.changelog_records;
    report = opened.report;
    position = opened.position;
  } else {
    // Checkpointer::Open's steps for a changelog restore (connectors/checkpointer.cc Open,
    // OpenChangelog, RestoreFromChangelog), timed one by one.
    auto t0 = std::chrono::steady_clock::now();
    st::Status status;
    store = st::PartitionStore::Open(args.dir, "bench", &status);
    st::PartitionMeta meta;
    if (store != nullptr) {
      status = store->ReadMeta(&meta);
      status = store->Clear();
    }
    store_open_s = Since(t0);
    if (store == nullptr || !status.ok()) {
      std::fprintf(stderr, "tern_state_bench: store: %s\n", status.message.c_str());
      return 1;
    }
    const double cpu = ProcessCpu();
    t0 = std::chrono::steady_clock::now();
    tc::ConsumerOptions co;
    co.bootstrap_servers = args.brokers;
    co.group_id = group + ".tern.restore";
    co.properties = consumer_properties;
    auto made = tc::Consumer::Create(std::move(co));
    if (!made.ok()) {
      std::fprintf(stderr, "tern_state_bench: consumer: %s\n", made.status().message().c_str());
      return 1;
    }
    std::unique_ptr<tc::Consumer> consumer = std::move(made.value());
    int64_t low = 0, high = 0;
    tc::Status s = consumer->QueryWatermarks(topic, 0, &low, &high, 10'000);
    connect_s = Since(t0);
    if (!s.ok() || args.changelog_offset < low || args.changelog_offset >= high) {
      std::fprintf(stderr, "tern_state_bench: %s: %s (offsets %lld..%lld)\n", topic.c_str(),
                   s.ok() ? "the committed record is not there" : s.message().c_str(), static_cast<long long>(low),
                   static_cast<long long>(high));
      return 1;
    }
    t0 = std::chrono::steady_clock::now();
    tc::TopicPartitionOffset from{topic, 0, low, ""};
    s = consumer->Assign(std::span<const tc::TopicPartitionOffset>(&from, 1));
    if (!s.ok()) return 1;
    st::Checkpoint pending;
    uint64_t pending_id = 0;
    bool applied_committed = false;
    int64_t next = low;
    tc::MessageBatch batch;
    while (next < high && status.ok()) {
      auto p0 = std::chrono::steady_clock::now();
      s = consumer->Poll(100, 4096, &batch);
      poll_s += Since(p0);
      ++polls;
      if (!s.ok()) return 1;
      if (batch.empty()) continue;
      if (first_batch_s == 0) first_batch_s = Since(t0);
      for (const tc::Message& m : batch) {
        if (m.offset() < next) continue;
        next = m.offset() + 1;
        ++records;
        bytes += m.key().size() + m.value().size();
        if (m.offset() > args.changelog_offset) continue;
        uint64_t id = 0;
        std::optional<std::string_view> header = m.FindHeader(kChangelogHeader);
        if (!header) continue;
        std::from_chars(header->data(), header->data() + header->size(), id);
        if (id != pending_id) {
          pending = st::Checkpoint();
          pending_id = id;
        }
        const bool tombstone = m.value().data() == nullptr;
        if (tombstone) {
          pending.Delete(m.key());
        } else {
          pending.Put(m.key(), m.value());
        }
        if (m.key() == st::kMetaKey && !tombstone) {
          auto w0 = std::chrono::steady_clock::now();
          const double wcpu = ProcessCpu();
          status = store->Write(pending);
          write_cpu_s += ProcessCpu() - wcpu;
          write_s += Since(w0);
          pending = st::Checkpoint();
          pending_id = 0;
          if (m.offset() == args.changelog_offset) applied_committed = true;
        }
      }
    }
    read_s = Since(t0) - write_s;
    read_cpu_s = ProcessCpu() - cpu - write_cpu_s;
    rss_read = CurrentRssBytes();
    batch.Clear();  // its messages hold the consumer's handle (rd_kafka_destroy waits for them)
    consumer.reset();
    if (!status.ok() || !applied_committed) {
      std::fprintf(stderr, "tern_state_bench: restore: %s\n",
                   status.ok() ? "the committed record was not applied" : status.message.c_str());
      return 1;
    }
    status = store->ReadMeta(&meta);
    const uint64_t faults = MinorFaults();
    const double lcpu = ProcessCpu();
    t0 = std::chrono::steady_clock::now();
    if (status.ok()) status = store->Load(engine, meta, &report, ReparseEvent, &feeder.parser());
    load_s = Since(t0);
    load_cpu_s = ProcessCpu() - lcpu;
    load_faults = MinorFaults() - faults;
    if (!status.ok()) {
      std::fprintf(stderr, "tern_state_bench: load: %s\n", status.message.c_str());
      return 1;
    }
    restore_s = store_open_s + connect_s + read_s + write_s + load_s;
    position = static_cast<int64_t>(st::PositionOf(meta, "offset", 0));
  }
  const uint64_t rss_loaded = CurrentRssBytes();
  feeder.set_events(static_cast<uint64_t>(position));
  auto t0 = std::chrono::steady_clock::now();
  feeder.Push(0, 'a', 0);  // the first record after the restore
  const double first_push_s = Since(t0);
  const double total_s = Since(start);
  std::printf("RESULT via=%s setup_s=%.4f create_s=%.4f restore_s=%.4f restore_cpu_s=%.4f restore_faults=%llu "
              "store_open_s=%.4f connect_s=%.4f first_batch_s=%.4f read_s=%.4f poll_s=%.4f polls=%llu "
              "write_s=%.4f load_s=%.4f read_cpu_s=%.4f write_cpu_s=%.4f load_cpu_s=%.4f load_faults=%llu first_push_s=%.6f "
              "total_s=%.4f records=%llu bytes=%llu keys=%llu partial_matches=%llu events=%llu rss_read=%llu "
              "rss_loaded=%llu peak_rss=%llu\n",
              args.via == "steps" ? "steps" : "checkpointer", setup_s, create_s, restore_s, restore_cpu_s,
              static_cast<unsigned long long>(restore_faults), store_open_s, connect_s, first_batch_s, read_s,
              poll_s, static_cast<unsigned long long>(polls), write_s, load_s, read_cpu_s, write_cpu_s, load_cpu_s,
              static_cast<unsigned long long>(load_faults), first_push_s, total_s,
              static_cast<unsigned long long>(records), static_cast<unsigned long long>(bytes),
              static_cast<unsigned long long>(report.keys), static_cast<unsigned long long>(report.partial_matches),
              static_cast<unsigned long long>(report.events), static_cast<unsigned long long>(rss_read),
              static_cast<unsigned long long>(rss_loaded), static_cast<unsigned long long>(PeakRssBytes()));
  std::fflush(stdout);
  std::_Exit(0);  // the engine's, the store's and the clients' teardown are not part of any figure
}

}  // namespace

int main(int argc, char** argv) {
  const auto start = std::chrono::steady_clock::now();
  if (argc < 2 || std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string_view command = argv[1];
  Args args;
  for (int i = 2; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool value = i + 1 < argc;
    if (arg == "--dir" && value) {
      args.dir = argv[++i];
    } else if (arg == "--totals" && value) {
      args.totals = ParseList(argv[++i]);
    } else if (arg == "--changed" && value) {
      args.changed = ParseList(argv[++i]);
    } else if (arg == "--per-key" && value) {
      args.per_key = std::strtoull(argv[++i], nullptr, 10);
      args.per_key_set = true;
    } else if (arg == "--reps" && value) {
      args.reps = std::max<uint64_t>(1, std::strtoull(argv[++i], nullptr, 10));
    } else if (arg == "--keys" && value) {
      args.keys = std::max<uint64_t>(1, std::strtoull(argv[++i], nullptr, 10));
    } else if (arg == "--runs" && value) {
      args.runs = std::max<uint64_t>(1, std::strtoull(argv[++i], nullptr, 10));
    } else if (arg == "--after" && value) {
      args.after = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--payload" && value) {
      args.payload = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--touch" && value) {
      args.touch = argv[++i];
      if (args.touch != "a" && args.touch != "miss" && args.touch != "complete" && args.touch != "reload") {
        std::fprintf(stderr, "tern_state_bench: --touch is a, miss, complete or reload\n");
        return 2;
      }
    } else if (arg == "--prefault" && value) {
      args.prefault_mb = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--no-drop-caches") {
      args.drop_caches = false;
    } else if (arg == "--reuse") {
      args.reuse = true;
    } else if (arg == "--matches" && value) {
      args.matches = ParseList(argv[++i]);
    } else if (arg == "--after-keys" && value) {
      args.after_keys = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--linger" && value) {
      args.linger_ms = std::atoi(argv[++i]);
    } else if ((arg == "--producer" || arg == "--consumer") && value) {
      const std::string kv = argv[++i];
      const size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::fprintf(stderr, "tern_state_bench: %s wants NAME=VALUE, not '%s'\n", argv[i - 1], kv.c_str());
        return 2;
      }
      (arg == "--producer" ? args.producer_properties : args.consumer_properties)
          .emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    } else if (arg == "--brokers" && value) {
      args.brokers = argv[++i];
    } else if (arg == "--prefix" && value) {
      args.prefix = argv[++i];
    } else if (arg == "--checkpoint" && value) {
      args.checkpoint = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--offset" && value) {
      args.changelog_offset = std::strtoll(argv[++i], nullptr, 10);
    } else if (arg == "--via" && value) {
      args.via = argv[++i];
      if (args.via != "both" && args.via != "checkpointer" && args.via != "steps") {
        std::fprintf(stderr, "tern_state_bench: --via is checkpointer, steps or both\n");
        return 2;
      }
    } else if (arg == "--compacted") {
      args.compacted = true;
    } else if (arg == "--no-hugepages") {
      args.hugepages = false;
    } else if (arg == "--breakdown") {
      args.breakdown = true;
    } else if (arg == "--scan-only") {
      args.scan_only = true;
    } else {
      std::fprintf(stderr, "tern_state_bench: unexpected argument '%s'\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (command == "checkpoint") return RunCheckpoint(args);
  if (command == "recovery") {
    if (!args.per_key_set) args.per_key = 4;
    return RunRecovery(args);
  }
  if (command == "fill") return RunFill(args);
  if (command == "recover") return RunRecover(args, start);
  if (command == "changelog") {
    if (!args.per_key_set) args.per_key = 4;
    return RunChangelog(args);
  }
  if (command == "changelog-restore") return RunChangelogRestore(args, start);
  std::fprintf(stderr, "tern_state_bench: unknown command '%s'\n%s", argv[1], kUsage);
  return 2;
}
