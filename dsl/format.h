// The canonical layout of a .tern file (`tern fmt`, the language server's formatting).
// One layout, not configurable; comments are kept where they were; Format(Format(x)) ==
// Format(x); the result parses to the same AST as the input.
// Tested by tests/unit/dsl/format_test.cc and tests/fmt/ (every shipped and conformance
// pattern, and deliberately messy files).
#pragma once

#include <memory>
#include <string>

#include "base/diagnostic.h"
#include "base/source.h"

namespace tern::dsl {

// Formats one file. A file with syntax errors is not formatted: the errors go to `sink`
// and the function returns false. Semantic errors (unknown stage, bad window) do not
// stop formatting. On success `*out` holds the formatted text.
bool Format(const SourceFile& source, DiagnosticSink& sink, std::string* out);

}  // namespace tern::dsl
