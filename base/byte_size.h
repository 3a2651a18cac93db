// Sizes in bytes as written on command lines and in tern.toml: an integer, optionally
// followed by B, KiB, MiB or GiB (`1048576`, `512KiB`, `1MiB`).
// Tested by tests/unit/base/byte_size_test.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tern {

// To bytes. Rejects blanks, signs, fractions, other units (KB and MB, whose meaning
// varies, included) and values that overflow.
bool ParseByteSize(std::string_view text, uint64_t* bytes);

// The shortest exact spelling ParseByteSize reads back: "1MiB", "1536KiB", "1000B".
std::string FormatByteSize(uint64_t bytes);

}  // namespace tern
