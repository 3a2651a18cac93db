// Engine API tests: keys, event time, lateness, timers, streams, alert format.
#include "engine/engine.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "compiler/compile.h"
#include "engine/event_parser.h"

namespace tern::engine {
namespace {

struct Run {
  std::vector<std::string> alerts;
  std::vector<bool> late;
  Stats stats;
};

// Compiles `pattern`, feeds the JSON lines of `events` (partition from a
// "_p" field when present is not modelled: everything is partition 0).
// `at_once`: the programs are added with one AddPrograms instead of one by one.
Run Replay(const std::string& pattern, const std::string& events, Options options = {},
           const std::string& stream = "events", bool at_once = false) {
  Engine engine(options);
  DiagnosticSink sink;
  auto programs = compiler::CompileSource(std::make_shared<SourceFile>("t.tern", pattern), engine.schema(), sink);
  REQUIRE_MESSAGE(!sink.has_errors(), RenderAll(sink.diagnostics()));
  if (at_once) {
    engine.AddPrograms(programs);
  } else {
    for (auto& p : programs) engine.AddProgram(p);
  }
  REQUIRE(engine.programs().size() == programs.size());
  EventParser parser(engine.schema(), "ts");
  uint32_t stream_id = engine.StreamId(stream);
  Run run;
  std::istringstream in(events);
  std::string line;
  uint64_t n = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    nfa::StoredEvent* e = engine.NewEvent();
    std::string err;
    REQUIRE_MESSAGE(parser.Parse(line, *e, &err), err);
    e->position = e->offset = ++n;
    e->stream = stream_id;
    run.late.push_back(engine.Push(e));
    for (auto& a : engine.alerts()) run.alerts.push_back(a.json);
    engine.alerts().clear();
  }
  engine.Finish();
  for (auto& a : engine.alerts()) run.alerts.push_back(a.json);
  engine.alerts().clear();
  run.stats = engine.stats();
  return run;
}

bool Contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A hand-driven engine for the daemon-facing APIs: events pushed one at a time with
// an explicit partition.
struct Driver {
  Engine engine;
  EventParser parser{engine.schema(), "ts"};
  uint64_t position = 0;
  std::vector<std::string> alerts;

  explicit Driver(Options options = {}) : engine(options) {}
  std::vector<std::shared_ptr<const nfa::Program>> Compile(const std::string& source) {
    DiagnosticSink sink;
    auto programs = compiler::CompileSource(std::make_shared<SourceFile>("t.tern", source), engine.schema(), sink);
    REQUIRE_MESSAGE(!sink.has_errors(), RenderAll(sink.diagnostics()));
    return programs;
  }
  void Load(const std::string& source) {
    for (auto& p : Compile(source)) engine.AddProgram(p);
  }
  void Push(const std::string& line, uint32_t partition = 0) {
    nfa::StoredEvent* e = engine.NewEvent();
    std::string err;
    REQUIRE_MESSAGE(parser.Parse(line, *e, &err), err);
    e->position = e->offset = ++position;
    e->partition = partition;
    engine.Push(e);
    Collect();
  }
  void Collect() {
    for (auto& a : engine.alerts()) alerts.push_back(a.json);
    engine.alerts().clear();
  }
};

TEST_CASE("reload: unchanged patterns keep their partial matches, changed ones start fresh") {
  const char* v1 = R"(pattern keep { key u begin a where t == "a" followed_by b where t == "b" }
pattern change { key u begin a where t == "a" followed_by b where t == "b" }
pattern drop { key u begin a where t == "a" followed_by b where t == "b" })";
  const char* v2 = R"(pattern added { key u begin a where t == "a" followed_by b where t == "b" }
pattern change { key u begin a where t == "a" followed_by b where t == "b" and n > 0 }
pattern keep { key u begin a where t == "a" followed_by b where t == "b" })";
  Driver d;
  d.Load(v1);
  d.Push(R"({"ts":1,"u":"x","t":"a"})");
  CHECK(d.engine.stats().live_runs == 3);
  CHECK(d.engine.ReplacePrograms(d.Compile(v2)) == 1);
  CHECK(d.engine.programs().size() == 3);
  CHECK(d.engine.stats().live_runs == 1);  // only `keep` still waits for its b
  d.Push(R"({"ts":2,"u":"x","t":"b","n":1})");
  REQUIRE(d.alerts.size() == 1);
  CHECK(Contains(d.alerts[0], R"("pattern":"keep")"));
  // The patterns that started fresh work from here on.
  d.Push(R"({"ts":3,"u":"y","t":"a"})");
  d.Push(R"({"ts":4,"u":"y","t":"b","n":1})");
  CHECK(d.alerts.size() == 4);
  CHECK(d.engine.stats().live_runs == 0);  // every a found its b
}

TEST_CASE("reload keeps window timers of kept patterns") {
  const char* v1 = R"(pattern cart { key u within 10ms
      begin add where t == "add" not_followed_by buy where t == "buy" })";
  const char* v2 = R"(pattern other { key u begin a where t == "zzz" }
pattern cart { key u within 10ms
      begin add where t == "add" not_followed_by buy where t == "buy" })";
  Driver d;
  d.Load(v1);
  d.Push(R"({"ts":0,"u":"a","t":"add"})");
  d.engine.ReplacePrograms(d.Compile(v2));
  d.Push(R"({"ts":50,"u":"b","t":"view"})");
  REQUIRE(d.alerts.size() == 1);
  CHECK(Contains(d.alerts[0], R"("pattern":"cart","kind":"match","key":"a")"));
}

TEST_CASE("a declared partition holds back the watermark before its first event") {
  const char* pattern = R"(pattern cart { key u within 10ms
      begin add where t == "add" not_followed_by buy where t == "buy" })";
  Driver d;
  d.Load(pattern);
  d.engine.AddPartition(1);  // assigned, nothing read from it yet
  d.Push(R"({"ts":0,"u":"a","t":"add"})", 0);
  d.Push(R"({"ts":50,"u":"b","t":"view"})", 0);
  CHECK(d.alerts.empty());  // partition 1 may still say anything about ts 0..50
  d.Push(R"({"ts":5,"u":"a","t":"buy"})", 1);
  CHECK(d.alerts.empty());  // it did: the cart was bought
  d.engine.AddPartition(2);
  d.Push(R"({"ts":60,"u":"c","t":"add"})", 0);
  d.Push(R"({"ts":100,"u":"d","t":"view"})", 0);
  d.Push(R"({"ts":100,"u":"d","t":"view"})", 1);
  CHECK(d.alerts.empty());
  d.engine.MarkIdle(2);  // quiet too long: stops holding back
  d.Collect();
  REQUIRE(d.alerts.size() == 1);
  CHECK(Contains(d.alerts[0], R"("key":"c")"));
}

TEST_CASE("an idle partition stops holding back the watermark") {
  const char* pattern = R"(pattern cart { key u within 10ms
      begin add where t == "add" not_followed_by buy where t == "buy" })";
  Driver d;
  d.Load(pattern);
  d.Push(R"({"ts":0,"u":"a","t":"add"})", 0);
  d.Push(R"({"ts":100,"u":"b","t":"view"})", 1);
  CHECK(d.alerts.empty());  // partition 0 is still at 0
  d.engine.MarkIdle(0);
  d.Collect();
  REQUIRE(d.alerts.size() == 1);
  // Its next event makes it count again.
  d.Push(R"({"ts":120,"u":"c","t":"add"})", 0);
  d.Push(R"({"ts":300,"u":"d","t":"view"})", 1);
  CHECK(d.alerts.size() == 1);
  d.engine.MarkIdle(0);
  d.Collect();
  CHECK(d.alerts.size() == 2);
}

