// Tests of dsl::Check and dsl::ParseAndCheck: name resolution (stage_table, Expr::stage,
// binds_list), every semantic diagnostic, removal of invalid patterns, the conformance
// patterns, and the consistency of dsl/diag_codes.def with tests/cases/diagnostics/.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "base/diagnostic.h"
#include "compiler/compile.h"
#include "dsl/diag.h"
#include "dsl/dsl.h"

namespace tern::dsl {
namespace {

namespace fs = std::filesystem;

struct Checked {
  ast::File file;
  DiagnosticSink sink;
};

std::unique_ptr<Checked> CheckText(const std::string& text) {
  auto out = std::make_unique<Checked>();
  out->file = ParseAndCheck(std::make_shared<SourceFile>("t.tern", text), out->sink);
  return out;
}

std::string Errors(const std::string& text) {
  return RenderAll(CheckText(text)->sink.diagnostics());
}

// The codes of the diagnostics of `text`, in order.
std::vector<std::string> Codes(const std::string& text) {
  auto r = CheckText(text);
  std::vector<std::string> codes;
  for (const Diagnostic& d : r->sink.diagnostics()) codes.push_back(d.code);
  return codes;
}

using V = std::vector<std::string>;

fs::path RepoRoot() {
#ifdef TERN_SOURCE_DIR
  return fs::path(TERN_SOURCE_DIR);
#else
  return fs::path(__FILE__).parent_path().parent_path().parent_path().parent_path();
#endif
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_CASE("stage table, stage references and binds_list") {
  auto r = CheckText(
      "pattern p {\n"
      "  begin a where x > 1\n"
      "  followed_by (b where b.n < a.n next c) times 2\n"
      "  followed_by d where count(d) < 3 and sum(b.v) > c[0].v one_or_more\n"
      "  followed_by e optional\n"
      "  emit { s = last(d).v, t = e, u = x, v = this.y }\n"
      "}\n");
  INFO(RenderAll(r->sink.diagnostics()));
  REQUIRE(!r->sink.has_errors());
  REQUIRE(r->file.patterns.size() == 1);
  const ast::Pattern& p = r->file.patterns[0];
  REQUIRE(p.stage_table.size() == 5);
  V names;
  std::vector<bool> lists;
  for (const ast::Stage* s : p.stage_table) {
    names.push_back(s->name);
    lists.push_back(s->binds_list);
  }
  CHECK(names == V{"a", "b", "c", "d", "e"});
  CHECK(lists == std::vector<bool>{false, true, true, true, false});
  CHECK(ast::Dump(p) ==
        "pattern p\n"
        "  begin a where (> x 1)\n"
        "  followed_by (group) times=2\n"
        "    begin b where (< (. @b n) (. @a n)) binds_list\n"
        "    next c binds_list\n"
        "  followed_by d where (and (< (count @d) 3) (> (sum (. @b v)) (. ([] @c 0) v))) "
        "times=1.. binds_list\n"
        "  followed_by e optional\n"
        "  emit s=(. (last @d) v) t=@e u=x v=(. this y)\n");
  // Expr::stage is an index into stage_table.
  const ast::Expr& cond = *p.stage_table[1]->where;  // (< (. @b n) (. @a n))
  CHECK(cond.args[0].args[0].stage == 1);
  CHECK(cond.args[1].args[0].stage == 0);
  CHECK(p.sequence[0].where->args[0].stage == -1);  // x is a field
}

TEST_CASE("a back-quoted name is always a field, even when a stage has that name") {
  auto r = CheckText("pattern p { begin a followed_by b where `b` > a.x and `a` == 1 }");
  REQUIRE(!r->sink.has_errors());
  CHECK(ast::Dump(*r->file.patterns[0].sequence[1].where) ==
        "(and (> (. this b) (. @a x)) (== (. this a) 1))");
}

TEST_CASE("semantic diagnostics, rendered") {
  struct Case {
    const char* in;
    const char* out;
  };
  const Case cases[] = {
      {"pattern p { begin a }\npattern p { begin a }",
       "t.tern:2:9: error[E0201]: duplicate pattern name 'p'\n 2 | pattern p { begin a }\n"
       "   |         ^ first declared on line 1\n"},
      {"pattern p { begin a followed_by (b next a) times 2 }",
       "t.tern:1:41: error[E0202]: duplicate stage name 'a'\n"
       " 1 | pattern p { begin a followed_by (b next a) times 2 }\n"
       "   |                                         ^ first declared on line 1\n"},
      {"pattern p { skip to_last(bigg) begin small followed_by big }",
       "t.tern:1:26: error[E0203]: unknown stage 'bigg' in 'skip to_last'\n"
       " 1 | pattern p { skip to_last(bigg) begin small followed_by big }\n"
       "   |                          ^~~~ did you mean 'big'?\n"},
      {"pattern p { begin a where amount > b.amount followed_by b }",
       "t.tern:1:36: error[E0204]: stage 'b' is used before it is declared\n"
       " 1 | pattern p { begin a where amount > b.amount followed_by b }\n"
       "   |                                    ^ 'b' is declared on line 1; for the event's "
       "field of that name write `b`\n"},
      {"pattern p { begin a one_or_more until count(b) > 2 followed_by b }",
       "t.tern:1:45: error[E0204]: stage 'b' is used before it is declared\n"
       " 1 | pattern p { begin a one_or_more until count(b) > 2 followed_by b }\n"
       "   |                                             ^ 'b' is declared on line 1; for the "
       "event's field of that name write `b`\n"},
      {"pattern p { begin (a next b) one_or_more until count(c) > 2 followed_by c }",
       "t.tern:1:54: error[E0204]: stage 'c' is used before it is declared\n"
       " 1 | pattern p { begin (a next b) one_or_more until count(c) > 2 followed_by c }\n"
       "   |                                                      ^ 'c' is declared on line 1; for the "
       "event's field of that name write `c`\n"},
      {"pattern p { begin a where lenght(name) > 3 }",
       "t.tern:1:27: error[E0205]: unknown function 'lenght'\n"
       " 1 | pattern p { begin a where lenght(name) > 3 }\n"
       "   |                           ^~~~~~ did you mean 'len'?\n"},
      {"pattern p { begin a emit { x = 1, y = 2, x = 3 } }",
       "t.tern:1:42: error[E0206]: duplicate emit field 'x'\n"
       " 1 | pattern p { begin a emit { x = 1, y = 2, x = 3 } }\n"
       "   |                                          ^ first given on line 1\n"},
      {"pattern p { within 1m begin a not_followed_by n followed_by b where n.x > 1 }",
       "t.tern:1:69: error[E0207]: stage 'n' never binds an event\n"
       " 1 | pattern p { within 1m begin a not_followed_by n followed_by b where n.x > 1 }\n"
       "   |                                                                     ^ it is a "
       "'not_followed_by' stage: it only checks that no such event occurs\n"},
      {"pattern p { within 1m skip to_first(n) begin a not_next n followed_by b }",
       "t.tern:1:37: error[E0207]: stage 'n' never binds an event\n"
       " 1 | pattern p { within 1m skip to_first(n) begin a not_next n followed_by b }\n"
       "   |                                     ^ it is a 'not_next' stage; skip to a stage that "
       "binds events\n"},
      {"pattern p { begin a followed_by (b not_followed_by c) followed_by d }",
       "t.tern:1:36: error[E0302]: a group cannot end with a 'not_followed_by' stage\n"
       " 1 | pattern p { begin a followed_by (b not_followed_by c) followed_by d }\n"
       "   |                                    ^~~~~~~~~~~~~~~\n"},
      {"pattern p { begin a not_next b times 2 followed_by c }",
       "t.tern:1:32: error[E0303]: a 'not_next' stage cannot have a quantifier\n"
       " 1 | pattern p { begin a not_next b times 2 followed_by c }\n"
       "   |                                ^~~~~~~\n"},
      {"pattern p { begin a not_next b optional followed_by c }",
       "t.tern:1:32: error[E0303]: a 'not_next' stage cannot have a quantifier\n"
       " 1 | pattern p { begin a not_next b optional followed_by c }\n"
       "   |                                ^~~~~~~~\n"},
      {"pattern p { begin a not_next b until x followed_by c }",
       "t.tern:1:32: error[E0304]: a 'not_next' stage cannot be 'until'\n"
       " 1 | pattern p { begin a not_next b until x followed_by c }\n"
       "   |                                ^~~~~\n"},
      {"pattern p { begin a times 0..2 not_next b followed_by c }",
       "t.tern:1:32: error[E0305]: a 'not_next' stage cannot follow an optional stage\n"
       " 1 | pattern p { begin a times 0..2 not_next b followed_by c }\n"
       "   |                                ^~~~~~~~ 'a' is optional; write two patterns, one "
       "with and one without it\n"},
      {"pattern p { begin a not_next (b next c) followed_by d }",
       "t.tern:1:21: error[E0306]: 'not_next' cannot be applied to a group\n"
       " 1 | pattern p { begin a not_next (b next c) followed_by d }\n"
       "   |                     ^~~~~~~~ negate single stages, one at a time\n"},
      {"pattern p { begin a not_followed_by b }",
       "t.tern:1:21: error[E0307]: a final 'not_followed_by' stage needs a time window\n"
       " 1 | pattern p { begin a not_followed_by b }\n"
       "   |                     ^~~~~~~~~~~~~~~ add a 'within' to the pattern (or to this stage) "
       "so absence can be decided\n"},
      {"pattern p { begin a times 0..0 }",
       "t.tern:1:21: error[E0308]: invalid repetition count: the stage could never bind an event\n"
       " 1 | pattern p { begin a times 0..0 }\n"
       "   |                     ^~~~~~~~~~ use 'optional' for a stage that may bind nothing\n"},
      {"pattern p { begin a times 2..1001 }",
       "t.tern:1:21: error[E0309]: repetition count 1001 is above the limit of 1000\n"
       " 1 | pattern p { begin a times 2..1001 }\n"
       "   |                     ^~~~~~~~~~~~~ use 'times n..' for an open-ended loop\n"},
      {"pattern p { begin (a next b) one_or_more greedy }",
       "t.tern:1:42: error[E0310]: 'greedy' cannot be used on a group\n"
       " 1 | pattern p { begin (a next b) one_or_more greedy }\n"
       "   |                                          ^~~~~~ put it on the looping stages inside "
       "the group\n"},
      {"pattern p { begin (a next b) times 2 until x }",
       "t.tern:1:38: error[E0313]: 'until' needs a looping stage\n"
       " 1 | pattern p { begin (a next b) times 2 until x }\n"
       "   |                                      ^~~~~ use 'one_or_more' or 'times n..'\n"},
      {"pattern p { begin a times 0..1 consecutive }",
       "t.tern:1:32: error[E0311]: 'consecutive' needs a stage that can bind more than one event\n"
       " 1 | pattern p { begin a times 0..1 consecutive }\n"
       "   |                                ^~~~~~~~~~~ give the stage 'times n..m', 'times n..' "
       "or 'one_or_more'\n"},
      {"pattern p { begin a allow_combinations }",
       "t.tern:1:21: error[E0311]: 'allow_combinations' needs a stage that can bind more than "
       "one event\n 1 | pattern p { begin a allow_combinations }\n"
       "   |                     ^~~~~~~~~~~~~~~~~~ give the stage 'times n..m', 'times n..' or "
       "'one_or_more'\n"},
      {"pattern p { begin a times 2 allow_combinations consecutive }",
       "t.tern:1:48: error[E0312]: 'consecutive' and 'allow_combinations' cannot be used together\n"
       " 1 | pattern p { begin a times 2 allow_combinations consecutive }\n"
       "   |                                                ^~~~~~~~~~~\n"},
      {"pattern p { begin a times 2..5 until x }",
       "t.tern:1:32: error[E0313]: 'until' needs a looping stage\n"
       " 1 | pattern p { begin a times 2..5 until x }\n"
       "   |                                ^~~~~ use 'one_or_more' or 'times n..'\n"},
      {"pattern p { begin a times 2.. greedy followed_by b times 0..3 }",
       "t.tern:1:52: error[E0314]: an optional stage cannot follow a greedy stage\n"
       " 1 | pattern p { begin a times 2.. greedy followed_by b times 0..3 }\n"
       "   |                                                    ^~~~~~~~~~ 'a' is greedy; make "
       "one of the two stages non-greedy or required\n"},
      {"pattern p { begin a one_or_more optional optional }",
       "t.tern:1:42: error[E0315]: 'optional' is given twice\n"
       " 1 | pattern p { begin a one_or_more optional optional }\n"
       "   |                                          ^~~~~~~~\n"},
      {"pattern p { begin a times 2 one_or_more }",
       "t.tern:1:29: error[E0315]: 'one_or_more' is given twice\n"
       " 1 | pattern p { begin a times 2 one_or_more }\n"
       "   |                             ^~~~~~~~~~~\n"},
      {"pattern p { begin a emit { } emit { } }",
       "t.tern:1:30: error[E0315]: 'emit' is given twice\n"
       " 1 | pattern p { begin a emit { } emit { } }\n"
       "   |                              ^~~~\n"},
      {"pattern p { begin a followed_by b within 0ms }",
       "t.tern:1:35: error[E0316]: 'within' must be longer than 0\n"
       " 1 | pattern p { begin a followed_by b within 0ms }\n"
       "   |                                   ^~~~~~~~~~\n"},
      {"pattern p { within 90s begin a followed_by b within 2m }",
       "t.tern:1:46: error[E0317]: the stage's 'within' (2m) is longer than the pattern's 'within' "
       "(90s)\n 1 | pattern p { within 90s begin a followed_by b within 2m }\n"
       "   |                                              ^~~~~~~~~\n"},
      {"pattern p { begin a where 1 == true or 'a' < 2 or null == 1 }",
       "t.tern:1:27: error[E0401]: cannot compare a number with a bool\n"
       " 1 | pattern p { begin a where 1 == true or 'a' < 2 or null == 1 }\n"
       "   |                           ^~~~~~~~~\n"
       "t.tern:1:40: error[E0401]: cannot compare a string with a number\n"
       " 1 | pattern p { begin a where 1 == true or 'a' < 2 or null == 1 }\n"
       "   |                                        ^~~~~~~\n"},
      {"pattern p { begin a where x + true > -'s' }",
       "t.tern:1:31: error[E0402]: '+' cannot be applied to a bool\n"
       " 1 | pattern p { begin a where x + true > -'s' }\n"
       "   |                               ^~~~\n"
       "t.tern:1:38: error[E0402]: '-' cannot be applied to a string\n"
       " 1 | pattern p { begin a where x + true > -'s' }\n"
       "   |                                      ^~~~\n"},
      {"pattern p { begin a where x matches \"a\" + y }",
       "t.tern:1:37: error[E0402]: '+' cannot be applied to a string\n"
       " 1 | pattern p { begin a where x matches \"a\" + y }\n"
       "   |                                     ^~~\n"
       "t.tern:1:37: error[E0403]: the right side of 'matches' must be a string literal\n"
       " 1 | pattern p { begin a where x matches \"a\" + y }\n"
       "   |                                     ^~~~~~~ e.g. email matches "
       "\"^[^@]+@example\\\\.com$\"\n"},
      {"pattern p { begin a where x matches \"[b-a]\" }",
       "t.tern:1:39: error[E0404]: invalid regular expression: invalid character class range "
       "'b-a'\n"
       " 1 | pattern p { begin a where x matches \"[b-a]\" }\n"
       "   |                                       ^~~\n"},
      {"pattern p { begin a where x matches \"a{2,1}\" }",
       "t.tern:1:39: error[E0404]: invalid regular expression: the counts of '{2,1}' are out of "
       "order\n"
       " 1 | pattern p { begin a where x matches \"a{2,1}\" }\n"
       "   |                                       ^~~~~\n"},
      {"pattern p { begin a where x matches \"((a{100}){100}){100}\" }",
       "t.tern:1:37: error[E0404]: invalid regular expression: the repetitions multiply to more "
       "than 1000\n 1 | pattern p { begin a where x matches \"((a{100}){100}){100}\" }\n"
       "   |                                     ^~~~~~~~~~~~~~~~~~~~~~ nested counted "
       "repetitions multiply; use '+' or '*'\n"},
      // The caret maps through the literal's escapes: \\ is one regex byte, \u0041 one.
      {"pattern p { begin a where x matches \"a\\\\d(?=\\u0041)\" }",
       "t.tern:1:42: error[E0410]: a lookahead '(?=...)' cannot be used in a regular "
       "expression\n"
       " 1 | pattern p { begin a where x matches \"a\\\\d(?=\\u0041)\" }\n"
       "   |                                          ^~~~~~~~~~ matches runs in time linear in "
       "the text, without backtracking; test the parts with separate 'matches' conditions "
       "joined by 'and' / 'not'\n"},
      {"pattern p { begin a where x not in y }",
       "t.tern:1:36: error[E0405]: the right side of 'not in' must be a list\n"
       " 1 | pattern p { begin a where x not in y }\n"
       "   |                                    ^ write the candidates in brackets, e.g. [\"a\", "
       "\"b\"]\n"},
      {"pattern p { begin a where x in [[1]] }",
       "t.tern:1:33: error[E0406]: a list is only allowed on the right of 'in' or 'not in'\n"
       " 1 | pattern p { begin a where x in [[1]] }\n"
       "   |                                 ^~~\n"},
      {"pattern p { begin a where abs(x, y) > 1 }",
       "t.tern:1:27: error[E0407]: function 'abs' takes exactly 1 argument, got 2\n"
       " 1 | pattern p { begin a where abs(x, y) > 1 }\n"
       "   |                           ^~~~~~~~~\n"},
      {"pattern p { begin a where exists(count(a)) }",
       "t.tern:1:34: error[E0408]: 'exists' needs a field path\n"
       " 1 | pattern p { begin a where exists(count(a)) }\n"
       "   |                                  ^~~~~~~~\n"},
      {"pattern p { begin a where 5 contains x or x ends_with true }",
       "t.tern:1:27: error[E0409]: 'contains' needs a string or a list on its left, found a "
       "number\n"
       " 1 | pattern p { begin a where 5 contains x or x ends_with true }\n"
       "   |                           ^\n"
       "t.tern:1:55: error[E0409]: 'ends_with' needs a string on its right, found a bool\n"
       " 1 | pattern p { begin a where 5 contains x or x ends_with true }\n"
       "   |                                                       ^~~~\n"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.in);
    CHECK(Errors(c.in) == c.out);
  }
}

TEST_CASE("rules that must NOT fire") {
  const char* valid[] = {
      // A stage may refer to itself (the events already bound to it).
      "pattern p { begin a where count(a) < 3 one_or_more }",
      // not_next at the end needs no window; not_followed_by at the end with each kind of window.
      "pattern p { begin a not_next b }",
      "pattern p { within 5m begin a not_followed_by b }",
      "pattern p { gap 5m begin a not_followed_by b }",
      "pattern p { begin a not_followed_by b within 5m }",
      // not_* after a group, optional stages after a not_*.
      "pattern p { begin (a next b) not_next c followed_by d optional }",
      // times 0..m, times n.., one_or_more optional, greedy on a loop.
      "pattern p { begin a times 0..3 followed_by b times 0.. greedy followed_by c }",
      "pattern p { begin a times 1000 followed_by b times 3..1000 }",
      // until on a looping group, naming the group's stages and those before it.
      "pattern p { begin s followed_by (a next (b next c) times 2) times 2.. consecutive "
      "until count(a) + count(c) > s.n followed_by d }",
      // A stage name that is also a function name.
      "pattern p { begin count where x > 1 followed_by b where count(count) > 0 }",
      // emit may refer to every stage, bare names and this.
      "pattern p { begin a followed_by b emit { x = a.v + b.v, y = v, z = this } }",
      // The same stage within as the pattern's.
      "pattern p { within 5m begin a followed_by b within 5m }",
      // Literal comparisons of the same type, and with null.
      "pattern p { begin a where 1 == 2.5 and 'a' < \"b\" and null != 1 and 5m > 10 }",
      // Arithmetic on durations and unknowns; string ops on unknowns.
      "pattern p { begin a where time(a) - 5m > x * 2 and y starts_with z and y matches \"^a\" }",
      "pattern p { begin a where exists(user.id) and exists(items[0]) and exists(this) and "
      "coalesce(a, 1) > 0 }",
  };
  for (const char* text : valid) {
    CAPTURE(text);
    auto r = CheckText(text);
    INFO(RenderAll(r->sink.diagnostics()));
    CHECK(!r->sink.has_errors());
    CHECK(r->file.patterns.size() == 1);
  }
}

TEST_CASE("every error of every pattern is reported; only valid patterns remain") {
  auto r = CheckText(
      "pattern ok1 { begin a }\n"
      "pattern bad1 { begin a where b.x > 1 followed_by b times 0 }\n"
      "pattern bad2 { begin a where foo(1) > 'x' + 1 }\n"
      "pattern ok2 { begin a followed_by b }\n"
      "pattern bad3 { begin a where }\n");
  CHECK(Codes("pattern bad1 { begin a where b.x > 1 followed_by b times 0 }") ==
        V{"E0204", "E0308"});
  V codes;
  for (const Diagnostic& d : r->sink.diagnostics()) codes.push_back(d.code);
  CHECK(codes == V{"E0204", "E0308", "E0205", "E0402", "E0101"});
  V names;
  for (const ast::Pattern& p : r->file.patterns) names.push_back(p.name);
  CHECK(names == V{"ok1", "ok2"});
  // stage_table pointers of the kept patterns are still valid after the removal.
  REQUIRE(r->file.patterns[1].stage_table.size() == 2);
  CHECK(r->file.patterns[1].stage_table[1]->name == "b");
}

TEST_CASE("diagnostics come out in file order") {
  auto r = CheckText(
      "pattern a { begin x where y.v > 1 followed_by y }\n"
      "pattern b { begin x where }\n"
      "pattern c { begin x times 0 }\n");
  std::vector<uint32_t> begins;
  for (const Diagnostic& d : r->sink.diagnostics()) begins.push_back(d.span.begin);
  CHECK(begins.size() == 3);
  CHECK(std::is_sorted(begins.begin(), begins.end()));
}

TEST_CASE("every Flink conformance pattern parses and checks without errors") {
  fs::path dir = RepoRoot().parent_path() / "shared" / "conformance" / "flink";
#ifdef TERN_SHARED_DIR
  dir = fs::path(TERN_SHARED_DIR) / "conformance" / "flink";
#endif
  if (!fs::is_directory(dir)) {
    // Same rule as tests/CMakeLists.txt: a checkout without ../shared has no
    // conformance cases to run; say so rather than fail.
    MESSAGE("conformance cases not found at " << dir << ": not checked");
    return;
  }
  int count = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    fs::path file = entry.path() / "pattern.tern";
    if (!fs::exists(file)) continue;
    ++count;
    DiagnosticSink sink;
    ast::File f = ParseAndCheck(std::make_shared<SourceFile>(file.string(), ReadFile(file)), sink);
    INFO(file.string() << "\n" << RenderAll(sink.diagnostics()));
    CHECK(!sink.has_errors());
    CHECK(f.patterns.size() == 1);
  }
  CHECK(count >= 90);
}

TEST_CASE("the diagnostic table: unique codes, one case folder per code") {
  std::set<std::string> codes;
  for (const DiagInfo& d : AllDiags()) {
    CAPTURE(d.code);
    CHECK(codes.insert(d.code).second);
    CHECK(std::string(d.tmpl).size() > 0);
    CHECK(std::string(d.doc).size() > 0);
  }
  CHECK(FormatDiag(Diag::kExpected, {"'}'", "end of file"}) == "expected '}', found end of file");

  // Every code but the internal one is shown by an expected.txt under tests/cases/diagnostics.
  fs::path cases = RepoRoot() / "tests" / "cases" / "diagnostics";
  REQUIRE(fs::is_directory(cases));
  std::set<std::string> shown;
  for (const auto& entry : fs::directory_iterator(cases)) {
    std::string expected = ReadFile(entry.path() / "expected.txt");
    for (const std::string& code : codes) {
      if (expected.find("error[" + code + "]") != std::string::npos ||
          expected.find("warning[" + code + "]") != std::string::npos) {
        shown.insert(code);
      }
    }
  }
  for (const std::string& code : codes) {
    if (code == "E0199") continue;
    CAPTURE(code);
    CHECK(shown.count(code) == 1);
  }
}

TEST_CASE("expected.txt of every diagnostics case matches the checker") {
  fs::path cases = RepoRoot() / "tests" / "cases" / "diagnostics";
  int count = 0;
  for (const auto& entry : fs::directory_iterator(cases)) {
    for (const auto& file : fs::directory_iterator(entry.path())) {
      if (file.path().extension() != ".tern") continue;
      ++count;
      DiagnosticSink sink;
      // Diagnostics point into the SourceFile: keep it alive while rendering.
      auto source =
          std::make_shared<SourceFile>(file.path().filename().string(), ReadFile(file.path()));
      // As `tern check` does: the compiler reports what needs the automaton (W0101).
      nfa::Schema schema;
      compiler::CompileSource(source, schema, sink);
      std::string out = RenderAll(sink.diagnostics());
      size_t n = sink.error_count();
      if (n > 0) out += std::to_string(n) + (n == 1 ? " error\n" : " errors\n");
      CAPTURE(file.path().string());
      CHECK(out == ReadFile(entry.path() / "expected.txt"));
    }
  }
  CHECK(count >= 45);
}

}  // namespace
}  // namespace tern::dsl
