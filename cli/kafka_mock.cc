// `tern kafka-mock [--brokers N] [--topic NAME[:PARTITIONS]]...`: librdkafka's
// mock Kafka cluster in the foreground, for demos and tests, until SIGINT/SIGTERM.
// Tested by tests/kafka_mock_test.py (CTest kafka_mock_cli), tests/write_errors_test.py
// (answers that cannot be written) and by hand with kcat.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/output_file.h"
#include "base/printable.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "connectors/logging.h"
#include "connectors/mock_cluster.h"

namespace tern::cli {

namespace {

constexpr char kKafkaMockUsage[] =
    "usage: tern kafka-mock [--brokers N] [--topic NAME[:PARTITIONS]]...\n"
    "\n"
    "Starts an in-process mock Kafka cluster (librdkafka's) and keeps it up until\n"
    "SIGINT or SIGTERM. The first line on stdout is `bootstrap HOST:PORT[,...]`,\n"
    "the value for bootstrap.servers (kcat -b). Each broker listens on a port the\n"
    "OS picks: librdkafka 2.0.2 cannot bind a chosen one. Nothing is persisted.\n"
    "\n"
    "  --brokers N                 number of brokers (default 1)\n"
    "  --topic NAME[:PARTITIONS]   create a topic (default 1 partition); repeatable.\n"
    "                              Other topics are auto-created with 4 partitions.\n"
    "Commands on standard input, one per line, for tests (each answered on stdout\n"
    "with `ok COMMAND` or `error COMMAND: why`):\n"
    "  down [BROKER]                 disconnect a broker (default: all) until `up`\n"
    "  up [BROKER]                   let it accept connections again\n"
    "  leader TOPIC PARTITION BROKER the partition's leader becomes BROKER\n"
    "  coordinator GROUP BROKER      the consumer group's coordinator becomes BROKER\n"
    "  errors API CODE [COUNT]       the next COUNT (default 1) requests of API\n"
    "                                (produce, fetch, commit, metadata, heartbeat,\n"
    "                                joingroup, syncgroup) fail with Kafka error CODE\n"
    "Exit status: 0 after a signal, 1 if the cluster cannot start, 2 for a bad\n"
    "command line.\n";

constexpr OptionSpec kKafkaMockOptions[] = {{"--brokers", true}, {"--topic", true}};

// A whole decimal number in [1, 10000].
bool ParseCount(const std::string& text, int* value) {
  if (text.empty() || text.size() > 5) return false;
  int n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  if (n < 1 || n > 10000) return false;
  *value = n;
  return true;
}

// Runs one control command against the cluster; returns "" or the reason it failed.
std::string Control(connectors::MockCluster& mock, const std::string& line) {
  std::istringstream in(line);
  std::string verb;
  in >> verb;
  if (verb == "down" || verb == "up") {
    int32_t broker = -1;
    if (!(in >> broker)) broker = -1;
    connectors::Status s = verb == "down" ? mock.SetBrokerDown(broker) : mock.SetBrokerUp(broker);
    return s.ok() ? "" : s.message();
  }
  if (verb == "leader") {
    std::string topic;
    int32_t partition = 0, broker = 0;
    if (!(in >> topic >> partition >> broker)) return "usage: leader TOPIC PARTITION BROKER";
    connectors::Status s = mock.SetPartitionLeader(topic, partition, broker);
    return s.ok() ? "" : s.message();
  }
  if (verb == "coordinator") {
    std::string group;
    int32_t broker = 0;
    if (!(in >> group >> broker)) return "usage: coordinator GROUP BROKER";
    connectors::Status s = mock.SetGroupCoordinator(group, broker);
    return s.ok() ? "" : s.message();
  }
  if (verb == "errors") {
    std::string api_name;
    int32_t code = 0;
    int count = 1;
    if (!(in >> api_name >> code)) return "usage: errors API CODE [COUNT]";
    if (!(in >> count)) count = 1;
    static const std::pair<const char*, connectors::KafkaApi> kApis[] = {
        {"produce", connectors::KafkaApi::kProduce},     {"fetch", connectors::KafkaApi::kFetch},
        {"commit", connectors::KafkaApi::kOffsetCommit}, {"metadata", connectors::KafkaApi::kMetadata},
        {"heartbeat", connectors::KafkaApi::kHeartbeat}, {"joingroup", connectors::KafkaApi::kJoinGroup},
        {"syncgroup", connectors::KafkaApi::kSyncGroup},
    };
    for (const auto& [name, api] : kApis) {
      if (api_name != name) continue;
      std::vector<int32_t> codes(static_cast<size_t>(std::max(count, 0)), code);
      mock.PushRequestErrors(api, codes);
      return "";
    }
    return "unknown API '" + api_name + "'";
  }
  return "unknown command '" + verb + "'";
}

struct TopicSpec {
  std::string name;
  int partitions = 1;
};

}  // namespace

int KafkaMockCommand(std::span<const std::string> words) {
  Args args;
  std::string error;
  if (!args.Parse(words, kKafkaMockOptions, &error)) return UsageError("kafka-mock", error);
  if (args.help()) {
    Stdout().Write(kKafkaMockUsage);
    return kExitOk;
  }
  if (!args.positional().empty()) {
    return UsageError("kafka-mock", "unexpected argument '" + args.positional()[0] + "'");
  }
  int brokers = 1;
  if (args.Has("--brokers") && !ParseCount(args.Get("--brokers", ""), &brokers)) {
    return UsageError("kafka-mock", "--brokers needs a number from 1 to 10000");
  }
  std::vector<TopicSpec> topics;
  for (const std::string& spec : args.GetAll("--topic")) {
    TopicSpec topic;
    size_t colon = spec.rfind(':');
    topic.name = spec.substr(0, colon);
    if (colon != std::string::npos && !ParseCount(spec.substr(colon + 1), &topic.partitions)) {
      return UsageError("kafka-mock", "bad partition count in --topic '" + spec + "'");
    }
    if (topic.name.empty()) return UsageError("kafka-mock", "--topic needs a name");
    topics.push_back(std::move(topic));
  }

  // Block the stop signals before librdkafka starts its threads (they inherit
  // the mask), so only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // librdkafka's lines (the mock's errors) as text on stderr: stdout carries the
  // bootstrap line and the answers to commands.
  connectors::SetUpLogging(connectors::LogLevel::kInfo, connectors::LogFormat::kText);
  auto mock = connectors::MockCluster::Start(brokers);
  if (!mock.ok()) {
    std::fprintf(stderr, "tern kafka-mock: %s\n", mock.status().message().c_str());
    return kExitFailed;
  }
  std::string created;
  for (const TopicSpec& topic : topics) {
    connectors::Status status = (*mock)->CreateTopic(topic.name, topic.partitions);
    if (!status.ok()) {
      std::fprintf(stderr, "tern kafka-mock: %s\n", status.message().c_str());
      return kExitFailed;
    }
    created += (created.empty() ? "" : ", ") + topic.name + " (" +
               std::to_string(topic.partitions) + " partition" +
               (topic.partitions == 1 ? ")" : "s)");
  }
  Stdout().Write("bootstrap " + (*mock)->bootstrap_servers() + "\n");
  if (!Stdout().Flush()) return kExitFailed;  // nobody can learn the address; main() says why
  std::fprintf(stderr, "tern kafka-mock: %d broker%s at %s; topics: %s; Ctrl-C stops\n", brokers,
               brokers == 1 ? "" : "s", (*mock)->bootstrap_servers().c_str(),
               created.empty() ? "none (auto-created on use)" : created.c_str());

  // Test control on stdin; the thread ends with the process. An answer that cannot be
  // written is reported at once and makes the exit status 1 (main() checks stdout).
  connectors::MockCluster* cluster = mock.value().get();
  std::thread([cluster] {
    for (std::string line; std::getline(std::cin, line);) {
      if (line.empty()) continue;
      std::string why = Control(*cluster, line);
      const std::string shown = Printable(line);  // the command echoed, control bytes escaped
      Stdout().Write((why.empty() ? "ok " + shown : "error " + shown + ": " + Printable(why)) + "\n");
      if (!Stdout().Flush()) {
        std::string error = Stdout().TakeError();
        if (!error.empty()) std::fprintf(stderr, "tern kafka-mock: %s\n", error.c_str());
      }
    }
  }).detach();

  int signal = 0;
  sigwait(&stop_signals, &signal);
  std::fprintf(stderr, "tern kafka-mock: %s, stopping\n", signal == SIGINT ? "SIGINT" : "SIGTERM");
  return kExitOk;
}

}  // namespace tern::cli
