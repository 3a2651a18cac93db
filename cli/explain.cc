// `tern explain FILE [--dot]`: the compiled NFA of every pattern in a file.
// Tested by tests/write_errors_test.py and tests/explain_dot_test.py (every shipped and
// conformance pattern through --dot and Graphviz); the listing itself is tested in
// tests/unit/compiler/compile_test.cc, the picture in tests/unit/nfa/program_dot_test.cc.
#include <cstdio>

#include "base/output_file.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/patterns.h"
#include "nfa/program.h"

namespace tern::cli {

namespace {

constexpr char kExplainUsage[] =
    "usage: tern explain FILE [--dot]\n"
    "\n"
    "Compiles the file and prints each pattern's NFA: states and transitions as\n"
    "text, or with --dot as Graphviz (one digraph per pattern).\n"
    "Exit status: 0, 1 when the file has errors (shown on stderr) or standard output\n"
    "cannot be written, 2 for a bad command line.\n";

constexpr OptionSpec kExplainOptions[] = {{"--dot", false}};

}  // namespace

int ExplainCommand(std::span<const std::string> words) {
  Args args;
  std::string error;
  if (!args.Parse(words, kExplainOptions, &error)) return UsageError("explain", error);
  if (args.help()) {
    Stdout().Write(kExplainUsage);
    return kExitOk;
  }
  if (args.positional().size() != 1) return UsageError("explain", "expected one pattern file");

  const std::string& path = args.positional()[0];
  nfa::Schema schema;
  LoadedPatterns loaded;
  LoadPatterns({{path, path}}, schema, &loaded);
  if (loaded.sink.has_errors()) {
    std::string report = CheckReport(loaded);
    std::fwrite(report.data(), 1, report.size(), stderr);
    return kExitFailed;
  }
  std::string diagnostics = RenderAll(loaded.sink.diagnostics());  // warnings
  std::fwrite(diagnostics.data(), 1, diagnostics.size(), stderr);

  const bool dot = args.Has("--dot");
  for (size_t i = 0; i < loaded.programs.size(); ++i) {
    const nfa::Program& program = *loaded.programs[i];
    if (i > 0 && !dot) Stdout().Put('\n');  // a blank line between listings
    std::string text = dot ? nfa::DumpDot(program) : nfa::Dump(program);
    if (!text.empty() && text.back() != '\n') text += '\n';
    Stdout().Write(text);
  }
  return kExitOk;
}

}  // namespace tern::cli
