// tern_bench_engine: the engine alone. Loads the input into memory, then feeds it
// to an engine::Engine event by event (parse untimed, Push timed with the TSC) and
// reports engine events/s, per-event Push latency percentiles, state at the end of
// input (partial matches, heap bytes, bytes per partial match), heap allocations
// made inside Push once warm, and the same per segment of the stream.
// Tested by the CTest smoke runs of bench/scenarios (bench_w*_smoke).
//
// IMPLEMENTATION
// Each event is parsed right before its Push, into the record the engine hands
// out (Engine::NewEvent), exactly as `tern replay` does; only Push is timed. So
// the figure excludes I/O and JSON parsing but keeps the record flow and cache
// behaviour of a replay (pre-parsing 2M records into a separate array would hold
// about 1 GB and measure an engine that always reads cold records).
// Timing: rdtsc around each Push (lfence before, rdtscp after, ~40 cycles),
// converted to ns with a TSC rate calibrated against steady_clock over the run.
// Heap: this binary replaces the global operator new/delete with counting
// versions (malloc_usable_size bytes), so "engine heap" is the growth of live
// heap bytes since just before the first Push — the engine's state, event
// records included — and "allocations inside Push" counts calls made while a
// Push is on the stack.
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define TERN_HAVE_TSC 1
#endif

#include "base/duration.h"
#include "bench/bench_common.h"
#include "engine/engine.h"
#include "engine/event_parser.h"
#include "engine/line_reader.h"

// ---- Counting allocator (whole process; the tool is single-threaded) ----

