// Rendering of diagnostics with a source line and a caret.
#include "base/diagnostic.h"

#include <algorithm>
#include <string>

#include "base/printable.h"

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

// The file name, the source line, the message and the help can all hold bytes of the
// user's (a control byte in a .tern file, an odd file name): they are shown through
// Printable, and the caret counts an escaped byte as its four columns.
std::string Render(const Diagnostic& d) {
  std::string out;
  std::string sev = SeverityName(d.severity);
  if (!d.code.empty()) sev += "[" + d.code + "]";
  if (d.file == nullptr) {
    out += sev + ": " + Printable(d.message) + "\n";
    return out;
  }
  auto lc = d.file->Locate(d.span.begin);
  out += Printable(d.file->path()) + ":" + std::to_string(lc.line) + ":" + std::to_string(lc.col) +
         ": " + sev + ": " + Printable(d.message) + "\n";
  std::string_view line = d.file->Line(lc.line);
  std::string num = std::to_string(lc.line);
  std::string pad(num.size(), ' ');
  out += " " + num + " | " + Printable(line) + "\n";
  // Caret under the span, clipped to the line; tabs are kept so columns line up.
  auto columns = [](char c) -> size_t { return IsControlByte(c) ? 4 : 1; };
  std::string marker;
  for (uint32_t i = 0; i + 1 < lc.col && i < line.size(); ++i) {
    if (line[i] == '\t') {
      marker += '\t';
    } else {
      marker.append(columns(line[i]), ' ');
    }
  }
  uint32_t len = d.span.end > d.span.begin ? d.span.end - d.span.begin : 1;
  uint32_t room = line.size() >= lc.col ? static_cast<uint32_t>(line.size()) - (lc.col - 1) : 1;
  if (room == 0) room = 1;
  len = std::min(len, room);
  size_t width = 0;
  for (uint32_t i = 0; i < len; ++i) {
    const size_t at = lc.col - 1 + i;
    width += at < line.size() ? columns(line[at]) : 1;
  }
  marker += '^';
  marker.append(width - 1, '~');
  out += " " + pad + " | " + marker;
  if (!d.help.empty()) out += " " + Printable(d.help);
  out += "\n";
  return out;
}

std::string RenderAll(const std::vector<Diagnostic>& diags) {
  std::string out;
  for (const auto& d : diags) out += Render(d);
  return out;
}

}  // namespace tern
