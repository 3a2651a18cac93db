// Typo suggestions for user-facing errors: "unknown field 'amout'" -> "did you mean 'amount'?".
// Used by dsl/ (names in .tern files) and connectors/ (tern.toml options).
// Tested by tests/unit/base/base_test.cc.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace tern {

// Levenshtein distance.
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` if it is close enough to be a plausible typo, else "".
std::string_view ClosestMatch(std::string_view word, std::span<const std::string_view> candidates);

}  // namespace tern
