// `tern test DIR... [--rewrite]`: finds case folders, replays or checks each one
// in-process and compares with its expectations (spec §11).
// Tested by tests/cases/ themselves, tests/unit/cli/compare_test.cc (matching) and
// tests/cli_commands_test.py (the report, case args, DIRs without cases).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/output_file.h"
#include "base/printable.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/compare.h"
#include "cli/patterns.h"
#include "cli/replay.h"

namespace tern::cli {

namespace fs = std::filesystem;

namespace {

constexpr char kTestUsage[] =
    "usage: tern test DIR... [--rewrite]\n"
    "\n"
    "Runs every case folder found under each DIR, in sorted order. A case folder\n"
    "holds one or more *.tern files and either\n"
    "  input.jsonl + expected.jsonl (+ optional `args`, e.g. `--lateness 2s`):\n"
    "    replays the input and compares the alerts as multisets; an expected alert\n"
    "    matches an actual one when every member it names is equal there. `args`\n"
    "    holds `tern replay` options, split at blanks (\"double quotes\" keep blanks);\n"
    "    --input, --dead-letter, --late-output and --record-case are refused there\n"
    "  expected.txt:\n"
    "    compares the full output of `tern check *.tern` (sorted file names)\n"
    "Prints PASS/FAIL per case, then `N passed, M failed`; control bytes of names\n"
    "and texts are shown as \\xNN. A DIR that does not exist or holds no case fails.\n"
    "The warnings of replayed patterns (e.g. W0101) go to stderr and do not fail a case.\n"
    "\n"
    "options:\n"
    "  --rewrite   write the actual output over the expectations of failing cases\n"
    "              (and create expected.jsonl where only input.jsonl exists)\n"
    "\n"
    "Exit status: 0 when every case passed, 1 otherwise (or when standard output or an\n"
    "expectation cannot be written), 2 for a bad command line.\n";

constexpr OptionSpec kTestOptions[] = {{"--rewrite", false}};

// `tern replay` options a case's `args` may not give: the case supplies its input, and its
// outputs are compared in memory. Every other replay option works there as it does in
// `tern replay`.
struct CaseOnlyOption {
  std::string_view name;
  std::string_view why;
};
constexpr CaseOnlyOption kNotInCaseArgs[] = {
    {"--input", "a case reads its input.jsonl"},
    {"--dead-letter", "a case's outputs are not written to files"},
    {"--late-output", "a case's outputs are not written to files"},
    {"--record-case", "a case is already recorded"},
};

struct CaseFolder {
  std::string path;                     // as displayed: DIR/sub/case
  std::vector<std::string> tern_files;  // bare names, sorted
  bool has_input = false;
  bool has_expected_jsonl = false;
  bool has_expected_txt = false;
  bool has_args = false;
};

enum class Outcome { kPass, kFail, kRewrote };

struct CaseResult {
  Outcome outcome = Outcome::kPass;
  std::string details;  // lines shown under FAIL, each "  ...", printable, '\n' terminated
};

// One line of FAIL details: indented, control bytes escaped (texts come from the case's
// files, so they may hold anything: a NUL, an escape sequence, a newline), '\n' ended.
void AddLine(std::string* details, std::string_view text) {
  *details += "  ";
  *details += Printable(text);
  *details += '\n';
}

// A folder is a case when it has a *.tern and something to compare or replay.
bool Inspect(const fs::path& dir, CaseFolder* out) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  if (ec) return false;
  for (; it != end; it.increment(ec)) {
    if (ec) break;
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec)) continue;
    std::string name = it->path().filename().string();
    if (name == "input.jsonl") out->has_input = true;
    if (name == "expected.jsonl") out->has_expected_jsonl = true;
    if (name == "expected.txt") out->has_expected_txt = true;
    if (name == "args") out->has_args = true;
    if (it->path().extension() == ".tern") out->tern_files.push_back(name);
  }
  std::sort(out->tern_files.begin(), out->tern_files.end());
  out->path = dir.generic_string();
  return !out->tern_files.empty() &&
         (out->has_input || out->has_expected_jsonl || out->has_expected_txt);
}

std::vector<PatternFile> CasePatterns(const CaseFolder& c) {
  std::vector<PatternFile> files;
  for (const std::string& name : c.tern_files) {
    files.push_back({(fs::path(c.path) / name).string(), name});
  }
  return files;
}

void Indent(std::string* details, std::string_view label, std::string_view text) {
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    AddLine(details, std::string(label) + std::string(text.substr(begin, end - begin)));
    begin = end + 1;
  }
}

