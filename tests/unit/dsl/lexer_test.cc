// Tests of dsl::Lex: every token kind, the cuts the grammar makes (durations, `..` after a
// count, exponents, two-byte operators), comments, line breaks and never failing.
#include "dsl/lexer.h"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "dsl/dsl.h"

namespace tern::dsl {
namespace {

char KindLetter(TokenKind k) {
  switch (k) {
    case TokenKind::kKeyword:
      return 'K';
    case TokenKind::kName:
      return 'N';
    case TokenKind::kQuotedName:
      return 'Q';
    case TokenKind::kString:
      return 'S';
    case TokenKind::kInt:
      return 'I';
    case TokenKind::kDouble:
      return 'D';
    case TokenKind::kDuration:
      return 'T';
    case TokenKind::kPunct:
      return 'P';
    case TokenKind::kComment:
      return 'C';
    case TokenKind::kInvalid:
      return '?';
  }
  return '!';
}

// "K:pattern N:p P:{" ...; a token after line breaks is preceded by "/" per break, an
// unterminated one is followed by "~".
std::string Show(std::string_view text) {
  std::string out;
  for (const Token& t : Lex(text)) {
    if (!out.empty()) out += ' ';
    out.append(t.newlines_before, '/');
    out += KindLetter(t.kind);
    out += ':';
    out += TokenText(text, t);
    if (t.unterminated) out += '~';
  }
  return out;
}

TEST_CASE("lexer: token kinds and cuts") {
  struct Case {
    const char* in;
    const char* out;
  };
  const Case cases[] = {
      {"pattern p { begin a }", "K:pattern N:p P:{ K:begin N:a P:}"},
      {"no_skip to_first count _x9", "N:no_skip N:to_first N:count N:_x9"},
      {"begin1 within_ Pattern", "N:begin1 N:within_ N:Pattern"},
      {"42 3.14 1e6 2.5e-3 2E+2 0", "I:42 D:3.14 D:1e6 D:2.5e-3 D:2E+2 I:0"},
      {"250ms 10s 5m 2h 1d", "T:250ms T:10s T:5m T:2h T:1d"},
      {"times 3..5", "K:times I:3 P:.. I:5"},
      {"times 3..", "K:times I:3 P:.."},
      {"3...4", "I:3 P:.. P:. I:4"},
      {".5", "P:. I:5"},
      {"1.5.2", "D:1.5 P:. I:2"},
      {"2.e5", "I:2 P:. N:e5"},
      {"5x 1.5s 1e 1e+ 1em 12msx", "?:5x ?:1.5s ?:1e ?:1e+ ?:1em ?:12msx"},
      {"a.b[0]", "N:a P:. N:b P:[ I:0 P:]"},
      {"== != <= >= < > = + - * / %", "P:== P:!= P:<= P:>= P:< P:> P:= P:+ P:- P:* P:/ P:%"},
      {"a==-1", "N:a P:== P:- I:1"},
      {"===", "P:== P:="},
      {"! ;", "?:! ?:;"},
      {"\"a\\\"b\" 'it\\'s' \"\\u00e9\\\\\"", "S:\"a\\\"b\" S:'it\\'s' S:\"\\u00e9\\\\\""},
      {"'say \"hi\"' \"it's\"", "S:'say \"hi\"' S:\"it's\""},
      {"`user-agent` `in`", "Q:`user-agent` Q:`in`"},
      {"a # c1\n// c2\nb", "N:a C:# c1 /C:// c2 /N:b"},
      {"a/ /b", "N:a P:/ P:/ N:b"},
      {"a\n\n\n  b", "N:a ///N:b"},
      {"a\r\n# c\r\nb", "N:a /C:# c /N:b"},
      {"\"abc\ndef\"", "S:\"abc~ /N:def S:\"~"},
      {"x \"ab\\", "N:x S:\"ab\\~"},
      {"`abc\r\nd", "Q:`abc~ /N:d"},
      {"\xEF\xBB\xBFpattern", "K:pattern"},
      {"\xC3\xA9 \xFF\xFE", "?:\xC3\xA9 ?:\xFF ?:\xFE"},
      {"", ""},
  };
  for (const Case& c : cases) {
    CAPTURE(c.in);
    CHECK(Show(c.in) == c.out);
  }
}

TEST_CASE("lexer: spans cover the text between whitespace") {
  std::string text = "pattern p {\n  begin a where x >= 1.5 # note\n}\n";
  std::string rebuilt;
  uint32_t at = 0;
  for (const Token& t : Lex(text)) {
    for (uint32_t i = at; i < t.span.begin; ++i) {
      CHECK((text[i] == ' ' || text[i] == '\n'));
    }
    rebuilt += TokenText(text, t);
    at = t.span.end;
  }
  CHECK(rebuilt == "patternp{beginawherex>=1.5# note}");
}

// The grammar accepts a number token exactly when the lexer calls it one.
TEST_CASE("lexer: numbers agree with the parser") {
  const char* literals[] = {"7", "0.25", "1e3", "1E-2", "10ms", "3d", "1.5s", "4x", "1e", "1e+"};
  for (const char* lit : literals) {
    CAPTURE(lit);
    std::string text = std::string("pattern p { begin a where x == ") + lit + " }";
    DiagnosticSink sink;
    Parse(std::make_shared<SourceFile>("t.tern", text), sink);
    auto tokens = Lex(lit);
    REQUIRE(tokens.size() == 1);
    CHECK(sink.has_errors() == (tokens[0].kind == TokenKind::kInvalid));
  }
}

TEST_CASE("lexer: never fails on arbitrary bytes") {
  std::string text;
  uint32_t seed = 12345;
  for (int i = 0; i < 20000; ++i) {
    seed = seed * 1103515245 + 12345;
    text += static_cast<char>((seed >> 16) & 0xFF);
  }
  auto tokens = Lex(text);
  uint32_t at = 0;
  for (const Token& t : tokens) {
    CHECK(t.span.begin >= at);
    CHECK(t.span.end > t.span.begin);
    at = t.span.end;
  }
  CHECK(at <= text.size());
}

}  // namespace
}  // namespace tern::dsl
