// The diagnostic ids of dsl/diag_codes.def and a helper that formats a message template and
// adds the located Diagnostic to a sink. Used by dsl/ and by compiler/ for the diagnostics
// that need the compiled automaton (W0101).
// Tested by tests/unit/dsl/check_test.cc.
#pragma once

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "base/diagnostic.h"
#include "base/source.h"
#include "base/spelling.h"

namespace tern::dsl {

enum class Diag {
#define TERN_DIAG(code, name, tmpl, doc) k##name,
#include "dsl/diag_codes.def"
#undef TERN_DIAG
};

struct DiagInfo {
  const char* code;  // "E0101"
  const char* name;  // "Expected"
  const char* tmpl;  // "expected {what}, found {found}"
  const char* doc;   // longer explanation for docs/errors.md
};

// Every row of the table, in table order.
std::span<const DiagInfo> AllDiags();
const DiagInfo& Info(Diag id);

// Fills the {placeholders} of `id`'s template with `args`, in order of appearance.
std::string FormatDiag(Diag id, std::initializer_list<std::string_view> args);

// Formats and adds a diagnostic to `sink`: a warning for a W code, an error otherwise.
void Report(DiagnosticSink& sink, const SourceFile* file, SourceSpan span, Diag id,
            std::initializer_list<std::string_view> args, std::string help = {});

// "Did you mean" suggestions live in base/ (the config loader uses them too).
using tern::ClosestMatch;
using tern::EditDistance;

}  // namespace tern::dsl
