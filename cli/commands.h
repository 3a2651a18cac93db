// The subcommands of `tern`, one per file (check.cc, explain.cc, fmt.cc, replay.cc,
// test_command.cc, run.cc, kafka_mock.cc, demo.cc, state.cc, lsp.cc); main.cc dispatches. Each
// takes the words after the command name, writes standard output through tern::Stdout()
// (main.cc checks it once the command returns) and stderr, and returns the exit status.
// Tested by the cases under tests/cases/ and by hand (`tern <command> --help`).
#pragma once

#include <span>
#include <string>

namespace tern::cli {

int CheckCommand(std::span<const std::string> args);
int ExplainCommand(std::span<const std::string> args);
int FmtCommand(std::span<const std::string> args);
int ReplayCommand(std::span<const std::string> args);
int TestCommand(std::span<const std::string> args);
int RunCommand(std::span<const std::string> args);
int KafkaMockCommand(std::span<const std::string> args);
int DemoCommand(std::span<const std::string> args);
int StateCommand(std::span<const std::string> args);
int LspCommand(std::span<const std::string> args);

// Prints "tern <command>: <message>" and a hint to stderr; returns kExitUsage.
int UsageError(const char* command, const std::string& message);

}  // namespace tern::cli
