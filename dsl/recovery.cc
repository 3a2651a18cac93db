// After a syntax error: naming the offending token, hints for common slips, and where to
// resume. Deliberately independent of Spirit X3, so it compiles fast and reads plainly.
// Tested by tests/unit/dsl/parser_test.cc.
#include "dsl/recovery.h"

#include <algorithm>
#include <cstdio>
#include <initializer_list>
#include <iterator>

#include "dsl/diag.h"

namespace tern::dsl::syntax {

namespace {

// A rough tokenizer, used only after an error: to name the offending token, to find the
// token before it, and to find the next `pattern` keyword to resume at. It never fails.
std::vector<RawTok> Tokenize(std::string_view text) {
  std::vector<RawTok> out;
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      ++i;
      continue;
    }
    if (c == '#' || (c == '/' && i + 1 < n && text[i + 1] == '/')) {
      while (i < n && text[i] != '\n') ++i;
      continue;
    }
    size_t b = i;
    TokKind kind = TokKind::kPunct;
    if (IsIdentStart(c)) {
      kind = TokKind::kWord;
      while (i < n && IsIdentChar(text[i])) ++i;
    } else if (IsDigit(c)) {
      kind = TokKind::kNumber;
      while (i < n && IsDigit(text[i])) ++i;
      if (i + 1 < n && text[i] == '.' && IsDigit(text[i + 1])) {
        ++i;
        while (i < n && IsDigit(text[i])) ++i;
      }
      while (i < n && (IsIdentChar(text[i]) || ((text[i] == '+' || text[i] == '-') &&
                                                (text[i - 1] == 'e' || text[i - 1] == 'E')))) {
        ++i;
      }
    } else if (c == '"' || c == '\'') {
      kind = TokKind::kString;
      ++i;
      while (i < n && text[i] != c && text[i] != '\n')
        i += (text[i] == '\\' && i + 1 < n && text[i + 1] != '\n') ? 2 : 1;
      if (i < n && text[i] == c) ++i;
    } else if (c == '`') {
      kind = TokKind::kBackquoted;
      ++i;
      while (i < n && text[i] != '`' && text[i] != '\n') ++i;
      if (i < n && text[i] == '`') ++i;
    } else if (static_cast<unsigned char>(c) >= 0x80) {
      kind = TokKind::kOther;  // one UTF-8 sequence
      ++i;
      while (i < n && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;
    } else {
      static constexpr std::string_view kTwo[] = {"==", "!=", "<=", ">=", "..", "&&", "||"};
      std::string_view two = text.substr(i, 2);
      i += std::find(std::begin(kTwo), std::end(kTwo), two) != std::end(kTwo) ? 2 : 1;
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) kind = TokKind::kOther;
    }
    out.push_back({kind, static_cast<uint32_t>(b), static_cast<uint32_t>(i)});
  }
  return out;
}

// Concatenation by append: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string.
std::string Cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view p : parts) out.append(p);
  return out;
}

// `prefix` + `s` (cut to 20 bytes and "..." when longer than 24) + `suffix`.
std::string Wrap(std::string_view prefix, std::string_view s, std::string_view suffix) {
  std::string out(prefix);
  if (s.size() > 24) {
    out.append(s.substr(0, 20));
    out.append("...");
  } else {
    out.append(s);
  }
  out.append(suffix);
  return out;
}

// What the diagnostics say about the token found at an error.
std::string Describe(std::string_view text, const RawTok* tok) {
  if (tok == nullptr) return "end of file";
  std::string_view s = text.substr(tok->begin, tok->end - tok->begin);
  switch (tok->kind) {
    case TokKind::kWord:
      return Wrap(IsKeyword(s) ? "keyword '" : "'", s, "'");
    case TokKind::kString:
      return Wrap("string ", s, "");
    case TokKind::kOther: {
      unsigned char c = static_cast<unsigned char>(s[0]);
      if (c >= 0x80) return Wrap("the non-ASCII character '", s, "'");
      char buf[8];
      std::snprintf(buf, sizeof buf, "0x%02X", c);
      return Wrap("the control character ", buf, "");
    }
    default:
      return Wrap("'", s, "'");
  }
}

}  // namespace

const RawTok* Recovery::TokenAt(uint32_t pos) {
  Load();
  auto it = std::lower_bound(toks_.begin(), toks_.end(), pos,
                             [](const RawTok& t, uint32_t p) { return t.end <= p; });
  return it == toks_.end() ? nullptr : &*it;
}

