// Tests of dsl::Parse: expression precedence and literals through ast::Dump, pattern
// structure, spans, syntax and lexical diagnostics, error recovery and the nesting cap.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "base/diagnostic.h"
#include "dsl/dsl.h"

namespace tern::dsl {
namespace {

struct Parsed {
  ast::File file;
  DiagnosticSink sink;
};

std::unique_ptr<Parsed> ParseText(const std::string& text) {
  auto out = std::make_unique<Parsed>();
  out->file = Parse(std::make_shared<SourceFile>("t.tern", text), out->sink);
  return out;
}

// Dump of the `where` of the only stage of `pattern p { begin x where <expr> }`.
std::string DumpWhere(const std::string& expr) {
  auto r = ParseText("pattern p { begin x where " + expr + " }");
  INFO("expr: " << expr << "\n" << RenderAll(r->sink.diagnostics()));
  REQUIRE(!r->sink.has_errors());
  REQUIRE(r->file.patterns.size() == 1);
  REQUIRE(r->file.patterns[0].sequence[0].where.has_value());
  return ast::Dump(*r->file.patterns[0].sequence[0].where);
}

std::string Errors(const std::string& text) {
  auto r = ParseText(text);
  return RenderAll(r->sink.diagnostics());
}

TEST_CASE("expressions: precedence, associativity and literals") {
  struct Case {
    const char* in;
    const char* dump;
  };
  const Case cases[] = {
      {"a > 10 and type == \"auth\"", "(and (> a 10) (== type \"auth\"))"},
      {"a or b and c", "(or a (and b c))"},
      {"a and b or c and d", "(or (and a b) (and c d))"},
      {"a or b or c", "(or (or a b) c)"},
      {"not a == 1", "(not (== a 1))"},
      {"not not a", "(not (not a))"},
      {"not a and b", "(and (not a) b)"},
      {"a + b * c", "(+ a (* b c))"},
      {"(a + b) * c", "(* (+ a b) c)"},
      {"a - b - c", "(- (- a b) c)"},
      {"a / b % c", "(% (/ a b) c)"},
      {"a + b == c * 2", "(== (+ a b) (* c 2))"},
      {"-a.b", "(neg (. a b))"},
      {"-a * b", "(* (neg a) b)"},
      {"- - a", "(neg (neg a))"},
      {"a - -1", "(- a -1)"},
      {"a -1", "(- a 1)"},
      {"-7 < x", "(< -7 x)"},
      {"x == -2.5", "(== x -2.5)"},
      {"x == 3.14", "(== x 3.14)"},
      {"x == 1e6", "(== x 1e+06)"},
      {"x == 1.5e-3", "(== x 0.0015)"},
      {"x == 2E+2", "(== x 200.0)"},
      {"x == 9223372036854775807", "(== x 9223372036854775807)"},
      {"t < 250ms", "(< t 250ms)"},
      {"t < 10s", "(< t 10000ms)"},
      {"t < 5m", "(< t 300000ms)"},
      {"t < 2h", "(< t 7200000ms)"},
      {"t < 1d", "(< t 86400000ms)"},
      {"time(b) - time(a) < 5m", "(< (- (time b) (time a)) 300000ms)"},
      {"x == null or y != true or z == false", "(or (or (== x null) (!= y true)) (== z false))"},
      {"this.amount > 1", "(> (. this amount) 1)"},
      {"a in [1, \"x\", true]", "(in a [1 \"x\" true])"},
      {"a not in []", "(not_in a [])"},
      {"not a in [1]", "(not (in a [1]))"},
      {"a + 1 in [2]", "(in (+ a 1) [2])"},
      {"name contains \"x\"", "(contains name \"x\")"},
      {"name starts_with 'a-' and name ends_with \"-z\"",
       "(and (starts_with name \"a-\") (ends_with name \"-z\"))"},
      {"email matches \"^[a-z]+@x\\\\.com$\"", "(matches email \"^[a-z]+@x\\\\.com$\")"},
      {"'it\\'s' == \"say \\\"hi\\\"\"", "(== \"it's\" \"say \\\"hi\\\"\")"},
      {"s == \"\\n\\t\\/\\b\\f\\r\\\\\"", "(== s \"\\n\\t/\\b\\f\\r\\\\\")"},
      {"s == \"\\u00e9\\ud83d\\ude00\"", "(== s \"\xC3\xA9\xF0\x9F\x98\x80\")"},
      {"`user-agent` == \"curl\"", "(== (. this `user-agent`) \"curl\")"},
      {"headers.`content-type` == 1", "(== (. headers `content-type`) 1)"},
      {"items[-1].sku == items[0][1]", "(== (. ([] items -1) sku) ([] ([] items 0) 1))"},
      {"count(small) >= 3 and last(small).merchant != merchant",
       "(and (>= (count small) 3) (!= (. (last small) merchant) merchant))"},
      {"coalesce(a, b.c, 0) > 1", "(> (coalesce a (. b c) 0) 1)"},
      {"now() > 1", "(> (now) 1)"},
      {"(sum(middle.price) + price) <= 5.0", "(<= (+ (sum (. middle price)) price) 5.0)"},
      {"a # comment\n > // another\n 1", "(> a 1)"},
      {"`begin` == 1", "(== (. this `begin`) 1)"},
      {"`a b`.`c.d` == 1", "(== (. (. this `a b`) `c.d`) 1)"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.in);
    CHECK(DumpWhere(c.in) == c.dump);
  }
}

TEST_CASE("patterns: clauses, stages, quantifiers, groups, emit") {
  struct Case {
    const char* in;
    const char* dump;
  };
  const Case cases[] = {
      {R"(pattern card_testing {
  key    card_id
  within 10m
  skip   past_last_event
  begin       small where type == "auth" and amount < 2.00  times 3..
  followed_by big   where amount >= 500 and merchant != last(small).merchant
  emit {
    card        = card_id
    tiny_count  = count(small),
    big_amount  = big.amount
  }
})",
       "pattern card_testing key=card_id within=600000ms skip=past_last_event\n"
       "  begin small where (and (== type \"auth\") (< amount 2.0)) times=3..\n"
       "  followed_by big where (and (>= amount 500) (!= merchant (. (last small) merchant)))\n"
       "  emit card=card_id tiny_count=(count small) big_amount=(. big amount)\n"},
      {"pattern p { key user.id, items[0].sku, a[-2] gap 30s skip to_first(b) from payments, "
       "logins to \"alerts\" begin a next b followed_by_any c not_next d followed_by e }",
       "pattern p key=user.id,items[0].sku,a[-2] gap=30000ms skip=to_first(b) "
       "from=payments,logins to=\"alerts\"\n"
       "  begin a\n  next b\n  followed_by_any c\n  not_next d\n  followed_by e\n"},
      {"pattern p { skip to_last(a) begin a times 2 followed_by b times 0..3 "
       "followed_by c times 2..5 optional greedy followed_by d one_or_more optional consecutive "
       "followed_by e optional followed_by f one_or_more allow_combinations until g > 1 within 5s "
       "}",
       "pattern p skip=to_last(a)\n"
       "  begin a times=2\n  followed_by b times=0..3\n  followed_by c times=2..5 optional greedy\n"
       "  followed_by d times=1.. optional consecutive\n  followed_by e optional\n"
       "  followed_by f times=1.. allow_combinations until=(> g 1) within=5000ms\n"},
      {"pattern p { skip no_skip begin a where x == 1 followed_by ( b followed_by ( c next d ) "
       "times 3 ) times 0..2 followed_by e emit { } on_timeout emit { n = count(a) } }",
       "pattern p\n  begin a where (== x 1)\n  followed_by (group) times=0..2\n"
       "    begin b\n    followed_by (group) times=3\n      begin c\n      next d\n"
       "  followed_by e\n  emit\n  on_timeout emit n=(count a)\n"},
      {"pattern p { skip to_next begin a on_timeout emit { } }",
       "pattern p skip=to_next\n  begin a\n  on_timeout emit\n"},
      {"pattern p { begin a emit { `out-name` = 1 b = 2, } }",
       "pattern p\n  begin a\n  emit `out-name`=1 b=2\n"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.in);
    auto r = ParseText(c.in);
    INFO(RenderAll(r->sink.diagnostics()));
    REQUIRE(!r->sink.has_errors());
    REQUIRE(r->file.patterns.size() == 1);
    CHECK(ast::Dump(r->file.patterns[0]) == c.dump);
  }
}

