// Go to definition and document symbols.
// Tested by tests/unit/lsp/features_test.cc.
#include <string>

#include "base/duration.h"
#include "lsp/features.h"
#include "lsp/stage_ref.h"

namespace tern::lsp {

namespace {

Symbol StageSymbol(const ast::Stage& stage, std::string_view text) {
  Symbol sym;
  sym.span = stage.span;
  std::string detail(ContiguityWord(stage.contiguity));
  if (stage.has_quantifier) detail += " " + SpanText(text, stage.quantifier_span);
  sym.detail = detail;
  if (!stage.is_group) {
    sym.name = stage.name;
    sym.kind = SymbolKind::kField;
    sym.selection = stage.name_span;
    return sym;
  }
  sym.kind = SymbolKind::kNamespace;
  sym.selection = {stage.span.begin, stage.span.begin + (stage.span.end > stage.span.begin ? 1u : 0u)};
  sym.name = "(";
  for (const ast::Stage& child : stage.children) {
    if (sym.name.size() > 1) sym.name += ' ';
    sym.name += child.is_group ? "(...)" : child.name;
    sym.children.push_back(StageSymbol(child, text));  // groups nest at most 64 deep (E0107)
  }
  sym.name += ")";
  return sym;
}

}  // namespace

std::optional<SourceSpan> DefinitionAt(const Analysis& analysis, uint32_t offset) {
  std::optional<StageRef> ref = StageRefAt(analysis, offset);
  if (!ref) return std::nullopt;
  return ref->declaration;
}

std::vector<Symbol> DocumentSymbols(const Analysis& analysis) {
  std::vector<Symbol> out;
  const std::string_view text = analysis.text();
  for (const ast::Pattern& p : analysis.parsed.patterns) {
    Symbol sym;
    sym.name = p.name;
    sym.kind = SymbolKind::kClass;
    sym.span = p.span;
    sym.selection = p.name_span;
    std::string detail;
    if (!p.key.empty()) {
      detail = "key ";
      for (size_t i = 0; i < p.key.size(); ++i) {
        detail += (i > 0 ? ", " : "") + SpanText(text, p.key[i].span);
      }
    }
    if (p.within_ms) detail += (detail.empty() ? "" : ", ") + ("within " + FormatDuration(*p.within_ms));
    sym.detail = detail;
    for (const ast::Stage& s : p.sequence) sym.children.push_back(StageSymbol(s, text));
    out.push_back(std::move(sym));
  }
  return out;
}

}  // namespace tern::lsp
