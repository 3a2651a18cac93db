// Zero heap allocations per event once warm: a counting global allocator
// watches the engine (parse + push) over 200k events after a warm-up pass.
// Its own binary, because it replaces operator new for the whole process.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "compiler/compile.h"
#include "engine/engine.h"
#include "engine/event_parser.h"
#include "engine/routing.h"

namespace {
std::atomic<uint64_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::aligned_alloc(static_cast<size_t>(a), (n + static_cast<size_t>(a) - 1) & ~(static_cast<size_t>(a) - 1))) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace tern {
namespace {

// Card transactions over `cards` keys, 5 ms apart: 1% tiny amounts, 0.5% large.
std::vector<std::string> Stream(size_t n, size_t cards, int64_t t0) {
  std::vector<std::string> lines;
  lines.reserve(n);
  uint64_t x = 88172645463325252ull;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    unsigned r = static_cast<unsigned>(x % 1000);
    double amount = r < 10 ? 1.5 : r < 15 ? 900.0 : 20.0 + static_cast<double>(x % 300);
    char buf[160];
    std::snprintf(buf, sizeof buf, R"({"ts":%lld,"card_id":"c%06zu","amount":%.2f,"merchant":"m%03u","type":"auth"})",
                  static_cast<long long>(t0 + 5 * static_cast<int64_t>(i)), static_cast<size_t>((x >> 20) % cards),
                  amount, static_cast<unsigned>((x >> 40) % 500));
    lines.emplace_back(buf);
  }
  return lines;
}

// Returns the allocations inside pushes; `quiet` gets those inside pushes that
// emitted no alert (per-event work alone).
uint64_t PushAll(engine::Engine& engine, engine::EventParser& parser, const std::vector<std::string>& lines,
                 uint64_t* alerts, uint64_t* quiet) {
  std::string error;
  uint64_t total = 0;
  for (const std::string& line : lines) {
    const uint64_t before = g_allocations.load();
    nfa::StoredEvent* e = engine.NewEvent();
    if (!parser.Parse(line, *e, &error) || !engine.CheckTime(e->partition, e->ts(), &error)) FAIL(error);
    engine.Push(e);
    const uint64_t used = g_allocations.load() - before;
    total += used;
    if (engine.alerts().empty()) *quiet += used;
    *alerts += engine.alerts().size();
    engine.alerts().clear();  // keeps its slots and their strings' capacity
  }
  return total;
}

constexpr const char* kPatterns[] = {
    R"(pattern w1 { key card_id within 10m begin a where amount < 2 followed_by b where amount > 500 })",
    R"(pattern w2 { key card_id within 10m skip past_last_event
         begin small where amount < 2 times 3.. followed_by big where amount > 500
         emit { n = count(small) } })",
    // `matches` runs on RE2 (its DFA allocates only while it learns new states).
    R"(pattern w3 { key card_id within 10m
         begin a where merchant matches "^m00[0-9]$" followed_by b where amount > 500 })",
};

void Load(engine::Engine& engine, const char* pattern) {
  DiagnosticSink sink;
  auto programs = compiler::CompileSource(std::make_shared<SourceFile>("a.tern", pattern), engine.schema(), sink);
  REQUIRE(!sink.has_errors());
  for (auto& p : programs) engine.AddProgram(p);
}

TEST_CASE("no allocation per event once warm") {
  const auto& patterns = kPatterns;
  // Each pattern alone (asked one by one), and routed key first through the start
  // filter, which re-chooses its triggers every 4,096 events here (every 2^20 by
  // default), so the measured pass re-chooses them ~50 times.
  engine::Options routed;
  routed.route_min_programs = 1;
  routed.start_filter_sample_period = 4096;
  for (const engine::Options& options : {engine::Options{}, routed}) {
  for (const char* pattern : patterns) {
    CAPTURE(pattern);
    CAPTURE(options.route_min_programs);
    engine::Engine engine(options);
    Load(engine, pattern);
    engine::EventParser parser(engine.schema(), "ts");

    // Warm-up: the same key space and shape of stream, longer than the window
    // (300k events x 5 ms > 10m), so every pool, table and scratch buffer
    // reaches its working size.
    // The measured pass replays the same sequence later in time, so no pool has to
    // reach a new peak: what remains is per-event work, and alert output.
    uint64_t alerts = 0, quiet = 0;
    PushAll(engine, parser, Stream(300000, 2000, 0), &alerts, &quiet);
    auto measured = Stream(200000, 2000, 5 * 300000 + 3600000);
    uint64_t matches_before = alerts;
    quiet = 0;
    uint64_t allocations = PushAll(engine, parser, measured, &alerts, &quiet);
    uint64_t matches = alerts - matches_before;
    MESSAGE("events 200000, alerts " << matches << ", allocations " << allocations << " (" << quiet
                                       << " in pushes without an alert)");
    CHECK(matches > 0);  // the stream does exercise matching
    CHECK(quiet == 0);
    // Alerts too: the engine's AlertList reuses its slots and their strings.
    CHECK(allocations == 0);
  }
  }
}

