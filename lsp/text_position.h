// LSP positions (zero-based line and character) to byte offsets and back. Lines end at
// "\n", "\r\n" or "\r" (LSP 3.17); a character counts UTF-16 code units unless the client
// agreed to UTF-8 (positionEncoding "utf-8"), where it counts bytes.
// Tested by tests/unit/lsp/text_position_test.cc.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "base/source.h"

namespace tern::lsp {

enum class PositionEncoding { kUtf16, kUtf8 };

struct Position {
  uint32_t line = 0;
  uint32_t character = 0;
};

struct Range {
  Position start;
  Position end;
};

// A line index over one text. Keeps a view of the text: the text must outlive it.
// Thread: the server's. Locks: none.
class LineIndex {
 public:
  LineIndex(std::string_view text, PositionEncoding encoding);

  // The byte offset of a position. A line past the end gives the end of the text; a
  // character past the end of its line gives the end of the line (LSP: clients may send
  // those); a character inside a UTF-16 surrogate pair or a UTF-8 sequence gives the
  // start of that character.
  uint32_t ToOffset(Position p) const;
  // The position of a byte offset (clamped to the text; inside a character: its start).
  Position ToPosition(uint32_t offset) const;
  Range ToRange(SourceSpan span) const { return {ToPosition(span.begin), ToPosition(span.end)}; }

  uint32_t line_count() const { return static_cast<uint32_t>(line_starts_.size()); }

 private:
  uint32_t LineContentEnd(uint32_t line) const;  // offset of the line's terminator

  std::string_view text_;
  PositionEncoding encoding_;
  std::vector<uint32_t> line_starts_;  // [0] == 0
  // Every kCheckpointBytes bytes of the text, the first character boundary at or after it
  // and its UTF-16 column: a position on a long line (a minified file, a generated one)
  // costs a walk of at most that many bytes, not of the line.
  static constexpr uint32_t kCheckpointBytes = 256;
  struct Checkpoint {
    uint32_t offset;  // a character boundary
    uint32_t units;   // its column in UTF-16 code units
  };
  std::vector<Checkpoint> checkpoints_;  // [k]: the first boundary >= k * kCheckpointBytes
};

// LineIndex(text, encoding).ToOffset(p) without building the index: a scan up to the
// position only (an incremental change applies each of its edits to a new text).
uint32_t OffsetIn(std::string_view text, PositionEncoding encoding, Position p);

}  // namespace tern::lsp
