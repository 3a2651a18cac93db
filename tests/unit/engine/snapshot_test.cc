// Key state is a plain value: snapshot an engine anywhere in a stream, restore
// it into a fresh engine, and the rest of the stream gives exactly the alerts
// the uninterrupted engine gives.
#include <doctest/doctest.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "compiler/compile.h"
#include "engine/engine.h"
#include "engine/event_parser.h"

namespace tern::engine {
namespace {

std::unique_ptr<Engine> Make(const std::string& pattern, Options options) {
  auto engine = std::make_unique<Engine>(options);
  DiagnosticSink sink;
  auto programs = compiler::CompileSource(std::make_shared<SourceFile>("s.tern", pattern), engine->schema(), sink);
  REQUIRE_MESSAGE(!sink.has_errors(), RenderAll(sink.diagnostics()));
  for (auto& p : programs) engine->AddProgram(p);
  return engine;
}

// The alert, and where its bound events are (identity and offset, which a restore keeps).
std::string Describe(const Alert& a) {
  std::string out = a.json;
  for (const BoundEvent& b : a.bound) {
    out += " " + std::to_string(b.partition) + "/" + std::to_string(b.position) + "@" + std::to_string(b.offset);
  }
  return out;
}

void Feed(Engine& engine, const std::vector<std::string>& lines, size_t from, size_t to,
          std::vector<std::string>& alerts) {
  EventParser parser(engine.schema(), "ts");
  for (size_t i = from; i < to; ++i) {
    nfa::StoredEvent* e = engine.NewEvent();
    std::string err;
    REQUIRE_MESSAGE(parser.Parse(lines[i], *e, &err), err);
    e->position = i + 1;
    e->offset = i + 101;  // not the position: a restore must keep both
    engine.Push(e);
    for (auto& a : engine.alerts()) alerts.push_back(Describe(a));
    engine.alerts().clear();
  }
}

void Finish(Engine& engine, std::vector<std::string>& alerts) {
  engine.Finish();
  for (auto& a : engine.alerts()) alerts.push_back(Describe(a));
  engine.alerts().clear();
}

void CheckEverySplit(const std::string& pattern, const std::string& events, Options options = {}) {
  std::vector<std::string> lines;
  std::istringstream in(events);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) lines.push_back(l);

  std::vector<std::string> whole;
  auto reference = Make(pattern, options);
  Feed(*reference, lines, 0, lines.size(), whole);
  Finish(*reference, whole);
  REQUIRE(!whole.empty());

  for (size_t split = 0; split <= lines.size(); ++split) {
    CAPTURE(split);
    std::vector<std::string> got;
    std::string bytes;
    std::vector<uint64_t> live_before, live_after;
    uint64_t held_before;
    {
      auto first = Make(pattern, options);
      Feed(*first, lines, 0, split, got);
      first->Snapshot(bytes);
      first->OldestLivePositions(&live_before);
      held_before = first->OldestHeldPosition(0);
    }  // the first engine is gone: nothing can point into it
    auto second = Make(pattern, options);
    REQUIRE(second->Restore(bytes));
    second->OldestLivePositions(&live_after);
    CHECK(live_after == live_before);  // offsets, kept by the snapshot
    CHECK(second->OldestHeldPosition(0) == held_before);
    Feed(*second, lines, split, lines.size(), got);
    Finish(*second, got);
    CHECK(got == whole);
  }
}

const char* kEvents = R"({"ts":1,"k":"a","t":"s","v":1}
{"ts":2,"k":"b","t":"s","v":5}
{"ts":3,"k":"a","t":"m","v":2,"tags":["x"]}
{"ts":4,"k":"a","t":"s","v":3}
{"ts":5,"k":"b","t":"m","v":1}
{"ts":7,"k":"a","t":"m","v":4}
{"ts":8,"k":"a","t":"e","v":9}
{"ts":9,"k":"b","t":"e","v":1}
{"ts":15,"k":"a","t":"s","v":1}
{"ts":16,"k":"b","t":"x","v":0}
{"ts":30,"k":"b","t":"s","v":2}
)";

TEST_CASE("snapshot/restore: looping stage, aggregates, timeouts") {
  CheckEverySplit(R"(pattern p { key k within 10ms
      begin s where t == "s" followed_by_any m where t == "m" one_or_more
      followed_by e where t == "e" and v > sum(m.v)
      emit { n = count(m), tag = first(m).tags }
      on_timeout emit { n = count(m) } })",
                  kEvents);
}

TEST_CASE("snapshot/restore: skip strategy holding matches back") {
  CheckEverySplit(R"(pattern p { key k skip past_last_event
      begin s where t == "s" followed_by m where t == "m" times 1..2 followed_by e where t == "e" })",
                  kEvents);
}

TEST_CASE("snapshot/restore: absence and a reorder buffer") {
  Options o;
  o.lateness_ms = 3;
  CheckEverySplit(R"(pattern p { key k within 5ms begin s where t == "s" not_followed_by e where t == "e" })",
                  kEvents, o);
}

// Conditions that read single stages use copies of those fields kept with each run
// (nfa::KeyState::stage_values). They are not serialised: a restored state must
// rebuild them from the restored events, strings included, for runs that have
// bound one stage or several.
TEST_CASE("snapshot/restore: conditions reading fields of single stages") {
  const char* events = R"({"ts":1,"k":"a","t":"s","v":1,"name":"ann"}
{"ts":2,"k":"b","t":"s","v":5,"name":"bob"}
{"ts":3,"k":"a","t":"s","v":2,"name":"cid"}
{"ts":4,"k":"a","t":"m","v":2,"name":"ann","tag":"p"}
{"ts":5,"k":"b","t":"m","v":1,"name":"bob","tag":"q"}
{"ts":6,"k":"a","t":"m","v":7,"name":"cid","tag":"r"}
{"ts":7,"k":"a","t":"e","v":9,"name":"zed"}
{"ts":8,"k":"b","t":"e","v":5,"name":"q"}
{"ts":9,"k":"b","t":"e","v":7,"name":"q2"}
{"ts":10,"k":"a","t":"e","v":4,"name":"r"}
{"ts":11,"k":"a","t":"e","v":12,"name":"p"}
)";
  CheckEverySplit(R"(pattern p { key k within 1m
      begin s where t == "s"
      followed_by m where t == "m" and name == s.name
      followed_by_any e where t == "e" and v > s.v + m.v and name != m.tag
      emit { who = s.name, tag = m.tag } })",
                  events);
}

}  // namespace
}  // namespace tern::engine
