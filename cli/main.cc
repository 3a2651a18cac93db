// The `tern` executable: dispatches to the subcommand named by the first word.
// Tested by the cases under tests/cases/ (run through `tern test`) and
// tests/write_errors_test.py (a standard output that cannot be written).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/output_file.h"
#include "cli/args.h"
#include "cli/commands.h"

namespace tern::cli {

namespace {

constexpr char kUsage[] =
    "usage: tern <command> [options]\n"
    "\n"
    "commands:\n"
    "  check FILE...                 compile only; exit 0, or 1 with errors\n"
    "  explain FILE [--dot]          the compiled NFA, as text or Graphviz\n"
    "  fmt [--check] FILE... | -     rewrite files in the canonical layout\n"
    "  replay FILE... --input EVENTS.jsonl [--time-field ts] [--lateness 0ms]\n"
    "                [--dead-letter FILE] [--late-output FILE] [--open-end]\n"
    "                [--state DIR [--finish]]\n"
    "                                alerts as JSON Lines on stdout\n"
    "  state DIR [--partition NAME] [--pattern P] [--json]\n"
    "  state DIR --key K [--pattern P]\n"
    "                                what a state directory holds: partitions,\n"
    "                                watermarks, partial matches; one key's as JSON\n"
    "  test DIR... [--rewrite]       run recorded-stream cases\n"
    "  run [--config tern.toml]      the daemon: Kafka in, alerts out\n"
    "  kafka-mock [--brokers N] [--topic NAME[:PARTITIONS]]...\n"
    "                                an embedded Kafka cluster for demos and tests\n"
    "  demo                          embedded broker + daemon + the sample stream\n"
    "  lsp                           the language server for editors (LSP on stdio)\n"
    "\n"
    "`tern <command> --help` describes one command.\n";

struct Command {
  const char* name;
  int (*run)(std::span<const std::string>);
};

constexpr Command kCommands[] = {
    {"check", CheckCommand}, {"explain", ExplainCommand}, {"replay", ReplayCommand},
    {"fmt", FmtCommand},
    {"test", TestCommand},   {"run", RunCommand},         {"kafka-mock", KafkaMockCommand},
    {"demo", DemoCommand},   {"state", StateCommand},     {"lsp", LspCommand},
};

}  // namespace

int UsageError(const char* command, const std::string& message) {
  std::fprintf(stderr, "tern %s: %s\ntry 'tern %s --help'\n", command, message.c_str(), command);
  return kExitUsage;
}

namespace {

// Every command writes standard output through tern::Stdout(); a write that failed
// anywhere (a full disk, EPIPE when SIGPIPE is ignored) fails the command here, once.
// SIGPIPE keeps its default action: `tern replay ... | head -1` ends silently, killed
// by the signal (status 141 in a shell), as cat and grep do.
int FinishStdout(const std::string& command, int status) {
  if (tern::Stdout().Close()) return status;
  if (std::string error = tern::Stdout().TakeError(); !error.empty()) {
    std::fprintf(stderr, "tern%s%s: %s\n", command.empty() ? "" : " ", command.c_str(),
                 error.c_str());
  }
  return status == kExitOk ? kExitFailed : status;
}

// Transparent huge pages for the heap of the commands that hold state (run, replay):
// restoring a million partial matches touches about 500 MB of fresh heap, 130,000 page
// faults with 4 KiB pages, which cost 1.5 to 2 s on a virtual machine (11 to 16 us each
// here) and more under load; with 2 MiB pages, a few thousand (bench/results/
// 2026-12-06-state.md). glibc reads its tunables when a process starts, so the command
// executes itself again once with GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (same pid,
// arguments and environment otherwise). Not when GLIBC_TUNABLES is set already (the
// operator's choice stands), or TERN_HUGEPAGES=0. Kernels with transparent huge pages
// "never" ignore the advice; nothing else changes.
void UseHugePages(char** argv) {
  if (std::getenv("GLIBC_TUNABLES") != nullptr) return;
  if (const char* opt = std::getenv("TERN_HUGEPAGES"); opt != nullptr && std::strcmp(opt, "0") == 0) return;
  if (setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1", 1) != 0) return;
  execv("/proc/self/exe", argv);
  unsetenv("GLIBC_TUNABLES");  // exec failed (no /proc): go on as we are
}

}  // namespace

}  // namespace tern::cli

int main(int argc, char** argv) {
  using namespace tern::cli;
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return kExitUsage;
  }
  std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    tern::Stdout().Write(kUsage);
    return FinishStdout("", kExitOk);
  }
  if (command == "run" || command == "replay") UseHugePages(argv);
  std::vector<std::string> args(argv + 2, argv + argc);
  for (const Command& c : kCommands) {
    if (command == c.name) return FinishStdout(command, c.run(args));
  }
  std::fprintf(stderr, "tern: unknown command '%s'\ntry 'tern --help'\n", command.c_str());
  return kExitUsage;
}
