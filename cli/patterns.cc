// Pattern loading shared by check, explain, replay and test.
#include "cli/patterns.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <map>
#include <set>
#include <utility>

#include "cli/args.h"
#include "compiler/compile.h"
#include "dsl/dsl.h"

namespace tern::cli {

void LoadPatterns(const std::vector<PatternFile>& files, nfa::Schema& schema, LoadedPatterns* out) {
  struct FirstDefinition {
    const SourceFile* file;
    SourceSpan span;
  };
  std::map<std::string, FirstDefinition> defined;  // pattern name -> where it first appeared
  std::set<std::string> loaded;                     // canonical paths of the files read
  for (const PatternFile& file : files) {
    // A file named twice (`a.tern ./a.tern`, overlapping globs, a symlink to it) is one
    // file: loaded once, by every command and the daemon alike. Two different files
    // defining one pattern name stay an error (E0201 below).
    std::error_code ec;
    std::filesystem::path canonical = std::filesystem::canonical(file.path, ec);
    if (!loaded.insert(ec ? file.path : canonical.string()).second) continue;
    std::string text, error;
    if (!ReadFile(file.path, &text, &error)) {
      out->sink.Add({Severity::kError, "", error, nullptr, {}, ""});
      continue;
    }
    auto source = std::make_shared<const SourceFile>(file.display_path, std::move(text));
    out->sources.push_back(source);
    ast::File ast = dsl::ParseAndCheck(source, out->sink);

    // One engine runs the patterns of all files, so names must be unique across them.
    std::vector<ast::Pattern> unique;
    unique.reserve(ast.patterns.size());
    for (ast::Pattern& pattern : ast.patterns) {
      auto [it, inserted] =
          defined.try_emplace(pattern.name, FirstDefinition{source.get(), pattern.name_span});
      if (inserted) {
        unique.push_back(std::move(pattern));
        continue;
      }
      // Same code and wording as dsl::Check's in-file duplicate (E0201 in
      // dsl/diag_codes.def, whose helpers are private to dsl/).
      auto where = it->second.file->Locate(it->second.span.begin);
      out->sink.Error(source.get(), pattern.name_span, "E0201",
                      "duplicate pattern name '" + pattern.name + "'",
                      "first declared in " + it->second.file->path() + ":" +
                          std::to_string(where.line) + ":" + std::to_string(where.col));
    }
    ast.patterns = std::move(unique);

    auto programs = compiler::Compile(ast, schema, out->sink);
    out->pattern_count += programs.size();
    for (auto& program : programs) out->programs.push_back(std::move(program));
  }
}

std::string CheckReport(const LoadedPatterns& loaded) {
  std::string report = RenderAll(loaded.sink.diagnostics());
  size_t errors = loaded.sink.error_count();
  if (errors > 0) report += std::to_string(errors) + (errors == 1 ? " error\n" : " errors\n");
  return report;
}

bool LoadProgramFiles(const std::vector<std::string>& files, nfa::Schema& schema,
                      std::vector<std::shared_ptr<const nfa::Program>>* programs, std::string* errors) {
  std::vector<PatternFile> list;
  for (const std::string& f : files) list.push_back({f, f});
  LoadedPatterns loaded;
  LoadPatterns(list, schema, &loaded);
  if (loaded.sink.has_errors()) {
    *errors = CheckReport(loaded);
    return false;
  }
  if (loaded.programs.empty()) {
    *errors = "no patterns in the pattern files";
    return false;
  }
  // Warnings (W0101) do not stop a load, start-up or reload; they go to the daemon's log.
  for (const Diagnostic& d : loaded.sink.diagnostics()) {
    std::string text = Render(d);
    if (!text.empty() && text.back() == '\n') text.pop_back();
    spdlog::warn("{}", text);
  }
  *programs = std::move(loaded.programs);
  return true;
}

}  // namespace tern::cli
