// libFuzzer target: a byte stream through the language server (lsp/server.h), as stdin
// would bring it. The input is a list of messages separated by 0x1E bytes: each is framed
// with its Content-Length, unless it starts with "Content-" (then it goes in as it is,
// headers and all), and the stream is fed in chunks of 1 to 64 bytes (the first byte picks
// the size) so that every split of a header and a body occurs. Checks that everything the
// server writes is well-framed JSON, never more than the messages call for.
// Run as shown in tests/fuzz/CMakeLists.txt.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "lsp/framing.h"
#include "lsp/server.h"

namespace {

void Require(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = (data[0] % 64) + 1;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string stream;
  while (!input.empty()) {
    const size_t end = input.find('\x1e');
    std::string_view piece = input.substr(0, end);
    if (piece.substr(0, 8) == "Content-") {
      stream.append(piece);
    } else {
      tern::lsp::AppendFramed(stream, piece);
    }
    if (end == std::string_view::npos) break;
    input.remove_prefix(end + 1);
  }

  tern::lsp::Server server;
  std::string out;
  for (size_t i = 0; i < stream.size() && !server.exited(); i += chunk) {
    server.Feed(std::string_view(stream).substr(i, chunk), &out);
  }
  const int code = server.exit_code();
  Require(code == 0 || code == 1);

  // Every answer is framed and parses as a JSON object.
  tern::lsp::MessageReader reader;
  reader.Feed(out);
  simdjson::dom::parser parser;
  std::string body, error;
  for (;;) {
    auto r = reader.Next(&body, &error);
    if (r == tern::lsp::MessageReader::Result::kNeedMore) break;
    Require(r == tern::lsp::MessageReader::Result::kMessage);
    simdjson::dom::element e;
    Require(parser.parse(body).get(e) == simdjson::SUCCESS);
    Require(e.type() == simdjson::dom::element_type::OBJECT);
  }
  Require(reader.buffered() == 0);
  return 0;
}
