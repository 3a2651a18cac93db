// Appending JSON text: quoted strings, integers and doubles that read back exactly.
// Used for alerts and dead letters. No allocation beyond growing `out`.
// Tested by tests/unit/base/base_test.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tern::json {

// Appends s as a JSON string literal (quotes included, escaped per RFC 8259).
void AppendString(std::string& out, std::string_view s);
void AppendInt(std::string& out, int64_t v);
// Shortest text that reads back as the same double; integral values keep a ".0"
// so that they stay doubles; NaN and infinities (not JSON) become null.
void AppendDouble(std::string& out, double v);

}  // namespace tern::json
