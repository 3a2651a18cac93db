// libFuzzer target: runs dsl::ParseAndCheck (and Dump / RenderAll) on arbitrary bytes and
// checks invariants a crash-free run must also keep: spans inside the file, resolved stage
// indexes inside stage_table, and no error-free run dropping a pattern. Also dsl::Lex and
// dsl::Format: tokens in order inside the file, no "formatter bug", and formatting twice
// gives the text of formatting once.
// Run as shown in tests/fuzz/CMakeLists.txt.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/diagnostic.h"
#include "base/source.h"
#include "dsl/dsl.h"
#include "dsl/format.h"
#include "dsl/lexer.h"

namespace {

void Require(bool ok) {
  if (!ok) __builtin_trap();
}

// Iterative: an operator chain is a tree one level per term, of any length.
void CheckExpr(const tern::ast::Expr& root, const tern::ast::Pattern& p, size_t size) {
  std::vector<const tern::ast::Expr*> stack = {&root};
  while (!stack.empty()) {
    const tern::ast::Expr& e = *stack.back();
    stack.pop_back();
    Require(e.span.begin <= e.span.end && e.span.end <= size);
    Require(e.stage >= -1 && e.stage < static_cast<int32_t>(p.stage_table.size()));
    for (const tern::ast::Expr& a : e.args) stack.push_back(&a);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto source = std::make_shared<tern::SourceFile>(
      "fuzz.tern", std::string(reinterpret_cast<const char*>(data), size));
  tern::DiagnosticSink sink;
  tern::ast::File file = tern::dsl::ParseAndCheck(source, sink);

  (void)tern::RenderAll(sink.diagnostics());
  for (const tern::Diagnostic& d : sink.diagnostics()) {
    Require(!d.code.empty() && !d.message.empty());
    if (d.file != nullptr) Require(d.span.begin <= d.span.end && d.span.end <= size);
  }
  for (const tern::ast::Pattern& p : file.patterns) {
    (void)tern::ast::Dump(p);
    Require(!p.sequence.empty() && !p.stage_table.empty());
    for (const tern::ast::Stage* s : p.stage_table) {
      if (s->where) CheckExpr(*s->where, p, size);
      if (s->until) CheckExpr(*s->until, p, size);
    }
    for (const tern::ast::EmitField& f : p.emit) CheckExpr(f.value, p, size);
    for (const tern::ast::EmitField& f : p.timeout_emit) CheckExpr(f.value, p, size);
  }

  uint32_t at = 0;
  for (const tern::dsl::Token& t : tern::dsl::Lex(source->text())) {
    Require(t.span.begin >= at && t.span.end > t.span.begin && t.span.end <= size);
    at = t.span.end;
  }
  tern::DiagnosticSink fmt_sink;
  std::string once;
  bool formatted = tern::dsl::Format(*source, fmt_sink, &once);
  for (const tern::Diagnostic& d : fmt_sink.diagnostics()) Require(d.code != "E0199");
  if (formatted) {
    tern::SourceFile again_source("fuzz.tern", once);
    std::string twice;
    Require(tern::dsl::Format(again_source, fmt_sink, &twice) && twice == once);
  }
  return 0;
}
