// One open .tern document and what the front end makes of it: the syntax tree of every
// pattern that parses, the checked tree and compiled programs of those without errors,
// the diagnostics `tern check` reports for the text, and its tokens.
// Tested by tests/unit/lsp/features_test.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/diagnostic.h"
#include "base/source.h"
#include "dsl/ast.h"
#include "dsl/lexer.h"
#include "nfa/program.h"

namespace tern::lsp {

// Made by Analyze() from one version of a document's text; immutable afterwards.
// Thread: the server's. Locks: none.
struct Analysis {
  std::shared_ptr<const SourceFile> source;
  // dsl::Parse alone: every pattern without syntax errors, semantic errors or not (hover,
  // definition and symbols work in patterns that do not compile). Names not resolved.
  ast::File parsed;
  // dsl::ParseAndCheck: the patterns without errors, names resolved (Expr::stage).
  ast::File checked;
  // compiler::Compile of `checked`: one program per pattern that compiled.
  std::vector<std::shared_ptr<const nfa::Program>> programs;
  // Exactly what `tern check FILE` reports for the text (errors and warnings), in order.
  std::vector<Diagnostic> diagnostics;
  std::vector<dsl::Token> tokens;  // dsl::Lex of the text, comments included

  const std::string& text() const { return source->text(); }
  // The parsed pattern whose span contains `offset` (the closing brace included), or null.
  const ast::Pattern* ParsedPatternAt(uint32_t offset) const;
  // The checked pattern and the program of a parsed pattern, when it got that far.
  const ast::Pattern* Checked(const ast::Pattern& parsed) const;
  const nfa::Program* Program(const ast::Pattern& parsed) const;
  // The token that contains `offset`, else the one ending at it (a cursor right after a
  // word), else null. Comments count as tokens.
  const dsl::Token* TokenAt(uint32_t offset) const;
};

// Parses, checks and compiles `text` as `tern check` does (dsl::ParseAndCheck, then
// compiler::Compile against a fresh schema), and parses it once more without the check
// for the syntax tree. Never throws.
std::shared_ptr<const Analysis> Analyze(std::string path, std::string text);

}  // namespace tern::lsp
