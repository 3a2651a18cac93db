// The LSP base protocol (LSP 3.17, "Base Protocol"): messages framed by a header block
// (`Content-Length: N\r\n`, optional `Content-Type`, then `\r\n`) and N bytes of JSON.
// Reads from any byte stream split anywhere; writes framed messages.
// Tested by tests/unit/lsp/framing_test.cc.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tern::lsp {

// Splits a byte stream into message bodies. Feed bytes as they come, then take the
// complete messages with Next(). Memory stays bounded whatever the input: a header block
// is at most kMaxHeaderBytes, a body at most kMaxBodyBytes; a longer body is skipped
// without being stored (its bytes are dropped as they arrive) and reported as an error.
// Thread: the server's. Locks: none.
class MessageReader {
 public:
  static constexpr size_t kMaxHeaderBytes = 8 * 1024;
  static constexpr size_t kMaxBodyBytes = 64 * 1024 * 1024;

  enum class Result {
    kNeedMore,  // no complete message buffered
    kMessage,   // *body holds one message body
    kError,     // *error says what was wrong; the stream goes on after the bad part
  };

  void Feed(std::string_view bytes);
  // The next message, or an error about the framing. Call until it returns kNeedMore.
  Result Next(std::string* body, std::string* error);

  // Bytes buffered but not yet returned (tests; a cut message at end of input).
  size_t buffered() const { return buffer_.size() - pos_; }

 private:
  void Compact();

  std::string buffer_;   // unread bytes are buffer_[pos_..]
  size_t pos_ = 0;
  size_t skip_ = 0;      // bytes of an over-long body still to drop as they arrive
  bool resync_ = false;  // after an over-long header block: drop bytes up to the next
                         // "Content-Length" before reading a header again
};

// Appends `body` framed as one message: `Content-Length: N\r\n\r\n` then the body.
void AppendFramed(std::string& out, std::string_view body);

}  // namespace tern::lsp
