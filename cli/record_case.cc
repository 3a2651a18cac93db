// `tern replay --record-case DIR`: see record_case.h.
#include "cli/record_case.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <system_error>
#include <vector>

#include "base/output_file.h"
#include "cli/args.h"
#include "engine/line_reader.h"

namespace tern::cli {

namespace fs = std::filesystem;

namespace {

// Options of the replay that a case does not take into its `args`: the case holds its
// own input, its outputs are compared in memory, and progress is not a result.
constexpr std::string_view kNotRecorded[] = {"--input",    "--dead-letter",  "--late-output",
                                             "--progress", "--no-progress",  "--record-case"};

bool TakesValue(std::string_view name) {
  for (const OptionSpec& spec : ReplayOptionTable()) {
    if (spec.name == name) return spec.takes_value;
  }
  return name == "--record-case";
}

// The options of `words` that shape the alerts, as one `args` line (SplitWords reads it
// back: a word with blanks goes in double quotes, which it may not contain itself).
bool ArgsLine(std::span<const std::string> words, std::string* line, std::string* error) {
  line->clear();
  auto add = [&](const std::string& word) {
    if (word.find('"') != std::string::npos) {
      *error = "the option word '" + word + "' holds a double quote, which a case's args cannot";
      return false;
    }
    if (!line->empty()) *line += ' ';
    const bool blank = word.find_first_of(" \t") != std::string::npos || word.empty();
    *line += blank ? "\"" + word + "\"" : word;
    return true;
  };
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (word == "--") break;  // pattern files only after it
    if (!word.starts_with("--")) continue;  // a pattern file
    const size_t eq = word.find('=');
    const std::string name = word.substr(0, eq);
    const bool inline_value = eq != std::string::npos;
    const bool has_value = TakesValue(name);
    const bool skip = std::find(std::begin(kNotRecorded), std::end(kNotRecorded), name) !=
                      std::end(kNotRecorded);
    if (!skip) {
      if (!add(inline_value ? name : word)) return false;
      if (inline_value && !add(word.substr(eq + 1))) return false;
      if (!inline_value && has_value && i + 1 < words.size() && !add(words[i + 1])) return false;
    }
    if (has_value && !inline_value) ++i;
  }
  return true;
}

// Every line of the inputs, in order, to `path`, one per line.
bool CopyInputs(const ReplayOptions& options, const std::string& path, std::string* error) {
  OutputFile out;
  if (!out.Open(path)) {
    *error = out.error();
    return false;
  }
  engine::LineReader reader;
  reader.set_max_line(options.format == InputFormat::kKcat ? options.max_event_size * 6 + 65536
                                                           : options.max_event_size);
  engine::Line line;
  for (const std::string& input : options.inputs) {
    if (!reader.Open(input, error)) return false;
    while (reader.Next(&line)) {
      if (line.too_long) {
        *error = input + ":" + std::to_string(line.number) + ": the line has " +
                 std::to_string(line.size) + " bytes, over --max-event-size: a case cannot hold it";
        return false;
      }
      out.Write(line.text);
      out.Put('\n');
    }
    if (!reader.error().empty()) {
      *error = input + ": " + reader.error();
      return false;
    }
  }
  if (!out.Close()) {
    *error = out.error();
    return false;
  }
  return true;
}

bool WriteCase(const std::string& dir, std::span<const std::string> words, ReplayOptions* options,
               std::string* error) {
  if (!options->state_dir.empty()) {
    *error = "--record-case records one whole stream: it does not go with --state";
    return false;
  }
  std::set<std::string> names;
  for (const PatternFile& pattern : options->patterns) {
    const std::string name = fs::path(pattern.path).filename().string();
    if (!names.insert(name).second) {
      *error = "--record-case: two pattern files are named '" + name + "'";
      return false;
    }
    std::string text;
    if (!ReadFile(pattern.path, &text, error) || !WriteFile(dir + "/" + name, text, error)) return false;
  }
  // The case reads input.jsonl, which would name the stream `input`: keep the name the
  // recorded replay gave it, which `from` clauses may name.
  std::vector<std::string> recorded;
  if (options->format == InputFormat::kJsonl && options->kafka_topic.empty() && options->stream.empty()) {
    options->stream = StreamName(options->inputs[0]);
    if (options->stream != "input") recorded = {"--stream", options->stream};
  }
  recorded.insert(recorded.end(), words.begin(), words.end());
  std::string args;
  if (!ArgsLine(recorded, &args, error)) return false;
  if (!args.empty() && !WriteFile(dir + "/args", args + "\n", error)) return false;
  const std::string input = dir + "/input.jsonl";
  if (!CopyInputs(*options, input, error)) return false;
  options->inputs = {input};
  return true;
}

}  // namespace

bool PrepareCase(const std::string& dir, std::span<const std::string> words,
                 ReplayOptions* options, std::string* error) {
  std::error_code ec;
  const bool existed = fs::exists(dir, ec);
  if (existed && !(fs::is_directory(dir, ec) && fs::is_empty(dir, ec))) {
    *error = "--record-case: '" + dir + "' exists and is not an empty directory";
    return false;
  }
  if (!existed && !fs::create_directories(dir, ec)) {
    *error = "--record-case: cannot create '" + dir + "': " + ec.message();
    return false;
  }
  if (WriteCase(dir, words, options, error)) return true;
  // Nothing half-written stays behind: the folder goes (or is emptied, if it was there).
  if (existed) {
    for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) fs::remove_all(entry.path(), ec);
  } else {
    fs::remove_all(dir, ec);
  }
  return false;
}

bool FinishCase(const std::string& dir, std::string_view alerts, std::string* error) {
  return WriteFile(dir + "/expected.jsonl", alerts, error);
}

}  // namespace tern::cli
