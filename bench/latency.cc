// tern_latency: end-to-end latency and throughput of `tern run` through the
// embedded broker (issue 4). Starts librdkafka's mock cluster in this process,
// starts `tern run` as a child process on it with one single-stage pattern, produces
// events at a fixed rate (every --probe-every'th one completes a match and carries
// its send time), consumes the alerts and reports, per alert:
//   end to end   event handed to this process's producer -> alert read here;
//   inside Tern  record consumed by the daemon -> alert handed to its producer
//                (the daemon's tern-consumed-us / tern-produced-us headers);
// and the daemon's CPU time (from /proc) per event for the throughput figure, plus the
// CPU of the mock's thread and of this process (the mock, the event producer, the
// reader), since on a 2-core machine they compete with the daemon.
// With --state-dir the daemon keeps durable state (issue 15) and the tool reports its
// checkpoints from its /metrics and its debug log: count, bytes, changed keys and the
// loop-thread pause of each collect; --w1 adds W1's pattern beside the probe so that
// there are partial matches to checkpoint (the probe pattern alone keeps none).
// Tested by CTest latency_smoke (a 1 s run); figures come from bench runs only.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "connectors/consumer.h"
#include "connectors/mock_cluster.h"
#include "connectors/producer.h"

namespace {

using tern::connectors::Consumer;
using tern::connectors::ConsumerOptions;
using tern::connectors::MessageBatch;
using tern::connectors::MockCluster;
using tern::connectors::Producer;
using tern::connectors::ProducerOptions;

constexpr const char* kUsage =
    "usage: tern_latency --tern PATH [--rate EVENTS_PER_S] [--seconds S] [--probe-every N]\n"
    "                    [--linger-ms MS] [--keys K] [--dump FILE] [--fetch-wait-ms MS]\n"
    "                    [--daemon-debug CONTEXTS] [--producer-debug CONTEXTS]\n"
    "                    (librdkafka debug contexts: the daemon's consumer, this tool's producer)\n"
    "                    [--brokers ADDR]   (a broker elsewhere instead of an in-process mock)\n"
    "                    [--partitions N] [--mock-nodelay 0|1] [--reader-fetch-wait-ms MS]\n"
    "                    [--daemon-consumer K=V]... [--daemon-producer K=V]... [--producer K=V]...\n"
    "                    [--key-field F] [--w1 0|1] [--state-dir DIR|auto]\n"
    "                    [--checkpoint-interval DUR] [--checkpoints FILE]\n"
    "  --key-field: the daemon's input.key.field (default k, the pattern's key: the pattern\n"
    "               reads the input partition directly); --key-field '' sends every event\n"
    "               through a repartition topic (one hop more, docs/kafka.md). Only one\n"
    "               input partition is keyed by k: with --partitions > 1 use ''\n"
    "  --w1 1: W1's pattern too (a tiny amount, < 2, followed by a large one, > 500, within\n"
    "          10m, keyed by k), on an amount field the events then carry (1 % tiny, 0.5 %\n"
    "          large): partial matches that live for the window (10m of event time = 600k\n"
    "          events), the state that checkpoints write; its alerts go to the alerts topic\n"
    "          too and are counted apart\n"
    "  --state-dir: the daemon's state.dir (durable state, issue 15); auto: a fresh\n"
    "          directory inside the run's temporary one. Then the daemon logs at debug\n"
    "          level to a file there (its warnings are echoed at the end) and serves\n"
    "          /metrics on a free port, and the tool reports the\n"
    "          checkpoints of the measured run (tern_checkpoint* metrics, the log's lines)\n"
    "  --checkpoint-interval: state.checkpoint.interval (default: the daemon's, 5s)\n"
    "  --checkpoints FILE: one line per checkpoint of the measured run: changed keys,\n"
    "          bytes, collect ms (the loop thread's pause), write + changelog ack ms,\n"
    "          the loop thread's CPU ms in the collect\n"
    "  --dump FILE: one line per alert: send time (us), end-to-end ms, inside-Tern ms,\n"
    "               send -> consumed by the daemon ms\n"
    "  --partitions: of the input topic (events go round robin); --mock-nodelay 0: the\n"
    "  mock without TCP_NODELAY; --fetch-wait-ms default: the daemon's own default;\n"
    "  --reader-fetch-wait-ms: the alert reader's (default: --fetch-wait-ms, or 1);\n"
    "  K=V: librdkafka properties for the daemon's consumer or producer, or this tool's\n"
    "  event producer (--daemon-producer linger.ms=V overrides --linger-ms for the daemon;\n"
    "  V=default: the daemon's own)\n"
    "  defaults: --rate 2000 --seconds 10 --probe-every 10 --linger-ms 0 --keys 1000\n"
    "            --fetch-wait-ms 1 --partitions 1 --mock-nodelay 1\n"
    "  Prints the daemon's CPU (events per CPU-second, share of a core) and, with the\n"
    "  in-process mock, the mock thread's and this whole process's share of a core.\n";

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "tern_latency: %s\n", message.c_str());
  return 1;
}

