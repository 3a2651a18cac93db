// The language features, on byte offsets of one analysed document: hover, go to
// definition, completion and document symbols. The server (lsp/server.h) converts LSP
// positions to offsets and the results to JSON.
// Tested by tests/unit/lsp/features_test.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/source.h"
#include "lsp/document.h"

namespace tern::lsp {

struct HoverInfo {
  std::string markdown;
  SourceSpan span;  // the word hovered
};

// Markdown about the word at `offset`: a stage (as compiled when the pattern compiles),
// the pattern name, a keyword, a skip strategy, a function, a duration literal.
std::optional<HoverInfo> HoverAt(const Analysis& analysis, uint32_t offset);

// The declaration (its name) of the stage named at `offset`: a reference in a condition
// or emit, `to_first(S)` / `to_last(S)`, or the declaration itself.
std::optional<SourceSpan> DefinitionAt(const Analysis& analysis, uint32_t offset);

// LSP CompletionItemKind values.
enum class CompletionKind { kFunction = 3, kVariable = 6, kKeyword = 14 };

struct CompletionItem {
  std::string label;
  CompletionKind kind = CompletionKind::kKeyword;
  std::string detail;         // a function's signature, a stage's pattern
  std::string documentation;  // markdown, one line
};

// What may be typed at `offset`, decided from the tokens before it (the text around a
// cursor rarely parses): clause keywords, stage suffixes, contiguity keywords, operators,
// the stages visible there, functions, skip strategies.
std::vector<CompletionItem> CompleteAt(const Analysis& analysis, uint32_t offset);

// LSP SymbolKind values.
enum class SymbolKind { kNamespace = 3, kClass = 5, kField = 8 };

struct Symbol {
  std::string name;
  std::string detail;
  SymbolKind kind = SymbolKind::kClass;
  SourceSpan span;       // the whole declaration
  SourceSpan selection;  // its name
  std::vector<Symbol> children;
};

// Each pattern that parses, with its stages (groups as nested symbols).
std::vector<Symbol> DocumentSymbols(const Analysis& analysis);

}  // namespace tern::lsp