TEST_CASE("the oldest held position bounds what may be committed") {
  Options late;
  late.lateness_ms = 10;
  Driver d(late);
  d.Load(R"(pattern p { begin a where t == "a" })");
  CHECK(d.engine.OldestHeldPosition(0) == UINT64_MAX);
  d.Push(R"({"ts":5,"t":"x"})");   // position 1, held
  d.Push(R"({"ts":3,"t":"x"})");   // position 2, held
  CHECK(d.engine.OldestHeldPosition(0) == 1);
  d.Push(R"({"ts":14,"t":"x"})");  // watermark 4: releases position 2 (ts 3)
  CHECK(d.engine.OldestHeldPosition(0) == 1);
  d.Push(R"({"ts":16,"t":"x"})");  // watermark 6: releases position 1 (ts 5)
  CHECK(d.engine.OldestHeldPosition(0) == 3);
  CHECK(d.engine.OldestHeldPosition(7) == UINT64_MAX);
}

TEST_CASE("keys partition the matching") {
  auto r = Replay(R"(pattern p { key user begin a where t == "a" followed_by b where t == "b" })",
                  R"({"ts":1,"user":"u1","t":"a"}
{"ts":2,"user":"u2","t":"b"}
{"ts":3,"user":"u1","t":"b"}
)");
  REQUIRE(r.alerts.size() == 1);
  CHECK(Contains(r.alerts[0], R"("key":"u1")"));
  CHECK(Contains(r.alerts[0], R"("events":{"a":[{"ts":1,"user":"u1","t":"a"}],"b":[{"ts":3,"user":"u1","t":"b"}]})"));
  CHECK(Contains(r.alerts[0], R"("start":1,"end":3)"));
}

TEST_CASE("multi-field keys are lists") {
  auto r = Replay(R"(pattern p { key user, dev begin a where t == "a" followed_by b })",
                  R"({"ts":1,"user":"u1","dev":7,"t":"a"}
{"ts":2,"user":"u1","dev":8,"t":"b"}
{"ts":3,"user":"u1","dev":7,"t":"b"}
)");
  REQUIRE(r.alerts.size() == 1);
  CHECK(Contains(r.alerts[0], R"("key":["u1",7])"));
}

TEST_CASE("within: an event at exactly start + within cannot complete") {
  const char* pattern = R"(pattern p { within 10ms begin a where t == "a" followed_by b where t == "b" })";
  CHECK(Replay(pattern, "{\"ts\":0,\"t\":\"a\"}\n{\"ts\":10,\"t\":\"b\"}\n").alerts.empty());
  CHECK(Replay(pattern, "{\"ts\":0,\"t\":\"a\"}\n{\"ts\":9,\"t\":\"b\"}\n").alerts.size() == 1);
}

TEST_CASE("timeouts fire when the watermark passes and at the end of input") {
  const char* pattern = R"(pattern p { key k within 10ms begin a where t == "a" followed_by b where t == "b"
                                       on_timeout emit { n = count(a) } })";
  auto r = Replay(pattern, R"({"ts":0,"k":1,"t":"a"}
{"ts":5,"k":2,"t":"a"}
{"ts":12,"k":3,"t":"x"}
)");
  REQUIRE(r.alerts.size() == 2);
  // Key 1 times out when the event at 12 moves the watermark, key 2 at the end of input.
  CHECK(Contains(r.alerts[0], R"("kind":"timeout","key":1,"start":0,"end":10,"fields":{"n":1})"));
  CHECK(Contains(r.alerts[1], R"("kind":"timeout","key":2,"start":5,"end":15)"));
}

TEST_CASE("absence: not_followed_by at the end matches when the window closes") {
  const char* pattern = R"(pattern cart { key u within 30m
      begin add where type == "add" not_followed_by buy where type == "buy" })";
  auto r = Replay(pattern, R"({"ts":0,"u":"a","type":"add"}
{"ts":1000,"u":"b","type":"add"}
{"ts":2000,"u":"b","type":"buy"}
{"ts":1800000,"u":"c","type":"view"}
)");
  REQUIRE(r.alerts.size() == 1);
  CHECK(Contains(r.alerts[0], R"("kind":"match","key":"a")"));
}

TEST_CASE("lateness reorders events within the allowed delay") {
  const char* pattern = R"(pattern p { begin a where t == "a" next b where t == "b" })";
  const char* events = R"({"ts":2,"t":"b"}
{"ts":1,"t":"a"}
)";
  Options late;
  late.lateness_ms = 5;
  auto ordered = Replay(pattern, events, late);
  CHECK(ordered.alerts.size() == 1);
  CHECK(ordered.stats.late == 0);
  // Without lateness the second event is late: counted, still processed where it arrived.
  auto arrival = Replay(pattern, events);
  CHECK(arrival.alerts.empty());
  CHECK(arrival.stats.late == 1);
  CHECK(arrival.late == std::vector<bool>{false, true});
}

TEST_CASE("from: a pattern sees only its streams") {
  const char* pattern = R"(pattern p { from payments begin a where t == "a" })";
  CHECK(Replay(pattern, "{\"ts\":1,\"t\":\"a\"}\n", {}, "payments").alerts.size() == 1);
  CHECK(Replay(pattern, "{\"ts\":1,\"t\":\"a\"}\n", {}, "logins").alerts.empty());
}

TEST_CASE("emit: aggregates over looping stages and the last event") {
  auto r = Replay(R"(pattern p { key card skip past_last_event
      begin small where amount < 2 times 3..
      followed_by big where amount >= 500 and merchant != last(small).merchant
      emit { card = card_id  n = count(small)  total = sum(small.amount)  big_amount = big.amount
             first_m = first(small).merchant  avg = avg(small.amount) } })",
                  R"({"ts":1,"card":"c","card_id":"c","amount":1,"merchant":"m1"}
{"ts":2,"card":"c","card_id":"c","amount":0.5,"merchant":"m1"}
{"ts":3,"card":"c","card_id":"c","amount":1.5,"merchant":"m2"}
{"ts":4,"card":"c","card_id":"c","amount":900,"merchant":"m2"}
{"ts":5,"card":"c","card_id":"c","amount":900,"merchant":"m3"}
)");
  REQUIRE(r.alerts.size() == 1);
  CHECK(Contains(r.alerts[0], R"("fields":{"card":"c","n":3,"total":3.0,"big_amount":900,"first_m":"m1","avg":1.0})"));
}

TEST_CASE("alert ids are deterministic and differ per match") {
  const char* pattern = R"(pattern p { begin a followed_by_any b })";
  const char* events = "{\"ts\":1}\n{\"ts\":2}\n{\"ts\":3}\n";
  auto r1 = Replay(pattern, events);
  auto r2 = Replay(pattern, events);
  REQUIRE(r1.alerts.size() == 3);
  CHECK(r1.alerts == r2.alerts);
  CHECK(r1.alerts[0].substr(0, 26) != r1.alerts[1].substr(0, 26));
}

TEST_CASE("partial matches are released when they end") {
  auto r = Replay(R"(pattern p { key k within 5ms begin a where t == "a" followed_by b where t == "b" })",
                  R"({"ts":1,"k":1,"t":"a"}
{"ts":2,"k":2,"t":"a"}
{"ts":3,"k":1,"t":"b"}
)");
  CHECK(r.alerts.size() == 1);
  CHECK(r.stats.live_runs == 0);
  CHECK(r.stats.live_keys == 0);
}

// ---------------------------------------------------------------- key-first routing

