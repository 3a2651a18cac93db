// `tern test DIR... [--rewrite]`: finds case folders, replays or checks each one
// in-process and compares with its expectations (spec §11).
// Tested by tests/cases/ themselves and tests/unit/cli/compare_test.cc (matching).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

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
    "    matches an actual one when every member it names is equal there\n"
    "  expected.txt:\n"
    "    compares the full output of `tern check *.tern` (sorted file names)\n"
    "Prints PASS/FAIL per case, then `N passed, M failed`; the warnings of replayed\n"
    "patterns (e.g. W0101) go to stderr and do not fail a case.\n"
    "\n"
    "options:\n"
    "  --rewrite   write the actual output over the expectations of failing cases\n"
    "              (and create expected.jsonl where only input.jsonl exists)\n"
    "\n"
    "Exit status: 0 when every case passed, 1 otherwise, 2 for a bad command line.\n";

constexpr OptionSpec kTestOptions[] = {{"--rewrite", false}};
// What a case's `args` file may set; the input and outputs belong to the case.
constexpr OptionSpec kCaseArgsOptions[] = {{"--time-field", true}, {"--lateness", true}};

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
  std::string details;  // lines shown under FAIL, each "  ..." and '\n' terminated
};

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
    *details += "  ";
    *details += label;
    details->append(text.substr(begin, end - begin));
    *details += '\n';
    begin = end + 1;
  }
}

CaseResult Fail(std::string details) { return {Outcome::kFail, std::move(details)}; }

CaseResult RunCheckCase(const CaseFolder& c, bool rewrite) {
  nfa::Schema schema;
  LoadedPatterns loaded;
  LoadPatterns(CasePatterns(c), schema, &loaded);
  std::string actual = CheckReport(loaded);
  const std::string expected_path = (fs::path(c.path) / "expected.txt").string();
  std::string expected, error;
  if (!ReadFile(expected_path, &expected, &error)) return Fail("  " + error + "\n");
  if (actual == expected) return {};
  if (rewrite) {
    if (!WriteFile(expected_path, actual, &error)) return Fail("  " + error + "\n");
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
  if (!c.has_input) return Fail("  missing input.jsonl\n");
  ReplayOptions options;
  options.patterns = CasePatterns(c);
  options.input = (dir / "input.jsonl").string();
  std::string error;
  if (c.has_args) {
    std::string text;
    if (!ReadFile((dir / "args").string(), &text, &error)) return Fail("  " + error + "\n");
    std::vector<std::string> words = SplitWords(text);
    Args args;
    if (!args.Parse(words, kCaseArgsOptions, &error)) {
      return Fail("  args: " + error + " (allowed: --time-field, --lateness)\n");
    }
    if (!ReadReplayOptions(args, &options, &error)) return Fail("  args: " + error + "\n");
    if (!args.positional().empty() || args.help()) {
      return Fail("  args: unexpected '" +
                  (args.help() ? std::string("--help") : args.positional()[0]) + "'\n");
    }
  }

  ReplayOutput output;
  output.summary = false;
  if (Replay(options, output) != kExitOk) {
    std::string details;
    Indent(&details, "", output.log);
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
      return Fail("  the engine wrote an alert that is " + error + ": " + std::string(line) + "\n");
    }
    actual_text.push_back(line);
  }

  const std::string expected_path = (dir / "expected.jsonl").string();
  std::string expected_text;
  std::vector<JsonNode> expected;
  std::vector<std::string_view> expected_lines;
  if (c.has_expected_jsonl) {
    if (!ReadFile(expected_path, &expected_text, &error)) return Fail("  " + error + "\n");
    for (const auto& [number, line] : JsonLines(expected_text)) {
      expected.emplace_back();
      if (!ParseJson(line, &expected.back(), &error)) {
        return Fail("  expected.jsonl:" + std::to_string(number) + ": " + error + "\n");
      }
      expected_lines.push_back(line);
    }
    MatchResult match = MatchAlerts(expected, actual);
    if (match.ok()) return {};
    if (!rewrite) {
      std::string details;
      for (size_t e : match.missing) {
        details += "  missing:    " + std::string(expected_lines[e]) + "\n";
      }
      for (size_t a : match.unexpected) {
        details += "  unexpected: " + std::string(actual_text[a]) + "\n";
      }
      return Fail(std::move(details));
    }
  } else if (!rewrite) {
    return Fail("  missing expected.jsonl (tern test --rewrite creates it)\n");
  }
  if (!WriteFile(expected_path, output.alerts, &error)) return Fail("  " + error + "\n");
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
    std::fputs(kTestUsage, stdout);
    return kExitOk;
  }
  if (args.positional().empty()) return UsageError("test", "no directories given");
  const bool rewrite = args.Has("--rewrite");

  std::vector<CaseFolder> cases;
  std::vector<std::string> bad_dirs;
  for (const std::string& root : args.positional()) {
    std::error_code ec;
    if (!fs::is_directory(root, ec)) {
      bad_dirs.push_back(root);
      continue;
    }
    CaseFolder c;
    if (Inspect(root, &c)) cases.push_back(std::move(c));
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
    for (fs::recursive_directory_iterator end; !ec && it != end; it.increment(ec)) {
      std::error_code type_ec;
      if (!it->is_directory(type_ec)) continue;
      CaseFolder sub;
      if (Inspect(it->path(), &sub)) cases.push_back(std::move(sub));
    }
    if (ec) std::fprintf(stderr, "tern test: %s: %s\n", root.c_str(), ec.message().c_str());
  }
  std::sort(cases.begin(), cases.end(),
            [](const CaseFolder& a, const CaseFolder& b) { return a.path < b.path; });
  cases.erase(std::unique(cases.begin(), cases.end(),
                          [](const CaseFolder& a, const CaseFolder& b) { return a.path == b.path; }),
              cases.end());

  size_t passed = 0, failed = 0;
  for (const std::string& dir : bad_dirs) {
    std::printf("FAIL %s\n  not a directory\n", dir.c_str());
    ++failed;
  }
  for (const CaseFolder& c : cases) {
    CaseResult result = RunCase(c, rewrite);
    switch (result.outcome) {
      case Outcome::kPass:
        std::printf("PASS %s\n", c.path.c_str());
        ++passed;
        break;
      case Outcome::kRewrote:
        std::printf("REWROTE %s\n", c.path.c_str());
        ++passed;
        break;
      case Outcome::kFail:
        std::printf("FAIL %s\n%s", c.path.c_str(), result.details.c_str());
        ++failed;
        break;
    }
    std::fflush(stdout);
  }
  if (cases.empty() && bad_dirs.empty()) std::fputs("tern test: no case folders found\n", stderr);
  std::printf("%zu passed, %zu failed\n", passed, failed);
  return failed == 0 ? kExitOk : kExitFailed;
}

}  // namespace tern::cli
