// Rendering of diagnostics with a source line and a caret.
#include "base/diagnostic.h"

#include <algorithm>
#include <string>

namespace tern {

bool DiagnosticSink::has_errors() const { return error_count() > 0; }

size_t DiagnosticSink::error_count() const {
  return static_cast<size_t>(std::count_if(diags_.begin(), diags_.end(), [](const Diagnostic& d) {
    return d.severity == Severity::kError;
  }));
}

static const char* SeverityName(Severity s) {
  switch (s) {
    case Severity::kError: return "error";
    case Severity::kWarning: return "warning";
    case Severity::kNote: return "note";
  }
  return "error";
}

std::string Render(const Diagnostic& d) {
  std::string out;
  std::string sev = SeverityName(d.severity);
  if (!d.code.empty()) sev += "[" + d.code + "]";
  if (d.file == nullptr) {
    out += sev + ": " + d.message + "\n";
    return out;
  }
  auto lc = d.file->Locate(d.span.begin);
  out += d.file->path() + ":" + std::to_string(lc.line) + ":" + std::to_string(lc.col) + ": " +
         sev + ": " + d.message + "\n";
  std::string_view line = d.file->Line(lc.line);
  std::string num = std::to_string(lc.line);
  std::string pad(num.size(), ' ');
  out += " " + num + " | " + std::string(line) + "\n";
  // Caret under the span, clipped to the line; tabs are kept so columns line up.
  std::string marker;
  for (uint32_t i = 0; i + 1 < lc.col && i < line.size(); ++i) marker += line[i] == '\t' ? '\t' : ' ';
  uint32_t len = d.span.end > d.span.begin ? d.span.end - d.span.begin : 1;
  uint32_t room = line.size() >= lc.col ? static_cast<uint32_t>(line.size()) - (lc.col - 1) : 1;
  if (room == 0) room = 1;
  len = std::min(len, room);
  marker += '^';
  for (uint32_t i = 1; i < len; ++i) marker += '~';
  out += " " + pad + " | " + marker;
  if (!d.help.empty()) out += " " + d.help;
  out += "\n";
  return out;
}

std::string RenderAll(const std::vector<Diagnostic>& diags) {
  std::string out;
  for (const auto& d : diags) out += Render(d);
  return out;
}

}  // namespace tern