namespace {

uint64_t g_live_bytes = 0;   // usable bytes of live operator-new blocks
uint64_t g_allocs = 0;       // operator-new calls, all
uint64_t g_push_allocs = 0;  // operator-new calls while a Push runs
bool g_in_push = false;

void* CountedAlloc(size_t size, size_t align) {
  if (size == 0) size = 1;
  void* p = align <= alignof(std::max_align_t)
                ? std::malloc(size)
                : std::aligned_alloc(align, (size + align - 1) / align * align);
  if (p != nullptr) {
    g_live_bytes += malloc_usable_size(p);
    ++g_allocs;
    if (g_in_push) ++g_push_allocs;
  }
  return p;
}

void CountedFree(void* p) {
  if (p == nullptr) return;
  g_live_bytes -= malloc_usable_size(p);
  std::free(p);
}

void* ThrowingAlloc(size_t size, size_t align) {
  void* p = CountedAlloc(size, align);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

void* operator new(size_t n) { return ThrowingAlloc(n, 0); }
void* operator new[](size_t n) { return ThrowingAlloc(n, 0); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return CountedAlloc(n, 0); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return CountedAlloc(n, 0); }
void* operator new(size_t n, std::align_val_t a) {
  return ThrowingAlloc(n, static_cast<size_t>(a));
}
void* operator new[](size_t n, std::align_val_t a) {
  return ThrowingAlloc(n, static_cast<size_t>(a));
}
void* operator new(size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return CountedAlloc(n, static_cast<size_t>(a));
}
void* operator new[](size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return CountedAlloc(n, static_cast<size_t>(a));
}
void operator delete(void* p) noexcept { CountedFree(p); }
void operator delete[](void* p) noexcept { CountedFree(p); }
void operator delete(void* p, size_t) noexcept { CountedFree(p); }
void operator delete[](void* p, size_t) noexcept { CountedFree(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { CountedFree(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { CountedFree(p); }
void operator delete(void* p, std::align_val_t) noexcept { CountedFree(p); }
void operator delete[](void* p, std::align_val_t) noexcept { CountedFree(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { CountedFree(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { CountedFree(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { CountedFree(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  CountedFree(p);
}

namespace {

constexpr const char* kUsage =
    "usage: tern_bench_engine PATTERNS.tern... --input FILE [options]\n"
    "  --time-field NAME   event time member (default ts)\n"
    "  --lateness DUR      as for tern replay (default 0)\n"
    "  --segments N        report the stream in N equal segments (default 10)\n"
    "Prints a human-readable report, then one line 'RESULT key=value ...'.\n";

inline uint64_t Ticks() {
#ifdef TERN_HAVE_TSC
  _mm_lfence();
  return __rdtsc();
#else
  return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

inline uint64_t TicksEnd() {
#ifdef TERN_HAVE_TSC
  unsigned aux;
  return __rdtscp(&aux);
#else
  return Ticks();
#endif
}

uint64_t CurrentRssBytes() {
  long pages = 0, resident = 0;
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  std::fclose(f);
  return static_cast<uint64_t>(resident) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

uint64_t PeakRssBytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<uint64_t>(usage.ru_maxrss) * 1024;
}

struct Segment {
  uint64_t events = 0;
  uint64_t ticks = 0;  // Push time
  uint64_t push_allocs = 0;
  uint64_t live_runs = 0;  // at the segment's end
  uint64_t live_keys = 0;
  int64_t heap_bytes = 0;  // engine heap at the segment's end
  uint64_t rss_bytes = 0;
};

struct InputLine {
  uint64_t offset;
  uint32_t size;
  uint64_t number;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> patterns;
  std::string input, time_field = "ts";
  int64_t lateness_ms = 0;
  int segments = 10;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--input" && i + 1 < argc) {
      input = argv[++i];
    } else if (arg == "--time-field" && i + 1 < argc) {
      time_field = argv[++i];
    } else if (arg == "--lateness" && i + 1 < argc) {
      if (!tern::ParseDuration(argv[++i], &lateness_ms)) {
        std::fprintf(stderr, "tern_bench_engine: bad --lateness '%s'\n", argv[i]);
        return 2;
      }
    } else if (arg == "--segments" && i + 1 < argc) {
      segments = std::max(1, std::atoi(argv[++i]));
    } else if (tern::bench::EndsWith(arg, ".tern")) {
      patterns.emplace_back(arg);
    } else {
      std::fprintf(stderr, "tern_bench_engine: unexpected argument '%s'\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (patterns.empty() || input.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }

  tern::engine::Options options;
  options.lateness_ms = lateness_ms;
  tern::engine::Engine engine(options);
  if (!tern::bench::CompilePatterns(patterns, engine, "tern_bench_engine")) return 1;

  // The whole input in memory, one string.
  std::string text;
  std::vector<InputLine> lines;
  {
    tern::engine::LineReader reader;
    std::string error;
    if (!reader.Open(input, &error)) {
      std::fprintf(stderr, "tern_bench_engine: %s\n", error.c_str());
      return 1;
    }
    tern::engine::Line line;
    while (reader.Next(&line)) {
      lines.push_back({text.size(), static_cast<uint32_t>(line.text.size()), line.number});
      text.append(line.text);
    }
    if (!reader.error().empty()) {
      std::fprintf(stderr, "tern_bench_engine: %s\n", reader.error().c_str());
      return 1;
    }
  }
  const uint64_t n = lines.size();
  std::vector<uint32_t> latency(n);  // Push ticks per event (saturated)
  std::vector<Segment> segment_stats(static_cast<size_t>(segments));

  tern::engine::EventParser parser(engine.schema(), time_field);
  const uint32_t stream = engine.StreamId(
      input == "-" ? std::string("stdin") : std::filesystem::path(input).stem().string());
  std::string error;
  {
    // Warm the parser's own buffers so they do not count as engine state.
    tern::nfa::StoredEvent scratch;
    if (n > 0) parser.Parse(std::string_view(text.data(), lines[0].size), scratch, &error);
  }
  engine.alerts().reserve(1024);

  uint64_t alerts = 0, malformed = 0, late = 0, total_ticks = 0;
  // Second half of the stream: allocations inside pushes that emitted no alert,
  // and inside those that did (alert materialisation), per alert.
  uint64_t quiet_allocs = 0, quiet_events = 0, alert_allocs = 0, alert_count = 0;
  const int64_t heap_base = static_cast<int64_t>(g_live_bytes);
  const uint64_t rss_base = CurrentRssBytes();
  const auto wall_start = std::chrono::steady_clock::now();
  const uint64_t tick_start = Ticks();
  size_t seg = 0;
  uint64_t seg_end = n / static_cast<uint64_t>(segments);  // one past the segment's last event
  uint64_t seg_ticks = 0, seg_allocs_base = g_push_allocs, seg_events = 0;
  for (uint64_t i = 0; i < n; ++i) {
    const InputLine& in = lines[i];
    tern::nfa::StoredEvent* event = engine.NewEvent();
    if (!parser.Parse(std::string_view(text.data() + in.offset, in.size), *event, &error)) {
      engine.Discard(event);
      ++malformed;
      latency[i] = 0;
    } else {
      event->position = in.number;
      event->partition = 0;
      event->stream = stream;
      const uint64_t allocs_before = g_push_allocs;
      const uint64_t t0 = Ticks();
      g_in_push = true;
      const bool was_late = engine.Push(event);
      g_in_push = false;
      const uint64_t dt = TicksEnd() - t0;
      latency[i] = dt > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(dt);
      seg_ticks += dt;
      ++seg_events;
      if (was_late) ++late;
      const size_t produced = engine.alerts().size();
      if (i >= n / 2) {  // warm: the second half of the stream
        if (produced == 0) {
          quiet_allocs += g_push_allocs - allocs_before;
          ++quiet_events;
        } else {
          alert_allocs += g_push_allocs - allocs_before;
          alert_count += produced;
        }
      }
      alerts += produced;
      engine.alerts().clear();
    }
    // Close every segment that ends here (several when n < segments).
    while (seg < segment_stats.size() && i + 1 >= seg_end) {
      const tern::engine::Stats& stats = engine.stats();
      Segment& g = segment_stats[seg];
      g.events = seg_events;
      g.ticks = seg_ticks;
      g.push_allocs = g_push_allocs - seg_allocs_base;
      g.live_runs = stats.live_runs;
      g.live_keys = stats.live_keys;
      g.heap_bytes = static_cast<int64_t>(g_live_bytes) - heap_base;
      g.rss_bytes = CurrentRssBytes();
      total_ticks += seg_ticks;
      seg_ticks = 0;
      seg_events = 0;
      seg_allocs_base = g_push_allocs;
      ++seg;
      seg_end = n * (seg + 1) / static_cast<uint64_t>(segments);
    }
  }
  const uint64_t tick_stop = Ticks();
  const double wall_ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - wall_start)
          .count();
#ifdef TERN_HAVE_TSC
  const double ns_per_tick =
      tick_stop > tick_start ? wall_ns / static_cast<double>(tick_stop - tick_start) : 1.0;
#else
  const double ns_per_tick = 1.0;
  (void)tick_stop;
#endif

  // State at the end of input, before Finish closes every window.
  const tern::engine::Stats end_stats = engine.stats();
  const int64_t heap_end = static_cast<int64_t>(g_live_bytes) - heap_base;
  const uint64_t rss_end = CurrentRssBytes();

  const uint64_t finish_start = Ticks();
  engine.Finish();
  const double finish_ms = static_cast<double>(Ticks() - finish_start) * ns_per_tick / 1e6;
  const uint64_t alerts_before_finish = alerts;
  alerts += engine.alerts().size();
  engine.alerts().clear();

  // Percentiles over the events that were pushed.
  std::vector<uint32_t> sorted;
  sorted.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    if (latency[i] != 0) sorted.push_back(latency[i]);
  }
  std::sort(sorted.begin(), sorted.end());
  auto pct_us = [&](double q) {
    if (sorted.empty()) return 0.0;
    size_t idx = static_cast<size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
    return static_cast<double>(sorted[idx]) * ns_per_tick / 1e3;
  };
  const uint64_t pushed = sorted.size();
  const double push_s = static_cast<double>(total_ticks) * ns_per_tick / 1e9;
  const double eps = push_s > 0 ? static_cast<double>(pushed) / push_s : 0;
  const double ns_per_event = pushed > 0 ? push_s * 1e9 / static_cast<double>(pushed) : 0;

  // Allocations inside Push over the second half of the stream (warm).
  uint64_t warm_allocs = 0, warm_events = 0;
  for (size_t s = segment_stats.size() / 2; s < segment_stats.size(); ++s) {
    warm_allocs += segment_stats[s].push_allocs;
    warm_events += segment_stats[s].events;
  }
  const double warm_allocs_per_event =
      warm_events > 0 ? static_cast<double>(warm_allocs) / static_cast<double>(warm_events) : 0;
  const double bytes_per_run =
      end_stats.live_runs > 0
          ? static_cast<double>(heap_end) / static_cast<double>(end_stats.live_runs)
          : 0;

  // A log-scale histogram of Push latency.
  static constexpr double kBoundsNs[] = {100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 1e6};
  constexpr size_t kBuckets = sizeof kBoundsNs / sizeof kBoundsNs[0] + 1;
  uint64_t histogram[kBuckets] = {};
  for (uint32_t t : sorted) {
    double ns = static_cast<double>(t) * ns_per_tick;
    size_t b = 0;
    while (b + 1 < kBuckets && ns >= kBoundsNs[b]) ++b;
    ++histogram[b];
  }

  std::printf("input: %llu events (%llu malformed, %llu late), %zu patterns, %u schema slots\n",
              static_cast<unsigned long long>(n), static_cast<unsigned long long>(malformed),
              static_cast<unsigned long long>(late), engine.programs().size(),
              engine.schema().size());
  std::printf("alerts: %llu (%llu at Finish)\n", static_cast<unsigned long long>(alerts),
              static_cast<unsigned long long>(alerts - alerts_before_finish));
  std::printf(
      "engine alone (Push time only): %.3f s, %.0f events/s, %.0f ns/event; Finish %.1f ms\n",
      push_s, eps, ns_per_event, finish_ms);
  std::printf("Push latency: p50 %.3f us, p90 %.3f us, p99 %.3f us, p99.9 %.3f us, max %.1f us\n",
              pct_us(0.5), pct_us(0.9), pct_us(0.99), pct_us(0.999), pct_us(1.0));
  std::printf("histogram (ns):");
  for (size_t b = 0; b < kBuckets; ++b) {
    if (b + 1 < kBuckets) {
      std::printf(" <%g:%llu", kBoundsNs[b], static_cast<unsigned long long>(histogram[b]));
    } else {
      std::printf(" >=%g:%llu", kBoundsNs[b - 1], static_cast<unsigned long long>(histogram[b]));
    }
  }
  std::printf("\n");
  std::printf(
      "end of input: %llu live partial matches on %llu keys, engine heap %.2f MB "
      "(%.0f B per live partial match), RSS %.1f MB (+%.1f MB since the first event)\n",
      static_cast<unsigned long long>(end_stats.live_runs),
      static_cast<unsigned long long>(end_stats.live_keys), static_cast<double>(heap_end) / 1e6,
      bytes_per_run, static_cast<double>(rss_end) / 1e6,
      (static_cast<double>(rss_end) - static_cast<double>(rss_base)) / 1e6);
  const double quiet_allocs_per_event =
      quiet_events > 0 ? static_cast<double>(quiet_allocs) / static_cast<double>(quiet_events) : 0;
  const double allocs_per_alert =
      alert_count > 0 ? static_cast<double>(alert_allocs) / static_cast<double>(alert_count) : 0;
  std::printf(
      "heap allocations inside Push: %llu in all; second half: %.4f per event, %.4f per event "
      "that emitted no alert (%llu allocations), %.1f per alert emitted\n",
      static_cast<unsigned long long>(g_push_allocs), warm_allocs_per_event, quiet_allocs_per_event,
      static_cast<unsigned long long>(quiet_allocs), allocs_per_alert);
  std::printf("segment  events    ns/event  allocs/event  live_runs  live_keys  heap_MB  rss_MB\n");
  for (size_t s = 0; s < segment_stats.size(); ++s) {
    const Segment& g = segment_stats[s];
    double e = g.events > 0 ? static_cast<double>(g.events) : 1;
    std::printf(
        "%7zu  %8llu  %8.0f  %12.4f  %9llu  %9llu  %7.2f  %6.1f\n", s + 1,
        static_cast<unsigned long long>(g.events), static_cast<double>(g.ticks) * ns_per_tick / e,
        static_cast<double>(g.push_allocs) / e, static_cast<unsigned long long>(g.live_runs),
        static_cast<unsigned long long>(g.live_keys), static_cast<double>(g.heap_bytes) / 1e6,
        static_cast<double>(g.rss_bytes) / 1e6);
  }

  std::string seg_ns, seg_runs, seg_heap;
  for (const Segment& g : segment_stats) {
    double e = g.events > 0 ? static_cast<double>(g.events) : 1;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s%.0f", seg_ns.empty() ? "" : ",",
                  static_cast<double>(g.ticks) * ns_per_tick / e);
    seg_ns += buf;
    std::snprintf(buf, sizeof buf, "%s%llu", seg_runs.empty() ? "" : ",",
                  static_cast<unsigned long long>(g.live_runs));
    seg_runs += buf;
    std::snprintf(buf, sizeof buf, "%s%lld", seg_heap.empty() ? "" : ",",
                  static_cast<long long>(g.heap_bytes));
    seg_heap += buf;
  }
  std::printf(
      "RESULT events=%llu alerts=%llu engine_eps=%.0f ns_per_event=%.1f p50_us=%.3f p90_us=%.3f "
      "p99_us=%.3f p999_us=%.3f max_us=%.1f finish_ms=%.1f live_runs=%llu live_keys=%llu "
      "heap_bytes=%lld bytes_per_run=%.0f rss_bytes=%llu peak_rss_bytes=%llu push_allocs=%llu "
      "warm_allocs_per_event=%.4f quiet_allocs_per_event=%.6f quiet_allocs=%llu "
      "allocs_per_alert=%.2f seg_ns=%s seg_runs=%s seg_heap=%s\n",
      static_cast<unsigned long long>(pushed), static_cast<unsigned long long>(alerts), eps,
      ns_per_event, pct_us(0.5), pct_us(0.9), pct_us(0.99), pct_us(0.999), pct_us(1.0), finish_ms,
      static_cast<unsigned long long>(end_stats.live_runs),
      static_cast<unsigned long long>(end_stats.live_keys), static_cast<long long>(heap_end),
      bytes_per_run, static_cast<unsigned long long>(rss_end),
      static_cast<unsigned long long>(PeakRssBytes()),
      static_cast<unsigned long long>(g_push_allocs), warm_allocs_per_event, quiet_allocs_per_event,
      static_cast<unsigned long long>(quiet_allocs), allocs_per_alert, seg_ns.c_str(),
      seg_runs.c_str(), seg_heap.c_str());
  return 0;
}
