// `tern check FILE...`: parse, check and compile; diagnostics on stdout.
// Tested by the cases with an expected.txt under tests/cases/, tests/cli_commands_test.py
// and tests/write_errors_test.py.
#include <cstdio>

#include "base/output_file.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/patterns.h"

namespace tern::cli {

namespace {

constexpr char kCheckUsage[] =
    "usage: tern check FILE...\n"
    "\n"
    "Parses, checks and compiles the pattern files together (pattern names must be\n"
    "unique across them; a file named twice counts once). Prints every diagnostic on\n"
    "stdout, then `N errors`. Warnings (e.g. W0101, partial matches that no window\n"
    "bounds) do not fail.\n"
    "Exit status: 0 without errors, 1 with errors or when standard output cannot be\n"
    "written, 2 for a bad command line.\n";

}  // namespace

int CheckCommand(std::span<const std::string> words) {
  Args args;
  std::string error;
  if (!args.Parse(words, {}, &error)) return UsageError("check", error);
  if (args.help()) {
    Stdout().Write(kCheckUsage);
    return kExitOk;
  }
  if (args.positional().empty()) return UsageError("check", "no pattern files given");

  std::vector<PatternFile> files;
  for (const std::string& path : args.positional()) files.push_back({path, path});
  nfa::Schema schema;
  LoadedPatterns loaded;
  LoadPatterns(files, schema, &loaded);
  std::string report = CheckReport(loaded);
  Stdout().Write(report);
  if (loaded.sink.has_errors()) return kExitFailed;
  const size_t warnings = loaded.sink.diagnostics().size();  // no errors: all warnings
  std::fprintf(stderr, "ok: %zu pattern%s", loaded.pattern_count,
               loaded.pattern_count == 1 ? "" : "s");
  if (warnings > 0) std::fprintf(stderr, ", %zu warning%s", warnings, warnings == 1 ? "" : "s");
  std::fputc('\n', stderr);
  return kExitOk;
}

}  // namespace tern::cli
