// Short-circuit condition plans (nfa/cond_plan.h): their shape, and agreement with
// the postfix conditions they replace, including the CompareExpr fast form against
// the stack machine, with and without the runs' stage value copies.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "compiler/compile.h"
#include "engine/event_parser.h"
#include "nfa/cond_plan.h"
#include "nfa/eval.h"
#include "nfa/shared_buffer.h"

namespace tern::nfa {
namespace {

std::shared_ptr<const Program> CompileOne(const std::string& text, Schema& schema) {
  DiagnosticSink sink;
  auto programs = compiler::CompileSource(std::make_shared<SourceFile>("c.tern", text), schema, sink);
  REQUIRE_MESSAGE(!sink.has_errors(), text << "\n" << RenderAll(sink.diagnostics()));
  REQUIRE(programs.size() == 1);
  return programs[0];
}

TEST_CASE("cond plans: the operand likelier to decide an `and` goes first; stage comparisons skip the stack machine") {
  Schema schema;
  auto p = CompileOne(R"(pattern p { begin a followed_by_any b where exchange != a.exchange
                                    and price > a.price * 1.002 })",
                      schema);
  // c0: `true` (the IGNORE); the TAKE's condition: `price > ...` (true a third of the
  // time) before `!=` (mostly true), both as compares.
  const CondPlans plans = BuildCondPlans(*p);
  std::string dump = DumpCondPlans(plans);
  CHECK(dump.find("compare 0; and_then 3; compare 1") != std::string::npos);
  REQUIRE(plans.compares.size() == 2);
  CHECK(plans.compares[0].cmp == Op::kGt);
  CHECK(plans.compares[0].y.arith == Op::kMul);
  CHECK(plans.compares[1].cmp == Op::kNe);

  // Event-only expressions (memoised, cheap) go before those that read the match.
  auto q = CompileOne(R"(pattern q { begin a followed_by b where amount > a.amount and type == "x" })", schema);
  const CondPlans qp = BuildCondPlans(*q);
  CHECK(DumpCondPlans(qp).find("expr 1; and_then 3; compare 0") != std::string::npos);
}

struct Fixture {
  Schema schema;
  EventStore store;
  SharedBuffer buffer{&store};
  Evaluator evaluator;
  std::vector<StoredEvent*> events;

  StoredEvent* Parse(const std::string& line) {
    engine::EventParser parser(schema, "ts");
    StoredEvent* e = store.Acquire();
    std::string err;
    REQUIRE_MESSAGE(parser.Parse(line, *e, &err), err);
    events.push_back(e);
    return e;
  }
  ~Fixture() {
    for (StoredEvent* e : events) store.Unref(e);
  }
};

TEST_CASE("cond plans agree with the postfix conditions") {
  const char* conditions[] = {
      "x > 1 and y == 2",
      "x > 1 or y == 2",
      "not (x > 1 and y == 2) or z != 3",
      "(x > 1 or y < 0) and not (z == 3 or x == 0)",
      "x == 1 and y == 2 and z == 3 or not x > 5",
      "x > a.x and y != a.y",
      "x - a.x > 1 or a.s == s",
      "not (a.s != s) and (x * 2 >= a.x + 1 or y % 2 == a.y)",
      "a.x / x < 1 and a.z == null or s > a.s",
      "x + 1 > a.y - 1 and x != a.x",
  };
  const char* lines[] = {
      R"({"ts":1,"x":1,"y":2,"z":3,"s":"a"})",
      R"({"ts":2,"x":5,"y":2.0,"z":3.5,"s":"b"})",
      R"({"ts":3,"x":0,"s":"a"})",
      R"({"ts":4,"x":-3,"y":7,"z":3,"s":null})",
      R"({"ts":5,"x":2.5,"y":"2","z":true,"s":"ab"})",
      R"({"ts":6,"y":0})",
  };
  for (const char* cond : conditions) {
    CAPTURE(cond);
    Fixture f;
    auto p = CompileOne(std::string("pattern p { begin a followed_by b where ") + cond + " }", f.schema);
    const CondPlans plans = BuildCondPlans(*p);
    std::vector<StoredEvent*> parsed;
    for (const char* line : lines) parsed.push_back(f.Parse(line));
    for (StoredEvent* bound : parsed) {
      // The partial match: `a` bound to `bound`, or nothing bound yet.
      NodeId node = f.buffer.Put(0, bound, kNoNode);
      for (NodeId n : {kNoNode, node}) {
        for (StoredEvent* e : parsed) {
          for (CondId c = 0; c < p->conds.size(); ++c) {
            EvalContext ctx;
            ctx.program = p.get();
            ctx.event = e;
            ctx.buffer = &f.buffer;
            ctx.node = n;
            CHECK(f.evaluator.Condition(ctx, c) == f.evaluator.Condition(ctx, plans, c));
          }
        }
      }
      f.buffer.Release(node);
    }
  }
}

}  // namespace
}  // namespace tern::nfa
