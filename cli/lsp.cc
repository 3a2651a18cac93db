// `tern lsp`: the language server (lsp/server.h) on standard input and output.
// Tested by tests/lsp_test.py.
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "base/output_file.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "lsp/server.h"

namespace tern::cli {

namespace {

constexpr char kLspUsage[] =
    "usage: tern lsp\n"
    "\n"
    "The Tern language server: speaks the Language Server Protocol (3.17, JSON-RPC over\n"
    "Content-Length framing) on standard input and output, for editors (editors/README.md).\n"
    "Diagnostics (those of `tern check`), hover, go to definition, completion, document\n"
    "symbols and formatting. Messages for humans go to standard error.\n"
    "Exit status: 0 after the client's shutdown and exit, 1 when the input ends or the\n"
    "client exits without a shutdown, 2 for a bad command line.\n";

bool WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void LogLine(std::string_view line) {
  std::fprintf(stderr, "tern lsp: %.*s\n", static_cast<int>(line.size()), line.data());
}

}  // namespace

int LspCommand(std::span<const std::string> words) {
  Args args;
  std::string error;
  // vscode-languageclient passes --stdio when told the transport; stdio is all there is.
  static constexpr OptionSpec kSpecs[] = {{"--stdio", false}};
  if (!args.Parse(words, kSpecs, &error)) return UsageError("lsp", error);
  if (args.help()) {
    Stdout().Write(kLspUsage);
    return kExitOk;
  }
  if (!args.positional().empty()) return UsageError("lsp", "unexpected argument '" + args.positional()[0] + "'");
  // A client that went away is noticed as a failed write, not as a signal.
  ::signal(SIGPIPE, SIG_IGN);
  lsp::Server server(LogLine);
  std::string out;
  char buffer[64 * 1024];
  while (!server.exited()) {
    const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      LogLine(std::string("cannot read standard input: ") + std::strerror(errno));
      return kExitFailed;
    }
    if (n == 0) break;  // the client closed the pipe
    out.clear();
    server.Feed(std::string_view(buffer, static_cast<size_t>(n)), &out);
    if (!WriteAll(STDOUT_FILENO, out)) {
      LogLine(std::string("cannot write standard output: ") + std::strerror(errno));
      return kExitFailed;
    }
  }
  return server.exit_code();
}

}  // namespace tern::cli
