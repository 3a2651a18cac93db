// The Graphviz picture of compiled patterns (nfa/program_dot.cc): edges read as the
// author wrote the conditions, never as expression ids; stages, rounds, windows, skip
// and negations are marked; DOT strings are escaped.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "compiler/compile.h"
#include "nfa/program.h"

namespace tern::nfa {
namespace {

std::string Dot(const std::string& text) {
  Schema schema;
  DiagnosticSink sink;
  auto programs = compiler::CompileSource(std::make_shared<SourceFile>("p.tern", text), schema, sink);
  REQUIRE_MESSAGE(!sink.has_errors(), RenderAll(sink.diagnostics()));
  REQUIRE(programs.size() == 1);
  return DumpDot(*programs[0]);
}

bool Has(const std::string& dot, const std::string& part) {
  INFO(dot);
  return dot.find(part) != std::string::npos;
}

// Labels regressing to the listing's expression ids (`take (e0 & e1)`) fail every test.
void NoExpressionIds(const std::string& dot) {
  INFO(dot);
  CHECK(dot.find("(e0") == std::string::npos);
  CHECK(dot.find(" e0") == std::string::npos);
  CHECK(dot.find("!e") == std::string::npos);
}

TEST_CASE("a sequence: every edge is its action and its condition as written") {
  const std::string dot = Dot(
      "pattern p {\n"
      "  key user\n"
      "  begin a where type == \"login\"   # a comment\n"
      "              and   new_device\n"
      "  followed_by b where amount >= 1000\n"
      "}\n");
  NoExpressionIds(dot);
  CHECK(dot ==
        "digraph \"p\" {\n"
        "  graph [rankdir=LR, labelloc=t, labeljust=l, fontname=\"Helvetica\", fontsize=14, "
        "label=\"p — key user — skip no_skip\\ntake: binds the event and moves on · ignore: skips "
        "the event · proceed: moves on, same event\"];\n"
        "  node [fontname=\"Helvetica\", fontsize=11];\n"
        "  edge [fontname=\"Helvetica\", fontsize=10];\n"
        "  start [shape=point, width=0.15, label=\"\", tooltip=\"start\"];\n"
        "  subgraph cluster_stage0 {\n"
        "    label=\"begin a\"; style=\"rounded,filled\"; fillcolor=gray96; color=gray60;\n"
        "    s2 [label=\"a\", shape=ellipse, penwidth=2, tooltip=\"s2 a\"];\n"
        "  }\n"
        "  subgraph cluster_stage1 {\n"
        "    label=\"followed_by b\"; style=\"rounded,filled\"; fillcolor=gray96; color=gray60;\n"
        "    s1 [label=\"b\", shape=ellipse, tooltip=\"s1 b\"];\n"
        "  }\n"
        "  s0 [label=\"match\", shape=doublecircle, style=filled, fillcolor=palegreen, tooltip=\"s0 $final$\"];\n"
        "  start -> s2;\n"
        "  s1 -> s0 [label=\"take: amount >= 1000\\l\", tooltip=\"take: amount >= 1000\", "
        "labeltooltip=\"take: amount >= 1000\", penwidth=1.4];\n"
        "  s1 -> s1 [label=\"ignore: not (amount >= 1000)\\l\", tooltip=\"ignore: not (amount >= 1000)\", "
        "labeltooltip=\"ignore: not (amount >= 1000)\", style=dotted, color=gray45, fontcolor=gray30];\n"
        "  s2 -> s1 [label=\"take: type == \\\"login\\\" and new_device\\l\", "
        "tooltip=\"take: type == \\\"login\\\" and new_device\", "
        "labeltooltip=\"take: type == \\\"login\\\" and new_device\", penwidth=1.4];\n"
        "}\n");
}

TEST_CASE("times 3.. greedy: one state per event up to the loop, the loop reads as such") {
  const std::string dot = Dot(
      "pattern card_testing {\n"
      "  key card_id\n"
      "  within 10m\n"
      "  skip past_last_event\n"
      "  begin small where type == \"auth\" and amount < 2.00 times 3.. greedy\n"
      "  followed_by big where type == \"auth\" and amount >= 500\n"
      "                  and merchant != last(small).merchant\n"
      "}\n");
  NoExpressionIds(dot);
  CHECK(Has(dot, "label=\"card_testing — key card_id — within 10m — skip past_last_event\\n"));
  CHECK(Has(dot, "label=\"begin small times 3.. greedy\";"));
  CHECK(Has(dot, "[label=\"small\\n1st\", shape=ellipse, penwidth=2,"));
  CHECK(Has(dot, "[label=\"small\\n3rd\""));
  CHECK(Has(dot, "[label=\"small\\n4th and later\""));
  CHECK(Has(dot, "[label=\"small\\n4th and later (after a skip)\""));
  CHECK(Has(dot, "s2 -> s2 [label=\"take: type == \\\"auth\\\" and amount < 2.00\\l\""));
  CHECK(Has(dot, "s2 -> s1 [label=\"proceed: not (type == \\\"auth\\\" and amount < 2.00)\\l\""));
  // Greedy: the next stage must not take what the loop would take; long conditions wrap,
  // the full text is in the tooltip.
  CHECK(Has(dot,
            "s1 -> s0 [label=\"take: type == \\\"auth\\\" and amount >= 500\\l"
            "  and merchant != last(small).merchant\\l"
            "and not small: type == \\\"auth\\\" and amount < 2.00\\l\", "
            "tooltip=\"take: type == \\\"auth\\\" and amount >= 500 and merchant != "
            "last(small).merchant and not small: type == \\\"auth\\\" and amount < 2.00\""));
}

TEST_CASE("not_followed_by: a red edge to a dead end; at the end, a pending state") {
  const std::string middle = Dot(
      "pattern p { begin a where k == 1 not_followed_by refund where kind == \"refund\" "
      "followed_by b where k == 2 }");
  NoExpressionIds(middle);
  CHECK(Has(middle, "[label=\"refund seen:\\nno match\", shape=octagon, color=red3"));
  CHECK(Has(middle, "[label=\"not_followed_by refund:\\lkind == \\\"refund\\\"\\l\", "
                    "tooltip=\"not_followed_by refund: kind == \\\"refund\\\"\""));
  CHECK(Has(middle, "style=dashed, color=red3, fontcolor=red3"));

  const std::string end = Dot("pattern p { within 5m begin a not_followed_by b where x == 2 }");
  CHECK(Has(end, "label=\"not_followed_by b\"; style=\"rounded,filled\"; fillcolor=mistyrose"));
  CHECK(Has(end, "[label=\"no b yet:\\nmatch when the window closes\""));
  CHECK(Has(end, "s1 -> s0 [label=\"window closes\\l\""));
  CHECK(Has(end, "s1 -> s1 [label=\"ignore: not (x == 2)\\l\""));
}

TEST_CASE("groups: a cluster with the group as written, states labelled with their round") {
  const std::string dot = Dot(
      "pattern p {\n"
      "  gap 30s\n"
      "  skip to_first(a)\n"
      "  begin a where k == 0\n"
      "  followed_by (b where (x > 1 or y < 2) and z == 3 next c) times 2 within 1m\n"
      "  followed_by d where n > 3 one_or_more consecutive until n > 9\n"
      "}\n");
  NoExpressionIds(dot);
  CHECK(Has(dot, "label=\"p — no key (one partition) — gap 30s — skip to_first(a)\\n"));
  CHECK(Has(dot, "subgraph cluster_group0 {\n    label=\"followed_by (b next c) times 2 within 1m\";"));
  CHECK(Has(dot, "[label=\"b\\nround 1\""));
  CHECK(Has(dot, "[label=\"c\\nround 2\""));
  CHECK(Has(dot, "[label=\"take: (x > 1 or y < 2) and z == 3\\l\""));  // parentheses as written
  CHECK(Has(dot, "[label=\"ignore: not ((x > 1 or y < 2) and z == 3)\\l\""));
  CHECK(Has(dot, "[label=\"take: any event\\l\""));
  CHECK(Has(dot, "label=\"followed_by d one_or_more consecutive until n > 9\";"));
  CHECK(Has(dot, "[label=\"take: n > 3\\land not until: n > 9\\l\""));
  CHECK(Has(dot, "window 30s\"]"));  // state windows in the state tooltips
}

TEST_CASE("DOT escaping: quotes, backslashes, UTF-8; names of any shape") {
  const std::string dot = Dot(
      "pattern p { begin a where msg == \"say \\\"hi\\\"\" and path starts_with 'C:\\\\temp' "
      "and city == \"Zürich\" }");
  NoExpressionIds(dot);
  // Source: msg == "say \"hi\"" and path starts_with 'C:\\temp' -- in DOT every quote and
  // backslash of it is escaped once more.
  CHECK(Has(dot, "[label=\"take: msg == \\\"say \\\\\\\"hi\\\\\\\"\\\"\\l"
                 "  and path starts_with 'C:\\\\\\\\temp'\\l"
                 "  and city == \\\"Zürich\\\"\\l\""));
}

TEST_CASE("long conditions wrap at blanks and are cut with an ellipsis; the tooltip has more") {
  std::string where = "a0 == 0";
  for (int k = 1; k < 40; ++k) where += " and a" + std::to_string(k) + " == " + std::to_string(k);
  const std::string dot = Dot("pattern p { begin a where " + where + " }");
  NoExpressionIds(dot);
  CHECK(Has(dot, "s1 -> s0 [label=\"take: a0 == 0 and a1 == 1 and a2 == 2\\l"
                 "  and a3 == 3 and a4 == 4 and a5 == 5\\l"
                 "  and a6 == 6 and a7 == 7 and a8 == 8 …\\l\""));
  CHECK(Has(dot, "and a39 == 39\""));  // the tooltip: all of it (under 600 characters)
}

TEST_CASE("a hand-built program without written form still draws") {
  Program p;
  p.name = "x\"y";
  p.states.push_back({StateType::kFinal, false, 0, 0, 0, 0});
  p.states.push_back({StateType::kNormal, true, 0, 0, 1, 0});
  p.edges.push_back({Action::kTake, 0, 0});
  p.conds.push_back({0, 1});
  p.cond_code.push_back({CondOp::kExpr, 0});
  p.expr_text.push_back("(== x 1)");
  p.state_names = {"$final$", "a"};
  p.stages.push_back({"a", false});
  p.start = 1;
  const std::string dot = DumpDot(p);
  CHECK(Has(dot, "digraph \"x\\\"y\" {"));
  CHECK(Has(dot, "s1 -> s0 [label=\"take: (== x 1)\\l\""));
}

}  // namespace
}  // namespace tern::nfa
