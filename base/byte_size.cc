// Byte size parsing shared by the command line and the daemon configuration.
// Tested by tests/unit/base/byte_size_test.cc.
#include "base/byte_size.h"

#include <limits>

namespace tern {

namespace {

struct Unit {
  std::string_view name;
  int shift;
};
constexpr Unit kUnits[] = {{"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}, {"", 0}};

}  // namespace

bool ParseByteSize(std::string_view text, uint64_t* bytes) {
  size_t digits = 0;
  uint64_t value = 0;
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    const uint64_t d = static_cast<uint64_t>(text[digits] - '0');
    if (value > (kMax - d) / 10) return false;
    value = value * 10 + d;
    ++digits;
  }
  if (digits == 0) return false;
  const std::string_view unit = text.substr(digits);
  for (const Unit& u : kUnits) {
    if (unit != u.name) continue;
    if (value > (kMax >> u.shift)) return false;
    *bytes = value << u.shift;
    return true;
  }
  return false;
}

std::string FormatByteSize(uint64_t bytes) {
  for (const Unit& u : kUnits) {
    const uint64_t scale = uint64_t{1} << u.shift;
    if (u.shift > 0 && bytes != 0 && bytes % scale == 0) {
      return std::to_string(bytes / scale) + std::string(u.name);
    }
  }
  return std::to_string(bytes) + "B";
}

}  // namespace tern