TEST_CASE("no allocation per late event once warm") {
  // After one event 100 days ahead every event is late. Under `match` each partial
  // match a late event starts has a window behind the watermark and closes at once;
  // under `drop` late events are not matched. Neither path allocates.
  for (engine::LatePolicy policy : {engine::LatePolicy::kMatch, engine::LatePolicy::kDrop}) {
  for (const char* pattern : kPatterns) {
    CAPTURE(pattern);
    CAPTURE(static_cast<int>(policy));
    engine::Options options;
    options.late = policy;
    engine::Engine engine(options);
    Load(engine, pattern);
    engine::EventParser parser(engine.schema(), "ts");
    uint64_t alerts = 0, quiet = 0;
    PushAll(engine, parser, Stream(300000, 2000, 0), &alerts, &quiet);
    const int64_t ahead = 5 * 300000 + int64_t{100} * 86'400'000;
    PushAll(engine, parser, {R"({"ts":)" + std::to_string(ahead) + R"(,"card_id":"x","amount":20,"type":"auth"})"},
            &alerts, &quiet);
    PushAll(engine, parser, Stream(300000, 2000, 0), &alerts, &quiet);  // the late path warms up
    const uint64_t late_before = engine.stats().late;
    auto measured = Stream(200000, 2000, 5 * 300000 + 3600000);
    quiet = 0;
    uint64_t allocations = PushAll(engine, parser, measured, &alerts, &quiet);
    MESSAGE("late events 200000, allocations " << allocations);
    CHECK(engine.stats().late - late_before == 200000);
    CHECK(engine.stats().live_runs == 0);
    CHECK(allocations == 0);
  }
  }
}

TEST_CASE("no allocation per event routed and filtered as the daemon does once warm") {
  // Per event: the route key, the relevance filter, then Push or (filtered out, on one
  // of two partitions) AdvancePartition.
  for (const char* pattern : kPatterns) {
    CAPTURE(pattern);
    auto schema = std::make_shared<nfa::Schema>();
    engine::Engine engine(schema, engine::Options{});
    Load(engine, pattern);
    engine::RelevanceFilter filter(engine.programs());
    engine::EventParser parser(*schema, "ts");
    std::string key, error;
    uint64_t hash = 0, pushed = 0, alerts = 0, allocations = 0, i = 0;
    auto feed = [&](const std::vector<std::string>& lines) {
      allocations = 0;
      for (const std::string& line : lines) {
        const uint64_t before = g_allocations.load();
        nfa::StoredEvent* e = engine.NewEvent();
        e->partition = static_cast<uint32_t>(++i % 2);
        if (!parser.Parse(line, *e, &error) || !engine.CheckTime(e->partition, e->ts(), &error)) FAIL(error);
        engine::RouteKey(*engine.programs()[0], *e, &key, &hash);
        if (filter.MayConcern(0, *e)) {
          ++pushed;
          engine.Push(e);
        } else {
          const int64_t ts = e->ts();
          const uint32_t partition = e->partition;
          engine.Discard(e);
          engine.AdvancePartition(partition, ts);
        }
        allocations += g_allocations.load() - before;
        alerts += engine.alerts().size();
        engine.alerts().clear();
      }
    };
    feed(Stream(300000, 2000, 0));
    pushed = alerts = 0;
    feed(Stream(200000, 2000, 5 * 300000 + 3600000));
    MESSAGE("events 200000, pushed " << pushed << ", alerts " << alerts << ", allocations " << allocations);
    CHECK(alerts > 0);
    // w2's loop moves its runs to another state on every event it does not take
    // (IGNORE to the loop's copy, not to itself): every event concerns it.
    if (pattern != kPatterns[1]) CHECK(pushed < 20000);
    CHECK(allocations == 0);
  }
}

}  // namespace
}  // namespace tern
