// tern_state_bench: the durable state store (issue 15) on a real RocksDB on disk.
//   checkpoint  checkpoint size and time vs the number of changed keys, as the total
//               state grows (the cost must follow the changed keys, not the state);
//   recovery    time from start to the first processed record with a large store
//               (ReadMeta + Load into a fresh engine + one Push), cold page cache
//               when it can be dropped; peak RSS of the filled engine and of the load.
//   fill, recover: the two halves of `recovery`, each its own process (so that
//               each peak RSS is its own); `recovery` runs them as children.
// Tested by CTest state_bench_smoke (tiny sizes); figures in bench/results/*-state.md.
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

#include <algorithm>
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
#include <string>
#include <string_view>
#include <vector>

#include "base/diagnostic.h"
#include "base/source.h"
#include "compiler/compile.h"
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
    "  checkpoint: per total T (keys), fill, a full checkpoint, then per changed count\n"
    "    C <= T, --reps rounds of touching C keys then Collect + Write; medians.\n"
    "  recovery: `fill` once (unless --reuse and the store exists), one `recover` (the\n"
    "    first open after the big first checkpoint replays it from RocksDB's log), then\n"
    "    --runs times each of `recover`, `recover` on huge pages (GLIBC_TUNABLES=\n"
    "    glibc.malloc.hugetlb=1, as tern run starts), `recover --breakdown`, `recover\n"
    "    --scan-only` and `recover --prefault` as child processes, dropping the page cache before each\n"
    "    (root only; else warm, said).\n"
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
  std::fprintf(stderr, "tern_state_bench: unknown command '%s'\n%s", argv[1], kUsage);
  return 2;
}
