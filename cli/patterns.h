// Loading the pattern files of one command: read, parse, check, compile against a
// shared schema, and reject duplicate pattern names across the files.
// Tested by the `tern check` cases under tests/cases/ (expected.txt),
// tests/cli_commands_test.py (files given twice) and tests/daemon/daemon_test.py (pattern_files).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/diagnostic.h"
#include "base/source.h"
#include "nfa/program.h"
#include "nfa/schema.h"

namespace tern::cli {

struct PatternFile {
  std::string path;          // where to read it
  std::string display_path;  // how diagnostics name it (tern test: the bare file name)
};

// What a load produced. Diagnostics point at `sources`, so keep them together.
// Thread: the command's thread. Locks: none.
struct LoadedPatterns {
  std::vector<std::shared_ptr<const SourceFile>> sources;
  std::vector<std::shared_ptr<const nfa::Program>> programs;  // file order, then pattern order
  DiagnosticSink sink;
  size_t pattern_count = 0;  // patterns that compiled
};

// Loads every file; a file that cannot be read is an error naming it. Patterns of
// all files share `schema`. Errors leave the broken patterns out. A file given more
// than once (the same canonical path) is loaded once; a pattern name defined in two
// different files is an error (E0201).
void LoadPatterns(const std::vector<PatternFile>& files, nfa::Schema& schema, LoadedPatterns* out);

// The daemon's pattern loader (connectors::PatternLoader): the files, compiled into
// `schema`; false with the diagnostics rendered in *errors, or when no pattern is left.
// Warnings are logged (spdlog) and do not fail the load.
bool LoadProgramFiles(const std::vector<std::string>& files, nfa::Schema& schema,
                      std::vector<std::shared_ptr<const nfa::Program>>* programs, std::string* errors);

// The text `tern check` prints on stdout: every diagnostic rendered, then
// "N error"/"N errors" when there are errors.
std::string CheckReport(const LoadedPatterns& loaded);

}  // namespace tern::cli
