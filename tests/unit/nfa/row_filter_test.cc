// Row filters (nfa/row_filter.h): their shape, RowTestPasses against CompareInline on
// values of every kind, and Nfa::Step with the filters against Step without them on
// generated streams.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "compiler/compile.h"
#include "engine/event_parser.h"
#include "nfa/nfa.h"
#include "nfa/row_filter.h"

namespace tern::nfa {
namespace {

std::shared_ptr<const Program> CompileOne(const std::string& text, Schema& schema) {
  DiagnosticSink sink;
  auto programs = compiler::CompileSource(std::make_shared<SourceFile>("r.tern", text), schema, sink);
  REQUIRE_MESSAGE(!sink.has_errors(), text << "\n" << RenderAll(sink.diagnostics()));
  REQUIRE(programs.size() == 1);
  return programs[0];
}

TEST_CASE("row filters: a conjunction of event-vs-stage comparisons; stage-only arithmetic gets a derived column") {
  Schema schema;
  auto p = CompileOne(R"(pattern p { begin a followed_by_any b where exchange != a.exchange
                                    and price > a.price * 1.002 and kind == "t" })",
                      schema);
  const CondPlans plans = BuildCondPlans(*p);
  // Two stage fields read by conditions: columns 0 and 1 (whichever order).
  std::vector<uint32_t> cols(p->stage_fields.size(), kNoId);
  for (uint32_t i = 0; i < cols.size(); ++i) cols[i] = p->stage_fields[i].slot == p->stage_fields[0].slot ? 0 : 1;
  int filters = 0;
  for (CondId c = 0; c < p->conds.size(); ++c) {
    std::vector<CompareTerm> derived;
    RowFilter f;
    if (!BuildRowFilter(*p, plans, c, cols, 2, &derived, &f)) continue;
    ++filters;
    CHECK(f.exact);
    CHECK(f.event_exprs.size() == 1);
    REQUIRE(f.compares.size() == 2);
    REQUIRE(derived.size() == 1);
    CHECK(derived[0].arith == Op::kMul);
    CHECK(f.compares[0].cmp == Op::kGt);
    CHECK(f.compares[0].column == 2);  // the derived column
    CHECK(!f.compares[0].column_left);
    CHECK(f.compares[1].cmp == Op::kNe);
  }
  CHECK(filters == 1);  // the TAKE's condition; the IGNORE's `true` has nothing to test

  // Not a conjunction: no filter. A comparison mixing event and stage on one side is
  // left to the general path (the filter is then not exact).
  auto q = CompileOne(R"(pattern q { begin a followed_by_any b where x > a.x or y < a.y })", schema);
  auto r = CompileOne(R"(pattern r { begin a followed_by_any b where x - a.x > 1 and y < a.y })", schema);
  std::vector<uint32_t> all(64, 0);
  for (CondId c = 0; c < q->conds.size(); ++c) {
    std::vector<CompareTerm> derived;
    RowFilter f;
    CHECK(!BuildRowFilter(*q, BuildCondPlans(*q), c, all, 1, &derived, &f));
  }
  bool inexact = false;
  for (CondId c = 0; c < r->conds.size(); ++c) {
    std::vector<CompareTerm> derived;
    RowFilter f;
    if (BuildRowFilter(*r, BuildCondPlans(*r), c, all, 1, &derived, &f)) inexact = !f.exact && f.compares.size() == 1;
  }
  CHECK(inexact);
}

TEST_CASE("row filters: RowTestPasses decides as CompareInline") {
  static const char* kStrings[] = {"", "a", "b", "ab", "abcdefgh", "abcdefgi"};
  static const char* kOps[] = {"==", "!=", "<", "<=", ">", ">="};  // kEq..kGe
  std::vector<Value> values = {Value::Missing(), Value::Null(), Value::Bool(true), Value::Bool(false)};
  for (int64_t i : {int64_t{-3}, int64_t{0}, int64_t{2}, int64_t{3}, int64_t{1} << 53, (int64_t{1} << 53) + 1,
                    std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()}) {
    values.push_back(Value::Int(i));
  }
  for (double d : {-3.0, -0.0, 0.0, 2.0, 2.5, 3.0, 9007199254740992.0, 1e300,
                   std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                   std::numeric_limits<double>::quiet_NaN()}) {
    values.push_back(Value::Double(d));
  }
  for (const char* s : kStrings) values.push_back(Value::String(s));
  for (int o = 0; o < 6; ++o) {
    const Op op = static_cast<Op>(static_cast<int>(Op::kEq) + o);
    for (bool column_left : {false, true}) {
      // The compare as BuildRowFilter makes it: `x <op> a.x` or `a.x <op> x`.
      Schema schema;
      const std::string cond = column_left ? std::string("a.x ") + kOps[o] + " x" : std::string("x ") + kOps[o] + " a.x";
      auto p = CompileOne("pattern p { begin a followed_by_any b where " + cond + " }", schema);
      std::vector<uint32_t> cols(p->stage_fields.size(), 0);
      RowCompare c;
      for (CondId k = 0; k < p->conds.size(); ++k) {
        std::vector<CompareTerm> derived;
        RowFilter f;
        if (BuildRowFilter(*p, BuildCondPlans(*p), k, cols, 1, &derived, &f)) c = f.compares.at(0);
      }
      REQUIRE(c.cmp == op);
      REQUIRE(c.column_left == column_left);
      for (const Value& term : values) {
        const RowTest t = PrepareRowTest(c, term);
        for (const Value& column : values) {
          const bool want = column_left ? CompareInline(op, column, term) : CompareInline(op, term, column);
          CAPTURE(cond);
          CAPTURE(static_cast<int>(term.kind));
          CAPTURE(static_cast<int>(column.kind));
          CHECK(RowTestPasses(t, column) == want);
        }
      }
    }
  }
}