TEST_CASE("patterns: AST fields the compiler relies on") {
  auto r = ParseText(
      "pattern p { within 1m begin a followed_by (b next c) one_or_more optional "
      "emit { x = 1 } }");
  REQUIRE(!r->sink.has_errors());
  const ast::Pattern& p = r->file.patterns[0];
  CHECK(p.within_ms == 60000);
  CHECK(!p.gap_ms);
  CHECK(p.skip.kind == ast::SkipKind::kNoSkip);
  CHECK(p.has_emit);
  CHECK(!p.has_timeout);
  REQUIRE(p.sequence.size() == 2);
  CHECK(p.sequence[0].contiguity == ast::Contiguity::kBegin);
  CHECK(!p.sequence[0].has_quantifier);
  CHECK(p.sequence[0].min == 1);
  CHECK(p.sequence[0].max == 1);
  const ast::Stage& g = p.sequence[1];
  CHECK(g.is_group);
  CHECK(g.contiguity == ast::Contiguity::kFollowedBy);
  CHECK(g.has_quantifier);
  CHECK(g.optional);
  CHECK(g.min == 1);
  CHECK(g.max == -1);
  REQUIRE(g.children.size() == 2);
  CHECK(g.children[0].contiguity == ast::Contiguity::kBegin);
  CHECK(g.children[1].contiguity == ast::Contiguity::kNext);
}

