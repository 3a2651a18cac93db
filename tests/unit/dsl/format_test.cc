// Tests of dsl::Format: the exact layout of small inputs (alignment, groups, emit, comments
// in every position, blank lines, CRLF, kept line breaks), idempotence, refusal of files
// with syntax errors, and hostile inputs.
#include "dsl/format.h"

#include <doctest/doctest.h>

#include <string>

#include "dsl/dsl.h"

namespace tern::dsl {
namespace {

// The formatted text, or "ERROR:" and the rendered diagnostics.
std::string Fmt(const std::string& text) {
  SourceFile source("t.tern", text);
  DiagnosticSink sink;
  std::string out;
  if (!Format(source, sink, &out)) return "ERROR:" + RenderAll(sink.diagnostics());
  return out;
}

// Formats `in`, expects `want`, and expects formatting `want` to give `want` again.
void CheckFormat(const std::string& in, const std::string& want) {
  CAPTURE(in);
  std::string got = Fmt(in);
  CHECK(got == want);
  CHECK(Fmt(got) == got);
}

TEST_CASE("format: clauses and stages align") {
  CheckFormat(
      "pattern p{key user.id,items[0].sku within 5m skip to_first( a ) begin a where x>1 "
      "followed_by longer where y==2 not_followed_by c}",
      "pattern p {\n"
      "  key    user.id, items[0].sku\n"
      "  within 5m\n"
      "  skip   to_first(a)\n"
      "  begin           a      where x > 1\n"
      "  followed_by     longer where y == 2\n"
      "  not_followed_by c\n"
      "}\n");
  // One clause: no padding. `from` and `to`.
  CheckFormat("pattern p { from a ,b to 'x' gap 1s begin a }",
              "pattern p {\n"
              "  from a, b\n"
              "  to   'x'\n"
              "  gap  1s\n"
              "  begin a\n"
              "}\n");
}

TEST_CASE("format: expression spacing") {
  struct Case {
    const char* expr;
    const char* want;
  };
  const Case cases[] = {
      {"x>1 and(y<2 or z in[1,2,-3])", "x > 1 and (y < 2 or z in [1, 2, -3])"},
      {"-x == - 1 and not y", "-x == -1 and not y"},
      {"f( a , b )[ 0 ].c not in [ \"a\" ]", "f(a, b)[0].c not in [\"a\"]"},
      {"a-1", "a - 1"},
      {"a - -b", "a - -b"},
      {"a*(-b)", "a * (-b)"},
      {"- - a", "--a"},
      {"`user-agent` . `x y` contains'k'", "`user-agent`.`x y` contains 'k'"},
      {"this.a starts_with \"x\" or b ends_with \"y\" or c matches \"^z\"",
       "this.a starts_with \"x\" or b ends_with \"y\" or c matches \"^z\""},
      {"time(b)-time(a)<=5m", "time(b) - time(a) <= 5m"},
      {"((a))", "((a))"},
      {"a%2!=0", "a % 2 != 0"},
      {"now()>1e3", "now() > 1e3"},
  };
  for (const Case& c : cases) {
    CheckFormat(std::string("pattern p { begin a where ") + c.expr + " }",
                std::string("pattern p {\n  begin a where ") + c.want + "\n}\n");
  }
}

TEST_CASE("format: quantifiers and modifiers follow the condition") {
  CheckFormat(
      "pattern p { begin a where x\n   times 2..3\n optional   greedy next b times 2.. "
      "consecutive until c > 1 within 5s followed_by_any c one_or_more allow_combinations }",
      "pattern p {\n"
      "  begin           a where x times 2..3 optional greedy\n"
      "  next            b times 2.. consecutive until c > 1 within 5s\n"
      "  followed_by_any c one_or_more allow_combinations\n"
      "}\n");
}

TEST_CASE("format: groups") {
  CheckFormat(
      "pattern p { begin start where name == \"d\" followed_by_any ( m1 where name == \"a\" "
      "followed_by ( m2 where n == 1 followed_by m3 where n == 2 ) times 3 ) times 0..2 "
      "followed_by end where name == \"e\" }",
      "pattern p {\n"
      "  begin       start where name == \"d\"\n"
      "  followed_by_any (\n"
      "    m1 where name == \"a\"\n"
      "    followed_by (\n"
      "      m2 where n == 1\n"
      "      followed_by m3 where n == 2\n"
      "    ) times 3\n"
      "  ) times 0..2\n"
      "  followed_by end   where name == \"e\"\n"
      "}\n");
  CheckFormat("pattern p { begin ((a next b) next c) optional }",
              "pattern p {\n"
              "  begin (\n"
              "    (\n"
              "      a\n"
              "      next b\n"
              "    )\n"
              "    next c\n"
              "  ) optional\n"
              "}\n");
}

TEST_CASE("format: emit blocks") {
  CheckFormat(
      "pattern p { begin a emit{u=user_id, longer_name = count(a) w=-1,}on_timeout emit{z=1} }",
      "pattern p {\n"
      "  begin a\n"
      "  emit {\n"
      "    u           = user_id\n"
      "    longer_name = count(a)\n"
      "    w           = -1\n"
      "  }\n"
      "  on_timeout emit {\n"
      "    z = 1\n"
      "  }\n"
      "}\n");
  CheckFormat("pattern p { begin a emit { } }", "pattern p {\n  begin a\n  emit {}\n}\n");
  CheckFormat("pattern p { begin a emit { `a b` = [1,2] } }",
              "pattern p {\n  begin a\n  emit {\n    `a b` = [1, 2]\n  }\n}\n");
}

TEST_CASE("format: long conditions keep their line breaks") {
  CheckFormat(
      "pattern p {\n"
      "  begin a where x == 1\n"
      "  followed_by bb where type == \"t\" and amount >= 500\n"
      "    and merchant != last(a).merchant\n"
      "         or (c == 1\n"
      "and d == 2)\n"
      "  emit { spread = (s.price - b.price)\n"
      "     / b.price * 10000 }\n"
      "}\n",
      "pattern p {\n"
      "  begin       a  where x == 1\n"
      "  followed_by bb where type == \"t\" and amount >= 500\n"
      "                   and merchant != last(a).merchant\n"
      "                   or (c == 1\n"
      "                     and d == 2)\n"
      "  emit {\n"
      "    spread = (s.price - b.price)\n"
      "             / b.price * 10000\n"
      "  }\n"
      "}\n");
  // A break right after `where` or `=` is not kept; one before a quantifier neither.
  CheckFormat("pattern p { begin a where\n x\n times 2 emit { v =\n 1 } }",
              "pattern p {\n  begin a where x times 2\n  emit {\n    v = 1\n  }\n}\n");
}

TEST_CASE("format: comments stay where they were") {
  CheckFormat(
      "# head   \n"
      "\n"
      "\n"
      "pattern p { # after brace\n"
      "\n"
      "  within 5m // w\n"
      "  key k\n"
      "\n"
      "\n"
      "  # before begin\n"
      "     # second line\n"
      "  begin a where x > 1 # t1\n"
      "     and y\n"
      "   # own line in the condition\n"
      "        or z\n"
      "  next b where q  emit { # in emit\n"
      "    u = 1, # after comma\n"
      "    # before v\n"
      "    v = 2\n"
      "    # end of emit\n"
      "  } # after emit\n"
      "   # end of body\n"
      "\n"
      "}   # after pattern\n"
      "// tail\n"
      "\n"
      "\n"
      "// tail2\n",
      "# head\n"
      "\n"
      "pattern p {  # after brace\n"
      "  within 5m  // w\n"
      "  key    k\n"
      "\n"
      "  # before begin\n"
      "  # second line\n"
      "  begin a where x > 1  # t1\n"
      "            and y\n"
      "            # own line in the condition\n"
      "            or z\n"
      "  next  b where q\n"
      "  emit {  # in emit\n"
      "    u = 1  # after comma\n"
      "    # before v\n"
      "    v = 2\n"
      "    # end of emit\n"
      "  }  # after emit\n"
      "  # end of body\n"
      "}  # after pattern\n"
      "// tail\n"
      "\n"
      "// tail2\n");
}

TEST_CASE("format: comments inside a line break it") {
  CheckFormat("pattern # a\n p { key # b\n k begin # c\n a # d\n where x # e\n times 2 }",
              "pattern  # a\n"
              "  p {\n"
              "  key  # b\n"
              "    k\n"
              "  begin  # c\n"
              "    a  # d\n"
              "    where x  # e\n"
              "    times 2\n"
              "}\n");
  CheckFormat("pattern p { begin a where (x # inside\n) }",
              "pattern p {\n  begin a where (x  # inside\n            )\n}\n");
}

TEST_CASE("format: blank lines and patterns") {
  CheckFormat(
      "\n\npattern p {\n\n\n  begin a\n\n\n  next b\n\n\n}\npattern q { begin a }\n\n\n\n"
      "# about r\npattern r { begin a }\n\n\n",
      "pattern p {\n"
      "  begin a\n"
      "\n"
      "  next  b\n"
      "}\n"
      "\n"
      "pattern q {\n"
      "  begin a\n"
      "}\n"
      "\n"
      "# about r\n"
      "pattern r {\n"
      "  begin a\n"
      "}\n");
  CheckFormat("", "");
  CheckFormat("  # only a comment  \n\n", "# only a comment\n");
}

TEST_CASE("format: CRLF, tabs and a byte order mark") {
  CheckFormat("\xEF\xBB\xBFpattern\tp {\r\n\tbegin a\twhere s == \"a\\tb\"  # c\t\r\n}\r\n",
              "pattern p {\n  begin a where s == \"a\\tb\"  # c\n}\n");
}

TEST_CASE("format: semantic errors do not stop it, syntax errors do") {
  CheckFormat("pattern p { begin a where unknown_stage.x > 1 next a }",
              "pattern p {\n  begin a where unknown_stage.x > 1\n  next  a\n}\n");
  std::string err = Fmt("pattern p { begin a where }\npattern q { begin }");
  CHECK(err.find("ERROR:") == 0);
  CHECK(err.find("t.tern:1:") != std::string::npos);
  CHECK(err.find("t.tern:2:") != std::string::npos);
  CHECK(Fmt("pattern p { begin a where s == \"x }").find("ERROR:") == 0);
}

TEST_CASE("format: long operator chains and deep nesting") {
  std::string chain = "pattern p { begin a where x == 0";
  for (int i = 0; i < 100000; ++i) chain += " or x == " + std::to_string(i % 10);
  chain += " }";
  std::string out = Fmt(chain);
  REQUIRE(out.find("ERROR") == std::string::npos);
  CHECK(out.size() > 1000000);
  std::string nested = "pattern p { begin a where " + std::string(60, '(') + "x" +
                       std::string(60, ')') + " }";
  CHECK(Fmt(nested).find("ERROR") == std::string::npos);
  std::string groups = "pattern p { begin " + std::string(40, '(') + "a" + std::string(40, ')') +
                       " }";
  REQUIRE(Fmt(groups).find("ERROR") == std::string::npos);
  CHECK(Fmt(Fmt(groups)) == Fmt(groups));
}

TEST_CASE("format: random bytes never crash") {
  uint32_t seed = 7;
  const std::string alphabet = "pattern begin where next emit {}()[],.=<>!-+#/\"'`\n\r\t 0123456789abc_";
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    int len = static_cast<int>(seed % 200);
    for (int i = 0; i < len; ++i) {
      seed = seed * 1103515245 + 12345;
      text += (seed >> 24) % 4 == 0 ? static_cast<char>(seed >> 16)
                                    : alphabet[(seed >> 16) % alphabet.size()];
    }
    seed = seed * 1103515245 + 12345;
    std::string once = Fmt(text);
    if (once.find("ERROR:") != 0) CHECK(Fmt(once) == once);
  }
}

}  // namespace
}  // namespace tern::dsl