// Patterns of every shape keyed alike (routed when there are enough of them), one keyed
// otherwise and one global, over a deterministic stream of a few keys.
const char* kManyPatterns = R"(
pattern p1 { key card within 20ms begin a where amount < 2 followed_by b where amount > 500 }
pattern p2 { key card within 30ms skip past_last_event
  begin small where type == "auth" and amount < 2 times 2.. greedy
  followed_by big where type == "auth" and amount >= 500 and merchant != last(small).merchant
  emit { n = count(small) } }
pattern p3 { key card within 25ms begin buy where type == "auth" and amount > 500
  followed_by refund where type == "refund" and merchant == buy.merchant }
pattern p4 { key card within 15ms begin add where type == "cart" not_followed_by buy where type == "auth" }
pattern p5 { key card within 20ms begin x where type == "decline" next y where amount >= x.amount }
pattern p6 { key card within 20ms begin a where amount < 2 followed_by b where amount > 500 }
pattern p7 { key card within 40ms skip to_next begin big where amount > 300 times 2 }
pattern p8 { key card within 10ms begin a where merchant in ["m1", "m3"] optional followed_by_any b where amount > 100 }
pattern p9 { key card begin a followed_by b where amount > a.amount * 3 within 5ms on_timeout emit { lost = a.amount } }
pattern q1 { key merchant within 20ms begin a where type == "refund" followed_by b where type == "refund" }
pattern q2 { within 5ms begin a where amount > 900 followed_by b where amount > 900 }
pattern r1 { key card from other begin a followed_by b }
)";

std::string ManyEvents(int n) {
  std::string out;
  uint64_t x = 12345;
  auto next = [&](uint64_t m) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    return (x >> 33) % m;
  };
  const char* types[] = {"auth", "auth", "auth", "refund", "decline", "cart"};
  for (int i = 0; i < n; ++i) {
    uint64_t r = next(100);
    int amount = r < 12 ? static_cast<int>(next(2)) : r < 20 ? 500 + static_cast<int>(next(600))
                                                            : 2 + static_cast<int>(next(300));
    out += R"({"ts":)" + std::to_string(i) + R"(,"card":"c)" + std::to_string(next(7)) +
           R"(","type":")" + types[next(6)] + R"(","amount":)" + std::to_string(amount) +
           R"(,"merchant":"m)" + std::to_string(next(4)) + "\"}\n";
  }
  return out;
}

TEST_CASE("key-first routing writes exactly the alerts of stepping every program") {
  const std::string events = ManyEvents(3000);
  Options direct;
  direct.route_min_programs = 1000;  // never routes
  Options routed;                    // the default: the ten card patterns route
  Options all;
  all.route_min_programs = 1;  // every spec routes, the global one too
  auto want = Replay(kManyPatterns, events, direct);
  CHECK(want.alerts.size() > 200);  // the stream exercises the patterns
  for (const char* pattern : {"p1", "p2", "p3", "p4", "p5", "p7", "p8", "p9", "q1", "q2"}) {
    bool found = false;
    for (const auto& a : want.alerts) found = found || Contains(a, std::string("\"pattern\":\"") + pattern + "\"");
    CHECK_MESSAGE(found, pattern, " never matched");
  }
  auto got = Replay(kManyPatterns, events, routed);
  CHECK(got.alerts == want.alerts);
  CHECK(got.stats.live_runs == want.stats.live_runs);
  auto got_all = Replay(kManyPatterns, events, all);
  CHECK(got_all.alerts == want.alerts);
  auto got_at_once = Replay(kManyPatterns, events, routed, "events", /*at_once=*/true);
  CHECK(got_at_once.alerts == want.alerts);
  CHECK(got_at_once.stats.live_runs == want.stats.live_runs);
}

// Many patterns whose start conditions share fields and constants -- equal and
// different thresholds, the same constant written 2 and 2.0, strings, `in` lists,
// negations, disjunctions, a condition no index takes -- so the start filter
// (engine/start_filter.h) decides for most of them at once.
std::string SharedStartPatterns() {
  const char* starts[] = {
      "amount < 2",
      "amount < 2.0 and type == \"auth\"",
      "type == \"auth\" and amount < 1",
      "amount <= 1 and merchant != \"m1\"",
      "amount > 500",
      "amount >= 500 and type == \"auth\"",
      "type == \"decline\" and amount > 100",
      "type == \"decline\" and amount > 250",
      "merchant in [\"m1\", \"m2\"] and amount > 200",
      "merchant in [\"m2\", \"m3\"]",
      "merchant not in [\"m0\", \"m1\", \"m2\"] and amount == 7",
      "type != \"auth\" and amount < 10",
      "type == \"refund\" or amount > 1000",
      "not (amount > 3) and type == \"cart\"",
      "amount * 2 > 1900",
      "type in [\"cart\", \"refund\"] and amount >= 250",
  };
  std::string out;
  int i = 0;
  for (int copy = 0; copy < 3; ++copy) {
    for (const char* start : starts) {
      const std::string then = copy == 0 ? "amount > 500" : copy == 1 ? "type == \"refund\"" : "amount < 2";
      out += "pattern s" + std::to_string(i) + " { key card within " + std::to_string(10 + 10 * (i % 3)) +
             "ms begin a where " + start + " followed_by b where " + then + " }\n";
      ++i;
    }
  }
  return out;
}

TEST_CASE("key-first routing with shared start guards writes exactly the alerts of stepping every program") {
  const std::string patterns = SharedStartPatterns();
  const std::string events = ManyEvents(4000);
  Options direct;
  direct.route_min_programs = 1000;
  auto want = Replay(patterns, events, direct);
  size_t matched = 0;
  for (int i = 0; i < 48; ++i) {
    bool found = false;
    for (const auto& a : want.alerts) found = found || Contains(a, "\"pattern\":\"s" + std::to_string(i) + "\"");
    matched += found ? 1 : 0;
  }
  CHECK(matched >= 40);  // almost every pattern matches somewhere
  auto got = Replay(patterns, events, Options{});
  CHECK(got.alerts == want.alerts);
  CHECK(got.stats.live_runs == want.stats.live_runs);
}

// Loads `v1`, reloads `v2` before event number `reload_at`, and checks that the
// routed engine writes the alerts of the unrouted one.
void CheckReloadRoutes(const std::string& v1, const std::string& v2, const std::string& events, int reload_at) {
  auto run = [&](Options options) {
    Driver d(options);
    d.Load(v1);
    std::istringstream in(events);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      if (++n == reload_at) d.engine.ReplacePrograms(d.Compile(v2));
      d.Push(line);
    }
    d.engine.Finish();
    d.Collect();
    return d.alerts;
  };
  Options direct;
  direct.route_min_programs = 1000;
  auto want = run(direct);
  CHECK(want.size() > 100);
  CHECK(run(Options{}) == want);
}

TEST_CASE("live keys and partial matches are counted per pattern as they come and go") {
  // Every shape of kManyPatterns (matches, timeouts, absences, skip strategies, a global
  // pattern, one that never sees the stream), a reload that keeps, changes and drops
  // patterns, and the end of input: after each step the counts kept as keys change
  // equal a count over every key.
  Driver d;
  d.engine.AddPrograms(d.Compile(kManyPatterns));
  auto check = [&](const char* when) {
    Stats total = d.engine.stats();
    uint64_t keys = 0, runs = 0;
    for (size_t p = 0; p < d.engine.programs().size(); ++p) {
      PatternStats got = d.engine.pattern_stats(p);
      PatternStats want = d.engine.TestingOnlyRecount(p);
      INFO(when, ": pattern ", d.engine.programs()[p]->name);
      REQUIRE(got.live_keys == want.live_keys);
      REQUIRE(got.live_runs == want.live_runs);
      keys += got.live_keys;
      runs += got.live_runs;
    }
    CHECK(total.live_keys == keys);
    CHECK(total.live_runs == runs);
    return runs;
  };
  std::istringstream in(ManyEvents(3000));
  std::string line;
  uint64_t most = 0;
  for (int i = 0; std::getline(in, line); ++i) {
    d.Push(line);
    most = std::max(most, check("after an event"));
    if (i == 1500) {
      std::string v2 = kManyPatterns;
      v2.replace(v2.find("pattern p3"), 10, "pattern p3x");        // p3 dropped, p3x added
      v2.replace(v2.find("within 40ms"), 11, "within 45ms");      // p7 changed
      d.engine.ReplacePrograms(d.Compile(v2));
      check("after a reload");
    }
  }
  CHECK(most > 10);  // the stream keeps partial matches alive
  d.engine.Finish();
  d.Collect();
  check("at the end");
  // Only the patterns without `within` keep partial matches past the end of input.
  for (size_t p = 0; p < d.engine.programs().size(); ++p) {
    if (d.engine.programs()[p]->name != "r1") CHECK(d.engine.pattern_stats(p).live_runs == 0);
  }
}

