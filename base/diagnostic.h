// User-facing errors (DSL, configuration) as values, never exceptions.
// Rendered as `file:line:col: error[E0203]: message`, the source line and a caret.
// Tested by tests/unit/base/base_test.cc and tests/unit/base/printable_test.cc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/source.h"

namespace tern {

enum class Severity { kError, kWarning, kNote };

struct Diagnostic {
  Severity severity = Severity::kError;
  std::string code;       // stable code from dsl/diag_codes.def, e.g. "E0203"; may be empty
  std::string message;    // one line, no trailing period
  const SourceFile* file = nullptr;  // null for diagnostics without a location
  SourceSpan span;
  std::string help;       // optional text shown after the caret, e.g. "did you mean 'amount'?"
};

// Collects diagnostics for one compilation. Owned by the caller of dsl/compiler.
// Thread: one compilation. Locks: none.
class DiagnosticSink {
 public:
  void Add(Diagnostic d) { diags_.push_back(std::move(d)); }
  void Error(const SourceFile* file, SourceSpan span, std::string code, std::string message,
             std::string help = {}) {
    Add({Severity::kError, std::move(code), std::move(message), file, span, std::move(help)});
  }
  bool has_errors() const;
  size_t error_count() const;
  const std::vector<Diagnostic>& diagnostics() const { return diags_; }
  void Clear() { diags_.clear(); }

 private:
  std::vector<Diagnostic> diags_;
};

// Renders one diagnostic:
//   fraud.tern:7:31: error[E0101]: expected a stage name after 'begin'
//      7 |   begin where amount > 10
//        |         ^~~~~
std::string Render(const Diagnostic& d);

// Renders all diagnostics in order, one after the other.
std::string RenderAll(const std::vector<Diagnostic>& diags);

}  // namespace tern
