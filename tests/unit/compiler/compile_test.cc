// The compiled automaton of small patterns, checked through nfa::Dump: the
// state construction follows Flink's NFACompiler edge for edge.
#include "compiler/compile.h"

#include <doctest/doctest.h>

#include <chrono>
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

TEST_CASE("a group's within becomes the window of every stage inside it") {
  std::string d = Explain(
      R"(pattern p { begin a followed_by (b next c within 1s) within 3s followed_by d })");
  CHECK(d.find("b [normal, window 3000ms]") != std::string::npos);
  CHECK(d.find("c [normal, window 1000ms]") != std::string::npos);  // the shorter wins
  CHECK(d.find("d [normal]") != std::string::npos);
}

TEST_CASE("group: an optional first stage skips to the next stage compiled as the head") {
  // c:1 is c as the group's head: it ignores by the group's contiguity (`next`: not
  // at all), while c after a bound b keeps its own `followed_by`.
  CHECK(Explain(R"(pattern p { begin a next (b where x == 1 optional followed_by c where x == 2) })") ==
        "  s0 $final$ [final]\n"
        "  s1 c [normal]\n"
        "    take -> s0 $final$ if e1\n"
        "    ignore -> s1 c if !e1\n"
        "  s2 c:1 [normal]\n"
        "    take -> s0 $final$ if e1\n"
        "  s3 b [normal]\n"
        "    take -> s1 c if e0\n"
        "    proceed -> s2 c:1 if true\n"
        "  s4 a [normal, start]\n"
        "    take -> s3 b if true\n");
  // followed_by_any into the group: the head copy ignores everything.
  CHECK(Explain(R"(pattern p { begin a followed_by_any (b optional followed_by c where x == 2) })")
            .find("  s2 c:1 [normal]\n    take -> s0 $final$ if e0\n    ignore -> s2 c:1 if true\n") !=
        std::string::npos);
  // The last stage as the head cannot be skipped too: an iteration binds an event.
  std::string d = Explain(R"(pattern p { begin a next (b optional next c optional) })");
  CHECK(d.find("  s2 c:1 [normal]\n    take -> s0 $final$ if true\n  s3") != std::string::npos);
}

TEST_CASE("group: the optional times states of its first stage proceed out of the stage") {
  // b times 1..2 at the head of a group: after one b the run may go on to c.
  std::string d = Explain(R"(pattern p { begin a followed_by (b where x == 1 times 1..2 followed_by c) })");
  CHECK(d.find("  s2 b [normal]\n    take -> s1 c if e0\n    proceed -> s1 c if true\n") !=
        std::string::npos);
}

TEST_CASE("group: until guards every take, ignore and inner proceed; the loop's own do not") {
  CHECK(Explain(R"(pattern p { begin (a where x == 1 followed_by b where x == 2 optional)
                               one_or_more until x == 3 })") ==
        "  s0 $final$ [final]\n"
        "  s1 $group0$ [normal]\n"
        "    proceed -> s4 a if true\n"
        "  s2 b [normal]\n"
        "    take -> s1 $group0$ if (!e2 & e1)\n"
        "    proceed -> s1 $group0$ if (!e2 & true)\n"
        "    ignore -> s3 b:1 if (!e2 & !e1)\n"
        "  s3 b:1 [normal]\n"
        "    take -> s1 $group0$ if (!e2 & e1)\n"
        "    ignore -> s3 b:1 if (!e2 & !e1)\n"
        "  s4 a [normal]\n"
        "    take -> s2 b if (!e2 & e0)\n"
        "    ignore -> s5 a:1 if (!e2 & !e0)\n"
        "    proceed -> s0 $final$ if true\n"
        "  s5 a:1 [normal]\n"
        "    take -> s2 b if (!e2 & e0)\n"
        "    ignore -> s5 a:1 if (!e2 & !e0)\n"
        "  s6 b:2 [normal]\n"
        "    take -> s4 a if (!e2 & e1)\n"
        "    proceed -> s4 a if (!e2 & true)\n"
        "    ignore -> s7 b:3 if (!e2 & !e1)\n"
        "  s7 b:3 [normal]\n"
        "    take -> s4 a if (!e2 & e1)\n"
        "    ignore -> s7 b:3 if (!e2 & !e1)\n"
        "  s8 a:2 [normal, start]\n"
        "    take -> s6 b:2 if (!e2 & e0)\n");
  // An enclosing group's until reaches the stages of a nested group.
  std::string d = Explain(R"(pattern p { begin s followed_by (a where x == 1 followed_by
                               (b where x == 2 next c) times 2) one_or_more until x == 3 })");
  CHECK(d.find("  s2 c [normal]\n    take -> s1 $group0$ if (!e2 & true)\n") != std::string::npos);
}

TEST_CASE("group: between iterations, an ignoring run is committed to the next iteration") {
  // b is the head of the loop: it ignores into b:1, which has no way out of the group,
  // so `next d` holds right after the last iteration.
  CHECK(Explain(R"(pattern p { begin a followed_by (b where x == 1 next c where x == 2)
                               one_or_more next d where x == 3 })") ==
        "  s0 $final$ [final]\n"
        "  s1 d [normal]\n"
        "    take -> s0 $final$ if e2\n"
        "  s2 $group0$ [normal]\n"
        "    proceed -> s4 b if true\n"
        "  s3 c [normal]\n"
        "    take -> s2 $group0$ if e1\n"
        "  s4 b [normal]\n"
        "    take -> s3 c if e0\n"
        "    ignore -> s5 b:1 if !e0\n"
        "    proceed -> s1 d if true\n"
        "  s5 b:1 [normal]\n"
        "    take -> s3 c if e0\n"
        "    ignore -> s5 b:1 if !e0\n"
        "  s6 c:1 [normal]\n"
        "    take -> s4 b if e1\n"
        "  s7 b:2 [normal]\n"
        "    take -> s6 c:1 if e0\n"
        "    ignore -> s7 b:2 if !e0\n"
        "  s8 a [normal, start]\n"
        "    take -> s7 b:2 if true\n");
}

TEST_CASE("group: a group that begins a group enters with the enclosing group's contiguity") {
  std::string d = Explain(R"(pattern p { begin s followed_by ((a where x == 1 next b) next c) })");
  CHECK(d.find("  s3 a [normal]\n    take -> s2 b if e0\n    ignore -> s3 a if !e0\n") !=
        std::string::npos);
}

TEST_CASE("past the state limit the compiler stops building at once") {
  // 10^9 states of nested times, and 2^60 of optional first stages of nested groups
  // (each compiled again as the head): both are rejected in well under a second.
  std::string nested_optional = "z";
  for (int i = 0; i < 60; ++i)
    nested_optional = "(a" + std::to_string(i) + " optional followed_by " + nested_optional + ")";
  for (const std::string& text :
       {std::string("pattern p { begin s followed_by (((a next b) times 1000) times 1000) times 1000 }"),
        "pattern p { begin s followed_by " + nested_optional + " }"}) {
    auto started = std::chrono::steady_clock::now();
    nfa::Schema schema;
    DiagnosticSink sink;
    auto source = std::make_shared<SourceFile>("c.tern", text);  // the diagnostics point into it
    auto programs = CompileSource(source, schema, sink);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    CHECK(programs.empty());
    CHECK(RenderAll(sink.diagnostics()).find("compiles to more than 20000 states") != std::string::npos);
    CHECK(seconds < 5);
  }
}

}  // namespace
}  // namespace tern::compiler