TEST_CASE("spans are byte offsets of the source") {
  std::string text = "pattern pat {\n  begin small where amount > 10 times 2\n}\n";
  auto r = ParseText(text);
  REQUIRE(!r->sink.has_errors());
  auto slice = [&](SourceSpan s) { return text.substr(s.begin, s.end - s.begin); };
  const ast::Pattern& p = r->file.patterns[0];
  CHECK(slice(p.span) == text.substr(0, text.size() - 1));
  CHECK(slice(p.name_span) == "pat");
  const ast::Stage& s = p.sequence[0];
  CHECK(slice(s.name_span) == "small");
  CHECK(slice(s.span) == "small where amount > 10 times 2");
  CHECK(slice(s.quantifier_span) == "times 2");
  CHECK(slice(s.where->span) == "amount > 10");
  CHECK(slice(s.where->args[0].span) == "amount");
  CHECK(slice(s.where->args[1].span) == "10");

  auto r2 = ParseText("pattern p { begin a followed_by b where x.y[-1] == -3 greedy within 5s }");
  const ast::Stage& b = r2->file.patterns[0].sequence[1];
  std::string t2 = "pattern p { begin a followed_by b where x.y[-1] == -3 greedy within 5s }";
  CHECK(t2.substr(b.contiguity_span.begin, b.contiguity_span.end - b.contiguity_span.begin) ==
        "followed_by");
  CHECK(t2.substr(b.where->args[0].span.begin,
                  b.where->args[0].span.end - b.where->args[0].span.begin) == "x.y[-1]");
  CHECK(t2.substr(b.where->args[1].span.begin,
                  b.where->args[1].span.end - b.where->args[1].span.begin) == "-3");
  CHECK(t2.substr(b.within_span.begin, b.within_span.end - b.within_span.begin) == "within 5s");
  CHECK(t2.substr(b.greedy_span.begin, b.greedy_span.end - b.greedy_span.begin) == "greedy");
}