// utime + stime of a process (or of /proc/self/task/TID/stat's thread), in seconds.
double CpuSeconds(const std::string& stat_path) {
  std::ifstream in(stat_path);
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  // Fields after "(comm)": state is field 3; utime 14, stime 15.
  std::vector<std::string> fields;
  size_t at = close + 2;
  while (at < stat.size()) {
    size_t space = stat.find(' ', at);
    if (space == std::string::npos) space = stat.size();
    fields.push_back(stat.substr(at, space - at));
    at = space + 1;
  }
  if (fields.size() < 13) return 0;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  return (std::atof(fields[11].c_str()) + std::atof(fields[12].c_str())) / tick;
}

// CPU seconds of this process's thread named `name` (librdkafka names its threads,
// e.g. "rdk:mock"); 0 if none.
double ThreadCpuSeconds(const std::string& name) {
  double total = 0;
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return 0;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    std::ifstream comm(std::string("/proc/self/task/") + entry->d_name + "/comm");
    std::string thread;
    std::getline(comm, thread);
    if (thread != name) continue;
    total += CpuSeconds(std::string("/proc/self/task/") + entry->d_name + "/stat");
  }
  ::closedir(dir);
  return total;
}

// "k=v" to a TOML line `"k" = "v"`.
std::string TomlProperty(const std::string& kv) {
  const size_t eq = kv.find('=');
  if (eq == std::string::npos) return "";
  return "\"" + kv.substr(0, eq) + "\" = \"" + kv.substr(eq + 1) + "\"\n";
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// A free TCP port on 127.0.0.1 for the daemon's /metrics (free when asked; the daemon
// binds it a moment later).
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

// GET http://127.0.0.1:port/metrics: the body's samples, "name{labels}" -> value.
std::map<std::string, double> ScrapeMetrics(int port) {
  std::map<std::string, double> out;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return out;
  }
  const std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  (void)!::write(fd, request.data(), request.size());
  std::string response;
  char buf[65536];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) response.append(buf, static_cast<size_t>(n));
  ::close(fd);
  const size_t body = response.find("\r\n\r\n");
  std::istringstream in(body == std::string::npos ? "" : response.substr(body + 4));
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    out[line.substr(0, space)] = std::atof(line.c_str() + space + 1);
  }
  return out;
}

// W1's mix of amounts (tern_gen's card transactions): 1 % below 2, 0.5 % above 500,
// chosen by a hash of the event's number so that every run sends the same stream.
int Amount(uint64_t i) {
  uint64_t z = i + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  const uint64_t r = (z ^ (z >> 31)) % 10000;
  if (r < 100) return 1;
  if (r < 150) return 900;
  return 2 + static_cast<int>(r % 498);
}

