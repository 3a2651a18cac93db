// `tern demo`: the embedded broker, the daemon with the shipped patterns, and a
// producer replaying the sample stream at a steady pace, all in one process; the
// alerts are printed as they arrive, with their end-to-end latency.
// Tested by CTest demo_smoke (tern demo --speed 0 against the embedded broker) and
// tests/write_errors_test.py (a report that cannot be written).
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "base/output_file.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/patterns.h"
#include "connectors/config.h"
#include "connectors/consumer.h"
#include "connectors/daemon.h"
#include "connectors/logging.h"
#include "connectors/mock_cluster.h"
#include "connectors/producer.h"

namespace tern::cli {

namespace {

constexpr char kDemoUsage[] =
    "usage: tern demo [--patterns GLOB] [--input EVENTS.jsonl] [--seconds N | --speed X]\n"
    "\n"
    "Starts the embedded Kafka broker, runs the daemon (tern run) on it with the\n"
    "patterns, and produces the recorded events to its input topic, spaced as their\n"
    "event times are but sped up to last about N seconds (default 20; --speed X plays\n"
    "X times faster than recorded, 0 as fast as possible). Prints each alert as it\n"
    "arrives on the alerts topic with its end-to-end latency (event produced to alert\n"
    "received), then a summary. Ctrl-C stops early.\n"
    "\n"
    "  --patterns GLOB   pattern files (default patterns/*.tern)\n"
    "  --input FILE      events, JSON Lines with a ts field (default\n"
    "                    patterns/sample/events.jsonl)\n";

constexpr OptionSpec kDemoOptions[] = {
    {"--patterns", true}, {"--input", true}, {"--seconds", true}, {"--speed", true}};

std::atomic<bool> g_stop{false};

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The ts member of a sample line (epoch ms); -1 when absent.
int64_t LineTime(const std::string& line) {
  size_t at = line.find("\"ts\":");
  if (at == std::string::npos) return -1;
  return std::strtoll(line.c_str() + at + 5, nullptr, 10);
}

// "key":"value" or "key":number from an alert, for the one-line summary.
std::string Member(const std::string& json, const std::string& key) {
  size_t at = json.find("\"" + key + "\":");
  if (at == std::string::npos) return "";
  at += key.size() + 3;
  size_t end = json[at] == '"' ? json.find('"', at + 1) + 1 : json.find_first_of(",}", at);
  return json.substr(at, end - at);
}

}  // namespace

int DemoCommand(std::span<const std::string> words) {
  Args args;
  std::string error;
  if (!args.Parse(words, kDemoOptions, &error)) return UsageError("demo", error);
  if (args.help()) {
    Stdout().Write(kDemoUsage);
    return kExitOk;
  }
  const std::string input = args.Get("--input", "patterns/sample/events.jsonl");
  std::vector<std::string> lines;
  {
    std::ifstream in(input);
    if (!in) return UsageError("demo", "cannot read '" + input + "'");
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) lines.push_back(line);
    }
  }
  if (lines.empty()) return UsageError("demo", "'" + input + "' holds no events");
  const int64_t first_ts = LineTime(lines.front()), last_ts = LineTime(lines.back());
  double speed = 0;
  if (args.Has("--speed")) {
    speed = std::atof(args.Get("--speed", "0").c_str());
  } else {
    double seconds = args.Has("--seconds") ? std::atof(args.Get("--seconds", "20").c_str()) : 20.0;
    if (seconds > 0 && last_ts > first_ts) speed = static_cast<double>(last_ts - first_ts) / 1000.0 / seconds;
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  connectors::SetUpLogging(connectors::LogLevel::kWarn, connectors::LogFormat::kText);

  auto mock = connectors::MockCluster::Start(1);
  if (!mock.ok()) {
    std::fprintf(stderr, "tern demo: %s\n", mock.status().message().c_str());
    return kExitFailed;
  }
  const std::string bootstrap = mock.value()->bootstrap_servers();
  for (const char* topic : {"tern.events", "tern.alerts", "tern.late", "tern.dead-letter"}) {
    connectors::Status s = mock.value()->CreateTopic(topic, 1);
    if (!s.ok()) {
      std::fprintf(stderr, "tern demo: %s\n", s.message().c_str());
      return kExitFailed;
    }
  }

  connectors::DaemonConfig config = connectors::DefaultConfig();
  config.brokers = bootstrap;
  config.group = "tern-demo";
  config.metrics_address = "127.0.0.1:0";
  config.pattern_globs = {args.Get("--patterns", "patterns/*.tern")};
  config.consumer_properties["fetch.wait.max.ms"] = "2";
  // The mock makes a re-joining member wait session.timeout.ms - 1 s; heartbeats must
  // come well inside the session timeout (docs/kafka.md).
  config.consumer_properties["session.timeout.ms"] = "6000";
  config.consumer_properties["heartbeat.interval.ms"] = "500";
  config.producer_properties["linger.ms"] = "0";
  DiagnosticSink sink;
  if (!connectors::ExpandPatternFiles("", &config, &sink)) {
    std::fputs(RenderAll(sink.diagnostics()).c_str(), stderr);
    return kExitUsage;
  }
  connectors::DaemonOptions options;
  options.config = config;
  options.load_patterns = LoadProgramFiles;
  auto daemon = connectors::Daemon::Create(std::move(options), &error);
  if (!daemon) {
    std::fprintf(stderr, "tern demo: cannot start the daemon:\n%s\n", error.c_str());
    return kExitFailed;
  }
  Stdout().Print("tern demo: broker %s; daemon on %zu pattern file(s), metrics http://127.0.0.1:%u/metrics\n",
              bootstrap.c_str(), config.pattern_files.size(), daemon->metrics_port());
  Stdout().Print("tern demo: producing %zu events from %s at %.0fx recorded speed\n\n", lines.size(), input.c_str(), speed);
  Stdout().Flush();

  std::thread daemon_thread([&] { daemon->Run(); });
  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig != SIGUSR2) g_stop.store(true);
  });

  // The viewer: a consumer of the alerts topic.
  std::vector<double> latencies_ms;
  std::atomic<size_t> alerts{0};
  std::atomic<bool> producing_done{false};
  std::atomic<int64_t> last_alert_us{0};
  std::atomic<bool> viewer_ready{false};
  const int64_t start_us = NowUs();
  std::thread viewer([&] {
    connectors::ConsumerOptions co;
    co.bootstrap_servers = bootstrap;
    co.group_id = "tern-demo-viewer";
    co.properties = {{"fetch.wait.max.ms", "2"}, {"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
    auto consumer = connectors::Consumer::Create(std::move(co));
    if (!consumer.ok()) {
      std::fprintf(stderr, "tern demo: viewer: %s\n", consumer.status().message().c_str());
      g_stop.store(true);
      return;
    }
    std::vector<std::string> topics = {"tern.alerts"};
    (void)consumer.value()->Subscribe(topics);
    connectors::MessageBatch batch;
    while (!g_stop.load()) {
      (void)consumer.value()->Poll(50, 256, &batch);
      if (!viewer_ready.load() && !consumer.value()->assignment().empty()) viewer_ready.store(true);
      for (const connectors::Message& m : batch) {
        const int64_t now = NowUs();
        std::string json(m.value());
        // From the completing event's Kafka timestamp (set when this process produced
        // it) to now; the alert's own timestamp is when the daemon produced it.
        double latency = -1;
        if (auto sent = m.FindHeader("tern-event-ms")) {
          latency = static_cast<double>(now - std::atoll(std::string(*sent).c_str()) * 1000) / 1000.0;
          latencies_ms.push_back(latency);
        }
        std::string fields;
        if (size_t f = json.find("\"fields\":"); f != std::string::npos) fields = json.substr(f + 9, 70);
        ++alerts;
        last_alert_us.store(now);
        Stdout().Print("[%6.2fs] %-20s %-6s key=%-16s fields=%s  (%.2f ms)\n",
                    static_cast<double>(now - start_us) / 1e6, Member(json, "pattern").c_str(),
                    Member(json, "kind").c_str(), Member(json, "key").c_str(),
                    fields.c_str(), latency);
        Stdout().Flush();
      }
      batch.Clear();
    }
    (void)consumer.value()->Close();
  });

  // The producer: the recorded events, spaced by their event times.
  connectors::ProducerOptions po;
  po.bootstrap_servers = bootstrap;
  po.properties = {{"linger.ms", "0"}};
  auto producer = connectors::Producer::Create(std::move(po));
  if (!producer.ok()) {
    std::fprintf(stderr, "tern demo: producer: %s\n", producer.status().message().c_str());
    g_stop.store(true);
  } else {
    // The embedded broker forms a consumer group in ~3 s; start once the viewer (which
    // joined with the daemon) has its partition, so latencies are not start-up delays.
    Stdout().Write("tern demo: waiting for the consumer groups to form...\n");
    Stdout().Flush();
    for (int i = 0; i < 300 && !viewer_ready.load() && !g_stop.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const auto t0 = std::chrono::steady_clock::now();
    for (const std::string& line : lines) {
      if (g_stop.load()) break;
      if (speed > 0) {
        const double at_s = static_cast<double>(LineTime(line) - first_ts) / 1000.0 / speed;
        std::this_thread::sleep_until(t0 + std::chrono::microseconds(static_cast<int64_t>(at_s * 1e6)));
      }
      connectors::Status s = producer.value()->Produce("tern.events", {}, line, {}, 0, 0);
      if (!s.ok()) std::fprintf(stderr, "tern demo: produce: %s\n", s.message().c_str());
      producer.value()->Poll(0);
    }
    (void)producer.value()->Flush(10000);
  }
  producing_done.store(true);
  // Let the last alerts arrive: stop 2 s after the last one (or after 5 s without any).
  const int64_t done_us = NowUs();
  while (!g_stop.load()) {
    const int64_t now = NowUs(), last = last_alert_us.load();
    if (now - std::max(last, done_us) > 2'000'000) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  g_stop.store(true);
  daemon->RequestStop();
  daemon_thread.join();
  viewer.join();
  pthread_kill(signal_thread.native_handle(), SIGUSR2);
  signal_thread.join();

  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto pct = [&](double p) {
    return latencies_ms.empty() ? 0.0 : latencies_ms[std::min(latencies_ms.size() - 1,
                                                                static_cast<size_t>(p * static_cast<double>(latencies_ms.size())))];
  };
  Stdout().Print("\ntern demo: %zu events, %zu alerts; latency from the completing event's send to its\n"
              "alert read here (ms timestamps): p50 %.1f ms, max %.1f ms\n",
              lines.size(), alerts.load(), pct(0.5), latencies_ms.empty() ? 0.0 : latencies_ms.back());
  return alerts.load() > 0 ? kExitOk : kExitFailed;
}

}  // namespace tern::cli
