// `tern run [--config tern.toml]`: the Kafka daemon (connectors/daemon.h), with
// SIGTERM/SIGINT for a graceful stop and SIGHUP for a pattern reload.
// Tested by tests/daemon/ (CTest daemon_*).
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include <spdlog/spdlog.h>

#include "base/output_file.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/patterns.h"
#include "connectors/config.h"
#include "connectors/daemon.h"
#include "connectors/logging.h"

namespace tern::cli {

namespace {

constexpr char kRunUsage[] =
    "usage: tern run [--config tern.toml]\n"
    "\n"
    "Consumes the input topics as a consumer group, matches the patterns, and\n"
    "writes one message per alert to the alerts topic (or the pattern's `to`).\n"
    "Malformed records go to the dead-letter topic, late events to the late topic.\n"
    "Offsets are committed only once the alerts they led to are acknowledged and\n"
    "no live partial match needs them (at-least-once; alert ids are deterministic).\n"
    "Without --config every option has its default (docs/CONFIGURATION.md);\n"
    "TERN_KAFKA_BROKERS overrides kafka.brokers.\n"
    "\n"
    "Signals: SIGTERM/SIGINT stop consuming, deliver in-flight alerts, commit, and\n"
    "exit 0. SIGHUP reloads the pattern files: unchanged patterns keep their partial\n"
    "matches; a file with errors is rejected and the running set keeps running.\n"
    "Exit status: 0 after a signal, 1 on a start-up or fatal Kafka error, 2 for a bad\n"
    "command line or configuration.\n"
    "\n"
    "Options of tern.toml:\n";

constexpr OptionSpec kRunOptions[] = {{"--config", true}};

}  // namespace

int RunCommand(std::span<const std::string> words) {
  Args args;
  std::string error;
  if (!args.Parse(words, kRunOptions, &error)) return UsageError("run", error);
  if (args.help()) {
    Stdout().Write(kRunUsage);
    Stdout().Write(connectors::ConfigHelp());
    return kExitOk;
  }
  if (!args.positional().empty()) return UsageError("run", "unexpected argument '" + args.positional()[0] + "'");

  connectors::DaemonConfig config;
  std::unique_ptr<SourceFile> config_file;
  DiagnosticSink sink;
  std::string base_dir;
  if (args.Has("--config")) {
    const std::string path = args.Get("--config", "");
    base_dir = std::filesystem::path(path).parent_path().string();
    if (!connectors::LoadConfig(path, &config_file, &config, &sink)) {
      std::fputs(RenderAll(sink.diagnostics()).c_str(), stderr);
      return kExitUsage;
    }
  } else {
    config = connectors::DefaultConfig();
    if (!connectors::ExpandPatternFiles("", &config, &sink)) {
      std::fputs(RenderAll(sink.diagnostics()).c_str(), stderr);
      return kExitUsage;
    }
  }
  std::vector<std::string> overrides = connectors::ApplyEnvironment(&config);
  connectors::SetUpLogging(config.log_level, config.log_format);
  for (const std::string& line : overrides) spdlog::info("{}", line);

  // Block the signals before librdkafka starts its threads (they inherit the mask);
  // one thread takes them with sigwait and raises the daemon's flags.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGUSR2);  // wakes the signal thread at exit
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  connectors::DaemonOptions options;
  options.config = config;
  options.load_patterns = LoadProgramFiles;
  options.expand_patterns = [base_dir](connectors::DaemonConfig* c, std::string* errors) {
    DiagnosticSink expand_sink;
    if (connectors::ExpandPatternFiles(base_dir, c, &expand_sink)) return true;
    *errors = RenderAll(expand_sink.diagnostics());
    return false;
  };
  std::unique_ptr<connectors::Daemon> daemon = connectors::Daemon::Create(std::move(options), &error);
  if (!daemon) {
    spdlog::critical("cannot start:\n{}", error);
    return kExitFailed;
  }
  if (daemon->metrics_port() != 0) {
    std::string host = config.metrics_address.substr(0, config.metrics_address.rfind(':'));
    spdlog::info("metrics on http://{}:{}/metrics", host, daemon->metrics_port());
  }

  std::thread signal_thread([&daemon, &signals] {
    while (true) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) continue;
      if (sig == SIGHUP) {
        spdlog::info("SIGHUP: reloading the pattern files");
        daemon->RequestReload();
        continue;
      }
      if (sig == SIGUSR2) return;  // Run() has returned
      spdlog::info("{}: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
      daemon->RequestStop();
    }
  });
  const int status = daemon->Run();
  pthread_kill(signal_thread.native_handle(), SIGUSR2);
  signal_thread.join();
  return status;
}

}  // namespace tern::cli
