// Duration parsing shared by the command line and the daemon configuration.
// Tested by tests/unit/base/base_test.cc.
#include "base/duration.h"

#include <limits>

namespace tern {

bool ParseDuration(std::string_view text, int64_t* ms) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return false;
  std::string_view unit = text.substr(digits);
  int64_t scale;
  if (unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60 * 1000;
  } else if (unit == "h") {
    scale = 60 * 60 * 1000;
  } else if (unit == "d") {
    scale = 24 * 60 * 60 * 1000;
  } else if (unit.empty()) {
    scale = 0;  // only a bare 0 is allowed
  } else {
    return false;
  }
  int64_t value = 0;
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  for (size_t i = 0; i < digits; ++i) {
    int d = text[i] - '0';
    if (value > (kMax - d) / 10) return false;
    value = value * 10 + d;
  }
  if (scale == 0) {
    if (value != 0) return false;
    *ms = 0;
    return true;
  }
  if (value > kMax / scale) return false;
  *ms = value * scale;
  return true;
}

std::string FormatDuration(int64_t ms) {
  struct Unit {
    int64_t ms;
    const char* suffix;
  };
  static constexpr Unit kUnits[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}};
  for (const Unit& u : kUnits) {
    if (ms != 0 && ms % u.ms == 0) return std::to_string(ms / u.ms) + u.suffix;
  }
  return std::to_string(ms) + "ms";
}

}  // namespace tern
