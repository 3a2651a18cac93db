// The compiler's only public header: a checked AST to immutable NFA programs.
// Tested by tests/unit/compiler/compile_test.cc.
#pragma once

#include <memory>
#include <vector>

#include "base/diagnostic.h"
#include "dsl/ast.h"
#include "nfa/program.h"
#include "nfa/schema.h"

namespace tern::compiler {

// Compiles every pattern of a file that passed dsl::Check. Field paths the
// conditions and keys read are interned in `schema` (shared by all programs of
// one engine). Limits (states, expression size) are reported to `sink`; a
// pattern that hits one is left out.
std::vector<std::shared_ptr<const nfa::Program>> Compile(const ast::File& file,
                                                         nfa::Schema& schema,
                                                         DiagnosticSink& sink);

// Parse + check + compile one source file.
std::vector<std::shared_ptr<const nfa::Program>> CompileSource(
    std::shared_ptr<const SourceFile> source, nfa::Schema& schema, DiagnosticSink& sink);

}  // namespace tern::compiler
