// The `tern` executable: dispatches to the subcommand named by the first word.
// Tested by the cases under tests/cases/ (run through `tern test`).
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

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
    "  replay FILE... --input EVENTS.jsonl [--time-field ts] [--lateness 0ms]\n"
    "                [--dead-letter FILE] [--late-output FILE] [--open-end]\n"
    "                                alerts as JSON Lines on stdout\n"
    "  test DIR... [--rewrite]       run recorded-stream cases\n"
    "  run [--config tern.toml]      the daemon: Kafka in, alerts out\n"
    "  kafka-mock [--brokers N] [--topic NAME[:PARTITIONS]]...\n"
    "                                an embedded Kafka cluster for demos and tests\n"
    "  demo                          embedded broker + daemon + the sample stream\n"
    "\n"
    "`tern <command> --help` describes one command.\n";

struct Command {
  const char* name;
  int (*run)(std::span<const std::string>);
};

constexpr Command kCommands[] = {
    {"check", CheckCommand}, {"explain", ExplainCommand}, {"replay", ReplayCommand},
    {"test", TestCommand},   {"run", RunCommand},         {"kafka-mock", KafkaMockCommand},
    {"demo", DemoCommand},
};

}  // namespace

int UsageError(const char* command, const std::string& message) {
  std::fprintf(stderr, "tern %s: %s\ntry 'tern %s --help'\n", command, message.c_str(), command);
  return kExitUsage;
}

}  // namespace tern::cli

int main(int argc, char** argv) {
  using namespace tern::cli;
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return kExitUsage;
  }
  std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  for (const Command& c : kCommands) {
    if (command == c.name) {
      int status = c.run(args);
      std::fflush(stdout);
      return status;
    }
  }
  std::fprintf(stderr, "tern: unknown command '%s'\ntry 'tern --help'\n", command.c_str());
  return kExitUsage;
}
