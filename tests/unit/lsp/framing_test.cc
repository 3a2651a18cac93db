// Tests lsp/framing.h: messages split anywhere, several in one read, bad headers,
// over-long bodies skipped in bounded memory.
#include "lsp/framing.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace tern::lsp {

namespace {

struct Read {
  std::vector<std::string> bodies;
  std::vector<std::string> errors;
};

void Drain(MessageReader& reader, Read* read) {
  std::string body, error;
  for (;;) {
    MessageReader::Result r = reader.Next(&body, &error);
    if (r == MessageReader::Result::kNeedMore) return;
    if (r == MessageReader::Result::kMessage) read->bodies.push_back(body);
    if (r == MessageReader::Result::kError) read->errors.push_back(error);
  }
}

std::string Framed(std::string_view body) {
  std::string out;
  AppendFramed(out, body);
  return out;
}

}  // namespace

TEST_CASE("framing: one message, byte by byte and all at once") {
  const std::string stream = Framed(R"({"a":1})") + Framed("{}") + Framed(R"(["é"])");
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{7}, stream.size()}) {
    MessageReader reader;
    Read read;
    for (size_t i = 0; i < stream.size(); i += chunk) {
      reader.Feed(std::string_view(stream).substr(i, chunk));
      Drain(reader, &read);
    }
    CHECK(read.errors.empty());
    REQUIRE(read.bodies.size() == 3);
    CHECK(read.bodies[0] == R"({"a":1})");
    CHECK(read.bodies[1] == "{}");
    CHECK(read.bodies[2] == R"(["é"])");
    CHECK(reader.buffered() == 0);
  }
}

TEST_CASE("framing: Content-Type, any case, spaces") {
  MessageReader reader;
  Read read;
  reader.Feed("content-length:  2 \r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}");
  Drain(reader, &read);
  CHECK(read.errors.empty());
  REQUIRE(read.bodies.size() == 1);
  CHECK(read.bodies[0] == "{}");
}

TEST_CASE("framing: bad headers are errors and the stream goes on") {
  MessageReader reader;
  Read read;
  reader.Feed("Content-Type: x\r\n\r\n");                 // no length
  reader.Feed("Content-Length: abc\r\n\r\n");             // not a number
  reader.Feed("garbage line\r\n\r\n");                    // no colon
  reader.Feed("Content-Length: -1\r\n\r\n");
  reader.Feed(Framed("{}"));
  Drain(reader, &read);
  CHECK(read.errors.size() == 4);
  CHECK(read.errors[0] == "no Content-Length header");
  CHECK(read.errors[1] == "bad Content-Length value");
  CHECK(read.errors[2] == "bad header line (no ':')");
  REQUIRE(read.bodies.size() == 1);
  CHECK(read.bodies[0] == "{}");
}

TEST_CASE("framing: an endless header block is cut and the reader resynchronises") {
  MessageReader reader;
  Read read;
  reader.Feed(std::string(20000, 'x'));
  Drain(reader, &read);
  CHECK(read.errors.size() == 1);
  CHECK(reader.buffered() <= MessageReader::kMaxHeaderBytes);
  reader.Feed("yyy" + Framed("[1]"));
  Drain(reader, &read);
  REQUIRE(read.bodies.size() == 1);
  CHECK(read.bodies[0] == "[1]");
}

TEST_CASE("framing: a body over the limit is skipped without being stored") {
  MessageReader reader;
  Read read;
  const size_t size = MessageReader::kMaxBodyBytes + 10;
  reader.Feed("Content-Length: " + std::to_string(size) + "\r\n\r\n");
  Drain(reader, &read);
  REQUIRE(read.errors.size() == 1);
  const std::string chunk(1 << 20, 'z');
  size_t sent = 0;
  while (sent + chunk.size() <= size) {
    reader.Feed(chunk);
    sent += chunk.size();
    Drain(reader, &read);
    CHECK(reader.buffered() == 0);
  }
  reader.Feed(std::string(size - sent, 'z') + Framed("{}"));
  Drain(reader, &read);
  CHECK(read.errors.size() == 1);
  REQUIRE(read.bodies.size() == 1);
  CHECK(read.bodies[0] == "{}");
}

TEST_CASE("framing: a cut message waits") {
  MessageReader reader;
  Read read;
  reader.Feed("Content-Length: 10\r\n\r\n{\"a\":");
  Drain(reader, &read);
  CHECK(read.bodies.empty());
  CHECK(read.errors.empty());
  reader.Feed("true}");
  Drain(reader, &read);
  REQUIRE(read.bodies.size() == 1);
  CHECK(read.bodies[0] == R"({"a":true})");
}

}  // namespace tern::lsp
