#include "engine/key_table.h"

#include <cstring>

namespace tern::engine {

uint64_t HashKey(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull ^ bytes.size();
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, bytes.data() + i, 8);
    h = (h ^ w) * 0x100000001b3ull;
  }
  // The last 0..7 bytes without a variable-length copy (a libc call): two overlapping
  // 4-byte loads, or the first, middle and last byte (the length is already in h).
  const unsigned char* p = reinterpret_cast<const unsigned char*>(bytes.data()) + i;
  const size_t rest = bytes.size() - i;
  uint64_t tail = 0;
  if (rest >= 4) {
    uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + rest - 4, 4);
    tail = lo | uint64_t{hi} << 32;
  } else if (rest > 0) {
    tail = p[0] | uint64_t{p[rest / 2]} << 8 | uint64_t{p[rest - 1]} << 16;
  }
  h = (h ^ tail) * 0x100000001b3ull;
  return Fmix64(h);
}

}  // namespace tern::engine