// A histogram's growth between two scrapes: the count, the sum, how many observations
// exceed `over`, and the smallest bucket bound every observation is at or below (+inf:
// some went past the last bound; 0: no observation).
struct HistogramDelta {
  double count = 0, sum = 0, over = 0, all_below = 0;
};
HistogramDelta DeltaOf(const std::map<std::string, double>& before, const std::map<std::string, double>& after,
                       const std::string& name, double over) {
  HistogramDelta d;
  auto at = [](const std::map<std::string, double>& m, const std::string& k) {
    auto it = m.find(k);
    return it == m.end() ? 0.0 : it->second;
  };
  d.count = at(after, name + "_count") - at(before, name + "_count");
  d.sum = at(after, name + "_sum") - at(before, name + "_sum");
  std::vector<std::pair<double, double>> buckets;  // bound, cumulative delta
  const std::string prefix = name + "_bucket{le=\"";
  for (const auto& [key, value] : after) {
    if (key.rfind(prefix, 0) != 0) continue;
    const std::string le = key.substr(prefix.size(), key.size() - prefix.size() - 2);
    buckets.emplace_back(le == "+Inf" ? HUGE_VAL : std::atof(le.c_str()), value - at(before, key));
  }
  std::sort(buckets.begin(), buckets.end());
  d.all_below = d.count > 0 ? HUGE_VAL : 0;
  for (const auto& [bound, cumulative] : buckets) {
    if (bound <= over) d.over = d.count - cumulative;
    if (d.count > 0 && cumulative >= d.count && bound < d.all_below) d.all_below = bound;
  }
  return d;
}

// The daemon's debug lines of durable checkpoints ("... checkpoint N durable: K changed
// keys, B bytes, collected in C ms, written in W ms") in [from, to) of the file; its
// warnings and errors (the whole log) are echoed to stderr.
struct LoggedCheckpoints {
  std::vector<double> keys, bytes, collect_ms, write_ms, collect_cpu_ms;
};
LoggedCheckpoints ReadDaemonLog(const std::string& path, std::streamoff from, std::streamoff to) {
  LoggedCheckpoints out;
  std::ifstream in(path);
  std::streamoff at = 0;
  for (std::string line; std::getline(in, line); at += static_cast<std::streamoff>(line.size()) + 1) {
    std::istringstream words(line);
    std::string time, level;
    words >> time >> level;
    if (level != "debug" && level != "info" && level != "trace") {
      std::fprintf(stderr, "daemon: %s\n", line.c_str());
    }
    const size_t durable = line.find(" durable: ");
    if (at < from || at >= to || durable == std::string::npos) continue;
    unsigned long long keys = 0, bytes = 0;
    double collect = 0, write = 0;
    if (std::sscanf(line.c_str() + durable,
                    " durable: %llu changed keys, %llu bytes, collected in %lf ms, written in %lf ms", &keys,
                    &bytes, &collect, &write) == 4) {
      out.keys.push_back(static_cast<double>(keys));
      out.bytes.push_back(static_cast<double>(bytes));
      out.collect_ms.push_back(collect);
      out.write_ms.push_back(write);
      double cpu = -1;
      const size_t at_cpu = line.find("; collect CPU ", durable);
      if (at_cpu != std::string::npos) std::sscanf(line.c_str() + at_cpu, "; collect CPU %lf ms", &cpu);
      out.collect_cpu_ms.push_back(cpu);
    }
  }
  return out;
}

