// The daemon loop.
//
// IMPLEMENTATION
// One thread does everything the engine touches: poll a batch from the consumer,
// parse each message in place (the engine's parser reads the librdkafka buffer),
// push it, hand the alerts to the producer, serve delivery reports, commit. The
// librdkafka threads do the network I/O; the metrics server has its own thread and
// reads only atomics.
//
// Input partitions. Each (topic, Kafka partition) is an engine input partition with
// its own watermark (spec §8). The event's position is the record's identity in the
// log: 8 bits of a hash of the topic name, 16 bits of partition, 40 bits of offset,
// so alert ids (which hash positions) are the same when a restart reads the record
// again, and positions order like offsets within a partition. A partition that has
// sent nothing for `input.idle` (wall-clock time here, at the daemon) stops holding
// back window timers (Engine::MarkIdle) until its next record; 0 turns this off.
//
// At-least-once. Every produced message (alert, dead letter, late copy) gets a
// sequence number; `acked_prefix_` is the first one not yet acknowledged. Per
// partition, `marks` remember the offsets whose processing produced messages (and
// the sequence reached), and so do the oldest events of the partition that each
// alert bound (Alert::bound: once emitted, its partial match is gone from the
// engine). The offset committed for a partition is the smallest of: the next
// offset to read; the smallest marked offset whose messages are not all
// acknowledged; and the position of the oldest event the engine still holds from
// the partition (reorder buffer or a live partial match), so that reading again
// from the committed offset rebuilds every partial match (Engine::OldestLivePositions).
// A crash or a restart therefore re-reads what an unfinished alert depends on: its
// bound events and the record (or the watermark) that completed it; the alerts
// that come out again carry the same ids. A message whose delivery fails for good is
// produced again, from the copy its failed delivery report hands back (librdkafka
// holds every message until its report, so the daemon keeps no copy of its own).
// Commits go out every kCommitIntervalMs and at shutdown.
//
// Latency. Both clients disable Nagle's algorithm (small requests are not held back
// waiting for an ACK). The consumer is polled with a short wait and drained without waiting;
// alerts are produced the moment the engine emits them (linger.ms from the producer
// properties); delivery reports are served every iteration. Each alert carries the
// wall-clock microseconds at which the daemon started handling its event and at
// which the alert was handed to the producer (headers tern-consumed-us /
// tern-produced-us) for the latency bench. Clock reads are kept few: one per record,
// one per polled batch, one per record with alerts, one per producer poll with
// delivery reports.
//
// Health (connectors/health.h). The loop beats a counter per iteration and per record
// and publishes its producer backlog per iteration; a thread of its own checks that a
// broker answers (Consumer::ProbeBrokers); the HTTP thread judges both when a probe asks,
// so a loop stuck inside one record is reported while it is stuck.
#include "connectors/daemon.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <thread>
#include <unordered_map>

#include "base/json_writer.h"
#include "connectors/consumer.h"
#include "connectors/health.h"
#include "connectors/metrics.h"
#include "connectors/metrics_server.h"
#include "connectors/producer.h"
#include "engine/engine.h"
#include "engine/event_parser.h"
#include "engine/line_reader.h"

namespace tern::connectors {

namespace {

constexpr int kPollWaitMs = 5;             // longest consumer wait (a record ends it at once)
constexpr size_t kMaxBatch = 2048;         // messages per poll
constexpr int64_t kCommitIntervalMs = 200;
constexpr int64_t kStatsIntervalMs = 1000;
constexpr int kShutdownFlushMs = 30000;
constexpr int kClusterIdWaitMs = 2000;     // at start, to tell the embedded broker
constexpr int64_t kMaxProbeIntervalMs = 5000;  // broker probe: every brokers timeout / 4, at most
constexpr int64_t kMaxProbeWaitMs = 2000;      // how long one probe waits for an answer
// TestingOnly: with this environment variable set to N > 0, handling a record whose Kafka
// key is kTestingOnlyStallKey sleeps N ms inside the record (a pattern stuck on one
// event), for the liveness tests (tests/daemon/daemon_test.py, scenario stall).
constexpr char kTestingOnlyStallEnv[] = "TERN_TESTING_ONLY_STALL_MS";
constexpr std::string_view kTestingOnlyStallKey = "tern-testing-only-stall";

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

uint64_t TopicHash8(std::string_view topic) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : topic) h = (h ^ c) * 0x100000001b3ull;
  return (h ^ (h >> 32)) & 0xFF;
}

