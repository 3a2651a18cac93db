// Helpers shared by the benchmark tools: loading pattern files into an Engine the
// way `tern replay` does, and small command-line parsing.
// Tested by the CTest smoke runs of bench/scenarios.
#pragma once

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "base/diagnostic.h"
#include "base/source.h"
#include "compiler/compile.h"
#include "engine/engine.h"

namespace tern::bench {

inline bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Parses, checks and compiles every file into `engine` (schema and programs), like
// `tern replay`. Diagnostics go to stderr prefixed by `tool`; false on any error.
inline bool CompilePatterns(const std::vector<std::string>& paths, engine::Engine& engine,
                            const char* tool) {
  DiagnosticSink sink;
  std::vector<std::shared_ptr<const SourceFile>> sources;  // diagnostics point into these
  for (const std::string& path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "%s: cannot read '%s'\n", tool, path.c_str());
      return false;
    }
    std::stringstream text;
    text << in.rdbuf();
    sources.push_back(std::make_shared<const SourceFile>(path, text.str()));
    engine.AddPrograms(compiler::CompileSource(sources.back(), engine.schema(), sink));
  }
  if (!sink.diagnostics().empty()) std::fputs(RenderAll(sink.diagnostics()).c_str(), stderr);
  return !sink.has_errors();
}

}  // namespace tern::bench
