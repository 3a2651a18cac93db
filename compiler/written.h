// Private to compiler/: the author's text of parts of a .tern file, for the descriptive
// nfa::WrittenForm of a program (pictures, `tern explain --dot`).
// Tested by tests/unit/nfa/program_dot_test.cc (through the pictures).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/source.h"
#include "dsl/ast.h"

namespace tern::compiler {

// Made once per compiled file, read by the compilation of its patterns.
// Thread: the compiling thread. Locks: none.
class WrittenText {
 public:
  explicit WrittenText(const SourceFile* file);  // null: every text is empty

  bool has_text() const { return text_ != nullptr; }
  // The text of `span` as written: comments dropped, each run of blanks, line breaks and
  // comments one space. A span that starts or ends inside parentheses (an expression
  // whose first or last operand was parenthesised) is widened to them.
  std::string Of(SourceSpan span) const;
  // `span` widened as Of widens it.
  SourceSpan Widen(SourceSpan span) const;
  // The offset of the ')' closing the '(' at `open`; `open` itself when there is none.
  uint32_t CloseOf(uint32_t open) const;

 private:
  const std::string* text_ = nullptr;
  std::vector<bool> blank_;                        // per byte: blank or comment, outside strings
  std::vector<uint32_t> match_;  // per byte: a parenthesis's partner, both ways; kNone otherwise
  static constexpr uint32_t kNone = 0xFFFFFFFFu;
};

// A stage as written, without its `where` (its condition is drawn on the edges):
// "followed_by big", "begin small times 3.. greedy", "followed_by (a next b) times 2".
// A group lists its stages by name. The first stage of a group has no contiguity word.
std::string StageDeclaration(const WrittenText& text, const ast::Stage& stage, bool group_head);

}  // namespace tern::compiler