TEST_CASE("syntax and lexical errors say what was expected and point at the token") {
  struct Case {
    const char* in;
    const char* out;
  };
  const Case cases[] = {
      {"pattern p {\n  begin where amount > 10\n}\n",
       "t.tern:2:9: error[E0101]: expected a stage after 'begin', found keyword 'where'\n"
       " 2 |   begin where amount > 10\n"
       "   |         ^~~~~ name the stage first: 'name where condition'\n"},
      {"pattern {",
       "t.tern:1:9: error[E0101]: expected a pattern name after 'pattern', found '{'\n"
       " 1 | pattern {\n   |         ^\n"},
      {"pattern p begin",
       "t.tern:1:11: error[E0101]: expected '{' after the pattern name, found "
       "keyword 'begin'\n 1 | pattern p begin\n   |           ^~~~~\n"},
      {"pattern p {\n  withn 5m\n  begin a\n}",
       "t.tern:2:3: error[E0101]: expected a clause (key, within, gap, skip, from, to) or 'begin', "
       "found 'withn'\n 2 |   withn 5m\n   |   ^~~~~ did you mean 'within'?\n"},
      {"pattern p {\n  begin a\n  followed by b\n}",
       "t.tern:3:3: error[E0101]: expected '}' to close the pattern, or the next stage (next, "
       "followed_by, ...), found 'followed'\n 3 |   followed by b\n   |   ^~~~~~~~ did you mean "
       "'followed_by'?\n"},
      {"pattern p {\n  begin a where x = 1\n}",
       "t.tern:2:19: error[E0101]: expected '}' to close the pattern, or the next stage (next, "
       "followed_by, ...), found '='\n 2 |   begin a where x = 1\n   |                   ^ use "
       "'==' "
       "to compare\n"},
      {"pattern p { begin a where x > 1 && y }",
       "t.tern:1:33: error[E0101]: expected '}' to close the pattern, or the next stage (next, "
       "followed_by, ...), found '&&'\n 1 | pattern p { begin a where x > 1 && y }\n"
       "   |                                 ^~ use 'and'\n"},
      {"pattern p { begin a where in == 1 }",
       "t.tern:1:27: error[E0101]: expected a condition after 'where', found keyword 'in'\n"
       " 1 | pattern p { begin a where in == 1 }\n   |                           ^~ 'in' is a "
       "reserved keyword; write `in` to use it as a field name\n"},
      {"pattern p {\n  begin a\n  key user\n}",
       "t.tern:3:3: error[E0101]: expected '}' to close the pattern, or the next stage (next, "
       "followed_by, ...), found keyword 'key'\n 3 |   key user\n   |   ^~~ clauses (key, within, "
       "gap, skip, from, to) must come before 'begin'\n"},
      {"pattern p {\n  begin a where x > 1\n",
       "t.tern:2:22: error[E0101]: expected '}' to close the pattern, or the next stage (next, "
       "followed_by, ...), found end of file\n 2 |   begin a where x > 1\n"
       "   |                      ^\n"},
      {"pattern p { begin a where (x > 1 }",
       "t.tern:1:34: error[E0101]: expected ')' to close the parenthesis, found '}'\n"
       " 1 | pattern p { begin a where (x > 1 }\n   |                                  ^\n"},
      {"pattern p { begin a where f(x, ) }",
       "t.tern:1:32: error[E0101]: expected an argument after ',', found ')'\n"
       " 1 | pattern p { begin a where f(x, ) }\n   |                                ^\n"},
      {"pattern p { begin a where x not [1] }",
       "t.tern:1:33: error[E0101]: expected 'in' after 'not' (as in 'x not in [...]'), found '['\n"
       " 1 | pattern p { begin a where x not [1] }\n   |                                 ^\n"},
      {"pattern p { begin a where x == }",
       "t.tern:1:32: error[E0101]: expected an expression after '==', found '}'\n"
       " 1 | pattern p { begin a where x == }\n   |                                ^\n"},
      {"pattern p { begin a times }",
       "t.tern:1:27: error[E0101]: expected a repetition count after 'times', like 3, 2..5 or 2.., "
       "found '}'\n 1 | pattern p { begin a times }\n   |                           ^\n"},
      {"pattern p { begin a times 2.5 }",
       "t.tern:1:27: error[E0101]: expected a whole number, found '2.5'\n"
       " 1 | pattern p { begin a times 2.5 }\n   |                           ^~~\n"},
      {"pattern p { begin a emit { x = 1 y } }",
       "t.tern:1:36: error[E0101]: expected '=' after the field name, found '}'\n"
       " 1 | pattern p { begin a emit { x = 1 y } }\n   |                                    ^\n"},
      {"pattern p { begin a on_timeout { } }",
       "t.tern:1:32: error[E0101]: expected 'emit' after 'on_timeout', found '{'\n"
       " 1 | pattern p { begin a on_timeout { } }\n   |                                ^\n"},
      {"pattern p { skip to_first b begin a }",
       "t.tern:1:27: error[E0101]: expected '(' and a stage name after 'to_first', found 'b'\n"
       " 1 | pattern p { skip to_first b begin a }\n   |                           ^\n"},
      {"pattern p { begin a where x $ 1 }",
       "t.tern:1:29: error[E0101]: expected '}' to close the pattern, or the next stage (next, "
       "followed_by, ...), found '$'\n 1 | pattern p { begin a where x $ 1 }\n"
       "   |                             ^\n"},
      {"pattern p { begin a where x == \"abc }",
       "t.tern:1:32: error[E0102]: unterminated string literal\n"
       " 1 | pattern p { begin a where x == \"abc }\n   |                                ^ close "
       "it with \" on the same line\n"},
      {"pattern p { begin a where x == 'a\\qb' }",
       "t.tern:1:34: error[E0103]: invalid escape sequence '\\q' in string literal\n"
       " 1 | pattern p { begin a where x == 'a\\qb' }\n   |                                  ^~ "
       "write \\\\ for a backslash; the escapes are \\\" \\' \\\\ \\/ \\b \\f \\n \\r \\t "
       "\\uXXXX\n"},
      {"pattern p { begin a where x == \"\\ud800\" }",
       "t.tern:1:33: error[E0103]: invalid escape sequence '\\ud800' in string literal\n"
       " 1 | pattern p { begin a where x == \"\\ud800\" }\n   |                                 "
       "^~~~~~ a high surrogate must be followed by a \\u low surrogate\n"},
      {"pattern p { within 5x begin a }",
       "t.tern:1:21: error[E0104]: unknown duration unit 'x'\n"
       " 1 | pattern p { within 5x begin a }\n   |                     ^ use ms, s, m, h or d\n"},
      {"pattern p { within 1.5s begin a }",
       "t.tern:1:20: error[E0105]: invalid number '1.5s': a duration must be a whole number\n"
       " 1 | pattern p { within 1.5s begin a }\n   |                    ^~~~ use a smaller unit, "
       "e.g. 1500ms instead of 1.5s\n"},
      {"pattern p { begin a where x > 1e+ }",
       "t.tern:1:31: error[E0105]: invalid number '1e+': the exponent has no digits\n"
       " 1 | pattern p { begin a where x > 1e+ }\n   |                               ^~~\n"},
      {"pattern p { within 10 begin a }",
       "t.tern:1:20: error[E0106]: the duration '10' needs a unit\n"
       " 1 | pattern p { within 10 begin a }\n   |                    ^~ write e.g. 10s or 10ms\n"},
      {"pattern p { begin a where 1 < x <= 3 }",
       "t.tern:1:33: error[E0108]: comparison operators cannot be chained\n"
       " 1 | pattern p { begin a where 1 < x <= 3 }\n   |                                 ^~ "
       "combine comparisons with 'and', e.g. a < b and b < c\n"},
      {"pattern p { begin a optional times 2 }",
       "t.tern:1:30: error[E0109]: 'times' must come before 'optional'\n"
       " 1 | pattern p { begin a optional times 2 }\n   |                              ^~~~~ "
       "write 'times ... optional'\n"},
      {"pattern p { begin a where `` == 1 }",
       "t.tern:1:27: error[E0110]: empty back-quoted name\n"
       " 1 | pattern p { begin a where `` == 1 }\n   |                           ^~\n"},
      {"pattern p { skip to_frist(a) begin a }",
       "t.tern:1:18: error[E0111]: unknown skip strategy 'to_frist'\n"
       " 1 | pattern p { skip to_frist(a) begin a }\n   |                  ^~~~~~~~ did you mean "
       "'to_first'?\n"},
      {"pattern p { begin not_next a }",
       "t.tern:1:19: error[E0301]: a pattern cannot begin with a 'not_next' stage\n"
       " 1 | pattern p { begin not_next a }\n   |                   ^~~~~~~~ absence is checked "
       "after a stage: put a stage before it\n"},
      {"pattern p { begin a followed_by (not_followed_by b next c) }",
       "t.tern:1:34: error[E0301]: a group cannot begin with a 'not_followed_by' stage\n"
       " 1 | pattern p { begin a followed_by (not_followed_by b next c) }\n"
       "   |                                  ^~~~~~~~~~~~~~~ absence is checked after a stage: "
       "put a "
       "stage before it\n"},
      {"junk",
       "t.tern:1:1: error[E0101]: expected 'pattern', found 'junk'\n 1 | junk\n   | ^~~~\n"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.in);
    CHECK(Errors(c.in) == c.out);
  }
}

