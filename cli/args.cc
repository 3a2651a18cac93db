// Option tables, durations and file helpers for the subcommands.
#include "cli/args.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/output_file.h"

namespace tern::cli {

const std::string& Args::Get(std::string_view name, const std::string& fallback) const {
  auto it = values_.find(std::string(name));
  return it == values_.end() ? fallback : it->second;
}

std::vector<std::string> Args::GetAll(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [n, v] : all_values_) {
    if (n == name) out.push_back(v);
  }
  return out;
}

bool Args::Parse(std::span<const std::string> words, std::span<const OptionSpec> specs,
                 std::string* error) {
  bool options_done = false;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (options_done || word.size() < 2 || word[0] != '-') {
      positional_.push_back(word);  // "-" (standard input) is positional too
      continue;
    }
    if (word == "--") {
      options_done = true;
      continue;
    }
    if (word == "-h" || word == "--help") {
      values_["--help"] = "";
      continue;
    }
    std::string name = word;
    std::string value;
    bool inline_value = false;
    if (size_t eq = word.find('='); eq != std::string::npos && word.starts_with("--")) {
      name = word.substr(0, eq);
      value = word.substr(eq + 1);
      inline_value = true;
    }
    const OptionSpec* spec = nullptr;
    for (const OptionSpec& s : specs) {
      if (s.name == name) spec = &s;
    }
    if (spec == nullptr) {
      *error = "unknown option '" + name + "'";
      return false;
    }
    if (!spec->takes_value) {
      if (inline_value) {
        *error = "option '" + name + "' takes no value";
        return false;
      }
      values_[name] = "";
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= words.size()) {
        *error = "option '" + name + "' needs a value";
        return false;
      }
      value = words[++i];
    }
    values_[name] = value;
    all_values_.emplace_back(name, value);
  }
  return true;
}

std::vector<std::string> SplitWords(std::string_view line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') {
      quoted = !quoted;
      in_word = true;
    } else if (!quoted && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

bool ReadFile(const std::string& path, std::string* text, std::string* error) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    *error = "cannot read '" + path + "': " + std::strerror(errno);
    return false;
  }
  text->clear();
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text->append(buf, n);
  bool failed = std::ferror(f) != 0;
  int saved = errno;
  std::fclose(f);
  if (failed) {
    *error = "cannot read '" + path + "': " + std::strerror(saved);
    return false;
  }
  return true;
}

bool WriteFile(const std::string& path, std::string_view text, std::string* error) {
  OutputFile out;
  if (out.Open(path)) {
    out.Write(text);
    out.Close();
  }
  if (out.ok()) return true;
  *error = out.error();
  return false;
}

}  // namespace tern::cli
