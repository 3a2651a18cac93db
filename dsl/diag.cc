// The diagnostic table of dsl/diag_codes.def as data, message formatting and typo suggestions.
// Tested by tests/unit/dsl/check_test.cc.
#include "dsl/diag.h"

#include <algorithm>
#include <vector>

namespace tern::dsl {

namespace {

constexpr DiagInfo kDiags[] = {
#define TERN_DIAG(code, name, tmpl, doc) {#code, #name, tmpl, doc},
#include "dsl/diag_codes.def"
#undef TERN_DIAG
};

}  // namespace

std::span<const DiagInfo> AllDiags() { return kDiags; }

const DiagInfo& Info(Diag id) { return kDiags[static_cast<size_t>(id)]; }

std::string FormatDiag(Diag id, std::initializer_list<std::string_view> args) {
  std::string_view tmpl = Info(id).tmpl;
  std::string out;
  auto arg = args.begin();
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] == '{') {
      size_t close = tmpl.find('}', i);
      if (close != std::string_view::npos) {
        if (arg != args.end()) out += *arg++;
        i = close;
        continue;
      }
    }
    out += tmpl[i];
  }
  return out;
}

void Report(DiagnosticSink& sink, const SourceFile* file, SourceSpan span, Diag id,
            std::initializer_list<std::string_view> args, std::string help) {
  const char* code = Info(id).code;
  const Severity severity = code[0] == 'W' ? Severity::kWarning : Severity::kError;
  sink.Add({severity, code, FormatDiag(id, args), file, span, std::move(help)});
}

}  // namespace tern::dsl
