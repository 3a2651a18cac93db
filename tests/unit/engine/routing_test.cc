// Routing keys (RouteKey, RouteHash) and the static relevance filter (RelevanceFilter).
// The filter's property test, over every case pattern and random ones, is in
// tests/reference/reference_test.cc.
#include "engine/routing.h"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "compiler/compile.h"
#include "engine/engine.h"
#include "engine/event_parser.h"

namespace tern::engine {
namespace {

struct Fixture {
  std::shared_ptr<nfa::Schema> schema = std::make_shared<nfa::Schema>();
  std::vector<std::shared_ptr<const nfa::Program>> programs;
  std::unique_ptr<EventParser> parser;
  nfa::EventStore store;
  std::vector<nfa::StoredEvent*> events;

  explicit Fixture(const std::string& source) {
    DiagnosticSink sink;
    programs = compiler::CompileSource(std::make_shared<SourceFile>("t.tern", source), *schema, sink);
    REQUIRE_MESSAGE(!sink.has_errors(), RenderAll(sink.diagnostics()));
    parser = std::make_unique<EventParser>(*schema, "ts");
  }
  ~Fixture() {
    for (nfa::StoredEvent* e : events) store.Unref(e);
  }
  const nfa::StoredEvent& Event(const std::string& line, uint32_t stream = 0) {
    nfa::StoredEvent* e = store.Acquire();
    std::string err;
    REQUIRE_MESSAGE(parser->Parse(line, *e, &err), err);
    e->stream = stream;
    events.push_back(e);
    return *e;
  }
};

TEST_CASE("RouteHash: FNV-1a then fmix64, fixed values") {
  // Pinned: every instance, build and version must route a key to the same partition.
  const uint64_t empty = RouteHash("");
  const uint64_t a = RouteHash("a");
  const uint64_t key = RouteHash(std::string("\x05\x03\x00\x00\x00" "abc", 8));
  CHECK(empty == 0xefd01f60ba992926ull);
  CHECK(a == 0x82a2a958a9bece5bull);
  CHECK(key == 0x67aa376c8c4c4f96ull);
}

TEST_CASE("RouteKey: the bytes the engine keys by, a stable hash") {
  Fixture f(R"(pattern one { key u begin a where t == "a" }
pattern two { key u, v begin a where t == "a" }
pattern none { begin a where t == "a" })");
  const nfa::Program& one = *f.programs[0];
  const nfa::Program& two = *f.programs[1];
  const nfa::Program& none = *f.programs[2];
  std::string b1, b2;
  uint64_t h1 = 0, h2 = 0;
  // 1 and 1.0 are one key; 1 and "1", 1 and 2, missing and 0 are not; missing is null.
  CHECK(RouteKey(one, f.Event(R"({"ts":1,"u":1})"), &b1, &h1));
  CHECK(RouteKey(one, f.Event(R"({"ts":1,"u":1.0,"t":"a"})"), &b2, &h2));
  CHECK(b1 == b2);
  CHECK(h1 == h2);
  CHECK(h1 == RouteHash(b1));
  CHECK(RouteKey(one, f.Event(R"({"ts":1,"u":"1"})"), &b2, &h2));
  CHECK(b1 != b2);
  CHECK(h1 != h2);
  CHECK(RouteKey(one, f.Event(R"({"ts":1,"u":2})"), &b2, &h2));
  CHECK(h1 != h2);
  CHECK(RouteKey(one, f.Event(R"({"ts":1})"), &b1, &h1));
  CHECK(RouteKey(one, f.Event(R"({"ts":1,"u":null})"), &b2, &h2));
  CHECK(b1 == b2);
  CHECK(RouteKey(one, f.Event(R"({"ts":1,"u":0})"), &b2, &h2));
  CHECK(b1 != b2);
  // Several fields, in order.
  CHECK(RouteKey(two, f.Event(R"({"ts":1,"u":"x","v":2})"), &b1, &h1));
  CHECK(RouteKey(two, f.Event(R"({"ts":5,"v":2.0,"u":"x","w":1})"), &b2, &h2));
  CHECK(b1 == b2);
  CHECK(h1 == h2);
  CHECK(RouteKey(two, f.Event(R"({"ts":1,"u":2,"v":"x"})"), &b2, &h2));
  CHECK(h1 != h2);
  // Without key: one partition for all.
  b1 = "stale";
  CHECK_FALSE(RouteKey(none, f.Event(R"({"ts":1,"u":1})"), &b1, &h1));
  CHECK(b1.empty());
  CHECK(h1 == 0);
}

TEST_CASE("RouteKey agrees with the engine: events it puts under one key get one route key") {
  const char* pattern = R"(pattern ab { key u, v begin a where t == "a" followed_by b where t == "b" })";
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {R"({"ts":1,"u":1,"v":"x","t":"a"})", R"({"ts":2,"u":1.0,"v":"x","t":"b"})"},
      {R"({"ts":1,"u":-0.0,"v":null,"t":"a"})", R"({"ts":2,"u":0,"t":"b"})"},
      {R"({"ts":1,"u":1.5,"v":true,"t":"a"})", R"({"ts":2,"u":1.5,"v":true,"t":"b"})"},
      {R"({"ts":1,"u":1,"v":"x","t":"a"})", R"({"ts":2,"u":"1","v":"x","t":"b"})"},
      {R"({"ts":1,"u":1,"v":"x","t":"a"})", R"({"ts":2,"u":1,"v":"y","t":"b"})"},
      {R"({"ts":1,"u":[1],"v":"x","t":"a"})", R"({"ts":2,"u":[1],"v":"x","t":"b"})"},
      {R"({"ts":1,"u":{"a":1},"t":"a"})", R"({"ts":2,"u":{"a":1},"t":"b"})"},
  };
  for (const auto& [first, second] : pairs) {
    CAPTURE(first);
    CAPTURE(second);
    Engine engine;
    DiagnosticSink sink;
    engine.AddPrograms(compiler::CompileSource(std::make_shared<SourceFile>("t.tern", pattern), engine.schema(), sink));
    REQUIRE(!sink.has_errors());
    EventParser parser(engine.schema(), "ts");
    std::string bytes[2];
    uint64_t hash[2];
    int i = 0;
    for (const std::string& line : {first, second}) {
      nfa::StoredEvent* e = engine.NewEvent();
      std::string err;
      REQUIRE_MESSAGE(parser.Parse(line, *e, &err), err);
      RouteKey(*engine.programs()[0], *e, &bytes[i], &hash[i]);
      ++i;
      engine.Push(e);
    }
    const bool one_key = engine.alerts().size() == 1;  // the b found the a's key
    CHECK((bytes[0] == bytes[1]) == one_key);
    CHECK((hash[0] == hash[1]) == one_key);
  }
}

TEST_CASE("RelevanceFilter: what an event alone rules out") {
  Fixture f(R"(pattern ab { key u begin a where t == "a" followed_by b where t == "b" and n > 1 }
pattern strict { key u begin a where t == "a" next b where t == "b" }
pattern loose { key u begin a where t == "a" followed_by_any b where t == "b" }
pattern mine { key u from clicks begin a where t == "a" }
pattern absent { key u within 5ms begin a where t == "a" not_followed_by b where t == "b" }
pattern stage_read { key u begin a where t == "a" followed_by b where n > a.n })");
  RelevanceFilter filter(f.programs);
  const uint32_t events = filter.StreamId("events");
  const uint32_t clicks = filter.StreamId("clicks");
  CHECK(filter.StreamId("events") == events);
  auto may = [&](size_t program, const std::string& line, uint32_t stream = 0) {
    return filter.MayConcern(program, f.Event(line, stream));
  };
  // ab: starts on a, continues on a b with n > 1; nothing else changes any key.
  CHECK(may(0, R"({"ts":1,"u":1,"t":"a"})"));
  CHECK(may(0, R"({"ts":1,"u":1,"t":"b","n":2})"));
  CHECK_FALSE(may(0, R"({"ts":1,"u":1,"t":"b","n":1})"));
  CHECK_FALSE(may(0, R"({"ts":1,"u":1,"t":"c"})"));
  CHECK_FALSE(may(0, R"({"ts":1,"u":1})"));
  // strict contiguity: any event of the key ends a run waiting for its next b.
  CHECK(may(1, R"({"ts":1,"u":1,"t":"c"})"));
  // followed_by_any: a c is ignored by every run.
  CHECK_FALSE(may(2, R"({"ts":1,"u":1,"t":"c"})"));
  // from: another stream's events never reach the program; an unknown stream may be its.
  CHECK(may(3, R"({"ts":1,"u":1,"t":"a"})", clicks));
  CHECK_FALSE(may(3, R"({"ts":1,"u":1,"t":"a"})", events));
  CHECK(may(3, R"({"ts":1,"u":1,"t":"a"})", 7));
  // absence: the b that breaks it concerns it; a c does not (its window closes with time).
  CHECK(may(4, R"({"ts":1,"u":1,"t":"b"})"));
  CHECK_FALSE(may(4, R"({"ts":1,"u":1,"t":"c"})"));
  // A condition reading the partial match: every event may concern it after an a.
  CHECK(may(5, R"({"ts":1,"u":1,"t":"c"})"));
  CHECK(filter.programs().size() == 6);
}

}  // namespace
}  // namespace tern::engine