int64_t FieldInt(std::string_view json, std::string_view name) {
  std::string key = "\"" + std::string(name) + "\":";
  size_t at = json.find(key);
  if (at == std::string_view::npos) return -1;
  return std::atoll(std::string(json.substr(at + key.size(), 24)).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  std::string tern;
  double rate = 2000, seconds = 10;
  int probe_every = 10, keys = 1000;
  std::string linger_ms = "0";
  std::string dump;
  std::string key_field = "k";  // the daemon's input.key.field
  std::string fetch_wait_ms = "1";
  std::string consumer_debug;  // librdkafka `debug` contexts for the daemon's consumer
  std::string producer_debug;  // and for this tool's event producer
  std::string brokers;         // empty: an in-process mock cluster
  int partitions = 1;
  bool mock_nodelay = true;
  std::string reader_fetch_wait_ms;  // empty: fetch_wait_ms
  std::vector<std::string> daemon_consumer, daemon_producer, event_producer;  // "k=v"
  bool w1 = false;                  // W1's pattern beside the probe
  std::string state_dir;            // the daemon's state.dir; empty: no persistence
  std::string checkpoint_interval;  // state.checkpoint.interval; empty: the daemon's
  std::string checkpoints_file;     // --checkpoints: one line per measured checkpoint
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (i + 1 >= argc) return Fail("missing value for " + std::string(a) + "\n" + kUsage);
    const char* v = argv[++i];
    if (a == "--tern") tern = v;
    else if (a == "--rate") rate = std::atof(v);
    else if (a == "--seconds") seconds = std::atof(v);
    else if (a == "--probe-every") probe_every = std::max(1, std::atoi(v));
    else if (a == "--linger-ms") linger_ms = v;
    else if (a == "--keys") keys = std::max(1, std::atoi(v));
    else if (a == "--dump") dump = v;
    else if (a == "--fetch-wait-ms") fetch_wait_ms = v;
    else if (a == "--daemon-debug") consumer_debug = v;
    else if (a == "--producer-debug") producer_debug = v;
    else if (a == "--brokers") brokers = v;
    else if (a == "--partitions") partitions = std::max(1, std::atoi(v));
    else if (a == "--mock-nodelay") mock_nodelay = std::atoi(v) != 0;
    else if (a == "--reader-fetch-wait-ms") reader_fetch_wait_ms = v;
    else if (a == "--daemon-consumer") daemon_consumer.push_back(v);
    else if (a == "--daemon-producer") daemon_producer.push_back(v);
    else if (a == "--key-field") key_field = v;
    else if (a == "--producer") event_producer.push_back(v);
    else if (a == "--w1") w1 = std::atoi(v) != 0;
    else if (a == "--state-dir") state_dir = v;
    else if (a == "--checkpoint-interval") checkpoint_interval = v;
    else if (a == "--checkpoints") checkpoints_file = v;
    else return Fail("unknown option " + std::string(a) + "\n" + kUsage);
  }
  if (tern.empty() || rate <= 0 || seconds <= 0) return Fail(kUsage);
  if (!checkpoint_interval.empty() && state_dir.empty()) return Fail("--checkpoint-interval needs --state-dir");
  // --fetch-wait-ms default: the daemon's own default (the reader then uses 1).
  if (reader_fetch_wait_ms.empty()) reader_fetch_wait_ms = fetch_wait_ms == "default" ? "1" : fetch_wait_ms;
  for (const auto* list : {&daemon_consumer, &daemon_producer, &event_producer}) {
    for (const std::string& kv : *list) {
      if (kv.find('=') == std::string::npos) return Fail("not K=V: " + kv);
    }
  }

  // The broker: in this process, or (--brokers) one running elsewhere, e.g.
  // `tern kafka-mock --topic lat.events:1 --topic lat.alerts:1`.
  std::unique_ptr<MockCluster> mock;
  std::string bootstrap = brokers;
  if (bootstrap.empty()) {
    auto started = MockCluster::Start(1, mock_nodelay);
    if (!started.ok()) return Fail(started.status().message());
    mock = std::move(started.value());
    bootstrap = mock->bootstrap_servers();
    (void)mock->CreateTopic("lat.events", partitions);
    (void)mock->CreateTopic("lat.alerts", 1);
  }

  // The daemon: one pattern, one alert per probe event.
  char dir_template[] = "/tmp/tern-latency-XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  if (state_dir == "auto") state_dir = dir + "/state";
  const bool persistent = !state_dir.empty();
  const int metrics_port = persistent ? FreePort() : 0;
  const std::string daemon_log = dir + "/daemon.log";
  {
    std::ofstream p(dir + "/probe.tern");
    p << "pattern probe {\n  key k\n  begin hit where probe == true\n  emit { sent = sent_us }\n}\n";
    if (w1) {
      p << "pattern tiny_then_large {\n  key k\n  within 10m\n  begin a where amount < 2\n"
        << "  followed_by b where amount > 500\n}\n";
    }
    std::ofstream c(dir + "/tern.toml");
    c << "[kafka]\nbrokers = \"" << bootstrap << "\"\ngroup = \"lat\"\n"
      << "[kafka.consumer]\n"
      << (fetch_wait_ms == "default" ? "" : "\"fetch.wait.max.ms\" = " + fetch_wait_ms + "\n")
      << "\"session.timeout.ms\" = 6000\n\"heartbeat.interval.ms\" = 500\n"
      << (consumer_debug.empty() ? "" : "\"debug\" = \"" + consumer_debug + "\"\n");
    for (const std::string& kv : daemon_consumer) c << TomlProperty(kv);
    c << "[kafka.producer]\n";
    // --linger-ms sets both producers unless --daemon-producer names linger.ms
    // ("linger.ms=default": the daemon's own default).
    bool daemon_linger = false;
    for (const std::string& kv : daemon_producer) daemon_linger |= kv.rfind("linger.ms=", 0) == 0;
    if (!daemon_linger) c << "\"linger.ms\" = \"" << linger_ms << "\"\n";
    for (const std::string& kv : daemon_producer) {
      if (kv != "linger.ms=default") c << TomlProperty(kv);
    }
    c
      << "[input]\ntopics = [\"lat.events\"]\nkey.field = \"" << key_field << "\"\n"
      << "[output]\nalerts.topic = \"lat.alerts\"\n"
      << "late.topic = \"\"\ndead.letter.topic = \"\"\n[patterns]\nfiles = [\"probe.tern\"]\n"
      << "[metrics]\naddress = \""
      << (persistent ? "127.0.0.1:" + std::to_string(metrics_port) : "") << "\"\n"
      << "[log]\nlevel = \"" << (persistent ? "debug" : "warn") << "\"\n";
    if (persistent) {
      c << "[state]\ndir = \"" << state_dir << "\"\n";
      if (!checkpoint_interval.empty()) c << "checkpoint.interval = \"" << checkpoint_interval << "\"\n";
    }
  }
  const pid_t daemon = fork();
  if (daemon == 0) {
    if (persistent) {  // the debug log (checkpoint lines) to a file; warnings are echoed at the end
      const int log = ::open(daemon_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (log >= 0) ::dup2(log, 2);
    }
    execl(tern.c_str(), tern.c_str(), "run", "--config", (dir + "/tern.toml").c_str(), nullptr);
    std::perror("exec tern");
    _exit(127);
  }

  // The alert reader.
  std::mutex mu;
  std::vector<double> end_to_end_ms, inside_ms;
  std::vector<std::string> dump_lines;
  std::atomic<bool> stop{false}, ready{false};
  std::atomic<uint64_t> alerts{0}, other_alerts{0};  // other: W1's
  std::thread reader([&] {
    ConsumerOptions co;
    co.bootstrap_servers = bootstrap;
    co.group_id = "lat-reader";
    co.properties = {{"fetch.wait.max.ms", reader_fetch_wait_ms}, {"session.timeout.ms", "6000"},
                     {"heartbeat.interval.ms", "500"}, {"socket.nagle.disable", "true"}};
    auto consumer = Consumer::Create(std::move(co));
    if (!consumer.ok()) {
      std::fprintf(stderr, "tern_latency: reader: %s\n", consumer.status().message().c_str());
      return;
    }
    std::vector<std::string> topics = {"lat.alerts"};
    (void)consumer.value()->Subscribe(topics);
    MessageBatch batch;
    while (!stop.load()) {
      (void)consumer.value()->Poll(20, 4096, &batch);
      const int64_t now = NowUs();
      for (const auto& m : batch) {
        ++alerts;
        const int64_t sent = FieldInt(m.value(), "sent");
        auto consumed = m.FindHeader("tern-consumed-us");
        auto produced = m.FindHeader("tern-produced-us");
        if (sent < 0) {  // W1's (--w1): no `sent` field
          ++other_alerts;
          continue;
        }
        if (sent == 0) {  // a warm-up alert
          ready.store(true);
          continue;
        }
        std::lock_guard<std::mutex> lock(mu);
        end_to_end_ms.push_back(static_cast<double>(now - sent) / 1000.0);
        double inside = -1;
        if (consumed && produced) {
          inside = static_cast<double>(std::atoll(std::string(*produced).c_str()) -
                                       std::atoll(std::string(*consumed).c_str())) /
                   1000.0;
          inside_ms.push_back(inside);
        }
        if (!dump.empty()) {
          const int64_t in_at = consumed ? std::atoll(std::string(*consumed).c_str()) : 0;
          dump_lines.push_back(std::to_string(sent) + " " + std::to_string(end_to_end_ms.back()) + " " +
                               std::to_string(inside) + " " + std::to_string(in_at > 0 ? (in_at - sent) / 1000.0 : -1.0));
        }
      }
      batch.Clear();
    }
    (void)consumer.value()->Close();
  });

  ProducerOptions po;
  po.bootstrap_servers = bootstrap;
  po.properties = {{"linger.ms", linger_ms}, {"socket.nagle.disable", "true"}};
  if (!producer_debug.empty()) po.properties.emplace_back("debug", producer_debug);
  for (const std::string& kv : event_producer) {
    po.properties.emplace_back(kv.substr(0, kv.find('=')), kv.substr(kv.find('=') + 1));
  }
  auto producer = Producer::Create(std::move(po));
  if (!producer.ok()) return Fail(producer.status().message());
  Producer& out = *producer.value();

  // Warm-up: probes without a send time until an alert comes back (the groups form).
  const auto warm_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!ready.load() && std::chrono::steady_clock::now() < warm_deadline) {
    (void)out.Produce("lat.events", {},
                      w1 ? "{\"ts\":1,\"k\":\"w\",\"probe\":true,\"amount\":100,\"sent_us\":0}"
                         : "{\"ts\":1,\"k\":\"w\",\"probe\":true,\"sent_us\":0}",
                      {}, 0, 0);
    out.Poll(0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!ready.load()) {
    kill(daemon, SIGTERM);
    waitpid(daemon, nullptr, 0);
    stop.store(true);
    reader.join();
    return Fail("no alert came back within 30 s of starting");
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    end_to_end_ms.clear();
    inside_ms.clear();
  }

  // The checkpoints of the measured run only: the metrics and the log as it starts.
  std::map<std::string, double> metrics_before;
  std::streamoff log_before = 0;
  if (persistent) {
    metrics_before = ScrapeMetrics(metrics_port);
    std::ifstream l(daemon_log, std::ios::ate);
    log_before = l ? static_cast<std::streamoff>(l.tellg()) : 0;
  }
  const uint64_t other_alerts_before = other_alerts.load();

  // The measured run: events at a fixed rate, sent in 1 ms slices.
  const double cpu_before = CpuSeconds("/proc/" + std::to_string(daemon) + "/stat");
  const double mock_cpu_before = ThreadCpuSeconds("rdk:mock");
  const double self_cpu_before = CpuSeconds("/proc/self/stat");
  const uint64_t total = static_cast<uint64_t>(rate * seconds);
  const auto t0 = std::chrono::steady_clock::now();
  std::string line;
  int64_t ts = 1000;
  for (uint64_t i = 0; i < total; ++i) {
    const auto due = t0 + std::chrono::nanoseconds(static_cast<int64_t>(static_cast<double>(i) * 1e9 / rate));
    if (std::chrono::steady_clock::now() < due) {
      out.Poll(0);
      std::this_thread::sleep_until(due);
    }
    const bool probe = (i % static_cast<uint64_t>(probe_every)) == 0;
    line = "{\"ts\":" + std::to_string(ts++) + ",\"k\":\"k" + std::to_string(i % static_cast<uint64_t>(keys)) +
           "\",\"probe\":" + (probe ? "true" : "false") +
           (w1 ? ",\"amount\":" + std::to_string(Amount(i)) : std::string()) +
           ",\"sent_us\":" + std::to_string(NowUs()) + "}";
    while (true) {
      auto s = out.Produce("lat.events", {}, line, {}, 0, static_cast<int32_t>(i % static_cast<uint64_t>(partitions)));
      if (s.ok()) break;
      out.Poll(1);
    }
  }
  (void)out.Flush(10000);
  const double send_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const uint64_t probes = (total + static_cast<uint64_t>(probe_every) - 1) / static_cast<uint64_t>(probe_every);
  const auto drain_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < drain_deadline) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (end_to_end_ms.size() >= probes) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double cpu_after = CpuSeconds("/proc/" + std::to_string(daemon) + "/stat");
  const double mock_cpu = ThreadCpuSeconds("rdk:mock") - mock_cpu_before;
  const double self_cpu = CpuSeconds("/proc/self/stat") - self_cpu_before;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::map<std::string, double> metrics_after;
  std::streamoff log_after = 0;  // the checkpoint at shutdown is not the measured run's
  if (persistent) {
    metrics_after = ScrapeMetrics(metrics_port);
    std::ifstream l(daemon_log, std::ios::ate);
    log_after = l ? static_cast<std::streamoff>(l.tellg()) : 0;
  }
  kill(daemon, SIGTERM);
  int status = 0;
  waitpid(daemon, &status, 0);
  stop.store(true);
  reader.join();

  std::lock_guard<std::mutex> lock(mu);
  if (!dump.empty()) {
    std::ofstream d(dump);
    for (const std::string& l : dump_lines) d << l << "\n";
  }
  std::sort(end_to_end_ms.begin(), end_to_end_ms.end());
  std::sort(inside_ms.begin(), inside_ms.end());
  const size_t got = end_to_end_ms.size();
  const double cpu = cpu_after - cpu_before;
  std::printf("rate %.0f ev/s for %.1f s (sent in %.2f s), probe every %d, linger.ms %s, fetch.wait.max.ms %s "
              "(reader %s), %d partition(s), mock TCP_NODELAY %s: %zu/%llu alerts back\n",
              rate, seconds, send_seconds, probe_every, linger_ms.c_str(), fetch_wait_ms.c_str(),
              reader_fetch_wait_ms.c_str(), partitions, mock ? (mock_nodelay ? "on" : "off") : "n/a", got,
              static_cast<unsigned long long>(probes));
  std::printf("end to end ms:  p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n", Percentile(end_to_end_ms, 0.5),
              Percentile(end_to_end_ms, 0.99), Percentile(end_to_end_ms, 0.999),
              end_to_end_ms.empty() ? 0.0 : end_to_end_ms.back());
  std::printf("inside Tern ms: p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n", Percentile(inside_ms, 0.5),
              Percentile(inside_ms, 0.99), Percentile(inside_ms, 0.999), inside_ms.empty() ? 0.0 : inside_ms.back());
  std::printf("daemon CPU %.2f s for %llu events: %.0f events per CPU-second (%.0f%% of a core over %.1f s); "
              "mock thread %.0f%%, this process (mock, event producer, reader) %.0f%%\n", cpu,
              static_cast<unsigned long long>(total), cpu > 0 ? static_cast<double>(total) / cpu : 0.0,
              100 * cpu / wall, wall, 100 * mock_cpu / wall, 100 * self_cpu / wall);
  std::printf("RESULT rate=%.0f linger_ms=%s alerts=%zu probes=%llu e2e_p50_ms=%.3f e2e_p99_ms=%.3f "
              "e2e_p999_ms=%.3f inside_p50_ms=%.3f inside_p99_ms=%.3f cpu_s=%.3f events_per_cpu_s=%.0f "
              "daemon_core=%.3f mock_core=%.3f bench_core=%.3f daemon_status=%d e2e_max_ms=%.3f w1_alerts=%llu\n",
              rate, linger_ms.c_str(), got, static_cast<unsigned long long>(probes), Percentile(end_to_end_ms, 0.5),
              Percentile(end_to_end_ms, 0.99), Percentile(end_to_end_ms, 0.999), Percentile(inside_ms, 0.5),
              Percentile(inside_ms, 0.99), cpu, cpu > 0 ? static_cast<double>(total) / cpu : 0.0,
              cpu / wall, mock_cpu / wall, self_cpu / wall, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
              end_to_end_ms.empty() ? 0.0 : end_to_end_ms.back(),
              static_cast<unsigned long long>(other_alerts.load() - other_alerts_before));
  // Durable state: the checkpoints of the measured run.
  LoggedCheckpoints logged;
  HistogramDelta collect, write;
  double checkpoints = 0, checkpoint_bytes = 0;
  if (persistent) {
    logged = ReadDaemonLog(daemon_log, log_before, log_after);
    if (!checkpoints_file.empty()) {
      std::ofstream f(checkpoints_file);
      for (size_t i = 0; i < logged.keys.size(); ++i) {
        f << logged.keys[i] << " " << logged.bytes[i] << " " << logged.collect_ms[i] << " " << logged.write_ms[i]
          << " " << logged.collect_cpu_ms[i] << "\n";
      }
    }
    auto delta = [&](const std::string& name) {
      return (metrics_after.count(name) ? metrics_after[name] : 0.0) -
             (metrics_before.count(name) ? metrics_before[name] : 0.0);
    };
    checkpoints = delta("tern_checkpoints_total");
    checkpoint_bytes = delta("tern_checkpoint_bytes_total");
    collect = DeltaOf(metrics_before, metrics_after, "tern_checkpoint_collect_seconds", 0.001);
    write = DeltaOf(metrics_before, metrics_after, "tern_checkpoint_seconds", 0.001);
    auto bound = [](double seconds) {  // "<= 0.25 ms", or past the last bucket
      char text[48];
      if (seconds == 0) return std::string("-");
      if (std::isinf(seconds)) return std::string("> the last bucket");
      std::snprintf(text, sizeof text, "<= %g ms", seconds * 1000);
      return std::string(text);
    };
    auto median = [](std::vector<double> v) { return Percentile(v, 0.5); };
    auto max = [](const std::vector<double>& v) { return v.empty() ? 0.0 : *std::max_element(v.begin(), v.end()); };
    std::printf("checkpoints (metrics, measured run): %.0f, %.0f bytes; collect pause (loop thread): mean %.3f ms, "
                "all %s, %.0f over 1 ms; write + changelog ack: mean %.1f ms, all %s\n",
                checkpoints, checkpoint_bytes, collect.count > 0 ? 1000 * collect.sum / collect.count : 0.0,
                bound(collect.all_below).c_str(), collect.over, write.count > 0 ? 1000 * write.sum / write.count : 0.0,
                bound(write.all_below).c_str());
    std::printf("checkpoints (daemon log, measured run): %zu; changed keys median %.0f max %.0f; bytes median %.0f "
                "max %.0f; collect ms median %.3f max %.3f (loop thread CPU in it: median %.3f max %.3f); write ms "
                "median %.1f max %.1f\n",
                logged.keys.size(), median(logged.keys), max(logged.keys), median(logged.bytes), max(logged.bytes),
                median(logged.collect_ms), max(logged.collect_ms), median(logged.collect_cpu_ms),
                max(logged.collect_cpu_ms), median(logged.write_ms), max(logged.write_ms));
    std::printf("RESULT_STATE checkpoints=%.0f ckpt_bytes=%.0f collect_mean_ms=%.4f collect_over_1ms=%.0f "
                "collect_bucket_ms=%.3f write_mean_ms=%.2f logged=%zu keys_med=%.0f keys_max=%.0f "
                "collect_med_ms=%.4f collect_max_ms=%.4f write_med_ms=%.2f write_max_ms=%.2f\n",
                checkpoints, checkpoint_bytes, collect.count > 0 ? 1000 * collect.sum / collect.count : 0.0,
                collect.over, std::isinf(collect.all_below) ? -1.0 : 1000 * collect.all_below,
                write.count > 0 ? 1000 * write.sum / write.count : 0.0, logged.keys.size(), median(logged.keys),
                max(logged.keys), median(logged.collect_ms), max(logged.collect_ms), median(logged.write_ms),
                max(logged.write_ms));
  }
  std::system(("rm -rf " + dir).c_str());
  return got == probes && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