TEST_CASE("key-first routing survives a reload") {
  std::string v2 = kManyPatterns;
  v2.replace(v2.find("amount > 300 times 2"), 20, "amount > 250 times 2");  // p7 changes
  v2 += "pattern p10 { key card within 20ms begin a where type == \"cart\" followed_by b where type == \"cart\" }\n";
  CheckReloadRoutes(kManyPatterns, v2, ManyEvents(1200), 600);
}

TEST_CASE("key-first routing with shared start guards survives a reload") {
  const std::string v1 = SharedStartPatterns();
  // Thresholds move (an index's constants change), a string constant changes, and
  // the pattern set shrinks: the start filter is rebuilt for the new groups.
  std::string v2 = v1;
  for (auto [from, to] : {std::pair<std::string, std::string>{"amount > 250 ", "amount > 260 "},
                          {"amount < 1 ", "amount < 1.5 "},
                          {"[\"m2\", \"m3\"]", "[\"m3\"]"}}) {
    for (size_t at = v2.find(from); at != std::string::npos; at = v2.find(from, at + to.size())) {
      v2.replace(at, from.size(), to);
    }
  }
  v2 = v2.substr(0, v2.find("pattern s40 "));
  REQUIRE(v2 != v1);
  // The filter's triggers are chosen (after 1024 events) before and after the reload.
  CheckReloadRoutes(v1, v2, ManyEvents(3000), 1200);
}

// ---------------------------------------------------------------- event time: hostile times

constexpr int64_t kMax = INT64_MAX;
constexpr int64_t kMin = INT64_MIN;

std::string Ev(int64_t ts, const std::string& key, const std::string& t) {
  return "{\"ts\":" + std::to_string(ts) + ",\"k\":\"" + key + "\",\"t\":\"" + t + "\"}";
}

// The most partial matches (and keys) alive after any event, and the stats at the end
// of the input (before Finish).
struct Peak {
  uint64_t runs = 0;
  uint64_t keys = 0;
  Stats end;
};

TEST_CASE("partial matches late events start behind the watermark end with them") {
  // After one event in 2100 every later event is late; the partial match each starts
  // has a window the watermark closed long ago. Before, such partial matches and their
  // keys were kept forever (no timer fires behind the watermark): memory grew with
  // every late event. Now they end with the event, and live state stays at the level
  // of the same stream without the outlier.
  const char* pattern = R"(pattern w { key k within 1m begin a where t == "a" followed_by b where t == "b" })";
  auto run = [&](bool outlier) {
    Driver d;
    d.Load(pattern);
    if (outlier) d.Push(Ev(4102444800000, "z", "x"));
    Peak peak;
    for (int i = 0; i < 600; ++i) {
      d.Push(Ev(1700000000000 + int64_t{i} * 1000, "k" + std::to_string(i), "a"));
      peak.runs = std::max(peak.runs, d.engine.stats().live_runs);
      peak.keys = std::max(peak.keys, d.engine.stats().live_keys);
    }
    peak.end = d.engine.stats();
    return peak;
  };
  const Peak plain = run(false);
  const Peak outlier = run(true);
  CHECK(plain.runs == 60);  // a minute of partial matches, one a second
  CHECK(outlier.end.late == 600);
  CHECK(outlier.runs <= plain.runs);
  CHECK(outlier.keys <= plain.keys);
  CHECK(outlier.end.live_runs == 0);
  CHECK(outlier.end.live_keys == 0);
}

TEST_CASE("a late event's closed window times out or completes its absence at once") {
  // Exactly as if its timer had fired: the alert comes with the late event, and the
  // partial match is gone (a late b cannot complete it).
  const char* timeout = R"(pattern t { key k within 1m begin a where t == "a" followed_by b where t == "b"
                                       on_timeout emit { n = count(a) } })";
  Driver d;
  d.Load(timeout);
  d.Push(Ev(10'000'000, "z", "x"));
  d.Push(Ev(1'000'000, "k", "a"));  // late: its window closed at 1,060,000
  REQUIRE(d.alerts.size() == 1);
  CHECK(Contains(d.alerts[0], R"("kind":"timeout","key":"k","start":1000000,"end":1060000,"fields":{"n":1})"));
  CHECK(d.engine.stats().live_runs == 0);
  d.Push(Ev(1'000'001, "k", "b"));
  CHECK(d.alerts.size() == 1);
  // A late event whose window is still open waits for it as any other.
  d.Push(Ev(9'990'000, "k", "a"));
  CHECK(d.alerts.size() == 1);
  CHECK(d.engine.stats().live_runs == 1);
  d.Push(Ev(9'990'001, "k", "b"));
  REQUIRE(d.alerts.size() == 2);
  CHECK(Contains(d.alerts[1], R"("kind":"match")"));

  const char* absence = R"(pattern cart { key k within 1m
      begin add where t == "add" not_followed_by buy where t == "buy" })";
  Driver a;
  a.Load(absence);
  a.Push(Ev(10'000'000, "z", "x"));
  a.Push(Ev(1'000'000, "k", "add"));
  REQUIRE(a.alerts.size() == 1);
  CHECK(Contains(a.alerts[0], R"("pattern":"cart","kind":"match","key":"k","start":1000000,"end":1000000)"));
  CHECK(a.engine.stats().live_keys == 0);
}

