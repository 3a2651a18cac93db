// Entry points of the DSL: .tern text to a checked AST plus diagnostics.
// Nothing here throws; every user error becomes a Diagnostic.
// Tested by tests/unit/dsl/parser_test.cc and tests/unit/dsl/check_test.cc.
#pragma once

#include <memory>

#include "base/diagnostic.h"
#include "base/source.h"
#include "dsl/ast.h"

namespace tern::dsl {

// Parses one file. Every syntax error is reported (the parser resumes at the next
// `pattern` keyword); patterns that failed to parse are left out of the result.
ast::File Parse(std::shared_ptr<const SourceFile> source, DiagnosticSink& sink);

// Resolves names and checks every rule of the language spec that does not need the
// compiled NFA. Fills Pattern::stage_table, Expr::stage and Stage::binds_list.
// Patterns with errors are removed from `file`, so what remains can be compiled.
void Check(ast::File& file, DiagnosticSink& sink);

// Parse + Check.
ast::File ParseAndCheck(std::shared_ptr<const SourceFile> source, DiagnosticSink& sink);

}  // namespace tern::dsl
