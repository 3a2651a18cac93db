// Analysis of one document version: parse, check, compile, lex.
// Tested by tests/unit/lsp/features_test.cc.
#include "lsp/document.h"

#include <algorithm>
#include <exception>

#include "compiler/compile.h"
#include "dsl/dsl.h"
#include "nfa/schema.h"

namespace tern::lsp {

const ast::Pattern* Analysis::ParsedPatternAt(uint32_t offset) const {
  for (const ast::Pattern& p : parsed.patterns) {
    if (p.span.begin <= offset && offset <= p.span.end) return &p;
  }
  return nullptr;
}

const ast::Pattern* Analysis::Checked(const ast::Pattern& p) const {
  for (const ast::Pattern& c : checked.patterns) {
    if (c.span.begin == p.span.begin && c.name == p.name) return &c;
  }
  return nullptr;
}

const nfa::Program* Analysis::Program(const ast::Pattern& p) const {
  if (Checked(p) == nullptr) return nullptr;
  for (const auto& program : programs) {
    if (program->name == p.name) return program.get();
  }
  return nullptr;
}

const dsl::Token* Analysis::TokenAt(uint32_t offset) const {
  auto it = std::upper_bound(tokens.begin(), tokens.end(), offset,
                             [](uint32_t o, const dsl::Token& t) { return o < t.span.begin; });
  // `it` is the first token starting after offset; the one before may contain it.
  if (it == tokens.begin()) return nullptr;
  const dsl::Token& t = *(it - 1);
  if (offset < t.span.end || offset == t.span.end) return &t;
  return nullptr;
}

std::shared_ptr<const Analysis> Analyze(std::string path, std::string text) {
  auto analysis = std::make_shared<Analysis>();
  auto source = std::make_shared<const SourceFile>(std::move(path), std::move(text));
  analysis->source = source;
  try {
    analysis->tokens = dsl::Lex(source->text());
    DiagnosticSink ignored;  // the same syntax errors come again from ParseAndCheck
    analysis->parsed = dsl::Parse(source, ignored);
    DiagnosticSink sink;
    analysis->checked = dsl::ParseAndCheck(source, sink);
    nfa::Schema schema;
    analysis->programs = compiler::Compile(analysis->checked, schema, sink);
    analysis->diagnostics = sink.diagnostics();
  } catch (const std::exception& e) {
    // The front end reports user errors as diagnostics; an exception here is a bug or
    // memory exhaustion. Say so at the top of the file rather than end the server.
    analysis->diagnostics.push_back(
        {Severity::kError, "E0199", std::string("internal error in the language server: ") + e.what(),
         source.get(), {}, ""});
  }
  return analysis;
}

}  // namespace tern::lsp
