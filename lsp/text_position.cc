// LSP positions <-> byte offsets, UTF-16 or UTF-8.
// Tested by tests/unit/lsp/text_position_test.cc.
#include "lsp/text_position.h"

#include <algorithm>

#include "base/utf8.h"

namespace tern::lsp {

namespace {

// Bytes of the character at text[i] (an ill-formed byte counts alone) and its UTF-16 units.
void CharAt(std::string_view text, size_t i, size_t* bytes, uint32_t* units) {
  size_t n = Utf8SequenceLength(text, i);
  if (n == 0) n = 1;
  *bytes = n;
  *units = n == 4 ? 2 : 1;
}

// The offset of `character` on the line [begin, end) (its content, terminator excluded).
uint32_t WalkToCharacter(std::string_view text, PositionEncoding encoding, size_t begin, size_t end,
                         uint32_t character) {
  uint32_t units = 0;
  size_t i = begin;
  while (i < end && units < character) {
    size_t bytes;
    uint32_t u;
    CharAt(text, i, &bytes, &u);
    if (encoding == PositionEncoding::kUtf8) u = static_cast<uint32_t>(bytes);
    if (units + u > character) break;  // inside this character
    units += u;
    i += bytes;
  }
  return static_cast<uint32_t>(std::min(i, end));
}

}  // namespace

uint32_t OffsetIn(std::string_view text, PositionEncoding encoding, Position p) {
  size_t begin = 0;
  for (uint32_t line = 0; line < p.line; ++line) {
    const size_t eol = text.find_first_of("\r\n", begin);
    if (eol == std::string_view::npos) return static_cast<uint32_t>(text.size());
    begin = eol + (text[eol] == '\r' && eol + 1 < text.size() && text[eol + 1] == '\n' ? 2 : 1);
  }
  size_t end = text.find_first_of("\r\n", begin);
  if (end == std::string_view::npos) end = text.size();
  return WalkToCharacter(text, encoding, begin, end, p.character);
}

LineIndex::LineIndex(std::string_view text, PositionEncoding encoding)
    : text_(text), encoding_(encoding) {
  line_starts_.push_back(0);
  checkpoints_.reserve(text.size() / kCheckpointBytes + 1);
  uint32_t units = 0;  // column of i in UTF-16 code units
  size_t i = 0;
  while (i < text.size()) {
    while (checkpoints_.size() * kCheckpointBytes <= i) {
      checkpoints_.push_back({static_cast<uint32_t>(i), units});
    }
    const char c = text[i];
    if (c == '\n' || (c == '\r' && (i + 1 == text.size() || text[i + 1] != '\n'))) {
      line_starts_.push_back(static_cast<uint32_t>(i + 1));
      units = 0;
      ++i;
      continue;
    }
    size_t bytes;
    uint32_t u;
    CharAt(text, i, &bytes, &u);
    units += u;
    i += bytes;
  }
}

uint32_t LineIndex::LineContentEnd(uint32_t line) const {
  uint32_t end = line + 1 < line_starts_.size() ? line_starts_[line + 1]
                                                : static_cast<uint32_t>(text_.size());
  if (end > line_starts_[line] && text_[end - 1] == '\n') --end;
  if (end > line_starts_[line] && text_[end - 1] == '\r') --end;
  return end;
}

uint32_t LineIndex::ToOffset(Position p) const {
  if (p.line >= line_starts_.size()) return static_cast<uint32_t>(text_.size());
  return WalkToCharacter(text_, encoding_, line_starts_[p.line], LineContentEnd(p.line), p.character);
}

Position LineIndex::ToPosition(uint32_t offset) const {
  offset = std::min<uint32_t>(offset, static_cast<uint32_t>(text_.size()));
  const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  const uint32_t line = static_cast<uint32_t>(it - line_starts_.begin() - 1);
  const uint32_t end = std::min(offset, LineContentEnd(line));
  uint32_t units = 0;
  size_t i = line_starts_[line];
  // Start from the last checkpoint on this line before the offset.
  const size_t k = end / kCheckpointBytes;
  if (k < checkpoints_.size() && checkpoints_[k].offset >= i && checkpoints_[k].offset <= end) {
    i = checkpoints_[k].offset;
    units = checkpoints_[k].units;
  } else if (k > 0 && k - 1 < checkpoints_.size() && checkpoints_[k - 1].offset >= i &&
             checkpoints_[k - 1].offset <= end) {
    i = checkpoints_[k - 1].offset;
    units = checkpoints_[k - 1].units;
  }
  while (i < end) {
    size_t bytes;
    uint32_t u;
    CharAt(text_, i, &bytes, &u);
    if (i + bytes > end) break;  // the offset is inside this character
    units += u;
    i += bytes;
  }
  if (encoding_ == PositionEncoding::kUtf8) return {line, static_cast<uint32_t>(i - line_starts_[line])};
  return {line, units};
}

}  // namespace tern::lsp
