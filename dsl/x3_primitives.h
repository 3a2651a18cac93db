// Private to dsl/parser.cc: the Spirit X3 token primitives (names, strings, numbers,
// durations, symbols), the skipper, and the Expect / Nest directives of the grammar.
// Tested by tests/unit/dsl/parser_test.cc and tests/fuzz/dsl_fuzzer.cc.
#pragma once

#include <boost/spirit/home/x3.hpp>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "dsl/tokens.h"

namespace tern::dsl::syntax {

namespace x3 = boost::spirit::x3;

// Deepest grammar recursion and deepest expression tree accepted. A level of parentheses
// costs about 5 KiB of X3 stack frames in a release build and about 40 KiB under ASan, so
// this keeps a parse under 400 KiB of stack (3 MiB under ASan), far beyond real patterns.
inline constexpr int kMaxNesting = 64;

struct ParseState {
  const char* base = nullptr;  // first byte of the source text
  int nesting = 0;             // current grammar recursion depth (Nest directive)
};
struct StateTag;

template <typename Context>
ParseState& State(const Context& ctx) {
  return x3::get<StateTag>(ctx);
}

template <typename Context>
uint32_t Offset(const Context& ctx, const char* it) {
  return static_cast<uint32_t>(it - State(ctx).base);
}

template <typename Context>
SourceSpan Span(const Context& ctx, const char* b, const char* e) {
  return {Offset(ctx, b), Offset(ctx, e)};
}

// ---------------------------------------------------------------- token attributes

struct Tok {         // a name or a string literal
  std::string text;  // unquoted, unescaped
  SourceSpan span;
  bool quoted = false;  // a back-quoted name
};

enum class NumKind { kInt, kDouble, kDuration };
struct NumTok {
  NumKind kind = NumKind::kInt;
  int64_t int_value = 0;  // kInt, or kDuration in milliseconds
  double double_value = 0;
  SourceSpan span;
};

// ---------------------------------------------------------------- skipper

// Whitespace and comments (`#` or `//` to the end of the line).
struct Skipper : x3::parser<Skipper> {
  using attribute_type = x3::unused_type;

  template <typename It, typename Ctx, typename RCtx, typename Attr>
  bool parse(It& first, It const& last, Ctx const&, RCtx&, Attr&) const {
    It it = first;
    while (it != last) {
      char c = *it;
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
        ++it;
      } else if (c == '#' || (c == '/' && it + 1 != last && it[1] == '/')) {
        while (it != last && *it != '\n') ++it;
      } else {
        break;
      }
    }
    bool moved = it != first;
    first = it;
    return moved;
  }
};
inline constexpr Skipper kSkipper{};

// ---------------------------------------------------------------- primitives

// A fixed word or symbol. Words (`begin`, `to_first`) must not run on into an identifier;
// symbols (`(`, `..`) match as written, except that `=` and `.` do not match the first
// character of `==` and `..`.
struct Sym : x3::parser<Sym> {
  using attribute_type = SourceSpan;
  static bool const has_attribute = true;
  const char* text;
  constexpr explicit Sym(const char* t) : text(t) {}

  template <typename It, typename Ctx, typename RCtx, typename Attr>
  bool parse(It& first, It const& last, Ctx const& ctx, RCtx&, Attr& attr) const {
    x3::skip_over(first, last, ctx);
    std::string_view t(text);
    if (static_cast<size_t>(last - first) < t.size() || std::string_view(first, t.size()) != t) {
      return false;
    }
    It end = first + t.size();
    if (end != last) {
      if (IsIdentStart(t[0]) && IsIdentChar(*end)) return false;
      if ((t == "=" && *end == '=') || (t == "." && *end == '.')) return false;
    }
    attr = Span(ctx, first, end);
    first = end;
    return true;
  }
};
inline constexpr Sym Kw(const char* t) { return Sym(t); }

// An identifier that is not a reserved keyword (stage, pattern, function and stream names).
struct IdentParser : x3::parser<IdentParser> {
  using attribute_type = Tok;
  static bool const has_attribute = true;

  template <typename It, typename Ctx, typename RCtx, typename Attr>
  bool parse(It& first, It const& last, Ctx const& ctx, RCtx&, Attr& attr) const {
    x3::skip_over(first, last, ctx);
    if (first == last || !IsIdentStart(*first)) return false;
    It end = first;
    while (end != last && IsIdentChar(*end)) ++end;
    std::string_view word(first, static_cast<size_t>(end - first));
    if (IsKeyword(word)) return false;
    Tok t;
    t.text = std::string(word);
    t.span = Span(ctx, first, end);
    attr = std::move(t);
    first = end;
    return true;
  }
};
inline constexpr IdentParser kIdent{};

