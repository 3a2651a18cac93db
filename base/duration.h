// Durations as written in .tern files, command lines and tern.toml: `0`, or an integer
// directly followed by ms, s, m, h or d (`250ms`, `2s`, `5m`).
// Tested by tests/unit/base/base_test.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tern {

// `0` or an integer with a unit ms, s, m, h, d to milliseconds. Rejects negative values,
// fractions, blanks, a missing unit (except for a bare `0`) and overflow.
bool ParseDuration(std::string_view text, int64_t* ms);

// A non-negative duration in the largest unit that divides it (`90s`, `365d`, `1500ms`,
// `0ms`): what ParseDuration reads back.
std::string FormatDuration(int64_t ms);

}  // namespace tern
