// ECMAScript regexes checked and translated to RE2 syntax, then compiled with RE2.
// Tested by tests/unit/dsl/regex_test.cc and the cases under tests/cases/diagnostics/.
//
// IMPLEMENTATION
// libstdc++'s std::regex backtracks and recurses once per character of the text, so a
// long field or a pattern like (a+)+$ crashed or stalled the engine. RE2 (Cox, "Regular
// Expression Matching Can Be Simple And Fast", 2007) simulates the automaton instead: time
// linear in the text, memory bounded by a budget fixed at compile time. It cannot run
// what needs backtracking (backreferences, lookaround), so those are rejected here with the
// position of the offending part. The rest of ECMAScript's syntax (the language's regex
// dialect, spec §7) is translated one token at a time into RE2 syntax with the same
// meaning where the two dialects differ:
//   .          ECMAScript excludes \n \r U+2028 U+2029; RE2 only \n
//   \s \S      ECMAScript's WhiteSpace and LineTerminator set; RE2's is [\t\n\f\r ]
//   [] [^]     ECMAScript's empty and full classes; in RE2 `]` first would be a literal
//   [ inside [ a literal in ECMAScript; RE2 reads [[:alpha:]] as a POSIX class
//   \uXXXX \cX \0  no such escapes in RE2: written as \x{...}
//   (?<name>   a group (RE2 of 2022 knows only (?P<name>); nothing is captured anyway)
// Everything RE2 would read differently and ECMAScript allows only by its lenient
// Annex B (identity escapes of letters, octal escapes) is an error rather than a guess.
// Characters are Unicode code points of UTF-8 text, as with ECMAScript's `u` flag.
#include "dsl/regex.h"

#include <re2/re2.h>

#include <cstdio>
#include <string>
#include <vector>