// A field name: an identifier or a back-quoted name (`` `user-agent` ``).
struct FieldNameParser : x3::parser<FieldNameParser> {
  using attribute_type = Tok;
  static bool const has_attribute = true;

  template <typename It, typename Ctx, typename RCtx, typename Attr>
  bool parse(It& first, It const& last, Ctx const& ctx, RCtx& rctx, Attr& attr) const {
    x3::skip_over(first, last, ctx);
    if (first == last || *first != '`') return kIdent.parse(first, last, ctx, rctx, attr);
    It end = first + 1;
    while (end != last && *end != '`' && *end != '\n') ++end;
    if (end == last || *end != '`') {
      ThrowAt(Diag::kBadBackquote, Span(ctx, first, first + 1), {"unterminated back-quoted name"},
              "close the name with '`' on the same line");
    }
    if (end == first + 1) {
      ThrowAt(Diag::kBadBackquote, Span(ctx, first, end + 1), {"empty back-quoted name"});
    }
    Tok t;
    t.text.assign(first + 1, end);
    t.span = Span(ctx, first, end + 1);
    t.quoted = true;
    attr = std::move(t);
    first = end + 1;
    return true;
  }
};
inline constexpr FieldNameParser kFieldName{};

inline void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Four hex digits at `it`, or -1.
inline int32_t Hex4(const char* it, const char* last) {
  if (last - it < 4) return -1;
  int32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    char c = it[i];
    int d = IsDigit(c)               ? c - '0'
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                     : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

// "..." or '...' with JSON escapes (and \' in either).
struct StringParser : x3::parser<StringParser> {
  using attribute_type = Tok;
  static bool const has_attribute = true;

  template <typename It, typename Ctx, typename RCtx, typename Attr>
  bool parse(It& first, It const& last, Ctx const& ctx, RCtx&, Attr& attr) const {
    x3::skip_over(first, last, ctx);
    if (first == last || (*first != '"' && *first != '\'')) return false;
    char quote = *first;
    Tok t;
    It it = first + 1;
    for (;;) {
      if (it == last || *it == '\n' || *it == '\r') {
        ThrowAt(Diag::kUnterminatedString, Span(ctx, first, first + 1), {},
                std::string("close it with ") + quote + " on the same line");
      }
      char c = *it;
      if (c == quote) break;
      if (c != '\\') {
        t.text += c;
        ++it;
        continue;
      }
      It esc = it;
      if (it + 1 == last) ThrowAt(Diag::kUnterminatedString, Span(ctx, first, first + 1), {});
      char e = it[1];
      it += 2;
      switch (e) {
        case '"':
          t.text += '"';
          break;
        case '\'':
          t.text += '\'';
          break;
        case '\\':
          t.text += '\\';
          break;
        case '/':
          t.text += '/';
          break;
        case 'b':
          t.text += '\b';
          break;
        case 'f':
          t.text += '\f';
          break;
        case 'n':
          t.text += '\n';
          break;
        case 'r':
          t.text += '\r';
          break;
        case 't':
          t.text += '\t';
          break;
        case 'u': {
          int32_t cp = Hex4(it, last);
          if (cp < 0) {
            ThrowAt(Diag::kInvalidEscape, Span(ctx, esc, std::min(it, last)), {"'\\u'"},
                    "write \\u followed by four hex digits");
          }
          it += 4;
          if (cp >= 0xDC00 && cp <= 0xDFFF) {
            ThrowAt(Diag::kInvalidEscape, Span(ctx, esc, it), {"'" + std::string(esc, it) + "'"},
                    "a low surrogate must follow a high surrogate");
          }
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            int32_t low =
                (last - it >= 2 && it[0] == '\\' && it[1] == 'u') ? Hex4(it + 2, last) : -1;
            if (low < 0xDC00 || low > 0xDFFF) {
              ThrowAt(Diag::kInvalidEscape, Span(ctx, esc, it), {"'" + std::string(esc, it) + "'"},
                      "a high surrogate must be followed by a \\u low surrogate");
            }
            it += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          AppendUtf8(t.text, static_cast<uint32_t>(cp));
          break;
        }
        default: {
          It end = esc + 2;
          if (e == '\n' || e == '\r') end = esc + 1;
          ThrowAt(Diag::kInvalidEscape, Span(ctx, esc, end), {"'" + std::string(esc, end) + "'"},
                  "write \\\\ for a backslash; the escapes are \\\" \\' \\\\ \\/ \\b \\f \\n \\r "
                  "\\t \\uXXXX");
        }
      }
    }
    t.span = Span(ctx, first, it + 1);
    attr = std::move(t);
    first = it + 1;
    return true;
  }
};
inline constexpr StringParser kString{};

// 42, 3.14, 1e6, 2.5e-3, and durations 250ms 10s 5m 2h 1d. A leading '-' is unary minus.
// `2..5` is 2, `..`, 5: a '.' belongs to the number only when a digit follows it.
struct NumberParser : x3::parser<NumberParser> {
  using attribute_type = NumTok;
  static bool const has_attribute = true;

  template <typename It, typename Ctx, typename RCtx, typename Attr>
  bool parse(It& first, It const& last, Ctx const& ctx, RCtx&, Attr& attr) const {
    x3::skip_over(first, last, ctx);
    if (first == last || !IsDigit(*first)) return false;
    It it = first;
    while (it != last && IsDigit(*it)) ++it;
    bool is_double = false;
    if (it != last && *it == '.' && it + 1 != last && IsDigit(it[1])) {
      is_double = true;
      ++it;
      while (it != last && IsDigit(*it)) ++it;
    }
    if (it != last && (*it == 'e' || *it == 'E')) {
      It exp = it + 1;
      if (exp != last && (*exp == '+' || *exp == '-')) ++exp;
      if (exp != last && IsDigit(*exp)) {
        is_double = true;
        it = exp;
        while (it != last && IsDigit(*it)) ++it;
      } else if (exp == last || !IsIdentStart(*exp) || exp != it + 1) {
        // `1e`, `1e+`: an exponent without digits. (`1em` falls through to the unit check.)
        It end = exp;
        ThrowAt(Diag::kInvalidNumber, Span(ctx, first, end),
                {std::string(first, end), "the exponent has no digits"});
      }
    }
    It number_end = it;
    NumTok n;
    std::string_view digits(first, static_cast<size_t>(number_end - first));
    if (it != last && IsIdentStart(*it)) {
      It unit_begin = it;
      while (it != last && IsIdentChar(*it)) ++it;
      std::string_view unit(unit_begin, static_cast<size_t>(it - unit_begin));
      int64_t scale = unit == "ms"  ? 1
                      : unit == "s" ? 1000
                      : unit == "m" ? 60'000
                      : unit == "h" ? 3'600'000
                      : unit == "d" ? 86'400'000
                                    : 0;
      if (scale == 0) {
        ThrowAt(Diag::kUnknownDurationUnit, Span(ctx, unit_begin, it), {std::string(unit)},
                "use ms, s, m, h or d");
      }
      if (is_double) {
        ThrowAt(Diag::kInvalidNumber, Span(ctx, first, it),
                {std::string(first, it), "a duration must be a whole number"},
                "use a smaller unit, e.g. 1500ms instead of 1.5s");
      }
      int64_t v = 0;
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
      if (ec != std::errc() || __builtin_mul_overflow(v, scale, &v)) {
        ThrowAt(Diag::kInvalidNumber, Span(ctx, first, it),
                {std::string(first, it), "the duration is too long"});
      }
      n.kind = NumKind::kDuration;
      n.int_value = v;
    } else if (is_double) {
      std::string s(digits);
      char* end = nullptr;
      double d = std::strtod(s.c_str(), &end);
      if (!std::isfinite(d)) {
        ThrowAt(Diag::kInvalidNumber, Span(ctx, first, it), {s, "it is out of range"});
      }
      n.kind = NumKind::kDouble;
      n.double_value = d;
    } else {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
      if (ec != std::errc()) {
        ThrowAt(Diag::kInvalidNumber, Span(ctx, first, it),
                {std::string(digits), "it does not fit in a 64-bit integer"});
      }
      n.kind = NumKind::kInt;
      n.int_value = v;
    }
    n.span = Span(ctx, first, it);
    attr = n;
    first = it;
    return true;
  }
};
inline constexpr NumberParser kNumber{};

// An integer index of a key path, `-1` included.
struct IndexParser : x3::parser<IndexParser> {
  using attribute_type = NumTok;
  static bool const has_attribute = true;

  template <typename It, typename Ctx, typename RCtx, typename Attr>
  bool parse(It& first, It const& last, Ctx const& ctx, RCtx& rctx, Attr& attr) const {
    x3::skip_over(first, last, ctx);
    It it = first;
    bool negative = it != last && *it == '-';
    if (negative) ++it;
    NumTok n;
    if (!kNumber.parse(it, last, ctx, rctx, n)) return false;
    if (n.kind != NumKind::kInt) ThrowExpected(n.span.begin, "an integer index");
    n.int_value = negative ? -n.int_value : n.int_value;
    n.span.begin = Offset(ctx, first);
    attr = n;
    first = it;
    return true;
  }
};
inline constexpr IndexParser kPathIndex{};

// Always throws `id` at the next token. Used after a lookahead that recognised a mistake.
struct FailParser : x3::parser<FailParser> {
  using attribute_type = x3::unused_type;
  Diag id;
  const char* help;

  template <typename It, typename Ctx, typename RCtx, typename Attr>
  bool parse(It& first, It const& last, Ctx const& ctx, RCtx&, Attr&) const {
    It at = first;
    x3::skip_over(at, last, ctx);
    SyntaxError e;
    e.id = id;
    e.pos = Offset(ctx, at);
    e.token_span = true;
    e.help = help;
    throw e;
  }
};
inline constexpr FailParser Fail(Diag id, const char* help) { return FailParser{{}, id, help}; }

// ---------------------------------------------------------------- directives

// Expect("what")[p]: p must match here; otherwise throw "expected <what>, found <token>".
// `{prev}` in `what` is replaced by the previous token, e.g. "a stage after {prev}".
template <typename Subject>
struct ExpectDirective : x3::unary_parser<Subject, ExpectDirective<Subject>> {
  using base_type = x3::unary_parser<Subject, ExpectDirective<Subject>>;
  static bool const is_pass_through_unary = true;
  const char* what;
  constexpr ExpectDirective(Subject const& subject, const char* w) : base_type(subject), what(w) {}

  template <typename It, typename Ctx, typename RCtx, typename Attr>
  bool parse(It& first, It const& last, Ctx const& ctx, RCtx& rctx, Attr& attr) const {
    if (this->subject.parse(first, last, ctx, rctx, attr)) return true;
    It at = first;
    x3::skip_over(at, last, ctx);
    ThrowExpected(Offset(ctx, at), what);
  }
};
struct ExpectGen {
  const char* what;
  template <typename Subject>
  constexpr ExpectDirective<typename x3::extension::as_parser<Subject>::value_type> operator[](
      Subject const& subject) const {
    return {x3::as_parser(subject), what};
  }
};
inline constexpr ExpectGen Expect(const char* what) { return {what}; }

// Nest[p]: one more level of grammar recursion; too many levels is an error, not a crash.
template <typename Subject>
struct NestDirective : x3::unary_parser<Subject, NestDirective<Subject>> {
  using base_type = x3::unary_parser<Subject, NestDirective<Subject>>;
  static bool const is_pass_through_unary = true;
  constexpr explicit NestDirective(Subject const& subject) : base_type(subject) {}

  template <typename It, typename Ctx, typename RCtx, typename Attr>
  bool parse(It& first, It const& last, Ctx const& ctx, RCtx& rctx, Attr& attr) const {
    ParseState& state = State(ctx);
    if (state.nesting >= kMaxNesting) {
      It at = first;
      x3::skip_over(at, last, ctx);
      SyntaxError e;
      e.id = Diag::kTooDeep;
      e.pos = Offset(ctx, at);
      e.token_span = true;
      e.args.push_back(std::to_string(kMaxNesting));
      throw e;
    }
    ++state.nesting;
    bool ok = this->subject.parse(first, last, ctx, rctx, attr);
    --state.nesting;
    return ok;
  }
};
struct NestGen {
  template <typename Subject>
  constexpr NestDirective<typename x3::extension::as_parser<Subject>::value_type> operator[](
      Subject const& subject) const {
    return NestDirective<typename x3::extension::as_parser<Subject>::value_type>(
        x3::as_parser(subject));
  }
};
inline constexpr NestGen Nest{};

}  // namespace tern::dsl::syntax
