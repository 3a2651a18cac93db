// dsl::Lex: the token stream of a .tern file, comments and line breaks included, cut
// exactly where the X3 primitives of dsl/x3_primitives.h cut (numbers, durations, `..`,
// strings, back-quoted names, the skipper's comments).
// Tested by tests/unit/dsl/lexer_test.cc.
#include "dsl/lexer.h"

#include "dsl/tokens.h"

namespace tern::dsl {
namespace {

using syntax::IsDigit;
using syntax::IsIdentChar;
using syntax::IsIdentStart;

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// The end of a line-bound token (comment, unterminated string) starting at `i`: the next
// '\n', or the '\r' of a "\r\n", or the end of the text.
size_t LineEnd(std::string_view text, size_t i) {
  while (i < text.size() && text[i] != '\n') ++i;
  if (i > 0 && i < text.size() && text[i - 1] == '\r') --i;
  return i;
}

// A string literal at `i` ('"' or '\''): returns its end; sets `*unterminated` when the
// line or the text ends first. A backslash escapes the next byte, as in StringParser
// (which then checks that the escape is one of JSON's).
size_t LexString(std::string_view text, size_t i, bool* unterminated) {
  char quote = text[i];
  size_t j = i + 1;
  while (j < text.size()) {
    char c = text[j];
    if (c == '\n' || c == '\r') break;
    if (c == quote) return j + 1;
    if (c == '\\' && j + 1 < text.size() && text[j + 1] != '\n' && text[j + 1] != '\r') {
      j += 2;
    } else {
      ++j;
    }
  }
  *unterminated = true;
  return j;
}

// A number at `i` (a digit): 42, 3.14, 1e6, 2.5e-3, or a duration 250ms. A '.' belongs to
// the number only when a digit follows it (`2..5` is 2 `..` 5), an exponent only when it
// has digits. Letters right after the digits are a unit: ms s m h d after an integer make a
// duration; anything else (`5x`, `1.5s`, `1e`) is one kInvalid token, an error to the parser.
TokenKind LexNumber(std::string_view text, size_t i, size_t* end) {
  size_t n = text.size();
  size_t j = i;
  while (j < n && IsDigit(text[j])) ++j;
  bool is_double = false;
  if (j + 1 < n && text[j] == '.' && IsDigit(text[j + 1])) {
    is_double = true;
    ++j;
    while (j < n && IsDigit(text[j])) ++j;
  }
  if (j < n && (text[j] == 'e' || text[j] == 'E')) {
    size_t exp = j + 1;
    if (exp < n && (text[exp] == '+' || text[exp] == '-')) ++exp;
    if (exp < n && IsDigit(text[exp])) {
      is_double = true;
      j = exp;
      while (j < n && IsDigit(text[j])) ++j;
    } else if (exp != j + 1) {  // `1e+`: an exponent without digits
      *end = exp;
      return TokenKind::kInvalid;
    }
  }
  if (j < n && IsIdentStart(text[j])) {
    size_t unit_begin = j;
    while (j < n && IsIdentChar(text[j])) ++j;
    std::string_view unit = text.substr(unit_begin, j - unit_begin);
    bool known = unit == "ms" || unit == "s" || unit == "m" || unit == "h" || unit == "d";
    *end = j;
    return known && !is_double ? TokenKind::kDuration : TokenKind::kInvalid;
  }
  *end = j;
  return is_double ? TokenKind::kDouble : TokenKind::kInt;
}

// The length of the punctuation token at `i`, or 0. Two-byte operators first.
size_t PunctLength(std::string_view text, size_t i) {
  char c = text[i];
  char d = i + 1 < text.size() ? text[i + 1] : '\0';
  if ((c == '.' && d == '.') || (c == '=' && d == '=') || (c == '!' && d == '=') ||
      (c == '<' && d == '=') || (c == '>' && d == '=')) {
    return 2;
  }
  switch (c) {
    case '{':
    case '}':
    case '(':
    case ')':
    case '[':
    case ']':
    case ',':
    case '.':
    case '=':
    case '<':
    case '>':
    case '+':
    case '-':
    case '*':
    case '/':
    case '%':
      return 1;
    default:
      return 0;
  }
}

// One byte, or a whole UTF-8 sequence (lead byte and its continuation bytes, at most 4).
size_t InvalidLength(std::string_view text, size_t i) {
  auto lead = static_cast<unsigned char>(text[i]);
  size_t len = 1;
  if (lead >= 0xC0) {
    while (len < 4 && i + len < text.size() &&
           (static_cast<unsigned char>(text[i + len]) & 0xC0) == 0x80) {
      ++len;
    }
  }
  return len;
}

}  // namespace

std::vector<Token> Lex(std::string_view text) {
  std::vector<Token> tokens;
  size_t n = text.size();
  size_t i = text.starts_with("\xEF\xBB\xBF") ? 3 : 0;  // a UTF-8 byte order mark
  uint32_t newlines = 0;
  while (i < n) {
    char c = text[i];
    if (IsSpace(c)) {
      if (c == '\n') ++newlines;
      ++i;
      continue;
    }
    Token t;
    t.newlines_before = newlines;
    newlines = 0;
    size_t end = i + 1;
    if (c == '#' || (c == '/' && i + 1 < n && text[i + 1] == '/')) {
      t.kind = TokenKind::kComment;
      end = LineEnd(text, i);
    } else if (IsIdentStart(c)) {
      while (end < n && IsIdentChar(text[end])) ++end;
      t.kind = syntax::IsKeyword(text.substr(i, end - i)) ? TokenKind::kKeyword : TokenKind::kName;
    } else if (IsDigit(c)) {
      t.kind = LexNumber(text, i, &end);
    } else if (c == '"' || c == '\'') {
      t.kind = TokenKind::kString;
      end = LexString(text, i, &t.unterminated);
    } else if (c == '`') {
      t.kind = TokenKind::kQuotedName;
      while (end < n && text[end] != '`' && text[end] != '\n') ++end;
      if (end < n && text[end] == '`') {
        ++end;
      } else {
        t.unterminated = true;
        end = LineEnd(text, i);
      }
    } else if (size_t len = PunctLength(text, i); len > 0) {
      t.kind = TokenKind::kPunct;
      end = i + len;
    } else {
      t.kind = TokenKind::kInvalid;
      end = i + InvalidLength(text, i);
    }
    t.span = {static_cast<uint32_t>(i), static_cast<uint32_t>(end)};
    tokens.push_back(t);
    i = end;
  }
  return tokens;
}

}  // namespace tern::dsl