TEST_CASE("every syntax error of the file is reported; failed patterns are dropped") {
  auto r = ParseText(
      "pattern a { begin x where }\n"
      "pattern b { begin x }\n"
      "pattern c { begin x where \"unterminated }\n"
      "pattern d { begin x\n"  // missing '}': the error is at the next `pattern`
      "pattern e { begin y }\n"
      "garbage here\n"
      "pattern f { begin z where y == 'pattern {' }\n");
  std::vector<std::string> codes;
  for (const Diagnostic& d : r->sink.diagnostics()) codes.push_back(d.code);
  CHECK(codes == std::vector<std::string>{"E0101", "E0102", "E0101", "E0101"});
  std::vector<std::string> names;
  for (const ast::Pattern& p : r->file.patterns) names.push_back(p.name);
  CHECK(names == std::vector<std::string>{"b", "e", "f"});
}

TEST_CASE("empty files and files with only comments parse to nothing") {
  for (const char* text : {"", "   \n\t", "# only a comment", "// c1\n# c2\n", "\xEF\xBB\xBF"}) {
    auto r = ParseText(text);
    CHECK(!r->sink.has_errors());
    CHECK(r->file.patterns.empty());
  }
}

TEST_CASE("a UTF-8 byte order mark is skipped") {
  auto r = ParseText("\xEF\xBB\xBFpattern p { begin a }");
  CHECK(!r->sink.has_errors());
  CHECK(r->file.patterns.size() == 1);
}