uint64_t Position(uint64_t topic_hash, int32_t partition, int64_t offset) {
  return (topic_hash << 56) | (static_cast<uint64_t>(partition & 0xFFFF) << 40) |
         (static_cast<uint64_t>(offset) & ((uint64_t{1} << 40) - 1));
}

// `v` in decimal, in `buf`.
std::string_view Decimal(int64_t v, char (&buf)[24]) {
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return {buf, static_cast<size_t>(end - buf)};
}

// The Kafka message key of an alert: a string key as its text, anything else
// (numbers, lists of a multi-field key, null) as its JSON.
std::string_view AlertKey(const engine::Alert& a, std::string& scratch) {
  const std::string& k = a.key_json;
  if (k.size() >= 2 && k.front() == '"' && k.find('\\') == std::string::npos) {
    return std::string_view(k).substr(1, k.size() - 2);
  }
  scratch = k;
  return scratch;
}

}  // namespace

struct Daemon::Impl {
  DaemonOptions options;
  std::unique_ptr<engine::Engine> engine;
  std::unique_ptr<engine::EventParser> parser;
  std::unique_ptr<Consumer> consumer;
  std::unique_ptr<Producer> producer;
  MetricsRegistry metrics;
  std::unique_ptr<Health> health;             // always; read by the server's probes
  std::unique_ptr<MetricsServer> server;
  std::unique_ptr<BrokerProbe> broker_probe;  // with the server; stopped before the consumer
  Status fatal;
  size_t assigned = 0;                        // partitions assigned to this member
  int64_t loop_ms = 0;                        // steady ms of the batch or idle check at hand
  int64_t testing_only_stall_ms = 0;          // kTestingOnlyStallEnv; 0 = off

  // ---- metrics
  Counter* events_in = nullptr;
  Counter* alerts_out = nullptr;
  Counter* late = nullptr;
  Counter* malformed = nullptr;
  Counter* reloads = nullptr;
  Counter* reload_failures = nullptr;
  Gauge* live_keys = nullptr;
  Gauge* live_partials = nullptr;
  Gauge* in_flight = nullptr;
  GaugeFamily* lag = nullptr;
  GaugeFamily* pattern_partials = nullptr;
  GaugeFamily* pattern_keys = nullptr;
  // Per loaded program, its series of pattern_partials and pattern_keys; the names they
  // were made for, to drop the series of patterns a reload removed.
  std::vector<std::pair<Gauge*, Gauge*>> pattern_gauges;
  std::vector<std::string> pattern_gauge_names;
  Histogram* end_to_end = nullptr;
  Histogram* inside = nullptr;

  // ---- input partitions
  struct Mark {
    int64_t offset;
    uint64_t seq_end;  // messages produced up to and including this offset's
  };
  struct Partition {
    std::string topic;
    int32_t kafka_partition = 0;
    uint64_t topic_hash = 0;
    uint32_t stream = 0;
    int64_t next_offset = -1;  // after the last processed record; -1 = none yet
    int64_t committed = -1;
    std::deque<Mark> marks;
    int64_t last_seen_ms = 0;  // last record, or the assignment
    bool idle = false;
  };
  std::vector<Partition> partitions;
  std::unordered_map<std::string, uint32_t> partition_ids;  // "topic\0partition"
  std::string id_scratch;
  std::string last_topic;       // PartitionId's last answer, for runs of one partition
  int32_t last_partition = -1;
  uint32_t last_id = 0;
  std::vector<uint64_t> live_positions;  // scratch for commits

  // ---- produced messages
  // librdkafka holds each message until its delivery report, and a failed report
  // hands it back (DeliveryReport::key/value/headers): only a message to produce
  // again is copied here.
  struct Unacked {
    int64_t event_time_us = 0;  // an alert's input record timestamp (0: unknown)
    int64_t produced_ms = 0;    // steady ms of its first Produce (loop_ms), for health
    bool is_alert = false;
    bool acked = false;
  };
  struct Retry {
    uint64_t seq;
    std::string topic, key, value;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  uint64_t next_seq = 0;
  uint64_t acked_prefix = 0;         // every seq below it is acknowledged
  std::deque<Unacked> outstanding;   // outstanding[i]: seq acked_prefix + i
  size_t unacked = 0;                // entries of `outstanding` not acked
  std::vector<Retry> retry;          // failed produces and deliveries, to produce again
  std::vector<Header> header_scratch;
  std::string key_scratch;
  int64_t delivery_now_us = 0;       // NowUs() of the current producer poll, 0: not read yet

