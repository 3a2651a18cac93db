// The diagnostic table of dsl/diag_codes.def as data, message formatting and typo suggestions.
// Tested by tests/unit/dsl/check_test.cc.
#include "dsl/diag.h"

#include <algorithm>
#include <vector>

namespace tern::dsl {

namespace {

constexpr DiagInfo kDiags[] = {
#define TERN_DIAG(code, name, tmpl, doc) {#code, #name, tmpl, doc},
#include "dsl/diag_codes.def"
#undef TERN_DIAG
};

}  // namespace

std::span<const DiagInfo> AllDiags() { return kDiags; }

const DiagInfo& Info(Diag id) { return kDiags[static_cast<size_t>(id)]; }

std::string FormatDiag(Diag id, std::initializer_list<std::string_view> args) {
  std::string_view tmpl = Info(id).tmpl;
  std::string out;
  auto arg = args.begin();
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] == '{') {
      size_t close = tmpl.find('}', i);
      if (close != std::string_view::npos) {
        if (arg != args.end()) out += *arg++;
        i = close;
        continue;
      }
    }
    out += tmpl[i];
  }
  return out;
}

void Report(DiagnosticSink& sink, const SourceFile* file, SourceSpan span, Diag id,
            std::initializer_list<std::string_view> args, std::string help) {
  sink.Error(file, span, Info(id).code, FormatDiag(id, args), std::move(help));
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string_view ClosestMatch(std::string_view word, std::span<const std::string_view> candidates) {
  // Few edits for short words, at most 3: "amout" -> "amount", "cnt" -> "count", but "x"
  // does not suggest "y", and a candidate must keep something of the word.
  size_t n = word.size();
  size_t budget = n <= 1 ? 0 : n == 2 ? 1 : n <= 5 ? 2 : 3;
  std::string_view best;
  size_t best_distance = budget + 1;
  for (std::string_view c : candidates) {
    if (c == word || c.size() > n + budget || n > c.size() + budget) continue;
    size_t d = EditDistance(word, c);
    if (d < best_distance && d < c.size() && d < n) {
      best_distance = d;
      best = c;
    }
  }
  if (best.empty() && n >= 3) {
    // A truncated or overlong word: `past_last` -> `past_last_event`, `lenght` -> `len`.
    for (std::string_view c : candidates) {
      if (c.size() > n && c.starts_with(word)) return c;
      if (c.size() >= 3 && c.size() < n && word.starts_with(c)) return c;
    }
  }
  return best;
}

}  // namespace tern::dsl
