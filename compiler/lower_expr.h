// Private to compiler/: lowers checked AST expressions to nfa bytecode.
// Tested by tests/unit/nfa/eval_test.cc (expression semantics, compiled and run).
#pragma once

#include <string>

#include "compiler/written.h"
#include "dsl/ast.h"
#include "nfa/program.h"
#include "nfa/schema.h"

namespace tern::compiler {

// Appends the code of expressions to one program. Field paths are interned in
// the engine's schema; string constants, lists and regexes go to the program.
class ExprLowerer {
 public:
  // `written`: the file's text, for Program::written.expr_source (may be null).
  ExprLowerer(const ast::Pattern& pattern, nfa::Program& program, nfa::Schema& schema,
              const WrittenText* written = nullptr)
      : pattern_(pattern), program_(program), schema_(schema), written_(written) {}

  // Lowers `e` into a new expression; returns its id.
  nfa::ExprId Lower(const ast::Expr& e);

  // Set when an expression could not be lowered (e.g. an invalid regex that slipped
  // through the checker); the pattern is then dropped with this message.
  const std::string& error() const { return error_; }

 private:
  void Emit(nfa::Op op, uint32_t arg = 0);
  void Gen(const ast::Expr& e);
  void GenChain(const ast::Expr& e);
  void GenAfterLeft(const ast::Expr& e);
  void GenAccess(const ast::Expr& e);
  bool IsListTyped(const ast::Expr& e) const;
  uint32_t Const(const nfa::Value& v);
  uint32_t StringConst(const std::string& s);

  const ast::Pattern& pattern_;
  nfa::Program& program_;
  nfa::Schema& schema_;
  const WrittenText* written_;
  bool uses_stages_ = false;
  int depth_ = 0;      // current stack depth while generating
  int max_depth_ = 0;
  std::string error_;
};

}  // namespace tern::compiler