CaseResult Fail(std::string details) { return {Outcome::kFail, std::move(details)}; }

// A failure explained in one line.
CaseResult FailLine(std::string_view text) {
  CaseResult result{Outcome::kFail, {}};
  AddLine(&result.details, text);
  return result;
}

CaseResult RunCheckCase(const CaseFolder& c, bool rewrite) {
  nfa::Schema schema;
  LoadedPatterns loaded;
  LoadPatterns(CasePatterns(c), schema, &loaded);
  std::string actual = CheckReport(loaded);
  const std::string expected_path = (fs::path(c.path) / "expected.txt").string();
  std::string expected, error;
  if (!ReadFile(expected_path, &expected, &error)) return FailLine(error);
  if (actual == expected) return {};
  if (rewrite) {
    if (!WriteFile(expected_path, actual, &error)) return FailLine(error);
    return {Outcome::kRewrote, {}};
  }
  std::string details = "  expected.txt differs from the output of tern check:\n";
  Indent(&details, "- ", expected);
  Indent(&details, "+ ", actual);
  return Fail(std::move(details));
}

// Splits JSON Lines text into (line number, text) pairs, skipping blank lines.
std::vector<std::pair<size_t, std::string_view>> JsonLines(std::string_view text) {
  std::vector<std::pair<size_t, std::string_view>> lines;
  size_t begin = 0, number = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    ++number;
    std::string_view line = text.substr(begin, end - begin);
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) lines.emplace_back(number, line);
    begin = end + 1;
  }
  return lines;
}

CaseResult RunReplayCase(const CaseFolder& c, bool rewrite) {
  const fs::path dir(c.path);
  if (!c.has_input) return FailLine("missing input.jsonl");
  ReplayOptions options;
  options.patterns = CasePatterns(c);
  options.inputs = {(dir / "input.jsonl").string()};
  std::string error;
  if (c.has_args) {
    const std::string args_path = (dir / "args").string();
    std::string text;
    if (!ReadFile(args_path, &text, &error)) return FailLine(error);
    // The same table and reader as `tern replay`, so every replay option works here.
    std::vector<std::string> words = SplitWords(text);
    Args args;
    if (!args.Parse(words, ReplayOptionTable(), &error)) return FailLine(args_path + ": " + error);
    for (const CaseOnlyOption& option : kNotInCaseArgs) {
      if (args.Has(option.name)) {
        return FailLine(args_path + ": " + std::string(option.name) + " cannot be used in a case (" +
                        std::string(option.why) + ")");
      }
    }
    if (!args.positional().empty() || args.help()) {
      return FailLine(args_path + ": unexpected '" +
                      (args.help() ? std::string("--help") : args.positional()[0]) + "'");
    }
    if (!ReadReplayOptions(args, &options, &error)) return FailLine(args_path + ": " + error);
  }

  ReplayOutput output;
  output.summary = false;
  if (Replay(options, output) != kExitOk) {
    std::string details;
    Indent(&details, "", output.log);
    if (details.empty()) AddLine(&details, "tern replay failed");
    return Fail(std::move(details));
  }
  // Warnings (W0101) do not fail a case; their first lines go to stderr.
  for (const auto& [number, line] : JsonLines(output.log)) {
    if (line.find(": warning[") != std::string_view::npos) {
      std::fprintf(stderr, "%s: %.*s\n", c.path.c_str(), static_cast<int>(line.size()),
                   line.data());
    }
  }

  std::vector<JsonNode> actual;
  std::vector<std::string_view> actual_text;
  for (const auto& [number, line] : JsonLines(output.alerts)) {
    actual.emplace_back();
    if (!ParseJson(line, &actual.back(), &error)) {
      return FailLine("the engine wrote an alert that is " + error + ": " + std::string(line));
    }
    actual_text.push_back(line);
  }

  const std::string expected_path = (dir / "expected.jsonl").string();
  std::string expected_text;
  std::vector<JsonNode> expected;
  std::vector<std::string_view> expected_lines;
  if (c.has_expected_jsonl) {
    if (!ReadFile(expected_path, &expected_text, &error)) return FailLine(error);
    for (const auto& [number, line] : JsonLines(expected_text)) {
      expected.emplace_back();
      if (!ParseJson(line, &expected.back(), &error)) {
        return FailLine("expected.jsonl:" + std::to_string(number) + ": " + error);
      }
      expected_lines.push_back(line);
    }
    MatchResult match = MatchAlerts(expected, actual);
    if (match.ok()) return {};
    if (!rewrite) {
      std::string details;
      for (size_t e : match.missing) AddLine(&details, "missing:    " + std::string(expected_lines[e]));
      for (size_t a : match.unexpected) AddLine(&details, "unexpected: " + std::string(actual_text[a]));
      return Fail(std::move(details));
    }
  } else if (!rewrite) {
    return FailLine("missing expected.jsonl (tern test --rewrite creates it)");
  }
  if (!WriteFile(expected_path, output.alerts, &error)) return FailLine(error);
  return {Outcome::kRewrote, {}};
}

