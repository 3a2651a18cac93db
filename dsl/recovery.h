// Private to dsl/: what dsl::Parse does after a syntax error. A rough tokenizer names the
// offending token ("found keyword 'where'"), finds the token before it and the next `pattern`
// keyword to resume at, and turns a SyntaxError into a Diagnostic with hints.
// Tested by tests/unit/dsl/parser_test.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/diagnostic.h"
#include "base/source.h"
#include "dsl/tokens.h"

namespace tern::dsl::syntax {

enum class TokKind { kWord, kNumber, kString, kBackquoted, kPunct, kOther };
struct RawTok {
  TokKind kind;
  uint32_t begin;
  uint32_t end;
};

// Tokens of one file, computed on first use. Created by Parse() per file.
// Thread: one parse. Locks: none.
class Recovery {
 public:
  explicit Recovery(std::string_view text) : text_(text) {}

  // The first token ending after `pos` (the token at or after it); null at the end.
  const RawTok* TokenAt(uint32_t pos);
  // The last token ending at or before `pos`; null at the start.
  const RawTok* TokenBefore(uint32_t pos);
  const RawTok* Next(const RawTok* t) const;
  // Where parsing resumes after an error at `pos`: the next `pattern` keyword, or npos.
  size_t ResumeAfter(uint32_t pos);
  std::string_view Text(const RawTok& t) const { return text_.substr(t.begin, t.end - t.begin); }

 private:
  void Load();

  std::string_view text_;
  bool loaded_ = false;
  std::vector<RawTok> toks_;  // sorted by offset
};

// The diagnostic of a SyntaxError: the span of the offending token, "found ..." and hints.
Diagnostic ToDiagnostic(const SyntaxError& e, const SourceFile& file, Recovery& rec);

}  // namespace tern::dsl::syntax