TEST_CASE("a match held back by a late event's closed partial match is emitted at once") {
  // skip past_last_event holds a match while a partial match that started earlier is
  // alive. The late "ab" completes the partial match from 100,000 and starts one at
  // 20,000 whose window closed at 80,000: that one ends at once, releasing the match.
  const char* pattern = R"(pattern h { key k within 1m skip past_last_event
      begin a where t == "a" or t == "ab" followed_by b where t == "b" or t == "ab" })";
  Driver d;
  d.Load(pattern);
  d.Push(Ev(100'000, "q", "a"));
  d.Push(Ev(150'000, "other", "x"));
  d.Push(Ev(20'000, "q", "ab"));
  REQUIRE(d.alerts.size() == 1);
  CHECK(Contains(d.alerts[0], R"("kind":"match","key":"q","start":100000,"end":20000)"));
  CHECK(d.engine.stats().live_keys == 0);
}

TEST_CASE("a partition behind the others closes its windows with its own time") {
  // Partition 1 is at 1000; partition 0, back from idle, sends events around 0. They
  // are not late (its watermark is its own); their windows close as the smallest
  // watermark passes them, not only once it passes 1000.
  const char* pattern = R"(pattern cart { key k within 10ms
      begin add where t == "add" not_followed_by buy where t == "buy" })";
  Driver d;
  d.Load(pattern);
  d.Push(Ev(0, "z", "x"), 0);
  d.Push(Ev(1000, "y", "x"), 1);
  d.engine.MarkIdle(0);
  d.Push(Ev(1, "a", "add"), 0);
  d.Push(Ev(2, "b", "add"), 0);
  d.Push(Ev(5, "b", "buy"), 0);  // b's cart was bought: no alert for b
  CHECK(d.alerts.empty());
  d.Push(Ev(20, "z", "x"), 0);
  REQUIRE(d.alerts.size() == 1);
  CHECK(Contains(d.alerts[0], R"("key":"a")"));
  CHECK(d.engine.stats().live_keys == 0);
}

TEST_CASE("event times at the ends of int64: windows are exact, nothing wraps") {
  const char* within = R"(pattern p { key k within 1m begin a where t == "a" followed_by b where t == "b"
                                      on_timeout emit { n = count(a) } })";
  auto alerts = [&](const std::vector<std::string>& lines, Options options = {}) {
    std::string events;
    for (const std::string& l : lines) events += l + "\n";
    return Replay(within, events, options).alerts;
  };
  // Two events at INT64_MAX: the window of the first ends past INT64_MAX; it matches.
  auto r = alerts({Ev(kMax, "k", "a"), Ev(kMax, "k", "b")});
  REQUIRE(r.size() == 1);
  CHECK(Contains(r[0], R"("kind":"match","key":"k","start":9223372036854775807,"end":9223372036854775807)"));
  // A window ending exactly at INT64_MAX closes there: an event at INT64_MAX is too late.
  r = alerts({Ev(kMax - 60000, "k", "a"), Ev(kMax, "k", "b")});
  REQUIRE(r.size() == 1);
  CHECK(Contains(r[0], R"("kind":"timeout","key":"k","start":9223372036854715807,"end":9223372036854775807)"));
  r = alerts({Ev(kMax - 59999, "k", "a"), Ev(kMax, "k", "b")});
  REQUIRE(r.size() == 1);
  CHECK(Contains(r[0], R"("kind":"match")"));
  // A window ending past INT64_MAX still closes at the end of input (end saturates).
  r = alerts({Ev(kMax - 10, "k", "a")});
  REQUIRE(r.size() == 1);
  CHECK(Contains(r[0], R"("kind":"timeout","key":"k","start":9223372036854775797,"end":9223372036854775807)"));
  // INT64_MIN: windows start there and close a minute later.
  r = alerts({Ev(kMin, "k", "a"), Ev(kMin, "k", "b")});
  REQUIRE(r.size() == 1);
  CHECK(Contains(r[0], R"("kind":"match","key":"k","start":-9223372036854775808)"));
  r = alerts({Ev(kMin, "k", "a"), Ev(kMin + 60000, "k", "b")});
  REQUIRE(r.size() == 1);
  CHECK(Contains(r[0], R"("kind":"timeout","key":"k","start":-9223372036854775808,"end":-9223372036854715808)"));
  // From one end to the other: the window closes, nothing overflows.
  r = alerts({Ev(kMin, "k", "a"), Ev(kMax, "k", "b")});
  REQUIRE(r.size() == 1);
  CHECK(Contains(r[0], R"("kind":"timeout","key":"k","start":-9223372036854775808,"end":-9223372036854715808)"));
  // A lateness that reaches below INT64_MIN: the watermark saturates, events wait.
  Options late;
  late.lateness_ms = 7 * 86'400'000LL;
  r = alerts({Ev(kMin + 5, "k", "b"), Ev(kMin, "k", "a"), Ev(kMin + 10, "k", "b")}, late);
  REQUIRE(r.size() == 1);
  CHECK(Contains(r[0], R"("kind":"match","key":"k","start":-9223372036854775808,"end":-9223372036854775803)"));
  r = alerts({Ev(kMax, "k", "b"), Ev(kMax - 5, "k", "a"), Ev(kMax, "k", "b")}, late);
  REQUIRE(r.size() == 1);
  CHECK(Contains(r[0], R"("kind":"match","key":"k","start":9223372036854775802,"end":9223372036854775807)"));

  // gap and a stage's within count from the last bound event, at the ends too.
  for (const char* windows : {"gap 1m", "within 2m"}) {
    CAPTURE(windows);
    const std::string pattern = std::string("pattern g { key k ") + (windows[0] == 'g' ? windows : "") +
                                R"( begin a where t == "a" followed_by b where t == "b" followed_by c where t == "c" )" +
                                (windows[0] == 'w' ? "within 1m" : "") + " on_timeout emit { n = count(a) } }";
    auto run = [&](const std::vector<std::string>& lines) {
      std::string events;
      for (const std::string& l : lines) events += l + "\n";
      return Replay(pattern, events).alerts;
    };
    r = run({Ev(kMax - 100000, "k", "a"), Ev(kMax - 50000, "k", "b"), Ev(kMax, "k", "c")});
    REQUIRE(r.size() == 1);
    CHECK(Contains(r[0], R"("kind":"match")"));
    // c comes exactly 1m after b: too late; the window closed at INT64_MAX.
    r = run({Ev(kMax - 100000, "k", "a"), Ev(kMax - 60000, "k", "b"), Ev(kMax, "k", "c")});
    REQUIRE(r.size() == 1);
    CHECK(Contains(r[0], R"("kind":"timeout","key":"k","start":9223372036854675807,"end":9223372036854775807)"));
    r = run({Ev(kMax - 5, "k", "a"), Ev(kMax, "k", "b")});
    REQUIRE(r.size() == 1);
    CHECK(Contains(r[0], R"("kind":"timeout","key":"k","start":9223372036854775802,"end":9223372036854775807)"));
  }

  // An absence whose window ends past INT64_MAX is established at the end of input.
  const char* absence = R"(pattern cart { key k within 10ms
      begin add where t == "add" not_followed_by buy where t == "buy" })";
  r = Replay(absence, Ev(kMax, "k", "add") + "\n").alerts;
  REQUIRE(r.size() == 1);
  CHECK(Contains(r[0], R"("pattern":"cart","kind":"match","key":"k")"));
}

TEST_CASE("CheckTime: how far ahead of its partition an event may be") {
  Options options;
  options.max_ahead_ms = 1000;
  Driver d(options);
  d.Load(R"(pattern p { begin a where t == "a" })");
  std::string error;
  CHECK(d.engine.CheckTime(0, kMax, &error));  // a partition's first event: always
  d.Push(Ev(5000, "k", "x"));
  CHECK(d.engine.CheckTime(0, 6000, &error));  // exactly the bound
  CHECK_FALSE(d.engine.CheckTime(0, 6001, &error));
  CHECK(error == "event time 6001 is more than 1s ahead of the latest event time of its partition (5000)");
  CHECK(d.engine.CheckTime(0, kMin, &error));  // behind: late, not malformed
  CHECK(d.engine.CheckTime(1, kMax, &error));  // another partition's first event
  d.Push(Ev(kMin, "k", "x"), 1);
  CHECK_FALSE(d.engine.CheckTime(1, kMax, &error));  // 2^64 - 1 ahead: no overflow
  CHECK(d.engine.CheckTime(1, kMin + 1000, &error));
  CHECK_FALSE(d.engine.CheckTime(1, kMin + 1001, &error));
  // A restored engine keeps the bound of each partition.
  std::string snapshot;
  d.engine.Snapshot(snapshot);
  Driver restored(options);
  restored.Load(R"(pattern p { begin a where t == "a" })");
  REQUIRE(restored.engine.Restore(snapshot));
  CHECK(restored.engine.CheckTime(0, 6000, &error));
  CHECK_FALSE(restored.engine.CheckTime(0, 6001, &error));
  CHECK_FALSE(restored.engine.CheckTime(1, kMin + 1001, &error));
  CHECK(restored.engine.CheckTime(2, kMax, &error));
  options.max_ahead_ms = 0;  // no bound
  Driver unbounded(options);
  unbounded.Push(Ev(kMin, "k", "x"));
  CHECK(unbounded.engine.CheckTime(0, kMax, &error));
  CHECK(Options{}.max_ahead_ms == 365 * 86'400'000LL);
}