CaseResult RunCase(const CaseFolder& c, bool rewrite) {
  // expected.txt makes a check case; the same folder may also hold a replay case.
  std::vector<CaseResult> parts;
  if (c.has_expected_txt) parts.push_back(RunCheckCase(c, rewrite));
  if (c.has_expected_jsonl || (c.has_input && !c.has_expected_txt)) {
    parts.push_back(RunReplayCase(c, rewrite));
  }
  CaseResult total;
  for (CaseResult& part : parts) {
    if (part.outcome == Outcome::kFail) {
      total.outcome = Outcome::kFail;
      total.details += part.details;
    } else if (part.outcome == Outcome::kRewrote && total.outcome == Outcome::kPass) {
      total.outcome = Outcome::kRewrote;
    }
  }
  return total;
}

}  // namespace

int TestCommand(std::span<const std::string> words) {
  Args args;
  std::string error;
  if (!args.Parse(words, kTestOptions, &error)) return UsageError("test", error);
  if (args.help()) {
    Stdout().Write(kTestUsage);
    return kExitOk;
  }
  if (args.positional().empty()) return UsageError("test", "no directories given");
  const bool rewrite = args.Has("--rewrite");

  // A DIR that cannot be searched, or holds no case, fails as a case would: a test run
  // that ran nothing (a typo, an empty checkout) must not pass.
  std::vector<CaseFolder> cases;
  std::vector<std::pair<std::string, std::string>> bad_roots;  // (DIR, why)
  for (const std::string& root : args.positional()) {
    std::error_code ec;
    if (!fs::is_directory(root, ec)) {
      bad_roots.emplace_back(root, fs::exists(root, ec) ? "not a directory" : "no such directory");
      continue;
    }
    const size_t before = cases.size();
    CaseFolder c;
    if (Inspect(root, &c)) cases.push_back(std::move(c));
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
    for (fs::recursive_directory_iterator end; !ec && it != end; it.increment(ec)) {
      std::error_code type_ec;
      if (!it->is_directory(type_ec)) continue;
      CaseFolder sub;
      if (Inspect(it->path(), &sub)) cases.push_back(std::move(sub));
    }
    if (ec) {
      bad_roots.emplace_back(root, "cannot list it: " + ec.message());
    } else if (cases.size() == before) {
      bad_roots.emplace_back(root, "no case folders found under it");
    }
  }
  std::sort(cases.begin(), cases.end(),
            [](const CaseFolder& a, const CaseFolder& b) { return a.path < b.path; });
  cases.erase(std::unique(cases.begin(), cases.end(),
                          [](const CaseFolder& a, const CaseFolder& b) { return a.path == b.path; }),
              cases.end());

  // Every name and text goes out through Printable (AddLine for the details), and each
  // result ends with a newline, so no byte of a case can garble the report.
  OutputFile& out = Stdout();
  size_t passed = 0, failed = 0;
  for (const auto& [root, why] : bad_roots) {
    out.Write("FAIL " + Printable(root) + "\n  " + Printable(why) + "\n");
    ++failed;
  }
  for (const CaseFolder& c : cases) {
    CaseResult result = RunCase(c, rewrite);
    switch (result.outcome) {
      case Outcome::kPass:
        out.Write("PASS " + Printable(c.path) + "\n");
        ++passed;
        break;
      case Outcome::kRewrote:
        out.Write("REWROTE " + Printable(c.path) + "\n");
        ++passed;
        break;
      case Outcome::kFail:
        out.Write("FAIL " + Printable(c.path) + "\n" + result.details);
        ++failed;
        break;
    }
    out.Flush();
  }
  out.Write(std::to_string(passed) + " passed, " + std::to_string(failed) + " failed\n");
  return failed == 0 ? kExitOk : kExitFailed;
}

}  // namespace tern::cli