  int64_t last_commit_ms = 0;
  int64_t last_stats_ms = 0;

  // ------------------------------------------------------------ setup
  bool Setup(std::string* error);
  bool LoadPatterns(std::string* errors);
  void Reload();

  // ------------------------------------------------------------ the loop
  uint32_t PartitionId(std::string_view topic, int32_t partition);
  // `polled_ms`: steady time the batch was polled.
  void Handle(const Message& m, int64_t polled_ms);
  // The engine's pending alerts to the producer; `completing` is the record whose
  // processing produced them (null for window timers fired by an idle partition).
  void SendAlerts(const Message* completing, int64_t consumed_us);
  // After an alert's Send: holds the commit of every partition that holds one of its
  // bound events at the oldest of them until the alert is acknowledged (the partial
  // match is gone from the engine, so OldestLivePositions no longer holds them).
  void HoldBoundEvents(const engine::Alert& a);
  // Produces one message under a new sequence number.
  void Send(std::string_view topic, std::string_view key, std::string_view value,
            std::span<const Header> headers, bool is_alert, int64_t event_time_us);
  void Produce(uint64_t seq, std::string_view topic, std::string_view key, std::string_view value,
               std::span<const Header> headers);
  void RetryFailed();  // produces again the messages whose delivery failed
  void PollProducer(int timeout_ms);
  void OnDelivery(const DeliveryReport& r);
  void Commit(bool sync);
  void CheckIdle(int64_t now_ms);
  void UpdateStats();
  void BindPatternGauges();  // after the programs changed
  void PublishHealth();      // per loop iteration
};

// ---------------------------------------------------------------- setup

bool Daemon::Impl::LoadPatterns(std::string* errors) {
  std::vector<std::shared_ptr<const nfa::Program>> programs;
  if (!options.load_patterns(options.config.pattern_files, engine->schema(), &programs, errors)) return false;
  if (engine->programs().empty()) {
    engine->AddPrograms(programs);
  } else {
    size_t kept = engine->ReplacePrograms(programs);
    spdlog::info("reload: {} patterns, {} kept their partial matches", programs.size(), kept);
  }
  if (pattern_partials != nullptr) BindPatternGauges();
  return true;
}

void Daemon::Impl::BindPatternGauges() {
  std::vector<std::string> names;
  for (const auto& p : engine->programs()) names.push_back(p->name);
  for (const std::string& old : pattern_gauge_names) {
    if (std::find(names.begin(), names.end(), old) != names.end()) continue;
    pattern_partials->Remove({old});
    pattern_keys->Remove({old});
  }
  pattern_gauges.clear();
  for (size_t p = 0; p < names.size(); ++p) {
    Gauge& partials = pattern_partials->WithLabels({names[p]});
    Gauge& keys = pattern_keys->WithLabels({names[p]});
    const engine::PatternStats ps = engine->pattern_stats(p);
    partials.Set(static_cast<double>(ps.live_runs));
    keys.Set(static_cast<double>(ps.live_keys));
    pattern_gauges.emplace_back(&partials, &keys);
  }
  pattern_gauge_names = std::move(names);
}

bool Daemon::Impl::Setup(std::string* error) {
  const DaemonConfig& c = options.config;
  HealthOptions health_options;
  health_options.stall_timeout_ms = c.stall_timeout_ms;
  health_options.brokers_timeout_ms = c.brokers_timeout_ms;
  health_options.producer_timeout_ms = c.producer_timeout_ms;
  health = std::make_unique<Health>(health_options, SteadyMs());
  if (const char* stall = std::getenv(kTestingOnlyStallEnv)) testing_only_stall_ms = std::atoll(stall);
  if (testing_only_stall_ms > 0) {
    spdlog::warn("{} is set: a record keyed '{}' stalls the loop for {} ms (for tests only)",
                 kTestingOnlyStallEnv, kTestingOnlyStallKey, testing_only_stall_ms);
  }
  engine::Options engine_options;
  engine_options.lateness_ms = c.lateness_ms;
  engine_options.late = c.late_policy == LatePolicy::kDrop ? engine::LatePolicy::kDrop : engine::LatePolicy::kMatch;
  engine_options.max_ahead_ms = c.max_ahead_ms;
  engine = std::make_unique<engine::Engine>(engine_options);
  std::string errors;
  if (!LoadPatterns(&errors)) {
    *error = errors;
    return false;
  }
  parser = std::make_unique<engine::EventParser>(engine->schema(), c.time_field);
  parser->set_max_event_size(c.max_event_size);

  events_in = &metrics.AddCounter("tern_events_total", "Input records consumed (malformed ones included).");
  alerts_out = &metrics.AddCounter("tern_alerts_total", "Alerts acknowledged by the broker.");
  late = &metrics.AddCounter("tern_late_events_total", "Events older than their partition's watermark.");
  malformed = &metrics.AddCounter("tern_malformed_events_total", "Records that were not valid events (dead-lettered).");
  reloads = &metrics.AddCounter("tern_reloads_total", "Pattern reloads applied.");
  reload_failures = &metrics.AddCounter("tern_reload_failures_total", "Pattern reloads rejected (errors in the files).");
  live_keys = &metrics.AddGauge("tern_live_keys", "(pattern, key) pairs holding partial matches.");
  live_partials = &metrics.AddGauge("tern_live_partial_matches", "Partial matches alive.");
  in_flight = &metrics.AddGauge("tern_producer_in_flight", "Messages handed to the producer, not yet acknowledged.");
  lag = &metrics.AddGaugeFamily("tern_consumer_lag", "Records behind the partition's high watermark.", {"topic", "partition"});
  pattern_partials = &metrics.AddGaugeFamily("tern_pattern_partial_matches", "Partial matches alive, per pattern.", {"pattern"});
  pattern_keys = &metrics.AddGaugeFamily("tern_pattern_live_keys", "Keys holding partial matches, per pattern.", {"pattern"});
  end_to_end = &metrics.AddHistogram("tern_end_to_end_latency_seconds",
                                     "Input record timestamp to alert acknowledged by the broker.");
  inside = &metrics.AddHistogram("tern_processing_latency_seconds",
                                 "Record consumed to alert handed to the producer.");
  BindPatternGauges();

  ProducerOptions po;
  po.bootstrap_servers = c.brokers;
  // Nagle's algorithm off on both clients (the configuration may turn it back on).
  po.properties.emplace_back("socket.nagle.disable", "true");
  for (const auto& [k, v] : c.producer_properties) po.properties.emplace_back(k, v);
  po.on_delivery = [this](const DeliveryReport& r) { OnDelivery(r); };
  po.on_error = [this](const Status& s) {
    spdlog::warn("producer: {}", s.message());
    health->NoteProducerError(s.message());
  };
  auto p = Producer::Create(std::move(po));
  if (!p.ok()) {
    *error = "kafka.producer: " + p.status().message();
    return false;
  }
  producer = std::move(p.value());

  ConsumerOptions co;
  co.bootstrap_servers = c.brokers;
  co.group_id = c.group;
  if (c.consumer_properties.count("fetch.wait.max.ms") == 0) {
    // A real broker answers a held fetch as soon as records arrive, so the wait only
    // bounds idle fetching. librdkafka's mock (`tern kafka-mock`) holds it for the
    // whole wait and returns one record batch per partition per fetch: a 5 ms hold
    // leaves a backlog of batches that drains one fetch at a time (docs/kafka.md).
    const bool mock = producer->ClusterId(kClusterIdWaitMs).starts_with("mockCluster");
    co.properties.emplace_back("fetch.wait.max.ms", mock ? "1" : "5");
    if (mock) spdlog::info("the brokers are librdkafka's mock cluster: fetch.wait.max.ms 1");
  }
  co.properties.emplace_back("socket.nagle.disable", "true");
  for (const auto& [k, v] : c.consumer_properties) co.properties.emplace_back(k, v);
  co.on_rebalance = [this](RebalanceKind kind, std::span<const TopicPartition> parts) {
    const char* what = kind == RebalanceKind::kAssigned ? "assigned" : kind == RebalanceKind::kRevoked ? "revoked" : "lost";
    for (const TopicPartition& tp : parts) {
      spdlog::info("partition {}[{}] {}", tp.topic, tp.partition, what);
      // An assigned partition holds back window timers from the start, until its
      // first record or until it has been quiet for input.idle (CheckIdle); so does
      // a revoked one until it is idle.
      if (kind != RebalanceKind::kAssigned) {
        if (assigned > 0) --assigned;
        continue;
      }
      ++assigned;
      const uint32_t id = PartitionId(tp.topic, tp.partition);
      Partition& p = partitions[id];
      if (p.next_offset < 0) {
        p.last_seen_ms = SteadyMs();
        p.idle = false;
        engine->AddPartition(id);
      }
    }
    // Eager assignors revoke everything before each new assignment: the member stays
    // joined through that. A lost assignment means it must join again.
    health->SetAssignment(kind != RebalanceKind::kLost, assigned);
    if (kind == RebalanceKind::kRevoked) Commit(/*sync=*/true);
  };
  co.on_commit = [](const Status& s, std::span<const TopicPartitionOffset>) {
    if (!s.ok()) spdlog::warn("commit: {}", s.message());
  };
  co.on_error = [](const Status& s) { spdlog::warn("consumer: {}", s.message()); };
  auto cons = Consumer::Create(std::move(co));
  if (!cons.ok()) {
    *error = "kafka.consumer: " + cons.status().message();
    return false;
  }
  consumer = std::move(cons.value());
  Status sub = consumer->Subscribe(c.input_topics);
  if (!sub.ok()) {
    *error = "input.topics: " + sub.message();
    return false;
  }

  if (!c.metrics_address.empty()) {
    std::string host, why;
    uint16_t port = 0;
    if (!ParseHostPort(c.metrics_address, &host, &port, &why)) {
      *error = "metrics.address: " + why;
      return false;
    }
    server = std::make_unique<MetricsServer>(&metrics);
    Health* h = health.get();
    server->SetHealthCheck([h](Probe probe) { return h->Evaluate(probe, SteadyMs()); });
    if (!server->Start(host, port, &why)) {
      *error = "metrics.address: " + why;
      return false;
    }
    // Several probes per brokers timeout, so one slow answer does not decide.
    const int64_t interval = std::min(kMaxProbeIntervalMs, std::max<int64_t>(c.brokers_timeout_ms / 4, 1));
    const int wait = static_cast<int>(std::min(interval, kMaxProbeWaitMs));
    Consumer* probed = consumer.get();
    broker_probe = std::make_unique<BrokerProbe>(
        h, [probed, wait](size_t* brokers) { return probed->ProbeBrokers(wait, brokers); }, interval,
        [] { return SteadyMs(); });
  }
  return true;
}

void Daemon::Impl::Reload() {
  std::string errors;
  if (options.expand_patterns && !options.expand_patterns(&options.config, &errors)) {
    reload_failures->Add();
    spdlog::error("reload rejected, the running patterns keep running:\n{}", errors);
    return;
  }
  if (!LoadPatterns(&errors)) {
    reload_failures->Add();
    spdlog::error("reload rejected, the running patterns keep running:\n{}", errors);
    return;
  }
  reloads->Add();
}

// ---------------------------------------------------------------- the loop

uint32_t Daemon::Impl::PartitionId(std::string_view topic, int32_t partition) {
  if (partition == last_partition && topic == last_topic) return last_id;
  last_topic.assign(topic);
  last_partition = partition;
  id_scratch.assign(topic);
  id_scratch.push_back('\0');
  id_scratch.append(std::to_string(partition));
  auto it = partition_ids.find(id_scratch);
  if (it != partition_ids.end()) return last_id = it->second;
  const uint32_t id = static_cast<uint32_t>(partitions.size());
  last_id = id;
  partition_ids.emplace(id_scratch, id);
  Partition p;
  p.topic.assign(topic);
  p.kafka_partition = partition;
  p.topic_hash = TopicHash8(topic);
  p.stream = engine->StreamId(topic);
  partitions.push_back(std::move(p));
  return id;
}

void Daemon::Impl::Send(std::string_view topic, std::string_view key, std::string_view value,
                        std::span<const Header> headers, bool is_alert, int64_t event_time_us) {
  const uint64_t seq = next_seq++;
  outstanding.push_back({event_time_us, loop_ms, is_alert, false});
  ++unacked;
  Produce(seq, topic, key, value, headers);
}

void Daemon::Impl::Produce(uint64_t seq, std::string_view topic, std::string_view key,
                           std::string_view value, std::span<const Header> headers) {
  while (true) {
    Status s = producer->Produce(topic, key, value, headers, seq);
    if (s.ok()) return;
    if (s.code() == Errc::kQueueFull) {
      health->Beat();   // waiting on Kafka is not a stall: readiness reports the producer
      PollProducer(1);  // serve reports so the queue drains
      continue;
    }
    if (s.fatal()) {
      fatal = s;
      return;
    }
    spdlog::warn("produce to {}: {}; will retry", topic, s.message());
    health->NoteProducerError(s.message());
    Retry& r = retry.emplace_back();
    r.seq = seq;
    r.topic.assign(topic);
    r.key.assign(key);
    r.value.assign(value);
    for (const Header& h : headers) r.headers.emplace_back(h.key, h.value);
    return;
  }
}

void Daemon::Impl::PollProducer(int timeout_ms) {
  delivery_now_us = 0;
  producer->Poll(timeout_ms);
}

void Daemon::Impl::OnDelivery(const DeliveryReport& r) {
  if (r.opaque < acked_prefix || r.opaque - acked_prefix >= outstanding.size()) return;
  Unacked& u = outstanding[r.opaque - acked_prefix];
  if (u.acked) return;
  if (!r.status.ok()) {
    spdlog::warn("delivery to {} failed: {}; producing it again", r.topic, r.status.message());
    health->NoteProducerError("delivery to " + std::string(r.topic) + ": " + r.status.message());
    Retry& again = retry.emplace_back();
    again.seq = r.opaque;
    again.topic.assign(r.topic);
    again.key.assign(r.key);
    again.value.assign(r.value);
    for (const Header& h : r.headers) again.headers.emplace_back(h.key, h.value);
    return;
  }
  if (u.is_alert) {
    alerts_out->Add();
    if (u.event_time_us > 0) {
      if (delivery_now_us == 0) delivery_now_us = NowUs();
      end_to_end->Observe(static_cast<double>(delivery_now_us - u.event_time_us) / 1e6);
    }
  }
  u.acked = true;
  --unacked;
  while (!outstanding.empty() && outstanding.front().acked) {
    outstanding.pop_front();
    ++acked_prefix;
  }
}

void Daemon::Impl::Handle(const Message& m, int64_t polled_ms) {
  // When its handling starts: the time the record waited behind its batch-mates is
  // not counted in tern_processing_latency_seconds (it is in end-to-end latency).
  const int64_t consumed_us = NowUs();
  events_in->Add();
  const uint32_t id = PartitionId(m.topic(), m.partition());
  Partition& part = partitions[id];
  part.last_seen_ms = polled_ms;
  part.idle = false;
  const uint64_t seq_before = next_seq;
  const DaemonConfig& c = options.config;
  // A dead letter or late copy: the record as received, with its source in headers.
  char partition_text[24], offset_text[24];
  auto send_copy = [&](std::string_view topic, std::string_view error) {
    Header headers[4] = {{"tern-topic", m.topic()},
                         {"tern-partition", Decimal(m.partition(), partition_text)},
                         {"tern-offset", Decimal(m.offset(), offset_text)},
                         {"tern-error", error}};
    // A record over the size limit goes out as its first bytes: as a whole it may well
    // be over the producer's message.max.bytes too, and be refused again and again.
    std::string_view value = m.value();
    if (value.size() > c.max_event_size) {
      value = value.substr(0, engine::LineReader::kTooLongPrefix);
    }
    Send(topic, m.has_key() ? m.key() : std::string_view(), value,
         std::span<const Header>(headers, error.empty() ? 3 : 4), /*is_alert=*/false, 0);
  };

  health->Beat();
  nfa::StoredEvent* e = engine->NewEvent();
  if (testing_only_stall_ms > 0 && m.has_key() && m.key() == kTestingOnlyStallKey) {
    spdlog::warn("{}: stalling for {} ms", kTestingOnlyStallEnv, testing_only_stall_ms);
    std::this_thread::sleep_for(std::chrono::milliseconds(testing_only_stall_ms));
  }
  std::string error;
  if (!parser->Parse(m.value(), *e, &error) || !engine->CheckTime(id, e->ts(), &error)) {
    engine->Discard(e);
    malformed->Add();
    spdlog::debug("{}[{}]@{}: malformed event: {}", m.topic(), m.partition(), m.offset(), error);
    if (!c.dead_letter_topic.empty()) send_copy(c.dead_letter_topic, error);
  } else {
    e->position = Position(part.topic_hash, m.partition(), m.offset());
    e->offset = static_cast<uint64_t>(m.offset());
    e->partition = id;
    e->stream = part.stream;
    if (engine->Push(e)) {
      late->Add();
      if (!c.late_topic.empty()) send_copy(c.late_topic, {});
    }
    SendAlerts(&m, consumed_us);
  }
  part.next_offset = m.offset() + 1;
  if (next_seq != seq_before) part.marks.push_back({m.offset(), next_seq});
}

void Daemon::Impl::SendAlerts(const Message* completing, int64_t consumed_us) {
  engine::AlertList& alerts = engine->alerts();
  if (alerts.empty()) return;
  const int64_t produced_us = NowUs();
  const int64_t event_ms = completing != nullptr ? completing->timestamp_ms() : 0;
  char consumed_text[24], produced_text[24], event_text[24];
  const std::string_view consumed = Decimal(consumed_us, consumed_text);
  const std::string_view produced = Decimal(produced_us, produced_text);
  const std::string_view event = Decimal(event_ms, event_text);
  for (engine::Alert& a : alerts) {
    Header headers[5] = {{"tern-alert-id", a.id},
                         {"tern-pattern", engine->programs()[a.pattern]->name},
                         {"tern-consumed-us", consumed},
                         {"tern-produced-us", produced},
                         {"tern-event-ms", event}};
    size_t count = 2;
    if (completing != nullptr) {
      count = event_ms > 0 ? 5 : 4;
      inside->Observe(static_cast<double>(produced_us - consumed_us) / 1e6);
    }
    const std::string_view topic = a.to.empty() ? std::string_view(options.config.alerts_topic) : std::string_view(a.to);
    Send(topic, AlertKey(a, key_scratch), a.json, std::span<const Header>(headers, count), /*is_alert=*/true,
         // The record timestamp is the producer's to set: one past 2262 has no microseconds.
         completing != nullptr && event_ms > 0 && event_ms <= INT64_MAX / 1000 ? event_ms * 1000 : 0);
    HoldBoundEvents(a);
  }
  alerts.clear();
}

void Daemon::Impl::HoldBoundEvents(const engine::Alert& a) {
  // One mark per partition, at its oldest bound event (binding order is event-time
  // order, not always offset order). Bound lists are short and almost always from
  // one partition (keyed patterns), so the first partition check ends at once.
  for (size_t i = 0; i < a.bound.size(); ++i) {
    const uint32_t id = a.bound[i].partition;
    bool seen = id >= partitions.size();
    for (size_t j = 0; j < i && !seen; ++j) seen = a.bound[j].partition == id;
    if (seen) continue;
    int64_t oldest = static_cast<int64_t>(a.bound[i].offset);
    for (size_t j = i + 1; j < a.bound.size(); ++j) {
      if (a.bound[j].partition == id) oldest = std::min(oldest, static_cast<int64_t>(a.bound[j].offset));
    }
    partitions[id].marks.push_back({oldest, next_seq});
  }
}

void Daemon::Impl::RetryFailed() {
  if (retry.empty()) return;
  std::vector<Retry> again;
  again.swap(retry);
  for (const Retry& r : again) {
    header_scratch.clear();
    for (const auto& [k, v] : r.headers) header_scratch.push_back({k, v});
    Produce(r.seq, r.topic, r.key, r.value, header_scratch);
  }
}

void Daemon::Impl::CheckIdle(int64_t now_ms) {
  const int64_t idle_after_ms = options.config.idle_ms;
  if (idle_after_ms <= 0) return;  // input.idle = 0: never idle
  for (uint32_t id = 0; id < partitions.size(); ++id) {
    Partition& p = partitions[id];
    if (p.idle || now_ms - p.last_seen_ms < idle_after_ms) continue;
    p.idle = true;
    spdlog::debug("partition {}[{}] idle: no record {} for {} ms; window timers stop waiting for it",
                  p.topic, p.kafka_partition,
                  p.next_offset < 0 ? std::string("since it was assigned") : "after offset " + std::to_string(p.next_offset - 1),
                  now_ms - p.last_seen_ms);
    const uint64_t seq_before = next_seq;
    engine->MarkIdle(id);
    SendAlerts(nullptr, 0);
    // Window timers belong to no input record: hold the partition's commit until they
    // are acknowledged, as if its last record had produced them.
    if (next_seq != seq_before && p.next_offset >= 0) p.marks.push_back({p.next_offset - 1, next_seq});
  }
}

void Daemon::Impl::Commit(bool sync) {
  if (partitions.empty()) return;
  engine->OldestLivePositions(&live_positions);
  std::vector<TopicPartitionOffset> offsets;
  for (uint32_t id = 0; id < partitions.size(); ++id) {
    Partition& p = partitions[id];
    if (p.next_offset < 0) continue;
    while (!p.marks.empty() && p.marks.front().seq_end <= acked_prefix) p.marks.pop_front();
    int64_t safe = p.next_offset;
    // Marks come in sequence order, not offset order (an alert's bound events are
    // older than the record that completed it): the smallest offset of any.
    for (const Mark& mark : p.marks) safe = std::min(safe, mark.offset);
    if (id < live_positions.size() && live_positions[id] != UINT64_MAX) {
      safe = std::min(safe, static_cast<int64_t>(live_positions[id]));
    }
    if (safe <= p.committed) continue;
    p.committed = safe;
    offsets.push_back({p.topic, p.kafka_partition, safe});
  }
  if (offsets.empty()) return;
  Status s = sync ? consumer->Commit(offsets) : consumer->CommitAsync(offsets);
  if (!s.ok()) spdlog::warn("commit: {}", s.message());
}

void Daemon::Impl::PublishHealth() {
  health->Beat();
  health->SetProducerBacklog(unacked, outstanding.empty() ? 0 : outstanding.front().produced_ms);
}

void Daemon::Impl::UpdateStats() {
  const engine::Stats& s = engine->stats();
  live_keys->Set(static_cast<double>(s.live_keys));
  live_partials->Set(static_cast<double>(s.live_runs));
  for (size_t p = 0; p < pattern_gauges.size(); ++p) {
    const engine::PatternStats ps = engine->pattern_stats(p);
    pattern_gauges[p].first->Set(static_cast<double>(ps.live_runs));
    pattern_gauges[p].second->Set(static_cast<double>(ps.live_keys));
  }
  in_flight->Set(static_cast<double>(unacked));
  for (const PartitionLag& l : consumer->Lag()) {
    if (l.lag >= 0) lag->WithLabels({l.topic, std::to_string(l.partition)}).Set(static_cast<double>(l.lag));
  }
}

// ---------------------------------------------------------------- Daemon

Daemon::Daemon() : impl_(std::make_unique<Impl>()) {}
Daemon::~Daemon() = default;

std::unique_ptr<Daemon> Daemon::Create(DaemonOptions options, std::string* error) {
  std::unique_ptr<Daemon> d(new Daemon());
  d->impl_->options = std::move(options);
  if (!d->impl_->Setup(error)) return nullptr;
  return d;
}

uint16_t Daemon::metrics_port() const { return impl_->server ? impl_->server->port() : 0; }

int Daemon::Run() {
  Impl& m = *impl_;
  MessageBatch batch;
  spdlog::info("consuming {} as group '{}' from {}; {} patterns", fmt::join(m.options.config.input_topics, ","),
               m.options.config.group, m.options.config.brokers, m.engine->programs().size());
  m.health->SetPhase(Health::Phase::kRunning);
  while (!stop_.load(std::memory_order_relaxed) && m.fatal.ok()) {
    m.PublishHealth();
    if (reload_.exchange(false)) m.Reload();
    // Delivery reports wait for the next iteration (at most kPollWaitMs): they only
    // move commits, never an alert.
    Status s = m.consumer->Poll(kPollWaitMs, kMaxBatch, &batch);
    if (!s.ok()) {
      m.fatal = s;
      break;
    }
    if (!batch.empty()) {
      const int64_t polled_ms = SteadyMs();  // idleness needs no finer time
      m.loop_ms = polled_ms;
      for (const Message& msg : batch) m.Handle(msg, polled_ms);
    }
    batch.Clear();
    m.PollProducer(0);
    m.RetryFailed();
    const int64_t now = SteadyMs();
    m.loop_ms = now;
    m.CheckIdle(now);
    if (now - m.last_commit_ms >= kCommitIntervalMs) {
      m.last_commit_ms = now;
      m.Commit(/*sync=*/false);
    }
    if (now - m.last_stats_ms >= kStatsIntervalMs) {
      m.last_stats_ms = now;
      m.UpdateStats();
    }
  }
  m.health->SetPhase(Health::Phase::kStopping);
  if (m.broker_probe) m.broker_probe->Stop();  // before the consumer closes
  // Stop consuming; deliver what is in flight (failed deliveries are produced again).
  const int64_t deadline = SteadyMs() + kShutdownFlushMs;
  while (m.unacked > 0 && SteadyMs() < deadline && m.fatal.ok()) {
    m.PublishHealth();
    m.PollProducer(10);
    m.RetryFailed();
  }
  if (m.unacked > 0) spdlog::error("{} messages not delivered at shutdown; their offsets stay uncommitted", m.unacked);
  m.Commit(/*sync=*/true);
  Status closed = m.consumer->Close();
  if (!closed.ok()) spdlog::warn("leaving the group: {}", closed.message());
  if (!m.fatal.ok()) {
    spdlog::critical("fatal Kafka error: {}", m.fatal.message());
    return 1;
  }
  spdlog::info("stopped: {} events, {} alerts", m.events_in->value(), m.alerts_out->value());
  return 0;
}

}  // namespace tern::connectors
