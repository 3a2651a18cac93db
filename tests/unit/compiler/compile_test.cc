// The compiled automaton of small patterns, checked through nfa::Dump: the
// state construction follows Flink's NFACompiler edge for edge.
#include "compiler/compile.h"

#include <doctest/doctest.h>

#include <memory>
#include <string>

namespace tern::compiler {
namespace {

std::string Explain(const std::string& text) {
  nfa::Schema schema;
  DiagnosticSink sink;
  auto programs = CompileSource(std::make_shared<SourceFile>("c.tern", text), schema, sink);
  REQUIRE_MESSAGE(!sink.has_errors(), RenderAll(sink.diagnostics()));
  REQUIRE(programs.size() == 1);
  std::string dump = nfa::Dump(*programs[0]);
  // Drop the header (name, key, window, expressions): the tests look at states.
  return dump.substr(dump.find("  s0 "));
}

TEST_CASE("followed_by: take on the condition, ignore on its negation") {
  CHECK(Explain(R"(pattern p { begin a where x == 1 followed_by b where x == 2 })") ==
        "  s0 $final$ [final]\n"
        "  s1 b [normal]\n"
        "    take -> s0 $final$ if e1\n"
        "    ignore -> s1 b if !e1\n"
        "  s2 a [normal, start]\n"
        "    take -> s1 b if e0\n");
}

TEST_CASE("next has no ignore edge; followed_by_any ignores everything") {
  CHECK(Explain(R"(pattern p { begin a next b })") ==
        "  s0 $final$ [final]\n"
        "  s1 b [normal]\n"
        "    take -> s0 $final$ if true\n"
        "  s2 a [normal, start]\n"
        "    take -> s1 b if true\n");
  CHECK(Explain(R"(pattern p { begin a followed_by_any b where x == 2 })").find("ignore -> s1 b if true") !=
        std::string::npos);
}

TEST_CASE("one_or_more: a looping state with a proceed out and an ignore state") {
  CHECK(Explain(R"(pattern p { begin a followed_by b where x == 2 one_or_more followed_by c })") ==
        "  s0 $final$ [final]\n"
        "  s1 c [normal]\n"
        "    take -> s0 $final$ if true\n"
        "    ignore -> s1 c if !true\n"
        "  s2 b [normal]\n"
        "    proceed -> s1 c if true\n"
        "    take -> s2 b if e0\n"
        "    ignore -> s3 b:1 if !e0\n"
        "  s3 b:1 [normal]\n"
        "    take -> s2 b if e0\n"
        "    ignore -> s3 b:1 if !e0\n"
        "  s4 b:2 [normal]\n"
        "    take -> s2 b if e0\n"
        "    ignore -> s4 b:2 if !e0\n"
        "  s5 a [normal, start]\n"
        "    take -> s4 b:2 if true\n");
}

TEST_CASE("times 2..3 unrolls into a chain; the optional tail can proceed") {
  std::string d = Explain(R"(pattern p { begin a where x == 1 times 2..3 consecutive })");
  CHECK(d.find("a:2 [normal, start]") != std::string::npos);
  CHECK(d.find("proceed -> s0 $final$ if true") != std::string::npos);
  CHECK(d.find("ignore") == std::string::npos);  // consecutive: no ignore edge anywhere
}

TEST_CASE("not_followed_by at the end with a window is a pending state with a stop") {
  CHECK(Explain(R"(pattern p { within 5m begin a not_followed_by b where x == 2 })") ==
        "  s0 $final$ [final]\n"
        "  s1 b [pending]\n"
        "    proceed -> s2 b:1 if e0\n"
        "    ignore -> s1 b if !e0\n"
        "  s2 b:1 [stop]\n"
        "    take -> s2 b:1 if e0\n"
        "  s3 a [normal, start]\n"
        "    take -> s1 b if true\n");
}

TEST_CASE("gap and a stage within become state windows") {
  std::string d = Explain(R"(pattern p { gap 10s begin a followed_by b within 2s followed_by c })");
  CHECK(d.find("b [normal, window 2000ms]") != std::string::npos);
  CHECK(d.find("c [normal, window 10000ms]") != std::string::npos);
}

}  // namespace
}  // namespace tern::compiler