TEST_CASE("late policy: match matches late events where they arrive, drop leaves them out") {
  const char* pattern = R"(pattern p { key k begin a where t == "a" followed_by b where t == "b" })";
  const std::string events = Ev(100, "k1", "a") + "\n" + Ev(200, "k2", "x") + "\n" + Ev(150, "k1", "b") + "\n" +
                             Ev(120, "k3", "a") + "\n" + Ev(300, "k3", "b") + "\n";
  Options options;
  auto matched = Replay(pattern, events, options);
  CHECK(matched.alerts.size() == 2);
  CHECK(matched.late == std::vector<bool>{false, false, true, true, false});
  options.late = LatePolicy::kDrop;
  auto dropped = Replay(pattern, events, options);
  CHECK(dropped.alerts.empty());
  CHECK(dropped.late == matched.late);  // reported late either way (the late output)
  CHECK(dropped.stats.late == 2);
  CHECK(dropped.stats.events == 5);
}

// ---------------------------------------------------------------- one engine per state partition

TEST_CASE("engines on one shared schema: programs compiled once, slots added by another engine's reload") {
  auto schema = std::make_shared<nfa::Schema>();
  auto compile = [&](const char* source) {
    DiagnosticSink sink;
    auto programs = compiler::CompileSource(std::make_shared<SourceFile>("t.tern", source), *schema, sink);
    REQUIRE_MESSAGE(!sink.has_errors(), RenderAll(sink.diagnostics()));
    return programs;
  };
  const auto v1 = compile(R"(pattern ab { key u begin a where t == "a" followed_by b where t == "b" })");
  Engine one(schema), two(schema);
  CHECK(&one.schema() == schema.get());
  CHECK(two.shared_schema() == schema);
  one.AddPrograms(v1);
  two.AddPrograms(v1);  // the same compiled programs
  EventParser parser(*schema, "ts");  // one parser for both
  uint64_t position = 0;
  auto push = [&](Engine& engine, const std::string& line) {
    nfa::StoredEvent* e = engine.NewEvent();
    std::string err;
    REQUIRE_MESSAGE(parser.Parse(line, *e, &err), err);
    e->position = e->offset = ++position;
    engine.Push(e);
    std::vector<std::string> alerts;
    for (auto& a : engine.alerts()) alerts.push_back(a.json);
    engine.alerts().clear();
    return alerts;
  };
  CHECK(push(one, R"({"ts":1,"u":"x","t":"a"})").empty());
  CHECK(push(two, R"({"ts":1,"u":"y","t":"a"})").empty());
  const uint32_t slots = schema->size();
  // A new version reads a field no slot had: compiling it grows the schema under both
  // engines, and `one` keeps running the old programs on events with more slots.
  const auto v2 = compile(R"(pattern ab { key u begin a where t == "a" followed_by b where t == "b" }
pattern big { key u begin a where t == "a" and n > 5 })");
  CHECK(schema->size() > slots);
  CHECK(two.ReplacePrograms(v2) == 1);
  auto r = push(one, R"({"ts":2,"u":"x","t":"b","n":9})");
  REQUIRE(r.size() == 1);
  CHECK(Contains(r[0], R"("pattern":"ab","kind":"match","key":"x")"));
  r = push(two, R"({"ts":2,"u":"y","t":"b"})");
  REQUIRE(r.size() == 1);
  CHECK(Contains(r[0], R"("pattern":"ab","kind":"match","key":"y")"));
  r = push(two, R"({"ts":3,"u":"y","t":"a","n":9})");
  REQUIRE(r.size() == 1);
  CHECK(Contains(r[0], R"("pattern":"big")"));
  CHECK(two.stats().live_runs == 1);  // ab waits for a b of y
  // `one` reloads too; the partial match `two` holds is its own.
  CHECK(push(one, R"({"ts":4,"u":"x","t":"a"})").empty());
  CHECK(one.ReplacePrograms(v2) == 1);
  CHECK(one.stats().live_runs == 1);
  r = push(one, R"({"ts":5,"u":"z","t":"a","n":6})");
  REQUIRE(r.size() == 1);
  CHECK(Contains(r[0], R"("pattern":"big","kind":"match","key":"z")"));
  CHECK(one.stats().live_runs == 2);
  CHECK(two.stats().live_runs == 1);
  // The default constructor still makes an engine a schema of its own.
  Engine own;
  CHECK(own.shared_schema() != schema);
  CHECK(own.schema().size() == 0);
}

TEST_CASE("positions are identities (alert ids), offsets where to read again") {
  const char* pattern = R"(pattern ab { key u begin a where t == "a" followed_by b where t == "b" })";
  Options options;
  options.lateness_ms = 10;
  std::vector<std::string> ids;
  for (uint64_t shift : {0, 1000}) {
    Driver d(options);
    d.Load(pattern);
    auto push = [&](const std::string& line, uint64_t position, uint64_t offset) {
      nfa::StoredEvent* e = d.engine.NewEvent();
      std::string err;
      REQUIRE_MESSAGE(d.parser.Parse(line, *e, &err), err);
      e->position = position;
      e->offset = offset;
      d.engine.Push(e);
    };
    push(R"({"ts":1,"u":"x","t":"a"})", 7, 70 + shift);
    push(R"({"ts":30,"u":"y","t":"c"})", 8, 80 + shift);  // releases ts 1; held
    CHECK(d.engine.OldestHeldPosition(0) == 80 + shift);
    std::vector<uint64_t> live;
    d.engine.OldestLivePositions(&live);
    REQUIRE(live.size() == 1);
    CHECK(live[0] == 70 + shift);  // the a, bound in a partial match
    push(R"({"ts":31,"u":"x","t":"b"})", 9, 90 + shift);
    d.engine.Finish();
    REQUIRE(d.engine.alerts().size() == 1);
    const Alert& a = *d.engine.alerts().begin();
    REQUIRE(a.bound.size() == 2);
    CHECK(a.bound[0].position == 7);
    CHECK(a.bound[0].offset == 70 + shift);
    CHECK(a.bound[1].position == 9);
    CHECK(a.bound[1].offset == 90 + shift);
    ids.push_back(a.id);
  }
  CHECK(ids[0] == ids[1]);  // other offsets, same identities: same alert
}