// One NFA over one key, stepped as the engine steps it (time advanced first).
struct Runner {
  const Program* program;
  EventStore* store;
  SharedBuffer buffer;
  Evaluator evaluator;
  Nfa nfa;
  KeyState key;
  std::vector<std::string> outputs;  // per output: kind, start, end, bound (stage, ts, seq)

  Runner(const Program* p, EventStore* s, bool filters)
      : program(p), store(s), buffer(s), nfa(p, &buffer, &evaluator, nullptr) {
    nfa.TestingOnlySetRowFilters(filters);
  }
  ~Runner() { nfa.Clear(key); }
  void Record(std::vector<Output>& out) {
    for (const Output& o : out) {
      std::string s = (o.kind == OutputKind::kMatch ? "match " : "timeout ") + std::to_string(o.start.ts) + "/" +
                      std::to_string(o.start.seq) + " " + std::to_string(o.end) + ":";
      for (NodeId n = o.node; n != kNoNode; n = buffer.node(n).parent) {
        const Node& node = buffer.node(n);
        s += " " + std::to_string(node.stage) + "@" + std::to_string(node.event->id.seq);
      }
      outputs.push_back(s);
      buffer.Release(o.node);
    }
    out.clear();
  }
  void Push(StoredEvent* e, uint64_t epoch) {
    std::vector<Output> out;
    nfa.AdvanceTime(key, e->ts(), out);
    nfa.Step(key, e, epoch, out);
    Record(out);
  }
  std::string Runs() const {
    std::string s;
    for (const Run& r : key.runs) s += std::to_string(r.state) + ":" + std::to_string(r.start.seq) + " ";
    return s;
  }
};

TEST_CASE("row filters: Step with them agrees with Step without them") {
  const char* patterns[] = {
      "begin a followed_by_any b where x > a.x * 2 and s != a.s",
      "begin a followed_by b where x > a.x + 1",
      "begin a followed_by_any b where x == 3",  // event-only: no stage values at all
      "begin a followed_by b where s == \"a\" and x > 1 followed_by_any c where y > a.y",
      "begin a followed_by_any b where y >= a.y and x == 3",
      "begin a where x > 0 followed_by_any b where a.x - x < 2 and s == a.s "
      "followed_by_any c where x < b.x / 2 and y != a.y",
      "begin a followed_by_any b where x * 2 > a.y or s == a.s",
      "within 6ms begin a followed_by_any b where a.x < x and a.x + a.y > x",
      "begin a next b where x > a.x",
      "within 5ms begin a followed_by_any b where x > a.x followed_by_any c where x > b.x * 1.5 and s != a.s",
      "begin a followed_by_any b where 2 * a.x <= x and a.s == s and y < 4",
      "begin a followed_by_any b where x > a.x times 2 followed_by c where s == a.s and y > b.y",
      "begin a followed_by_any b where x != a.x and not (s == a.s) within 4ms",
      "skip past_last_event begin a followed_by_any b where x % a.y == 1 and a.y - 1 < y",
      "skip to_next begin a followed_by_any b where x > a.x",
      "gap 3ms begin a followed_by_any b where x >= a.x and s == a.s followed_by_any c where y < b.y",
  };
  std::mt19937 rng(20240611);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  auto number = [&]() -> std::string {
    switch (pick(8)) {
      case 0: return "null";
      case 1: return "\"3\"";
      case 2: return std::to_string(pick(7) - 2) + ".5";
      case 3: return "1e308";
      default: return std::to_string(pick(7) - 2);
    }
  };
  for (const char* body : patterns) {
    CAPTURE(body);
    Schema schema;
    std::string text = std::string("pattern p { ") + body + " }";
    auto program = CompileOne(text, schema);
    const Program* p = program.get();
    engine::EventParser parser(schema, "ts");
    for (int round = 0; round < 40; ++round) {
      EventStore store;
      Runner with(p, &store, true);
      Runner without(p, &store, false);
      std::vector<StoredEvent*> events;
      int64_t ts = 0;
      const int n = 10 + pick(40);
      for (int i = 0; i < n; ++i) {
        ts += pick(3);
        std::string line = "{\"ts\":" + std::to_string(ts);
        if (pick(10) != 0) line += ",\"x\":" + number();
        if (pick(10) != 0) line += ",\"y\":" + number();
        if (pick(10) != 0) line += std::string(",\"s\":\"") + "abc"[pick(3)] + "\"";
        line += "}";
        StoredEvent* e = store.Acquire();
        std::string err;
        REQUIRE_MESSAGE(parser.Parse(line, *e, &err), err);
        e->id.seq = static_cast<uint64_t>(i);
        events.push_back(e);
        with.Push(e, static_cast<uint64_t>(i + 1));
        without.Push(e, static_cast<uint64_t>(i + 1));
        REQUIRE(with.outputs == without.outputs);
        REQUIRE(with.Runs() == without.Runs());
      }
      std::vector<Output> out;
      with.nfa.AdvanceTime(with.key, INT64_MAX, out);
      with.Record(out);
      without.nfa.AdvanceTime(without.key, INT64_MAX, out);
      without.Record(out);
      CHECK(with.outputs == without.outputs);
      with.nfa.Clear(with.key);
      without.nfa.Clear(without.key);
      for (StoredEvent* e : events) store.Unref(e);
    }
  }
}

}  // namespace
}  // namespace tern::nfa
