// Command-line plumbing shared by the subcommands: option parsing against a
// per-command table, durations (`250ms`, `2s`), whole-file reads and writes.
// Tested by tests/unit/cli/args_test.cc.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/duration.h"

namespace tern::cli {

// Exit statuses of every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // errors in the input (patterns, files, failed tests)
inline constexpr int kExitUsage = 2;   // bad command line

struct OptionSpec {
  std::string_view name;  // with dashes: "--input"
  bool takes_value;       // `--name VALUE` or `--name=VALUE`; otherwise a flag
};

// The options of one command line. `--help`/`-h` is always accepted as a flag.
// Thread: any. Locks: none.
class Args {
 public:
  bool Has(std::string_view name) const { return values_.count(std::string(name)) != 0; }
  // The last value given for the option, or `fallback`.
  const std::string& Get(std::string_view name, const std::string& fallback) const;
  // Every value given for a repeatable option, in command-line order.
  std::vector<std::string> GetAll(std::string_view name) const;
  const std::vector<std::string>& positional() const { return positional_; }
  bool help() const { return Has("--help"); }

  // Parses `words` (without the program and command names). `--` ends the options.
  // On an unknown option or a missing value returns false with *error set.
  bool Parse(std::span<const std::string> words, std::span<const OptionSpec> specs,
             std::string* error);

 private:
  std::map<std::string, std::string> values_;  // option name -> last value ("" for flags)
  std::vector<std::pair<std::string, std::string>> all_values_;  // (name, value) in order
  std::vector<std::string> positional_;
};

// `0` or an integer with a unit ms, s, m, h, d (as in the DSL) to milliseconds (base/).
using tern::ParseDuration;

// Splits one line into words at blanks; "double quotes" keep blanks inside a word.
std::vector<std::string> SplitWords(std::string_view line);

// Whole-file helpers; errors read like "cannot read 'x.tern': No such file or directory".
// WriteFile fails when any write or the close fails (a full disk), not only the open.
bool ReadFile(const std::string& path, std::string* text, std::string* error);
bool WriteFile(const std::string& path, std::string_view text, std::string* error);

}  // namespace tern::cli
