// Expression semantics (spec §7), table-driven: a one-stage pattern `where EXPR`
// matches an event exactly when EXPR is true for it.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "compiler/compile.h"
#include "engine/engine.h"
#include "engine/event_parser.h"

namespace tern::nfa {
namespace {

bool Holds(const std::string& expr, const std::string& event) {
  engine::Engine engine;
  DiagnosticSink sink;
  std::string text = "pattern p { begin a where " + expr + " }";
  auto programs = compiler::CompileSource(std::make_shared<SourceFile>("e.tern", text), engine.schema(), sink);
  REQUIRE_MESSAGE(!sink.has_errors(), expr << "\n" << RenderAll(sink.diagnostics()));
  for (auto& p : programs) engine.AddProgram(p);
  engine::EventParser parser(engine.schema(), "ts");
  StoredEvent* e = engine.NewEvent();
  std::string err;
  REQUIRE_MESSAGE(parser.Parse(event, *e, &err), err);
  engine.Push(e);
  engine.Finish();
  return !engine.alerts().empty();
}

struct Row {
  const char* expr;
  const char* event;
  bool expected;
};

TEST_CASE("expression semantics") {
  const Row rows[] = {
      {"x == 1", R"({"ts":1,"x":1})", true},
      {"x == 1", R"({"ts":1,"x":1.0})", true},
      {"x == 1.5", R"({"ts":1,"x":1.5})", true},
      {"x != 1", R"({"ts":1,"x":2})", true},
      {"x < 2 and x >= 1", R"({"ts":1,"x":1})", true},
      {"x > 1 or y == \"a\"", R"({"ts":1,"x":0,"y":"a"})", true},
      {"not x > 1", R"({"ts":1,"x":0})", true},
      {"s < \"b\"", R"({"ts":1,"s":"a"})", true},
      // Null rules.
      {"x > 1", R"({"ts":1})", false},
      {"x <= 1", R"({"ts":1})", false},
      {"not (x > 1)", R"({"ts":1})", true},
      {"x != 1", R"({"ts":1})", false},
      {"x == null", R"({"ts":1})", true},
      {"x == null", R"({"ts":1,"x":null})", true},
      {"x != null", R"({"ts":1,"x":0})", true},
      {"null == x", R"({"ts":1,"x":0})", false},
      {"x + 1 > 0", R"({"ts":1})", false},
      // Types never mix.
      {"x == \"1\"", R"({"ts":1,"x":1})", false},
      {"x != \"1\"", R"({"ts":1,"x":1})", false},
      // Arithmetic.
      {"x / 2 == 3.5", R"({"ts":1,"x":7})", true},
      {"x % 3 == 1", R"({"ts":1,"x":7})", true},
      {"x / 0 == null", R"({"ts":1,"x":7})", true},
      {"-x == -7", R"({"ts":1,"x":7})", true},
      {"x * 2 + 1 == 15", R"({"ts":1,"x":7})", true},
      {"x - 0.5 == 6.5", R"({"ts":1,"x":7})", true},
      {"9223372036854775807 + x > 0", R"({"ts":1,"x":1})", true},  // overflow goes to double
      // Strings.
      {"s contains \"ell\"", R"({"ts":1,"s":"hello"})", true},
      {"s starts_with \"he\" and s ends_with \"lo\"", R"({"ts":1,"s":"hello"})", true},
      {"s matches \"^h.*o$\"", R"({"ts":1,"s":"hello"})", true},
      {"s matches \"ell\"", R"({"ts":1,"s":"hello"})", true},
      {"s matches \"^ell\"", R"({"ts":1,"s":"hello"})", false},
      {"lower(s) == \"hello\"", R"({"ts":1,"s":"HeLLo"})", true},
      {"upper(s) == \"HELLO\"", R"({"ts":1,"s":"HeLLo"})", true},
      {"len(s) == 5", R"({"ts":1,"s":"héllo"})", true},
      // Lists.
      {"x in [1, 2, 3]", R"({"ts":1,"x":2})", true},
      {"x not in [1, 2, 3]", R"({"ts":1,"x":4})", true},
      {"x in [1, 2, 3]", R"({"ts":1})", false},
      // `field in [constants]` is evaluated without the stack machine: same answers.
      {"s in [\"a\", \"hello\", \"a string longer than sixteen\"]", R"({"ts":1,"s":"a string longer than sixteen"})", true},
      {"s in [\"a\", \"hello\", \"a string longer than sixteen\"]", R"({"ts":1,"s":"a string longer than sixteeN"})", false},
      {"s in [\"hellp\", \"hell\", \"hello!\"]", R"({"ts":1,"s":"hello"})", false},
      {"s not in [\"hellp\", \"hell\"]", R"({"ts":1,"s":"hello"})", true},
      {"x in [1.0, \"2\"]", R"({"ts":1,"x":1})", true},
      {"x in [1.0, \"2\"]", R"({"ts":1,"x":2})", false},
      {"s in [1, 2]", R"({"ts":1,"s":"1"})", false},
      {"x not in [1, 2]", R"({"ts":1,"x":null})", false},
      {"x not in [1, 2]", R"({"ts":1})", false},
      {"b in [true]", R"({"ts":1,"b":true})", true},
      {"b not in [false, 0]", R"({"ts":1,"b":false})", false},
      {"x in [1, y]", R"({"ts":1,"x":7,"y":7})", true},
      {"tags contains \"vip\"", R"({"ts":1,"tags":["new","vip"]})", true},
      {"tags contains \"x\"", R"({"ts":1,"tags":["new","vip"]})", false},
      {"len(tags) == 2", R"({"ts":1,"tags":["new","vip"]})", true},
      {"tags[1] == \"vip\"", R"({"ts":1,"tags":["new","vip"]})", true},
      {"tags[-1] == \"vip\"", R"({"ts":1,"tags":["new","vip"]})", true},
      // Paths.
      {"user.id == 7", R"({"ts":1,"user":{"id":7}})", true},
      {"this.user.id == 7", R"({"ts":1,"user":{"id":7}})", true},
      {"items[0].sku == \"a\"", R"({"ts":1,"items":[{"sku":"a"},{"sku":"b"}]})", true},
      {"items[-1].sku == \"b\"", R"({"ts":1,"items":[{"sku":"a"},{"sku":"b"}]})", true},
      {"`user-agent` == \"curl\"", R"({"ts":1,"user-agent":"curl"})", true},
      // Functions.
      {"exists(x)", R"({"ts":1,"x":null})", true},
      {"exists(x)", R"({"ts":1})", false},
      {"coalesce(x, y) == 2", R"({"ts":1,"y":2})", true},
      {"abs(x) == 3", R"({"ts":1,"x":-3})", true},
      {"time(this) == 1000", R"({"ts":1000})", true},
      {"x < 5s", R"({"ts":1,"x":4999})", true},
  };
  for (const Row& r : rows) {
    CAPTURE(r.expr);
    CAPTURE(r.event);
    CHECK(Holds(r.expr, r.event) == r.expected);
  }
}

}  // namespace
}  // namespace tern::nfa