TEST_CASE("AdvancePartition: a partition's time without an event, as an event that matches nothing") {
  const char* cart = R"(pattern cart { key u within 10ms
      begin add where t == "add" not_followed_by buy where t == "buy" })";
  SUBCASE("window timers fire against the global watermark") {
    Driver d;
    d.Load(cart);
    d.engine.AddPartition(1);
    d.Push(R"({"ts":0,"u":"a","t":"add"})", 0);
    d.Push(R"({"ts":100,"u":"b","t":"view"})", 0);
    CHECK(d.alerts.empty());  // partition 1 holds the watermark back
    d.engine.AdvancePartition(1, 5);
    d.Collect();
    CHECK(d.alerts.empty());  // at 5: the window [0, 10) is open
    d.engine.AdvancePartition(1, 10);
    d.Collect();
    REQUIRE(d.alerts.size() == 1);
    CHECK(Contains(d.alerts[0], R"("key":"a")"));
    CHECK(d.engine.stats().events == 2);  // not an event
    // Its time never falls: an event older than it is late, as after a pushed event at 10.
    d.engine.AdvancePartition(1, 3);
    nfa::StoredEvent* e = d.engine.NewEvent();
    std::string err;
    REQUIRE(d.parser.Parse(R"({"ts":9,"u":"c","t":"add"})", *e, &err));
    e->partition = 1;
    CHECK(d.engine.Push(e));  // late
  }
  SUBCASE("an idle partition counts again, unless the time is late") {
    Driver d;
    d.Load(cart);
    d.Push(R"({"ts":0,"u":"a","t":"add"})", 0);
    d.Push(R"({"ts":5,"u":"b","t":"view"})", 1);
    d.engine.MarkIdle(1);
    d.engine.AdvancePartition(1, 4);  // late for partition 1 (at 5): stays idle
    d.Push(R"({"ts":100,"u":"c","t":"view"})", 0);
    REQUIRE(d.alerts.size() == 1);  // partition 1 idle: the watermark is 100
    d.Push(R"({"ts":100,"u":"d","t":"add"})", 0);
    d.engine.AdvancePartition(1, 50);  // counts again: holds the watermark at 50
    d.Push(R"({"ts":200,"u":"e","t":"view"})", 0);
    CHECK(d.alerts.size() == 1);
    d.engine.AdvancePartition(1, 200);
    d.Collect();
    CHECK(d.alerts.size() == 2);
  }
  SUBCASE("the reorder buffer releases what the new watermark allows") {
    Options late;
    late.lateness_ms = 10;
    Driver d(late);
    d.Load(R"(pattern p { begin a where t == "a" })");
    d.Push(R"({"ts":5,"t":"a"})");
    CHECK(d.alerts.empty());
    CHECK(d.engine.OldestHeldPosition(0) == 1);
    d.engine.AdvancePartition(0, 14);  // watermark 4
    d.Collect();
    CHECK(d.alerts.empty());
    d.engine.AdvancePartition(0, 15);  // watermark 5
    d.Collect();
    CHECK(d.alerts.size() == 1);
    CHECK(d.engine.OldestHeldPosition(0) == UINT64_MAX);
  }
  SUBCASE("CheckTime's bound moves with it") {
    Options options;
    options.max_ahead_ms = 1000;
    Driver d(options);
    d.Load(cart);
    std::string error;
    d.engine.AdvancePartition(3, 5000);
    CHECK(d.engine.CheckTime(3, 6000, &error));
    CHECK_FALSE(d.engine.CheckTime(3, 6001, &error));
    d.engine.AdvancePartition(3, 1);  // never falls
    CHECK_FALSE(d.engine.CheckTime(3, 6001, &error));
    d.engine.AdvancePartition(3, 7000);
    CHECK(d.engine.CheckTime(3, 8000, &error));
  }
}

TEST_CASE("AdvanceWatermark: external time closes windows of an idle engine, its partitions' time unmoved") {
  const char* cart = R"(pattern cart { key u within 10ms
      begin add where t == "add" not_followed_by buy where t == "buy" })";
  Driver d;
  d.Load(cart);
  d.Push(R"({"ts":0,"u":"a","t":"add"})", 0);
  d.engine.MarkIdle(0);
  d.Collect();
  CHECK(d.alerts.empty());  // every partition idle: no watermark of its own
  d.engine.AdvanceWatermark(9);
  d.Collect();
  CHECK(d.alerts.empty());
  d.engine.AdvanceWatermark(50);  // the instance's other partitions are at 50
  d.Collect();
  REQUIRE(d.alerts.size() == 1);
  CHECK(Contains(d.alerts[0], R"("key":"a")"));
  // The partition's own later events are not late, and their windows close with its
  // own time (or the next external time), not at once.
  nfa::StoredEvent* e = d.engine.NewEvent();
  std::string err;
  REQUIRE(d.parser.Parse(R"({"ts":20,"u":"b","t":"add"})", *e, &err));
  CHECK_FALSE(d.engine.Push(e));
  d.Collect();
  CHECK(d.alerts.size() == 1);
  CHECK(d.engine.stats().live_runs == 1);
  d.engine.AdvanceWatermark(25);  // the window [20, 30) is still open
  d.Collect();
  CHECK(d.alerts.size() == 1);
  d.engine.AdvanceWatermark(10);  // below the engine's own watermark: nothing
  d.Collect();
  CHECK(d.alerts.size() == 1);
  d.Push(R"({"ts":30,"u":"c","t":"view"})", 0);  // its own time closes the window
  REQUIRE(d.alerts.size() == 2);
  CHECK(Contains(d.alerts[1], R"("key":"b")"));
}

// Destroying an engine (a revoked state partition) with live state releases it all.
// TERN_DESTROY_RUNS sets the number of partial matches (the report measured 1M).
TEST_CASE("an engine with many live partial matches is destroyed quickly and its stats are cheap") {
  const char* env = std::getenv("TERN_DESTROY_RUNS");
  const uint64_t runs = env != nullptr && *env != 0 ? std::strtoull(env, nullptr, 10) : 20000;
  auto d = std::make_unique<Driver>();
  d->Load(R"(pattern ab { key u begin a where t == "a" followed_by b where t == "b" })");
  const uint64_t keys = runs / 4;
  for (uint64_t i = 0; i < runs; ++i) {
    nfa::StoredEvent* e = d->engine.NewEvent();
    std::string err;
    REQUIRE(d->parser.Parse("{\"ts\":" + std::to_string(i) + ",\"u\":" + std::to_string(i % keys) + ",\"t\":\"a\"}",
                            *e, &err));
    d->engine.Push(e);
  }
  const auto stats_begin = std::chrono::steady_clock::now();
  const Stats stats = d->engine.stats();
  const auto stats_end = std::chrono::steady_clock::now();
  CHECK(stats.live_runs == runs);
  CHECK(stats.live_keys == keys);
  CHECK(stats.events == runs);
  const auto begin = std::chrono::steady_clock::now();
  d.reset();
  const auto end = std::chrono::steady_clock::now();
  MESSAGE("destroying an engine with ", runs, " partial matches over ", keys, " keys: ",
          std::chrono::duration<double, std::milli>(end - begin).count(), " ms; stats(): ",
          std::chrono::duration<double, std::micro>(stats_end - stats_begin).count(), " us");
}

TEST_CASE("order_across_partitions: the events of all partitions matched in one time order") {
  // a (partition 1, t=20) arrives after b (partition 0, t=30): matched as it arrives,
  // b comes first and nothing matches; in one time order, a then b.
  const char* pattern = R"(pattern p { key k begin a where t == "a" followed_by b where t == "b" })";
  for (bool ordered : {false, true}) {
    CAPTURE(ordered);
    Options options;
    options.order_across_partitions = ordered;
    Driver d(options);
    d.Load(pattern);
    d.engine.AddPartition(0);
    d.engine.AddPartition(1);
    d.Push(Ev(10, "k", "x"), 1);
    d.Push(Ev(30, "k", "b"), 0);
    CHECK(d.alerts.empty());
    d.Push(Ev(20, "k", "a"), 1);  // not late: partition 1 is at 10
    CHECK(d.alerts.empty());      // ordered: b waits for partition 1 to pass 30
    d.engine.AdvancePartition(1, 30);
    d.Collect();
    CHECK(d.alerts.size() == (ordered ? 1u : 0u));
  }
  // An idle partition stops holding the others' events back.
  Options options;
  options.order_across_partitions = true;
  Driver d(options);
  d.Load(pattern);
  d.engine.AddPartition(0);
  d.engine.AddPartition(1);
  d.Push(Ev(20, "k", "a"), 0);
  d.Push(Ev(30, "k", "b"), 0);
  CHECK(d.alerts.empty());  // partition 1 has said nothing
  d.engine.MarkIdle(1);
  d.Collect();
  CHECK(d.alerts.size() == 1);
  // The held events count for the commit (held in a reorder buffer).
  d.Push(Ev(40, "k2", "a"), 0);
  d.engine.AddPartition(2);  // a new source: holds back again
  d.Push(Ev(50, "k2", "b"), 0);
  CHECK(d.engine.OldestHeldPosition(0) != UINT64_MAX);
  d.engine.Finish();
  d.Collect();
  CHECK(d.alerts.size() == 2);
}