namespace tern::dsl {
namespace {

// ECMAScript's WhiteSpace and LineTerminator code points: what \s matches.
struct Range {
  uint32_t lo;
  uint32_t hi;
};
constexpr Range kSpace[] = {{0x09, 0x0D},     {0x20, 0x20},     {0xA0, 0xA0},     {0x1680, 0x1680},
                            {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F},
                            {0x3000, 0x3000}, {0xFEFF, 0xFEFF}};
constexpr uint32_t kMaxCodePoint = 0x10FFFF;
// `.`: anything but a LineTerminator.
constexpr char kDot[] = "[^\\n\\r\\x{2028}\\x{2029}]";

void AppendCodePoint(std::string& out, uint32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "\\x{%X}", cp);
  out += buf;
}

void AppendRange(std::string& out, uint32_t lo, uint32_t hi) {
  AppendCodePoint(out, lo);
  if (hi == lo) return;
  out += '-';
  AppendCodePoint(out, hi);
}

// The ranges of \s (or of \S, its complement), to be placed inside a class.
void AppendSpaceRanges(std::string& out, bool complement) {
  if (!complement) {
    for (const Range& r : kSpace) AppendRange(out, r.lo, r.hi);
    return;
  }
  uint32_t next = 0;
  for (const Range& r : kSpace) {
    if (r.lo > next) AppendRange(out, next, r.lo - 1);
    next = r.hi + 1;
  }
  AppendRange(out, next, kMaxCodePoint);
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
int HexValue(char c) {
  if (IsDigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One translation. Created by TranslateRegex; lives for that call.
class Translator {
 public:
  Translator(std::string_view re, std::string& out, RegexError& error)
      : re_(re), n_(static_cast<uint32_t>(re.size())), out_(out), error_(error) {}

  bool Run() {
    if (re_.size() > kMaxRegexLength) {
      return Fail(0, 0, "it is longer than " + std::to_string(kMaxRegexLength) + " bytes");
    }
    std::vector<uint32_t> open;  // positions of the '(' not closed yet
    bool atom = false;           // something a quantifier can repeat was just written
    while (i_ < n_) {
      const char c = re_[i_];
      switch (c) {
        case '\\':
          if (!Escape(&atom)) return false;
          break;
        case '[':
          if (!Class()) return false;
          atom = true;
          break;
        case '(':
          if (!Group(open)) return false;
          atom = false;
          break;
        case ')':
          if (open.empty())
            return Fail(i_, i_ + 1, "unmatched ')'", "write \\\\) for a literal ')'");
          open.pop_back();
          out_ += ')';
          ++i_;
          atom = true;
          break;
        case '|':
          out_ += '|';
          ++i_;
          atom = false;
          break;
        case '^':
        case '$':
          out_ += c;
          ++i_;
          atom = false;
          break;
        case '.':
          out_ += kDot;
          ++i_;
          atom = true;
          break;
        case '*':
        case '+':
        case '?':
          if (!Quantifier(atom, 1)) return false;
          atom = false;
          break;
        case '{': {
          uint32_t len = 0;
          if (!BraceQuantifier(&len)) return false;
          if (len > 0) {
            if (!Quantifier(atom, len)) return false;
            atom = false;
          } else {  // not a quantifier: a literal '{' (ECMAScript Annex B)
            out_ += "\\{";
            ++i_;
            atom = true;
          }
          break;
        }
        case '}':
        case ']':  // literals (Annex B)
          out_ += '\\';
          out_ += c;
          ++i_;
          atom = true;
          break;
        default:
          out_ += c;  // UTF-8 bytes pass as they are
          ++i_;
          atom = true;
          break;
      }
    }
    if (!open.empty()) {
      return Fail(open.back(), open.back() + 1, "unclosed '('", "close the group with ')'");
    }
    return true;
  }

 private:
  bool Fail(uint32_t begin, uint32_t end, std::string what, std::string help = {}) {
    error_.unsupported = false;
    error_.what = std::move(what);
    error_.begin = begin;
    error_.end = end;
    error_.help = std::move(help);
    return false;
  }
  bool Unsupported(uint32_t begin, uint32_t end, std::string what, std::string help) {
    Fail(begin, end, std::move(what), std::move(help));
    error_.unsupported = true;
    return false;
  }

  std::string Text(uint32_t begin, uint32_t end) const {
    return std::string(re_.substr(begin, end - begin));
  }

  // The end of the class starting at `i` (just past its ']'), or n_.
  uint32_t SkipClass(uint32_t i) const {
    ++i;
    if (i < n_ && re_[i] == '^') ++i;
    while (i < n_ && re_[i] != ']') i += re_[i] == '\\' ? 2 : 1;
    return i < n_ ? i + 1 : n_;
  }

  // Just past the ')' closing the group that opens at `i`, or n_.
  uint32_t GroupEnd(uint32_t i) const {
    int depth = 0;
    while (i < n_) {
      const char c = re_[i];
      if (c == '\\') {
        i += 2;
        continue;
      }
      if (c == '[') {
        i = SkipClass(i);
        continue;
      }
      if (c == '(') ++depth;
      if (c == ')' && --depth == 0) return i + 1;
      ++i;
    }
    return n_;
  }

  // `*`, `+`, `?` or a brace quantifier of `len` bytes at i_, and its lazy `?`.
  bool Quantifier(bool atom, uint32_t len) {
    if (!atom) {
      return Fail(i_, i_ + len, "'" + Text(i_, i_ + len) + "' has nothing to repeat",
                  "write \\\\" + Text(i_, i_ + 1) + " for a literal '" + Text(i_, i_ + 1) + "'");
    }
    if (re_[i_] != '{') out_ += re_[i_];  // a brace quantifier was written by BraceQuantifier
    i_ += len;
    if (i_ < n_ && re_[i_] == '?') {
      out_ += '?';
      ++i_;
    }
    return true;
  }

  // At a '{': *len = its length when it is a quantifier ({n}, {n,}, {n,m}), written to
  // the output, or 0 when it is a literal brace. False on a bad count.
  bool BraceQuantifier(uint32_t* len) {
    uint32_t i = i_ + 1;
    auto number = [&](int64_t* value) {
      uint32_t start = i;
      *value = 0;
      while (i < n_ && IsDigit(re_[i])) {
        if (*value <= 1'000'000) *value = *value * 10 + (re_[i] - '0');
        ++i;
      }
      return i > start;
    };
    int64_t lo = 0, hi = -1;
    if (!number(&lo)) return true;
    bool comma = i < n_ && re_[i] == ',';
    if (comma) {
      ++i;
      if (!number(&hi)) hi = -1;
    } else {
      hi = lo;
    }
    if (i >= n_ || re_[i] != '}') return true;
    *len = i + 1 - i_;
    constexpr int64_t kMaxRepeat = 1000;  // RE2's limit
    if (hi >= 0 && hi < lo) {
      return Fail(i_, i_ + *len, "the counts of '" + Text(i_, i_ + *len) + "' are out of order");
    }
    if (lo > kMaxRepeat || hi > kMaxRepeat) {
      return Fail(i_, i_ + *len,
                  "the repetition count of '" + Text(i_, i_ + *len) + "' is above 1000",
                  "use '+' or '*' for an open-ended repetition");
    }
    out_ += '{' + std::to_string(lo);
    if (comma) out_ += ',';
    if (comma && hi >= 0) out_ += std::to_string(hi);
    out_ += '}';
    return true;
  }

  bool Group(std::vector<uint32_t>& open) {
    const uint32_t start = i_;
    const std::string_view rest = re_.substr(i_);
    const char* linear =
        "matches runs in time linear in the text, without backtracking; test the parts with "
        "separate 'matches' conditions joined by 'and' / 'not'";
    if (rest.starts_with("(?=")) {
      return Unsupported(start, GroupEnd(start), "a lookahead '(?=...)'", linear);
    }
    if (rest.starts_with("(?!")) {
      return Unsupported(start, GroupEnd(start), "a negative lookahead '(?!...)'", linear);
    }
    if (rest.starts_with("(?<=")) {
      return Unsupported(start, GroupEnd(start), "a lookbehind '(?<=...)'", linear);
    }
    if (rest.starts_with("(?<!")) {
      return Unsupported(start, GroupEnd(start), "a negative lookbehind '(?<!...)'", linear);
    }
    if (open.size() >= static_cast<size_t>(kMaxRegexNesting)) {
      return Fail(start, start + 1,
                  "it nests groups deeper than " + std::to_string(kMaxRegexNesting) + " levels");
    }
    if (rest.starts_with("(?<")) {  // a named group: nothing is captured, so a plain group
      uint32_t close = i_ + 3;
      while (close < n_ && re_[close] != '>' && re_[close] != ')') ++close;
      if (close >= n_ || re_[close] != '>' || close == i_ + 3) {
        return Fail(start, std::min(close + 1, n_), "invalid group name",
                    "a named group is written (?<name>...)");
      }
      out_ += "(?:";
      i_ = close + 1;
    } else if (rest.starts_with("(?:")) {
      out_ += "(?:";
      i_ += 3;
    } else if (rest.starts_with("(?")) {
      uint32_t end = std::min(i_ + 3, n_);
      return Fail(start, end, "unknown group syntax '" + Text(start, end) + "'",
                  "groups are (...), (?:...) and (?<name>...)");
    } else {
      out_ += '(';
      ++i_;
    }
    open.push_back(start);
    return true;
  }

  // `\u` at i_: \uXXXX (a surrogate pair is two of them) or \u{X...}. Sets *cp and
  // advances past it.
  bool UnicodeEscape(uint32_t* cp) {
    const uint32_t start = i_;
    auto hex4 = [&](uint32_t at, uint32_t* v) {
      if (at + 4 > n_) return false;
      *v = 0;
      for (uint32_t k = 0; k < 4; ++k) {
        int d = HexValue(re_[at + k]);
        if (d < 0) return false;
        *v = *v * 16 + static_cast<uint32_t>(d);
      }
      return true;
    };
    uint32_t v = 0;
    if (i_ + 2 < n_ && re_[i_ + 2] == '{') {
      uint32_t j = i_ + 3;
      while (j < n_ && HexValue(re_[j]) >= 0 && v <= kMaxCodePoint) {
        v = v * 16 + static_cast<uint32_t>(HexValue(re_[j]));
        ++j;
      }
      if (j == i_ + 3 || j >= n_ || re_[j] != '}' || v > kMaxCodePoint) {
        return Fail(start, std::min(j + 1, n_),
                    "invalid escape '" + Text(start, std::min(j + 1, n_)) + "'",
                    "write \\\\u{...} with at most 10FFFF inside");
      }
      i_ = j + 1;
    } else {
      if (!hex4(i_ + 2, &v)) {
        return Fail(start, std::min(i_ + 2, n_), "'\\u' needs four hex digits");
      }
      i_ += 6;
      if (v >= 0xD800 && v <= 0xDBFF) {
        uint32_t low = 0;
        if (i_ + 1 < n_ && re_[i_] == '\\' && re_[i_ + 1] == 'u' && hex4(i_ + 2, &low) &&
            low >= 0xDC00 && low <= 0xDFFF) {
          v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00);
          i_ += 6;
        }
      }
    }
    if (v >= 0xD800 && v <= 0xDFFF) {
      return Fail(start, i_, "'" + Text(start, i_) + "' is a lone surrogate",
                  "the text is UTF-8: write the code point, e.g. \\\\u{1F600}");
    }
    *cp = v;
    return true;
  }

  // An escape that means one character, inside or outside a class: appends it and
  // advances. *handled is false when the escape is not of that kind.
  bool CharacterEscape(bool* handled) {
    *handled = true;
    const uint32_t start = i_;
    const char e = re_[i_ + 1];
    switch (e) {
      case 't':
      case 'n':
      case 'v':
      case 'f':
      case 'r':
        out_ += '\\';
        out_ += e;
        i_ += 2;
        return true;
      case '0':
        if (i_ + 2 < n_ && IsDigit(re_[i_ + 2])) {
          return Fail(start, i_ + 3, "octal escapes are not supported",
                      "write the character as \\\\xHH or \\\\uXXXX");
        }
        out_ += "\\x{0}";
        i_ += 2;
        return true;
      case 'x': {
        int a = i_ + 2 < n_ ? HexValue(re_[i_ + 2]) : -1;
        int b = i_ + 3 < n_ ? HexValue(re_[i_ + 3]) : -1;
        if (a < 0 || b < 0) return Fail(start, i_ + 2, "'\\x' needs two hex digits");
        AppendCodePoint(out_, static_cast<uint32_t>(a * 16 + b));
        i_ += 4;
        return true;
      }
      case 'u': {
        uint32_t cp = 0;
        if (!UnicodeEscape(&cp)) return false;
        AppendCodePoint(out_, cp);
        return true;
      }
      case 'c':
        if (i_ + 2 < n_ && IsAsciiLetter(re_[i_ + 2])) {
          AppendCodePoint(out_, static_cast<uint32_t>(re_[i_ + 2]) % 32);
          i_ += 3;
          return true;
        }
        return Fail(start, i_ + 2, "'\\c' needs a letter", "e.g. \\\\cJ for a line feed");
      case 'p':
      case 'P': {
        // Unicode properties in RE2's names: \p{L}, \p{Lu}, \p{Greek}; ECMAScript's
        // Script= / sc= / General_Category= / gc= prefixes are dropped.
        uint32_t close = i_ + 2;
        if (close < n_ && re_[close] == '{') {
          while (close < n_ && re_[close] != '}') ++close;
        }
        if (i_ + 2 >= n_ || re_[i_ + 2] != '{' || close >= n_ || close == i_ + 3) {
          return Fail(start, std::min(i_ + 2, n_),
                      "'\\" + std::string(1, e) + "' needs a Unicode property in braces",
                      "e.g. \\\\p{L} for a letter, \\\\p{Greek} for a Greek character");
        }
        std::string_view name = re_.substr(i_ + 3, close - i_ - 3);
        for (std::string_view prefix : {"Script=", "sc=", "General_Category=", "gc="}) {
          if (name.starts_with(prefix)) name.remove_prefix(prefix.size());
        }
        out_ += '\\';
        out_ += e;
        out_ += '{';
        out_ += name;
        out_ += '}';
        i_ = close + 1;
        return true;
      }
      default:
        break;
    }
    if (static_cast<unsigned char>(e) >= 0x80) {  // an escaped non-ASCII character: itself
      ++i_;                                       // its bytes are copied as literals from here
      return true;
    }
    if (!IsAsciiLetter(e) && !IsDigit(e)) {  // an escaped punctuation character: itself
      if (e == '_' || e == ' ' || static_cast<unsigned char>(e) < 0x20 || e == 0x7F) {
        AppendCodePoint(out_, static_cast<unsigned char>(e));
      } else {
        out_ += '\\';
        out_ += e;
      }
      i_ += 2;
      return true;
    }
    *handled = false;
    return true;
  }

  // An escape outside a class.
  bool Escape(bool* atom) {
    const uint32_t start = i_;
    if (i_ + 1 >= n_)
      return Fail(i_, n_, "it ends with a lone backslash", "write \\\\\\\\ for a backslash");
    const char e = re_[i_ + 1];
    switch (e) {
      case 'd':
      case 'D':
      case 'w':
      case 'W':
        out_ += '\\';
        out_ += e;
        i_ += 2;
        *atom = true;
        return true;
      case 'b':
      case 'B':
        out_ += '\\';
        out_ += e;
        i_ += 2;
        *atom = false;
        return true;
      case 's':
      case 'S':
        out_ += e == 's' ? "[" : "[^";
        AppendSpaceRanges(out_, false);
        out_ += ']';
        i_ += 2;
        *atom = true;
        return true;
      case 'k':
        if (i_ + 2 < n_ && re_[i_ + 2] == '<') {
          uint32_t end = i_ + 3;
          while (end < n_ && re_[end] != '>') ++end;
          return Unsupported(start, std::min(end + 1, n_),
                             "a backreference '" + Text(start, std::min(end + 1, n_)) + "'",
                             "a backreference needs backtracking, which can take exponential time");
        }
        break;
      default:
        if (e >= '1' && e <= '9') {
          uint32_t end = i_ + 1;
          while (end < n_ && IsDigit(re_[end])) ++end;
          return Unsupported(start, end, "a backreference '" + Text(start, end) + "'",
                             "a backreference needs backtracking, which can take exponential time");
        }
        break;
    }
    bool handled = false;
    if (!CharacterEscape(&handled)) return false;
    if (!handled) return UnknownEscape();
    *atom = true;
    return true;
  }

  bool UnknownEscape() {
    return Fail(i_, i_ + 2, "unknown escape '" + Text(i_, i_ + 2) + "'",
                "write \\\\\\\\ for a backslash; escapes are \\\\d \\\\w \\\\s \\\\b \\\\t \\\\n "
                "\\\\xHH \\\\uXXXX and \\\\ before punctuation");
  }

  // A class `[...]` at i_.
  bool Class() {
    const uint32_t start = i_;
    ++i_;
    bool negated = i_ < n_ && re_[i_] == '^';
    if (negated) ++i_;
    if (i_ < n_ && re_[i_] == ']') {  // [] matches nothing, [^] any character
      out_ += negated ? "(?s:.)" : "[^\\x{0}-\\x{10FFFF}]";
      ++i_;
      return true;
    }
    out_ += negated ? "[^" : "[";
    while (true) {
      if (i_ >= n_)
        return Fail(start, start + 1, "missing ']'", "close the character class with ']'");
      const char c = re_[i_];
      if (c == ']') {
        out_ += ']';
        ++i_;
        return true;
      }
      if (c == '[') {
        out_ += "\\[";
        ++i_;
        continue;
      }
      if (c != '\\') {
        out_ += c;
        ++i_;
        continue;
      }
      if (i_ + 1 >= n_)
        return Fail(i_, n_, "it ends with a lone backslash", "write \\\\\\\\ for a backslash");
      const char e = re_[i_ + 1];
      if (e == 'd' || e == 'D' || e == 'w' || e == 'W') {
        out_ += '\\';
        out_ += e;
        i_ += 2;
        continue;
      }
      if (e == 's' || e == 'S') {
        AppendSpaceRanges(out_, e == 'S');
        i_ += 2;
        continue;
      }
      if (e == 'b') {  // backspace inside a class
        out_ += "\\x{8}";
        i_ += 2;
        continue;
      }
      if (e == '-') {
        out_ += "\\-";
        i_ += 2;
        continue;
      }
      bool handled = false;
      if (!CharacterEscape(&handled)) return false;
      if (!handled) return UnknownEscape();
    }
  }

  std::string_view re_;
  uint32_t n_;
  uint32_t i_ = 0;
  std::string& out_;
  RegexError& error_;
};

// RE2's error, for the regex as the user wrote it. RE2 saw the translation, so the
// fragment it names is looked up in the original; if it is not there, the whole regex.
RegexError FromRe2(const re2::RE2& re, std::string_view original) {
  RegexError e;
  const std::string& arg = re.error_arg();
  size_t at = arg.empty() ? std::string_view::npos : original.find(arg);
  if (at != std::string_view::npos) {
    e.begin = static_cast<uint32_t>(at);
    e.end = static_cast<uint32_t>(at + arg.size());
  }
  switch (re.error_code()) {
    case re2::RE2::ErrorBadCharRange:
      e.what = arg.starts_with("\\p") || arg.starts_with("\\P")
                   ? "unknown Unicode property '" + arg + "'"
                   : "invalid character class range '" + arg + "'";
      break;
    case re2::RE2::ErrorRepeatSize:  // single counts above 1000 are caught before RE2
      e.what = "the repetitions multiply to more than 1000";
      e.help = "nested counted repetitions multiply; use '+' or '*'";
      e.begin = e.end = 0;
      break;
    case re2::RE2::ErrorBadUTF8:
      e.what = "it is not valid UTF-8";
      break;
    case re2::RE2::ErrorPatternTooLarge:
      e.what = "it is too large: its compiled form exceeds " + std::to_string(kRegexMaxMem >> 20) +
               " MiB";
      e.help = "simplify it, or split it into several 'matches' conditions";
      e.begin = e.end = 0;
      break;
    default:
      e.what = re.error();
      break;
  }
  return e;
}

}  // namespace

bool TranslateRegex(std::string_view ecmascript, std::string* re2_syntax, RegexError* error) {
  re2_syntax->clear();
  return Translator(ecmascript, *re2_syntax, *error).Run();
}

std::shared_ptr<const re2::RE2> CompileRegex(std::string_view ecmascript, RegexError* error) {
  std::string translated;
  if (!TranslateRegex(ecmascript, &translated, error)) return nullptr;
  re2::RE2::Options options;
  options.set_log_errors(false);
  options.set_never_capture(true);
  options.set_max_mem(kRegexMaxMem);
  auto re = std::make_shared<const re2::RE2>(translated, options);
  if (!re->ok()) {
    *error = FromRe2(*re, ecmascript);
    return nullptr;
  }
  // RE2 builds its reverse program on first use; building it now reports a regex too
  // large for it here, and keeps that allocation out of the event path.
  if (re->ReverseProgramSize() < 0) {
    *error = RegexError{};
    error->what =
        "it is too large: its compiled form exceeds " + std::to_string(kRegexMaxMem >> 20) + " MiB";
    error->help = "simplify it, or split it into several 'matches' conditions";
    return nullptr;
  }
  return re;
}

}  // namespace tern::dsl
