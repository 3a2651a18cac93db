// "Did you mean" suggestions, moved here from dsl/diag.cc so the config loader can use them.
// Tested by tests/unit/base/base_test.cc.
#include "base/spelling.h"

#include <algorithm>
#include <vector>

namespace tern {

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

}  // namespace tern