TEST_CASE("RereadPoint: no re-read starts inside a match of a pattern with skip") {
  // Read again from the second `p`, the greedy run from there would complete a match of
  // its own at `c` ([p2]... [p2 p3]), which the match [p1 p2 p3] discarded (skip
  // past_last_event): a re-read must start at p1 or after c.
  Driver d;
  d.Load(R"(pattern burst {
    key k  within 10s  skip past_last_event
    begin p where t == "p" times 2.. greedy
    followed_by c where t == "c" })");
  d.Push(Ev(1000, "k", "p"));  // offset 1
  d.Push(Ev(2000, "k", "p"));  // 2
  d.Push(Ev(2500, "k", "p"));  // 3
  d.Push(Ev(3000, "k", "c"));  // 4: the match [1, 2, 3, 4] discards every partial match
  REQUIRE(d.alerts.size() == 1);
  CHECK(d.engine.stats().live_runs == 0);
  std::vector<uint64_t> held;
  d.engine.OldestLivePositions(&held);
  CHECK(held[0] == UINT64_MAX);  // nothing live: only RereadPoint knows
  CHECK(d.engine.RereadPoint(1) == 1);
  CHECK(d.engine.RereadPoint(2) == 1);
  CHECK(d.engine.RereadPoint(4) == 1);
  CHECK(d.engine.RereadPoint(5) == 5);
  d.engine.ForgetRereadBefore(5);
  CHECK(d.engine.RereadPoint(4) == 4);  // committed past it: it no longer matters
  // Without skip nothing constrains a re-read.
  Driver plain;
  plain.Load(R"(pattern burst { key k within 10s begin p where t == "p" times 2.. greedy followed_by c where t == "c" })");
  for (const char* t : {"p", "p", "p", "c"}) plain.Push(Ev(1000, "k", t));
  CHECK(plain.engine.RereadPoint(3) == 3);
}

TEST_CASE("RereadPoint with order_across_partitions: only at a cut of event-time order") {
  // The repartition partition of a key reads its sources' events in offset order and
  // matches them in time order. `b` (offset 1, t=30) ends the partial match of `a`
  // (offset 2, t=20, its source behind): a re-read from offset 2 would match `a`
  // without `b` and alert. So no re-read starts at 2; 1 and 3 on are cuts.
  Options options;
  options.order_across_partitions = true;
  Driver d(options);
  d.Load(R"(pattern quiet { key k within 15ms begin a where t == "a" not_followed_by b where t == "b" })");
  d.engine.AddPartition(0);
  d.engine.AddPartition(1);
  d.engine.AddPartition(2);
  d.engine.MarkIdle(2);  // until offset 5
  d.Push(Ev(30, "k", "b"), 0);  // offset 1
  d.Push(Ev(20, "k", "a"), 1);  // 2
  d.Push(Ev(40, "k", "x"), 0);  // 3
  d.Push(Ev(41, "k", "x"), 1);  // 4: both sources past 30: a, b matched (no alert)
  d.Collect();
  CHECK(d.alerts.empty());
  std::vector<uint64_t> held;
  d.engine.OldestLivePositions(&held);
  CHECK(std::min(held[0], held[1]) >= 3);  // a and b are gone: only the cut holds 2 back
  CHECK(d.engine.RereadPoint(1) == 1);
  CHECK(d.engine.RereadPoint(2) == 1);
  CHECK(d.engine.RereadPoint(3) == 3);
  CHECK(d.engine.RereadPoint(4) == 4);
  CHECK(d.engine.RereadPoint(5) == 5);  // after every event
  // A later event earlier than what came before a cut undoes it (t=35 < 40: the cut
  // before offset 4 had 40 before it, so 4 goes; 3 had 30 and stays). An idle source
  // that speaks again is one way.
  d.Push(Ev(35, "k", "x"), 2);  // 5
  CHECK(d.engine.RereadPoint(4) == 3);
  CHECK(d.engine.RereadPoint(5) == 3);
  CHECK(d.engine.RereadPoint(6) == 6);
  d.engine.ForgetRereadBefore(3);
  CHECK(d.engine.RereadPoint(5) == 3);
  // A commit held back for long keeps a bounded number of cuts: older ones thin out
  // (a re-read may start earlier, never inside), recent ones stay exact.
  Options thin_options;
  thin_options.order_across_partitions = true;
  Driver many(thin_options);
  many.Load(R"(pattern quiet { key k within 15ms begin a where t == "a" not_followed_by b where t == "b" })");
  many.engine.AddPartition(0);
  for (int i = 1; i <= 20000; ++i) many.Push(Ev(i, "k" + std::to_string(i % 7), "x"), 0);  // offsets 1..20000
  for (uint64_t x : {1ull, 2ull, 777ull, 5000ull, 12345ull}) CHECK(many.engine.RereadPoint(x) <= x);
  for (uint64_t x = 19000; x <= 20001; ++x) CHECK(many.engine.RereadPoint(x) == x);
  // Without order across partitions offsets are the matching order: every offset is a cut.
  Driver plain;
  plain.Load(R"(pattern quiet { key k within 15ms begin a where t == "a" not_followed_by b where t == "b" })");
  plain.Push(Ev(30, "k", "b"), 0);
  plain.Push(Ev(20, "k", "a"), 1);
  CHECK(plain.engine.RereadPoint(2) == 2);
}

TEST_CASE("max_runs_per_key: past the bound the oldest partial matches go, counted, the key reported once") {
  // No `within`: every `a` starts a partial match that lives until a `b`.
  const char* pattern = R"(pattern p { key k begin a where t == "a" followed_by b where t == "b" })";
  Options options;
  options.max_runs_per_key = 3;
  Driver d(options);
  d.Load(pattern);
  for (int i = 1; i <= 5; ++i) d.Push(Ev(i, "k", "a"));
  d.Push(Ev(6, "j", "a"));
  CHECK(d.engine.stats().live_runs == 4);  // k: 3 (a@3, a@4, a@5), j: 1
  CHECK(d.engine.stats().dropped_runs == 2);
  CHECK(d.engine.TestingOnlyRecount(0).live_runs == d.engine.pattern_stats(0).live_runs);
  REQUIRE(d.engine.limited_keys().size() == 1);
  CHECK(d.engine.limited_keys()[0].key_json == "\"k\"");
  d.engine.limited_keys().clear();
  d.Push(Ev(7, "k", "a"));  // one more drop, not reported again
  CHECK(d.engine.stats().dropped_runs == 3);
  CHECK(d.engine.limited_keys().empty());
  d.Push(Ev(8, "k", "b"));  // the 3 kept match: the dropped ones (a@1..a@4) do not
  REQUIRE(d.alerts.size() == 3);
  for (const std::string& a : d.alerts) CHECK_FALSE(Contains(a, "\"ts\":3,"));  // a@3 was dropped
  // 0: no bound.
  options.max_runs_per_key = 0;
  Driver unbounded(options);
  unbounded.Load(pattern);
  for (int i = 1; i <= 50; ++i) unbounded.Push(Ev(i, "k", "a"));
  CHECK(unbounded.engine.stats().live_runs == 50);
  CHECK(unbounded.engine.stats().dropped_runs == 0);
  CHECK(Options{}.max_runs_per_key == 100'000);
}

}  // namespace
}  // namespace tern::engine