TEST_CASE("nesting is capped with a diagnostic instead of a stack overflow") {
  auto repeat = [](const std::string& s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
  };
  // 60 levels are fine.
  CHECK(DumpWhere(repeat("(", 60) + "a" + repeat(")", 60)) == "a");
  const std::string deep[] = {
      repeat("(", 5000) + "a" + repeat(")", 5000),
      repeat("not ", 5000) + "a",
      repeat("- ", 5000) + "a",
      repeat("(a + ", 5000) + "a" + repeat(")", 5000),
      "x or " + repeat("(a or ", 100) + "b" + repeat(")", 100),
      repeat("a", 1) + repeat(".b", 5000),
      repeat("a", 1) + repeat("[0]", 5000),
      repeat("f(", 5000) + repeat(")", 5000),
      repeat("[", 5000) + repeat("]", 5000),
  };
  for (const std::string& e : deep) {
    auto r = ParseText("pattern p { begin x where " + e + " }");
    REQUIRE(r->sink.diagnostics().size() == 1);
    CHECK(r->sink.diagnostics()[0].code == "E0107");
    CHECK(r->file.patterns.empty());
  }
  auto groups =
      ParseText("pattern p { begin " + repeat("(", 5000) + "x" + repeat(")", 5000) + " }");
  REQUIRE(groups->sink.diagnostics().size() == 1);
  CHECK(groups->sink.diagnostics()[0].code == "E0107");
}

TEST_CASE("a flat operator chain is not nesting: 100k terms parse, dump and die") {
  // Left-associative chains are left-deep trees, one level per term; the depth cap counts
  // only real nesting, and every walk loops over a chain's left spine.
  auto chain = [](const std::string& op, int n) {
    std::string out = "a0";
    for (int i = 1; i < n; ++i) out += " " + op + " a" + std::to_string(i);
    return out;
  };
  CHECK(DumpWhere(chain("or", 3)) == "(or (or a0 a1) a2)");
  CHECK(DumpWhere("a - b + c * d - e") == "(- (+ (- a b) (* c d)) e)");
  for (std::string op : {"or", "and", "+", "-", "*", "/", "%"}) {
    CAPTURE(op);
    const std::string dump = DumpWhere(chain(op, 100000));
    CHECK(dump.starts_with("(" + op + " (" + op + " "));
    CHECK(dump.ends_with(" a99998) a99999)"));
  }
  // Mixed: comparisons joined by `and`, sums inside; and 65 real levels inside a chain.
  std::string mixed = "x0 + 1 > 0";
  for (int i = 1; i < 50000; ++i) mixed += " and x" + std::to_string(i) + " + 1 > " + std::to_string(i);
  CHECK(DumpWhere(mixed).starts_with("(and (and "));
  std::string deep_operand = "a or b or " + std::string(65, '(') + "c" + std::string(65, ')');
  auto r = ParseText("pattern p { begin x where " + deep_operand + " }");
  REQUIRE(r->sink.diagnostics().size() == 1);
  CHECK(r->sink.diagnostics()[0].code == "E0107");
}

TEST_CASE("Parse survives hostile bytes") {
  // Raw bytes inside strings are kept as they are (no UTF-8 validation).
  using namespace std::string_literals;
  for (std::string in : {"pattern p { begin a where x == \"\0\" }"s,
                         std::string("pattern p { begin a where x == \"\xff\xfe\" }")}) {
    auto r = ParseText(in);
    CHECK(!r->sink.has_errors());
  }
  const std::string inputs[] = {
      "pattern \xc3\xa9 { begin a }",
      "pattern p { begin a where x == 1 \0 }"s,
      "pattern p { begin a where x == 'a\\",
      "pattern p { begin a where x == \"\\u12",
      "pattern p { begin a times 99999999999999999999 }",
      "pattern p { within 999999999999999999d begin a }",
      "pattern p { begin a where `",
      "pattern",
      "pattern p",
      "pattern p {",
      "}}}}",
  };
  for (const std::string& in : inputs) {
    CAPTURE(in);
    auto r = ParseText(in);
    CHECK(r->sink.has_errors());
  }
}

}  // namespace
}  // namespace tern::dsl