const RawTok* Recovery::TokenBefore(uint32_t pos) {
  Load();
  auto it = std::lower_bound(toks_.begin(), toks_.end(), pos,
                             [](const RawTok& t, uint32_t p) { return t.end <= p; });
  return it == toks_.begin() ? nullptr : &*(it - 1);
}

const RawTok* Recovery::Next(const RawTok* t) const {
  return t == nullptr || t + 1 == toks_.data() + toks_.size() ? nullptr : t + 1;
}

size_t Recovery::ResumeAfter(uint32_t pos) {
  for (const RawTok* t = TokenAt(pos); t != nullptr; t = Next(t)) {
    if (t->begin >= pos && t->kind == TokKind::kWord && Text(*t) == "pattern") return t->begin;
  }
  return std::string_view::npos;
}

void Recovery::Load() {
  if (!loaded_) toks_ = Tokenize(text_);
  loaded_ = true;
}

// Builds the diagnostic of a SyntaxError, naming the offending token.
Diagnostic ToDiagnostic(const SyntaxError& e, const SourceFile& file, Recovery& rec) {
  std::string_view text = file.text();
  const RawTok* tok = rec.TokenAt(e.pos);
  Diagnostic d;
  d.code = Info(e.id).code;
  d.file = &file;
  d.help = e.help;
  if (!e.token_span) {
    d.span = e.span;
  } else if (tok != nullptr) {
    d.span = {tok->begin, tok->end};
  } else {
    // At the end of the file: point just after the last token.
    const RawTok* prev = rec.TokenBefore(e.pos);
    uint32_t at = prev == nullptr ? 0 : prev->end;
    d.span = {at, at};
  }
  if (e.id != Diag::kExpected) {
    switch (e.args.size()) {
      case 0:
        d.message = FormatDiag(e.id, {});
        break;
      case 1:
        d.message = FormatDiag(e.id, {e.args[0]});
        break;
      default:
        d.message = FormatDiag(e.id, {e.args[0], e.args[1]});
        break;
    }
    return d;
  }

  std::string what = e.args.empty() ? std::string("something else") : e.args[0];
  if (size_t at = what.find("{prev}"); at != std::string::npos) {
    const RawTok* prev = rec.TokenBefore(e.pos);
    what.replace(at, 6, prev == nullptr ? std::string() : Cat({"'", rec.Text(*prev), "'"}));
  }
  d.message = FormatDiag(Diag::kExpected, {what, Describe(text, tok)});
  if (!d.help.empty() || tok == nullptr) return d;

  // Hints for the usual slips.
  std::string_view found = rec.Text(*tok);
  if (found == "=") {
    d.help = "use '==' to compare";
  } else if (found == "&&") {
    d.help = "use 'and'";
  } else if (found == "||") {
    d.help = "use 'or'";
  } else if (found == "!") {
    d.help = "use 'not', or '!=' to compare";
  } else if (tok->kind == TokKind::kWord && IsKeyword(found)) {
    bool wants_name = !what.starts_with("'");  // not expecting a symbol or a keyword
    bool is_clause =
        found == "key" || found == "gap" || found == "skip" || found == "from" || found == "to";
    if (found == "where" && what.starts_with("a stage")) {
      d.help = "name the stage first: 'name where condition'";
    } else if (is_clause && what.find("close the pattern") != std::string::npos) {
      d.help = "clauses (key, within, gap, skip, from, to) must come before 'begin'";
    } else if (wants_name) {
      d.help = Cat({"'", found, "' is a reserved keyword"});
      if (what.find("stage") == std::string::npos && what.find("pattern") == std::string::npos) {
        d.help += Cat({"; write `", found, "` to use it as a field name"});
      }
    }
  } else if (tok->kind == TokKind::kWord) {
    const RawTok* next = rec.Next(tok);
    std::string joined = Cat({found, "_", next ? rec.Text(*next) : std::string_view()});
    std::vector<std::string_view> words(kKeywords.begin(), kKeywords.end());
    if (next != nullptr && next->begin > tok->end && IsKeyword(joined)) {
      d.help = Cat({"did you mean '", joined, "'?"});
    } else if (std::string_view best = ClosestMatch(found, words); !best.empty()) {
      d.help = Cat({"did you mean '", best, "'?"});
    } else if (what.find("close the pattern") != std::string::npos) {
      d.help = "a stage's condition starts with 'where'";
    }
  }
  return d;
}

}  // namespace tern::dsl::syntax
