// Appending JSON text: quoted strings, integers and doubles that read back exactly.
// Used for alerts, dead letters and log lines. No allocation beyond growing `out`.
// Every function writes valid JSON (RFC 8259, UTF-8) whatever bytes it is given.
// Tested by tests/unit/base/json_writer_test.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tern::json {

// Appends s as a JSON string literal (quotes included, escaped per RFC 8259). Well-formed
// UTF-8 is copied as it is; a byte that is not part of a well-formed UTF-8 sequence is
// written as \u00XX, its Latin-1 reading (so "\xE9" becomes "\u00e9", "é"), which keeps
// the output valid JSON and every byte visible.
void AppendString(std::string& out, std::string_view s);
void AppendInt(std::string& out, int64_t v);
// Shortest text that reads back as the same double; integral values keep a ".0"
// so that they stay doubles; NaN and infinities (not JSON) become null.
void AppendDouble(std::string& out, double v);
// Appends the standard base64 (RFC 4648, with padding) of the bytes as a JSON string.
void AppendBase64(std::string& out, std::string_view bytes);

}  // namespace tern::json
