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
// Tested by CTest latency_smoke (a 1 s run); figures come from bench runs only.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
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
    "                    [--key-field F]\n"
    "  --key-field: the daemon's input.key.field (default k, the pattern's key: the pattern\n"
    "               reads the input partition directly); --key-field '' sends every event\n"
    "               through a repartition topic (one hop more, docs/kafka.md). Only one\n"
    "               input partition is keyed by k: with --partitions > 1 use ''\n"
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
    else return Fail("unknown option " + std::string(a) + "\n" + kUsage);
  }
  if (tern.empty() || rate <= 0 || seconds <= 0) return Fail(kUsage);
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
  {
    std::ofstream p(dir + "/probe.tern");
    p << "pattern probe {\n  key k\n  begin hit where probe == true\n  emit { sent = sent_us }\n}\n";
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
      << "[metrics]\naddress = \"\"\n[log]\nlevel = \"warn\"\n";
  }
  const pid_t daemon = fork();
  if (daemon == 0) {
    execl(tern.c_str(), tern.c_str(), "run", "--config", (dir + "/tern.toml").c_str(), nullptr);
    std::perror("exec tern");
    _exit(127);
  }

  // The alert reader.
  std::mutex mu;
  std::vector<double> end_to_end_ms, inside_ms;
  std::vector<std::string> dump_lines;
  std::atomic<bool> stop{false}, ready{false};
  std::atomic<uint64_t> alerts{0};
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
        if (sent <= 0) {  // a warm-up alert
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
    (void)out.Produce("lat.events", {}, "{\"ts\":1,\"k\":\"w\",\"probe\":true,\"sent_us\":0}", {}, 0, 0);
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
           "\",\"probe\":" + (probe ? "true" : "false") + ",\"sent_us\":" + std::to_string(NowUs()) + "}";
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
              "daemon_core=%.3f mock_core=%.3f bench_core=%.3f daemon_status=%d\n",
              rate, linger_ms.c_str(), got, static_cast<unsigned long long>(probes), Percentile(end_to_end_ms, 0.5),
              Percentile(end_to_end_ms, 0.99), Percentile(end_to_end_ms, 0.999), Percentile(inside_ms, 0.5),
              Percentile(inside_ms, 0.99), cpu, cpu > 0 ? static_cast<double>(total) / cpu : 0.0,
              cpu / wall, mock_cpu / wall, self_cpu / wall, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  std::system(("rm -rf " + dir).c_str());
  return got == probes && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
