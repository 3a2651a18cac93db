// `tern fmt [--check] FILE...` and `tern fmt -`: rewrites pattern files in the canonical
// layout of dsl/format.h, or lists the files that are not in it.
// Tested by tests/fmt/fmt_test.py (the CTests fmt_files and fmt_check_repo).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "base/diagnostic.h"
#include "base/output_file.h"
#include "base/source.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "dsl/format.h"

namespace tern::cli {

namespace {

constexpr char kFmtUsage[] =
    "usage: tern fmt [--check] FILE...\n"
    "       tern fmt -\n"
    "\n"
    "Rewrites each pattern file in the one canonical layout: clauses, stages and\n"
    "emit fields aligned, comments kept where they were (docs/language.md, R12).\n"
    "Files already formatted are not touched. A file with syntax errors is left as\n"
    "it is and its errors are shown on stderr; the other files are still formatted.\n"
    "  -         read standard input, write the formatted text on standard output\n"
    "  --check   write nothing; print the files that would change, one per line\n"
    "Exit status: 0; 1 when a file has errors or cannot be read or written, or with\n"
    "--check when a file would change; 2 for a bad command line.\n";

constexpr OptionSpec kFmtOptions[] = {{"--check", false}};

// Formats `text`; on syntax errors prints them on stderr and returns false.
bool FormatText(const std::string& display_path, std::string text, std::string* out) {
  SourceFile source(display_path, std::move(text));
  DiagnosticSink sink;
  bool ok = dsl::Format(source, sink, out);
  std::string report = RenderAll(sink.diagnostics());
  std::fwrite(report.data(), 1, report.size(), stderr);
  return ok;
}

// Replaces the file at `path` by `text` atomically: a temporary file in the same folder,
// given the old file's permissions, renamed over it. A symbolic link stays a link: its
// target is replaced.
bool ReplaceFile(const std::string& path, const std::string& text, std::string* error) {
  char resolved[PATH_MAX];
  std::string target = realpath(path.c_str(), resolved) != nullptr ? resolved : path;
  struct stat st {};
  if (stat(target.c_str(), &st) != 0) {
    *error = "cannot write '" + path + "': " + std::strerror(errno);
    return false;
  }
  std::string temp = target + ".fmt-XXXXXX";
  int fd = mkstemp(temp.data());
  if (fd < 0) {
    *error = "cannot write '" + path + "': " + std::strerror(errno);
    return false;
  }
  bool ok = fchmod(fd, st.st_mode & 07777) == 0;
  for (size_t done = 0; ok && done < text.size();) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  ok = ok && fsync(fd) == 0;
  int saved = errno;
  ok = (close(fd) == 0) && ok;
  if (ok && rename(temp.c_str(), target.c_str()) != 0) {
    saved = errno;
    ok = false;
  }
  if (!ok) {
    unlink(temp.c_str());
    *error = "cannot write '" + path + "': " + std::strerror(saved != 0 ? saved : EIO);
  }
  return ok;
}

}  // namespace

int FmtCommand(std::span<const std::string> words) {
  Args args;
  std::string error;
  if (!args.Parse(words, kFmtOptions, &error)) return UsageError("fmt", error);
  if (args.help()) {
    Stdout().Write(kFmtUsage);
    return kExitOk;
  }
  const auto& files = args.positional();
  if (files.empty()) return UsageError("fmt", "no pattern files given (use - for standard input)");
  const bool check = args.Has("--check");
  bool stdin_mode = false;
  for (const std::string& f : files) stdin_mode = stdin_mode || f == "-";
  if (stdin_mode && files.size() != 1) {
    return UsageError("fmt", "'-' (standard input) cannot be combined with files");
  }

  if (stdin_mode) {
    std::string text;
    char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) text.append(buf, n);
    if (std::ferror(stdin)) {
      std::fprintf(stderr, "tern fmt: cannot read standard input: %s\n", std::strerror(errno));
      return kExitFailed;
    }
    std::string formatted;
    if (!FormatText("<stdin>", text, &formatted)) return kExitFailed;
    if (check) {
      if (formatted == text) return kExitOk;
      Stdout().Write("-\n");
      return kExitFailed;
    }
    Stdout().Write(formatted);
    return kExitOk;
  }

  int status = kExitOk;
  for (const std::string& path : files) {
    std::string text;
    if (!ReadFile(path, &text, &error)) {
      std::fprintf(stderr, "tern fmt: %s\n", error.c_str());
      status = kExitFailed;
      continue;
    }
    std::string formatted;
    if (!FormatText(path, text, &formatted)) {
      status = kExitFailed;
      continue;
    }
    if (formatted == text) continue;
    if (check) {
      Stdout().Write(path + "\n");
      status = kExitFailed;
      continue;
    }
    if (!ReplaceFile(path, formatted, &error)) {
      std::fprintf(stderr, "tern fmt: %s\n", error.c_str());
      status = kExitFailed;
    }
  }
  return status;
}

}  // namespace tern::cli
