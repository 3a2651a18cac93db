// Source text of a .tern file and byte-offset spans into it.
// Line:column is computed only when a diagnostic is rendered.
// Tested by tests/unit/base/base_test.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tern {

// A half-open byte range [begin, end) in one SourceFile.
struct SourceSpan {
  uint32_t begin = 0;  // byte offset of the first character
  uint32_t end = 0;    // byte offset one past the last character; end >= begin
};

// One loaded source file. Created by whoever reads the file (cli, tests);
// shared read-only by the parser, the checker and diagnostics.
// Thread: any (immutable after construction). Locks: none.
class SourceFile {
 public:
  SourceFile(std::string path, std::string text);

  const std::string& path() const { return path_; }
  const std::string& text() const { return text_; }

  // 1-based line and column (column counts bytes) of a byte offset.
  struct LineCol {
    uint32_t line;
    uint32_t col;
  };
  LineCol Locate(uint32_t offset) const;

  // The text of a 1-based line, without its newline.
  std::string_view Line(uint32_t line) const;

 private:
  std::string path_;
  std::string text_;
  std::vector<uint32_t> line_starts_;  // byte offset where each line begins; [0] == 0
};

}  // namespace tern
