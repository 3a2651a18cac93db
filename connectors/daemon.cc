// The daemon loop.
//
// IMPLEMENTATION
// One thread does everything the engines touch: poll a batch from the consumer,
// parse each message in place (the parser reads the librdkafka buffer), push it, hand
// the alerts to the producer, serve delivery reports, commit. The librdkafka threads
// do the network I/O; the metrics server has its own thread and reads only atomics.
//
// State partitions (docs/kafka.md, "Scaling out"). Every Kafka partition the member
// owns runs one engine::Engine of its own, created on assignment and destroyed on
// revocation: a partition's keys, partial matches, held matches and timers live and die
// with it (and the RocksDB issue checkpoints exactly that Engine). The patterns are
// grouped into routes, one per distinct key expression:
//   - the direct route: patterns keyed by `input.key.field` (one input topic): their
//     state partitions are the input partitions themselves;
//   - shuffle routes: every other key expression has a repartition topic. The owner of
//     an input partition produces each event a route's patterns may use (MayConcern)
//     to it, partitioned by the route's key (a pattern without key: partition 0), with
//     the source position and the source's latest event time in headers; the owner of
//     a repartition partition matches them. Every input partition has an Engine (with
//     the direct route's patterns, maybe none): it decides what is malformed or late
//     exactly once, at the source.
// In a repartition partition's Engine, each source partition is an engine input
// partition with its own watermark, carried by the records (Engine::AdvancePartition)
// and by watermark records each source sends to every repartition partition of every
// route when its time moves (kWatermarkIntervalMs) and when it goes idle: the
// repartition partition's watermark is the minimum over its sources, idle ones left
// out, as in Flink. Every source partition of the input topics is declared up front,
// so no window closes before each has spoken or gone idle.
//
// Positions. An event's position (what alert ids hash) is its source record's place
// in the log: 8 bits of a hash of the topic name, 16 bits of partition, 40 bits of
// offset, whichever path it took, so an alert has the same id whoever computed it and
// however often. Its offset (StoredEvent::offset) is where its state partition must be
// read again from to rebuild it: the input offset, or the repartition offset. A record
// produced twice to a repartition topic (the source read again after a crash) is
// dropped by its source position (SourceMarks, shuffle.h), whose marks travel in the
// commit metadata of the repartition partition.
//
// At-least-once. Every produced message (alert, repartitioned event, dead letter, late
// copy) gets a sequence number; `acked_prefix_` is the first one not yet acknowledged.
// Per partition, `marks` remember the offsets whose processing produced messages (and
// the sequence reached), and so do the oldest events of the partition that each alert
// bound (Alert::bound: once emitted, its partial match is gone from the engine). The
// offset committed for a partition is the smallest of: the next offset to read; the
// smallest marked offset whose messages are not all acknowledged; and the offset of
// the oldest event its Engine still holds (reorder buffer or a live partial match), so
// that reading again from the committed offset rebuilds every partial match
// (Engine::OldestLivePositions). A source offset is therefore committed only once the
// records it caused in repartition topics are acknowledged. A crash or a restart
// re-reads what an unfinished alert depends on; the alerts that come out again carry
// the same ids. A message whose delivery fails for good is produced again, from the
// copy its failed delivery report hands back. Commits go out every kCommitIntervalMs,
// on revocation (while the protocol still allows it) and at shutdown, only for owned
// partitions, and never below the offset committed before (read on assignment).
//
// Rebalances. cooperative-sticky by default: only the partitions that move stop; the
// others go on being processed through the rebalance. On revocation: deliver what is
// in flight (bounded), commit, destroy the partition's Engine. On loss: destroy it (a
// commit would be refused). On assignment: a fresh Engine, which rebuilds by reading
// from the committed offset (`/readyz` says so until the partition has caught up with
// where its log ended at assignment).
//
// Latency. Both clients disable Nagle's algorithm. The consumer is polled with a short
// wait and drained without waiting; alerts are produced the moment the engine emits
// them; delivery reports are served every iteration. Each alert carries the wall-clock
// microseconds at which the daemon started handling its event and at which the alert
// was handed to the producer (headers tern-consumed-us / tern-produced-us).
//
// Health (connectors/health.h). The loop beats a counter per iteration and per record
// and publishes its producer backlog per iteration; a thread of its own checks that a
// broker answers (Consumer::ProbeBrokers); the HTTP thread judges both when a probe asks.
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
#include "connectors/admin.h"
#include "connectors/checkpointer.h"
#include "connectors/consumer.h"
#include "connectors/health.h"
#include "connectors/metrics.h"
#include "connectors/metrics_server.h"
#include "connectors/producer.h"
#include "connectors/shuffle.h"
#include "engine/alert_writer.h"
#include "engine/engine.h"
#include "engine/event_parser.h"
#include "engine/line_reader.h"
#include "engine/routing.h"

namespace tern::connectors {

namespace {

constexpr int kPollWaitMs = 5;             // longest consumer wait (a record ends it at once)
constexpr size_t kMaxBatch = 2048;         // messages per poll
constexpr int64_t kCommitIntervalMs = 200;
constexpr int64_t kStatsIntervalMs = 1000;
constexpr int64_t kWatermarkIntervalMs = 5;  // a source's time to its repartition partitions
constexpr int64_t kRebuildCheckMs = 100;
// A partition with this many changed keys is checkpointed before its interval is up: a
// checkpoint is collected on the loop thread, at about 0.4-1 us per changed key, and
// events wait meanwhile (the writing is another thread's). Bounds the pause to a few
// hundred microseconds however busy the keys are, at the price of more, smaller
// checkpoints (each one synced write and changelog round trip, on the writer thread).
// Checked after every record. A key's own state is collected whole: one key holding
// thousands of partial matches can alone take longer (max_partial_matches bounds it).
constexpr size_t kCheckpointChangedKeys = 128;
// Early checkpoints queued per partition: past it, changed keys accumulate until the
// writer catches up (a disk slower than the stream shows as longer pauses).
constexpr int kBusyCheckpointsInFlight = 2;
constexpr int64_t kIdleRetellMs = 5000;       // an idle source says so again
constexpr int kShutdownFlushMs = 30000;
constexpr int kRevokeFlushMs = 5000;       // in-flight messages of a revoked partition
constexpr int kClusterIdWaitMs = 2000;     // at start, to tell the embedded broker
constexpr int kMetadataWaitMs = 2000;      // partition counts (retried while the brokers do not answer)
constexpr int kCommittedWaitMs = 10000;    // committed offsets on assignment
constexpr int64_t kMaxProbeIntervalMs = 5000;  // broker probe: every brokers timeout / 4, at most
constexpr int64_t kMaxProbeWaitMs = 2000;      // how long one probe waits for an answer
constexpr size_t kKeyOwnersSize = size_t{1} << 16;  // direct route: recent key -> partition
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

using engine::SourcePosition;
using engine::TopicHash8;

int64_t SatSub(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_sub_overflow(a, b, &r) ? (b > 0 ? INT64_MIN : INT64_MAX) : r;
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

// The key expression of a program as written, for logs and topic names: "card",
// "card,merchant"; "" for a program without key.
std::string KeyLabel(const nfa::Program& p, const nfa::Schema& schema) {
  std::string label;
  for (uint32_t slot : p.key_slots) {
    if (!label.empty()) label += ',';
    label += schema.path(slot).text;
  }
  return label;
}

}  // namespace

struct Daemon::Impl {
  DaemonOptions options;
  std::shared_ptr<nfa::Schema> schema;
  std::unique_ptr<engine::EventParser> parser;
  std::unique_ptr<Consumer> consumer;
  std::unique_ptr<Producer> producer;
  std::unique_ptr<Admin> admin;  // repartition topics, partition counts
  MetricsRegistry metrics;
  std::unique_ptr<Health> health;             // always; read by the server's probes
  std::unique_ptr<MetricsServer> server;
  std::unique_ptr<BrokerProbe> broker_probe;  // with the server; stopped before the consumer
  Status fatal;
  int64_t loop_ms = 0;                        // steady ms of the batch or idle check at hand
  int64_t testing_only_stall_ms = 0;          // kTestingOnlyStallEnv; 0 = off
  engine::Options engine_options;

  // ---- metrics
  Counter* events_in = nullptr;
  Counter* alerts_out = nullptr;
  Counter* late = nullptr;
  Counter* malformed = nullptr;
  Counter* reloads = nullptr;
  Counter* reload_failures = nullptr;
  Counter* rebalances = nullptr;
  Counter* repartition_out = nullptr;
  Counter* repartition_in = nullptr;
  Counter* repartition_duplicates = nullptr;
  Counter* dropped_partials = nullptr;
  Counter* checkpoints = nullptr;
  Counter* checkpoint_failures = nullptr;
  Counter* checkpoint_bytes = nullptr;
  Counter* dropped_pattern_states = nullptr;
  CounterFamily* restores = nullptr;
  Histogram* checkpoint_seconds = nullptr;
  Histogram* checkpoint_collect_seconds = nullptr;
  Gauge* live_keys = nullptr;
  Gauge* live_partials = nullptr;
  Gauge* in_flight = nullptr;
  GaugeFamily* lag = nullptr;
  GaugeFamily* pattern_partials = nullptr;
  GaugeFamily* pattern_keys = nullptr;
  GaugeFamily* partition_owned = nullptr;
  GaugeFamily* partition_events = nullptr;
  GaugeFamily* partition_watermark = nullptr;
  GaugeFamily* partition_partials = nullptr;
  CounterFamily* key_conflicts = nullptr;
  // Per pattern (all programs, in load order), its series of pattern_partials and
  // pattern_keys; the names they were made for, to drop the series of removed patterns.
  std::vector<std::pair<Gauge*, Gauge*>> pattern_gauges;
  std::vector<std::string> pattern_gauge_names;
  Histogram* end_to_end = nullptr;
  Histogram* inside = nullptr;

  // ---- patterns, grouped by key expression
  struct Route {
    std::vector<uint32_t> key_slots;
    std::string label;  // KeyLabel
    std::vector<std::shared_ptr<const nfa::Program>> programs;
    std::vector<size_t> pattern_index;  // programs[i] is all_programs[pattern_index[i]]
    bool direct = false;
    std::string topic;       // repartition topic (shuffle routes)
    int32_t partitions = 1;  // its partition count
    bool warned_conflict = false;  // direct route: the one key-on-two-partitions warning given
    std::unique_ptr<engine::RelevanceFilter> filter;  // shuffle routes: which events to send
    std::vector<uint32_t> filter_streams;             // by source id: the stream's id in `filter`
  };
  std::vector<std::shared_ptr<const nfa::Program>> all_programs;
  std::vector<Route> routes;
  int direct_route = -1;         // index into routes, or -1
  std::vector<std::string> subscribed;  // input topics, then the repartition topics

  // ---- sources: the input partitions of every input topic (not only the owned ones)
  struct Source {
    std::string topic;
    int32_t partition = 0;
    uint64_t topic_hash = 0;
    std::string name;  // "topic/partition", in commit metadata
  };
  std::vector<Source> sources;
  std::unordered_map<std::string, uint32_t> source_ids;  // "topic\0partition"
  std::string source_scratch;

  // ---- owned partitions (input and repartition)
  struct Mark {
    int64_t offset;
    uint64_t seq_end;  // messages produced up to and including this offset's
  };
  struct Partition {
    std::string topic;
    int32_t kafka_partition = 0;
    uint64_t topic_hash = 0;
    bool repartitioned = false;  // a partition of a repartition topic (else of an input topic)
    int route = -1;            // repartitioned: its route (-1: no pattern uses the topic since a reload)
    uint32_t source = 0;       // input partition: its source id
    uint32_t stream = 0;       // input partition: its stream id (the same in every engine)
    bool owned = false;
    std::unique_ptr<engine::Engine> engine;
    int64_t next_offset = -1;  // after the last processed record; -1 = none yet
    int64_t committed = -1;    // the group's committed offset, as far as this member knows
    std::deque<Mark> marks;
    int64_t last_seen_ms = 0;  // last record, or the assignment
    bool idle = false;
    bool rebuilding = false;     // reading again from the committed offset
    int64_t rebuild_end = -1;    // ... up to this offset (the log's end at assignment); -1: not known yet
    uint64_t events = 0;
    uint64_t dropped_counted = 0;  // engine Stats::dropped_runs already added to the metric
    // input partitions: the source's time, and what its repartition partitions were told
    int64_t max_ts = INT64_MIN;
    int64_t max_ts_record_ms = 0;  // Kafka timestamp of the record that set max_ts
    std::vector<std::vector<int64_t>> told;  // [route][repartition partition]: time sent
    int64_t last_told_ms = 0;
    int64_t last_idle_told_ms = 0;
    // repartition partitions
    SourceMarks source_marks;
    bool marks_from_state = false;  // this assignment's marks came with its restored state
    // durable state (state.dir): its engine is checkpointed (Checkpointer)
    bool persistent = false;
    int64_t checkpointed_offset = -1;  // next_offset at the last checkpoint collected
    int checkpoints_in_flight = 0;
    bool has_durable = false;          // `durable` holds the newest durable checkpoint
    DurableCheckpoint durable;
    uint64_t committed_checkpoint = 0;  // the checkpoint the group's offset belongs to
  };
  std::vector<Partition> partitions;
  std::unordered_map<std::string, uint32_t> partition_ids;  // "topic\0partition"
  std::string id_scratch;
  std::string last_topic;       // PartitionId's last answer, for runs of one partition
  int32_t last_partition = -1;
  uint32_t last_id = 0;
  size_t owned_count = 0;
  std::vector<uint64_t> live_positions;  // scratch for commits
  // Direct route: recent keys and the partition they came from (hash -> source), to tell
  // a key seen on two partitions without keeping every key.
  struct KeyOwner {
    uint64_t hash = 0;
    uint32_t source = UINT32_MAX;
  };
  std::vector<KeyOwner> key_owners;

  // ---- produced messages
  struct Unacked {
    int64_t event_time_us = 0;  // an alert's input record timestamp (0: unknown)
    int64_t produced_ms = 0;    // steady ms of its first Produce (loop_ms), for health
    bool is_alert = false;
    bool acked = false;
  };
  struct Retry {
    uint64_t seq;
    std::string topic, key, value;
    int32_t partition;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  uint64_t next_seq = 0;
  uint64_t acked_prefix = 0;         // every seq below it is acknowledged
  std::deque<Unacked> outstanding;   // outstanding[i]: seq acked_prefix + i
  size_t unacked = 0;                // entries of `outstanding` not acked
  std::vector<Retry> retry;          // failed produces and deliveries, to produce again
  std::vector<Header> header_scratch;
  std::string key_scratch;
  std::string route_key;             // scratch: an event's key under a route
  int64_t delivery_now_us = 0;       // NowUs() of the current producer poll, 0: not read yet
  nfa::StoredEvent scratch_event;    // parse target when no engine takes the record

  // ---- durable state (state.dir)
  std::unique_ptr<Checkpointer> checkpointer;
  std::vector<DurableCheckpoint> durable_scratch;
  int64_t last_checkpoint_ms = 0;

  int64_t last_commit_ms = 0;
  int64_t last_stats_ms = 0;
  int64_t last_watermark_ms = 0;
  int64_t last_rebuild_check_ms = 0;
  bool subscribed_yet = false;
  int64_t next_subscribe_ms = 0;    // Subscribe's next attempt
  int64_t subscribe_failures = 0;

  // ------------------------------------------------------------ setup
  bool Setup(std::string* error);
  bool LoadPatterns(std::string* errors, bool initial);
  bool BuildRoutes(std::string* error);
  bool PrepareTopics(std::string* error);
  void Reload();
  // PrepareTopics, then the subscription; false (logged, retried later) while the
  // brokers do not answer.
  bool Subscribe();
  uint32_t SourceId(std::string_view topic, int32_t partition);

  // ------------------------------------------------------------ rebalances
  void OnRebalance(RebalanceKind kind, std::span<const TopicPartition> parts);
  void Assign(std::span<const TopicPartition> parts);
  void Release(std::span<const TopicPartition> parts, bool lost);
  // What an input partition told each repartition partition: nothing yet (sized for the
  // routes as they are now).
  void ResetTold(Partition& p);
  std::unique_ptr<engine::Engine> NewEngine(int route, bool repartitioned);

  // ------------------------------------------------------------ the loop
  uint32_t PartitionId(std::string_view topic, int32_t partition);
  int RouteOfTopic(std::string_view topic) const;  // -1: an input topic
  // `polled_ms`: steady time the batch was polled.
  void Handle(const Message& m, int64_t polled_ms);
  void HandleInput(const Message& m, Partition& part, int64_t consumed_us);
  void HandleRepartitioned(const Message& m, Partition& part, int64_t consumed_us);
  // Sends the event to the repartition topic of every shuffle route that may use it.
  void Repartition(const Message& m, Partition& part, nfa::StoredEvent& e);
  // Watermark records: each owned input partition's time to every repartition partition
  // not told it yet; idle sources say so.
  void TellWatermarks(int64_t now_ms);
  void SendWatermark(Partition& part, size_t route, int32_t to, bool idle);
  void CheckKeyOwner(const Partition& part, const nfa::StoredEvent& e);
  // The engine's pending alerts to the producer; `completing` is the record whose
  // processing produced them (null for window timers fired by time alone).
  void SendAlerts(Partition& part, const Message* completing, int64_t event_ms, int64_t consumed_us);
  // After an alert's Send: holds the partition's commit at the oldest event it bound
  // until the alert is acknowledged.
  void HoldBoundEvents(Partition& part, const engine::Alert& a);
  void CountDropped(Partition& part);  // the engine's dropped partial matches to the metric
  void Send(std::string_view topic, std::string_view key, std::string_view value,
            std::span<const Header> headers, bool is_alert, int64_t event_time_us,
            int32_t partition = Producer::kAnyPartition);
  void Produce(uint64_t seq, std::string_view topic, std::string_view key, std::string_view value,
               std::span<const Header> headers, int32_t partition);
  void RetryFailed();  // produces again the messages whose delivery failed
  void PollProducer(int timeout_ms);
  void OnDelivery(const DeliveryReport& r);
  // Commits the owned partitions (only `only` when not null).
  Status Commit(bool sync, const std::vector<uint32_t>* only = nullptr);
  void CheckIdle(int64_t now_ms);
  void CheckRebuilt();
  bool PrepareState(std::string* error);  // the checkpointer and the changelog topics
  bool OpenState(Partition& p, uint32_t id, const std::string& metadata);  // false: fatal
  void CheckpointPartition(uint32_t id);
  void CheckpointAll(bool wait);          // every owned persistent partition
  void CheckpointBusy();                  // those with kCheckpointChangedKeys changed keys
  void TakeDurable();
  void UpdateStats();
  void BindPatternGauges();  // after the programs changed
  void PublishHealth();      // per loop iteration
};

// ---------------------------------------------------------------- setup

bool Daemon::Impl::LoadPatterns(std::string* errors, bool initial) {
  std::vector<std::shared_ptr<const nfa::Program>> programs;
  if (!options.load_patterns(options.config.pattern_files, *schema, &programs, errors)) return false;
  all_programs = std::move(programs);
  std::vector<std::string> old_topics = subscribed;
  if (!BuildRoutes(errors)) return false;
  if (initial) return true;
  // Reload: every owned partition's Engine takes its route's new programs (a program
  // whose compiled form is unchanged keeps its partial matches). A repartition
  // partition whose route is gone keeps an Engine with no programs until it is revoked
  // (the subscription below drops its topic).
  size_t kept = 0;
  for (Partition& p : partitions) {
    if (p.repartitioned) p.route = RouteOfTopic(p.topic);
    if (!p.owned) continue;
    const int route = p.repartitioned ? p.route : direct_route;
    std::vector<std::shared_ptr<const nfa::Program>> mine;
    if (route >= 0 && static_cast<size_t>(route) < routes.size()) mine = routes[route].programs;
    kept += p.engine->ReplacePrograms(mine);
  }
  spdlog::info("reload: {} patterns in {} routes; {} (partition, pattern) pairs kept their partial matches",
               all_programs.size(), routes.size(), kept);
  std::string why;
  const bool prepared = PrepareTopics(&why);
  // The routes may have changed: every input partition tells every repartition
  // partition its time again.
  for (Partition& p : partitions) {
    if (p.owned && !p.repartitioned) ResetTold(p);
  }
  if (!prepared) {
    spdlog::error("reload: {}", why);
  } else if (subscribed != old_topics) {
    Status sub = consumer->Subscribe(subscribed);
    if (!sub.ok()) spdlog::error("reload: subscribing to {}: {}", fmt::join(subscribed, ","), sub.message());
  }
  BindPatternGauges();
  return true;
}

// Groups the programs by key expression. The direct route needs one input topic (the
// key field says how *that* topic is partitioned; several topics would need their
// partitions co-assigned, which the shuffle does instead).
bool Daemon::Impl::BuildRoutes(std::string* error) {
  const DaemonConfig& c = options.config;
  std::vector<Route> next;
  int direct = -1;
  for (size_t i = 0; i < all_programs.size(); ++i) {
    const nfa::Program& p = *all_programs[i];
    size_t r = 0;
    while (r < next.size() && next[r].key_slots != p.key_slots) ++r;
    if (r == next.size()) {
      Route& route = next.emplace_back();
      route.key_slots = p.key_slots;
      route.label = KeyLabel(p, *schema);
      route.direct = !c.key_field.empty() && c.input_topics.size() == 1 && p.key_slots.size() == 1 &&
                     route.label == c.key_field;
      if (route.direct) direct = static_cast<int>(r);
      if (!route.direct) route.topic = RepartitionTopic(c.group, route.label);
    }
    next[r].programs.push_back(all_programs[i]);
    next[r].pattern_index.push_back(i);
  }
  // Keep what the running routes learnt (partition counts, the conflict warning).
  for (Route& route : next) {
    for (const Route& old : routes) {
      if (old.key_slots != route.key_slots || old.topic != route.topic) continue;
      route.partitions = old.partitions;
      route.warned_conflict = old.warned_conflict;
    }
  }
  for (Route& route : next) {
    if (!route.direct) route.filter = std::make_unique<engine::RelevanceFilter>(route.programs);
  }
  routes = std::move(next);
  direct_route = direct;
  subscribed = c.input_topics;
  for (const Route& route : routes) {
    if (!route.direct) subscribed.push_back(route.topic);
  }
  (void)error;
  return true;
}

// Learns the input topics' partitions (the sources) and makes sure every repartition
// topic exists, with its partition count.
bool Daemon::Impl::PrepareTopics(std::string* error) {
  int32_t input_partitions = 1;
  for (const std::string& topic : options.config.input_topics) {
    Result<int> count = admin->PartitionCount(topic, kMetadataWaitMs);
    if (!count.ok() && count.status().retriable()) {
      *error = "input topic " + topic + ": " + count.status().message();
      return false;
    }
    if (!count.ok()) {
      // Subscribing waits for it; its partitions become sources as they speak (until
      // then a repartition partition's windows do not wait for them).
      spdlog::warn("input topic {}: {}; its partitions are learnt from its records", topic,
                   count.status().message());
      continue;
    }
    for (int32_t p = 0; p < count.value(); ++p) SourceId(topic, p);
    input_partitions = std::max(input_partitions, static_cast<int32_t>(count.value()));
  }
  for (Route& route : routes) {
    if (route.direct) continue;
    const int32_t configured = options.config.repartition_partitions;
    const int32_t want = route.key_slots.empty() ? 1 : configured > 0 ? configured : input_partitions;
    Status created = admin->CreateTopic(route.topic, want, /*replication=*/-1, kMetadataWaitMs);
    if (!created.ok() && created.code() != Errc::kUnsupported) {
      *error = "repartition topic " + route.topic + ": " + created.message();
      return false;
    }
    Result<int> count = admin->PartitionCount(route.topic, kMetadataWaitMs, /*allow_auto_create=*/true);
    if (!count.ok()) {
      *error = "repartition topic " + route.topic + ": " + count.status().message();
      return false;
    }
    route.partitions = count.value();
    if (!created.ok()) {
      spdlog::info("repartition topic {}: the brokers do not create topics on request ({}); auto-created "
                   "with {} partitions", route.topic, created.message(), route.partitions);
    }
    spdlog::info("patterns keyed by {} ({}) read {} ({} partitions{})",
                 route.label.empty() ? "nothing (global)" : route.label, route.programs.size(), route.topic,
                 route.partitions, route.key_slots.empty() && route.partitions > 1 ? ", partition 0 used" : "");
  }
  if (direct_route >= 0) {
    spdlog::info("patterns keyed by {} ({}) read the input partitions directly (input.key.field)",
                 routes[direct_route].label, routes[direct_route].programs.size());
    key_owners.assign(kKeyOwnersSize, KeyOwner{});
  }
  return PrepareState(error);
}

bool Daemon::Impl::PrepareState(std::string* error) {
  const DaemonConfig& c = options.config;
  if (c.state_dir.empty()) return true;
  if (checkpointer == nullptr) {
    CheckpointerOptions co;
    co.dir = c.state_dir;
    co.bootstrap_servers = c.brokers;
    co.group = c.group;
    // The restore reads a changelog from its start: short fetch waits (the mock holds a
    // fetch for the whole wait).
    co.consumer_properties = {{"socket.nagle.disable", "true"}, {"fetch.wait.max.ms", "10"}};
    for (const auto& [k, v] : c.consumer_properties) {
      if (k != "partition.assignment.strategy") co.consumer_properties.emplace_back(k, v);
    }
    co.producer_properties = {{"socket.nagle.disable", "true"}};
    for (const auto& [k, v] : c.producer_properties) co.producer_properties.emplace_back(k, v);
    co.changelog_prefix = c.changelog_prefix.empty() ? c.group + ".tern.changelog" : c.changelog_prefix;
    Result<std::unique_ptr<Checkpointer>> made = Checkpointer::Create(std::move(co));
    if (!made.ok()) {
      *error = "state: " + made.status().message();
      return false;
    }
    checkpointer = std::move(made.value());
  }
  // One changelog partition per state partition: as many partitions as the topic whose
  // partitions own state.
  auto ensure = [&](const std::string& owner, int32_t partitions) {
    const std::string topic = checkpointer->ChangelogTopic(owner);
    // Compacted (the last version of each key is the state), as Kafka Streams' changelogs;
    // compaction waits an hour after a record is written, so that a committed version a
    // later, not yet committed one shadows is still there for a restore (docs/state.md).
    Status created = admin->CreateTopic(topic, partitions, /*replication=*/-1, kMetadataWaitMs,
                                        {{"cleanup.policy", "compact"}, {"min.compaction.lag.ms", "3600000"}});
    if (!created.ok() && created.code() != Errc::kUnsupported) {
      *error = "changelog topic " + topic + ": " + created.message();
      return false;
    }
    Result<int> count = admin->PartitionCount(topic, kMetadataWaitMs, /*allow_auto_create=*/true);
    if (!count.ok()) {
      *error = "changelog topic " + topic + ": " + count.status().message();
      return false;
    }
    if (count.value() < partitions) {
      *error = "changelog topic " + topic + " has " + std::to_string(count.value()) + " partitions; " + owner +
               " has " + std::to_string(partitions) + ": create it with as many (compacted)";
      return false;
    }
    return true;
  };
  if (direct_route >= 0) {
    for (const std::string& topic : c.input_topics) {
      Result<int> count = admin->PartitionCount(topic, kMetadataWaitMs);
      if (count.ok() && !ensure(topic, count.value())) return false;
    }
  }
  for (const Route& route : routes) {
    if (!route.direct && !ensure(route.topic, route.partitions)) return false;
  }
  return true;
}

namespace {
bool ReparseEvent(void* context, nfa::StoredEvent& event, std::string* error) {
  const std::string payload = event.payload;  // Parse fills the payload from its input
  return static_cast<engine::EventParser*>(context)->Parse(payload, event, error);
}
}  // namespace

bool Daemon::Impl::OpenState(Partition& p, uint32_t id, const std::string& metadata) {
  const DaemonConfig& c = options.config;
  CommittedCheckpoint committed;
  if (!metadata.empty() && !ParseCheckpointMetadata(metadata, &committed)) {
    spdlog::warn("partition {}[{}]: commit metadata names no checkpoint; its state starts empty", p.topic,
                 p.kafka_partition);
  }
  const int route = p.repartitioned ? p.route : direct_route;
  Checkpointer::Opened opened;
  state::Status st = checkpointer->Open(id, p.topic, p.kafka_partition, committed, false, *p.engine, ReparseEvent,
                                        parser.get(), &opened);
  if (!st.ok() && st.code == state::Errc::kCorrupt && c.on_corruption == StateOnCorruption::kChangelog &&
      committed.changelog_offset >= 0) {
    spdlog::error("{}; restoring the partition from its changelog (state.on.corruption = changelog)", st.message);
    p.engine = NewEngine(route, p.repartitioned);
    st = checkpointer->Open(id, p.topic, p.kafka_partition, committed, true, *p.engine, ReparseEvent, parser.get(),
                            &opened);
  }
  if (!st.ok()) {
    if (c.on_corruption == StateOnCorruption::kFail) {
      fatal = Status::Error(Errc::kInvalidConfig, st.message + " (state.on.corruption = fail)");
      return false;
    }
    spdlog::error("{}; the partition starts with no partial matches at the committed offset (state lost)",
                  st.message);
    restores->WithLabels({"lost"}).Add();
    p.engine = NewEngine(route, p.repartitioned);
    committed = CommittedCheckpoint{};  // its checkpoints count from 1 again
    st = checkpointer->Open(id, p.topic, p.kafka_partition, committed, false, *p.engine, ReparseEvent,
                            parser.get(), &opened);
    if (!st.ok()) {
      fatal = Status::Error(Errc::kInvalidConfig, st.message);
      return false;
    }
  }
  p.persistent = true;
  p.committed_checkpoint = committed.checkpoint;
  if (!opened.restored) return true;
  restores->WithLabels({opened.seeded ? "replay" : opened.from_changelog ? "changelog" : "local"}).Add();
  if (opened.seeded) {
    // A state `tern replay --kafka-partition` wrote: the partition is read from its end.
    consumer->StartAt(p.topic, p.kafka_partition, opened.position);
    p.committed = -1;
    spdlog::info("partition {}[{}]: starting from the state tern replay wrote ({} keys, {} partial matches), "
                 "at offset {}", p.topic, p.kafka_partition, opened.report.keys, opened.report.partial_matches,
                 opened.position);
  } else if (opened.position != p.committed && opened.position >= 0) {
    consumer->StartAt(p.topic, p.kafka_partition, opened.position);
  }
  for (const std::string& name : opened.report.dropped_patterns) {
    dropped_pattern_states->Add();
    spdlog::warn("partition {}[{}]: pattern {} changed since checkpoint {}: its partial matches are dropped",
                 p.topic, p.kafka_partition, name, opened.checkpoint);
  }
  spdlog::info("partition {}[{}]: state of checkpoint {} restored from {} in {:.0f} ms: {} keys, {} partial "
               "matches, {} events{}",
               p.topic, p.kafka_partition, opened.checkpoint,
               opened.from_changelog ? "the changelog (" + std::to_string(opened.changelog_records) + " records)"
                                     : std::string("the local store"),
               opened.restore_ms, opened.report.keys, opened.report.partial_matches, opened.report.events,
               opened.position != p.committed ? "; its offset " + std::to_string(opened.position) +
                                                    " differs from the committed " + std::to_string(p.committed)
                                              : std::string());
  if (p.repartitioned) {
    std::string why;
    p.marks_from_state = true;
    if (!p.source_marks.Restore(
            opened.extra, [this](std::string_view topic, int32_t partition) { return SourceId(topic, partition); },
            &why)) {
      spdlog::warn("partition {}[{}]: {}; copies of records will not be recognised", p.topic, p.kafka_partition, why);
    }
  }
  return true;
}

void Daemon::Impl::CheckpointPartition(uint32_t id) {
  Partition& p = partitions[id];
  if (!p.owned || !p.persistent || p.next_offset < 0) return;
  if (p.next_offset == p.checkpointed_offset && !p.engine->HasChanges()) return;
  std::string extra;
  if (p.repartitioned) {
    int64_t at = -1;
    p.source_marks.Checkpoint(p.next_offset);
    p.source_marks.CommitPoint(p.next_offset, [this](uint32_t s) { return sources[s].name; }, &at, &extra);
  }
  checkpointer->Checkpoint(id, *p.engine, p.next_offset, std::move(extra), next_seq);
  p.checkpointed_offset = p.next_offset;
  ++p.checkpoints_in_flight;
}

void Daemon::Impl::CheckpointAll(bool wait) {
  if (checkpointer == nullptr) return;
  for (uint32_t id = 0; id < partitions.size(); ++id) {
    if (partitions[id].checkpoints_in_flight == 0 || wait) CheckpointPartition(id);
  }
  if (wait) checkpointer->Wait();
  TakeDurable();
}

void Daemon::Impl::CheckpointBusy() {
  for (uint32_t id = 0; id < partitions.size(); ++id) {
    Partition& p = partitions[id];
    if (p.owned && p.persistent && p.checkpoints_in_flight < kBusyCheckpointsInFlight &&
        p.engine->ChangedKeys() >= kCheckpointChangedKeys) {
      CheckpointPartition(id);
    }
  }
}

void Daemon::Impl::TakeDurable() {
  if (checkpointer == nullptr) return;
  checkpointer->TakeDurable(&durable_scratch);
  for (DurableCheckpoint& d : durable_scratch) {
    Partition& p = partitions[d.partition];
    if (p.checkpoints_in_flight > 0) --p.checkpoints_in_flight;
    if (!d.status.ok()) {
      checkpoint_failures->Add();
      spdlog::error("{}; the partition's offset stays at its last durable checkpoint", d.status.message);
      continue;
    }
    checkpoints->Add();
    checkpoint_bytes->Add(d.bytes);
    checkpoint_seconds->Observe(d.write_ms / 1000.0);
    checkpoint_collect_seconds->Observe(d.collect_ms / 1000.0);
    spdlog::debug("partition {}[{}]: checkpoint {} durable: {} changed keys, {} bytes, collected in {:.2f} ms, "
                  "written in {:.1f} ms; collect CPU {:.2f} ms", p.topic, p.kafka_partition, d.checkpoint,
                  d.changed_keys, d.bytes, d.collect_ms, d.write_ms, d.collect_cpu_ms);
    if (!p.owned) continue;
    p.durable = std::move(d);
    p.has_durable = true;
  }
  durable_scratch.clear();
}

bool Daemon::Impl::Subscribe() {
  const int64_t now = SteadyMs();
  if (now < next_subscribe_ms) return false;
  std::string why;
  Status sub;
  if (PrepareTopics(&why)) {
    sub = consumer->Subscribe(subscribed);
    if (sub.ok()) {
      subscribed_yet = true;
      return true;
    }
    why = "subscribing to " + fmt::format("{}", fmt::join(subscribed, ",")) + ": " + sub.message();
  }
  // The first attempts, then one line a minute.
  const int64_t n = subscribe_failures++;
  if (n < 3 || n % 60 == 0) spdlog::warn("{}; trying again every second", why);
  next_subscribe_ms = now + 1000;
  return false;
}

uint32_t Daemon::Impl::SourceId(std::string_view topic, int32_t partition) {
  // Per repartitioned record: the lookup reuses a scratch key (no allocation once warm).
  source_scratch.assign(topic);
  source_scratch.push_back('\0');
  char buf[24];
  source_scratch.append(DecimalText(partition, buf));
  auto it = source_ids.find(source_scratch);
  if (it != source_ids.end()) return it->second;
  const uint32_t s = static_cast<uint32_t>(sources.size());
  source_ids.emplace(source_scratch, s);
  Source& src = sources.emplace_back();
  src.topic.assign(topic);
  src.partition = partition;
  src.topic_hash = TopicHash8(topic);
  src.name = src.topic + "/" + std::to_string(partition);
  // Repartition partitions owned now wait for the new source too.
  for (Partition& p : partitions) {
    if (p.owned && p.repartitioned) p.engine->AddPartition(s);
  }
  return s;
}

void Daemon::Impl::BindPatternGauges() {
  std::vector<std::string> names;
  for (const auto& p : all_programs) names.push_back(p->name);
  for (const std::string& old : pattern_gauge_names) {
    if (std::find(names.begin(), names.end(), old) != names.end()) continue;
    pattern_partials->Remove({old});
    pattern_keys->Remove({old});
  }
  pattern_gauges.clear();
  for (const std::string& name : names) {
    pattern_gauges.emplace_back(&pattern_partials->WithLabels({name}), &pattern_keys->WithLabels({name}));
  }
  pattern_gauge_names = std::move(names);
}

std::unique_ptr<engine::Engine> Daemon::Impl::NewEngine(int route, bool repartitioned) {
  engine::Options o = engine_options;
  // A repartition partition's keys get events from every source: one time order.
  o.order_across_partitions = repartitioned;
  auto e = std::make_unique<engine::Engine>(schema, o);
  if (route >= 0) e->AddPrograms(routes[route].programs);
  return e;
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
  engine_options.lateness_ms = c.lateness_ms;
  engine_options.late = c.late_policy == LatePolicy::kDrop ? engine::LatePolicy::kDrop : engine::LatePolicy::kMatch;
  engine_options.max_ahead_ms = c.max_ahead_ms;
  engine_options.max_runs_per_key = static_cast<size_t>(c.max_partial_matches);
  schema = std::make_shared<nfa::Schema>();
  std::string errors;
  if (!LoadPatterns(&errors, /*initial=*/true)) {
    *error = errors;
    return false;
  }
  parser = std::make_unique<engine::EventParser>(*schema, c.time_field);
  parser->set_max_event_size(c.max_event_size);

  events_in = &metrics.AddCounter("tern_events_total", "Input records consumed (malformed ones included).");
  alerts_out = &metrics.AddCounter("tern_alerts_total", "Alerts acknowledged by the broker.");
  late = &metrics.AddCounter("tern_late_events_total", "Events older than their partition's watermark.");
  malformed = &metrics.AddCounter("tern_malformed_events_total", "Records that were not valid events (dead-lettered).");
  reloads = &metrics.AddCounter("tern_reloads_total", "Pattern reloads applied.");
  reload_failures = &metrics.AddCounter("tern_reload_failures_total", "Pattern reloads rejected (errors in the files).");
  rebalances = &metrics.AddCounter("tern_rebalances_total", "Assignments, revocations and losses of partitions.");
  repartition_out = &metrics.AddCounter("tern_repartition_records_out_total",
                                        "Events and watermarks produced to repartition topics.");
  repartition_in = &metrics.AddCounter("tern_repartition_records_in_total",
                                       "Records consumed from repartition topics.");
  repartition_duplicates = &metrics.AddCounter("tern_repartition_duplicates_total",
                                               "Repartitioned events dropped as copies of one already taken.");
  dropped_partials = &metrics.AddCounter("tern_partial_matches_dropped_total",
                                         "Partial matches dropped by state.max.partial.matches.");
  checkpoints = &metrics.AddCounter("tern_checkpoints_total", "State checkpoints written and acknowledged (state.dir).");
  checkpoint_failures = &metrics.AddCounter("tern_checkpoint_failures_total",
                                            "State checkpoints that failed (store or changelog); offsets stay behind.");
  checkpoint_bytes = &metrics.AddCounter("tern_checkpoint_bytes_total", "Bytes of the state checkpoints written.");
  checkpoint_seconds = &metrics.AddHistogram("tern_checkpoint_seconds",
                                             "Time to write a checkpoint and have the changelog acknowledge it.");
  checkpoint_collect_seconds = &metrics.AddHistogram(
      "tern_checkpoint_collect_seconds", "Time the loop thread spends collecting a checkpoint's changes (a pause).");
  dropped_pattern_states = &metrics.AddCounter(
      "tern_state_patterns_dropped_total", "Pattern states dropped on restore because the pattern changed.");
  restores = &metrics.AddCounterFamily("tern_state_restores_total", "Partitions whose state was restored, by source.",
                                       {"from"});
  live_keys = &metrics.AddGauge("tern_live_keys", "(pattern, key) pairs holding partial matches.");
  live_partials = &metrics.AddGauge("tern_live_partial_matches", "Partial matches alive.");
  in_flight = &metrics.AddGauge("tern_producer_in_flight", "Messages handed to the producer, not yet acknowledged.");
  lag = &metrics.AddGaugeFamily("tern_consumer_lag", "Records behind the partition's high watermark.", {"topic", "partition"});
  pattern_partials = &metrics.AddGaugeFamily("tern_pattern_partial_matches", "Partial matches alive, per pattern.", {"pattern"});
  pattern_keys = &metrics.AddGaugeFamily("tern_pattern_live_keys", "Keys holding partial matches, per pattern.", {"pattern"});
  partition_owned = &metrics.AddGaugeFamily("tern_partition_owned", "1 while this member owns the partition.",
                                            {"topic", "partition"});
  partition_events = &metrics.AddGaugeFamily("tern_partition_events", "Records handled since the partition was assigned.",
                                             {"topic", "partition"});
  partition_watermark = &metrics.AddGaugeFamily(
      "tern_partition_watermark_ms", "Input partitions: the latest event time seen (ms).", {"topic", "partition"});
  partition_partials = &metrics.AddGaugeFamily("tern_partition_partial_matches",
                                               "Partial matches alive in the partition's state.", {"topic", "partition"});
  key_conflicts = &metrics.AddCounterFamily(
      "tern_key_partition_conflicts_total",
      "Events whose input.key.field value was seen on another input partition, per pattern.", {"pattern"});
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
  AdminOptions ao;
  ao.bootstrap_servers = c.brokers;
  auto a = Admin::Create(std::move(ao));
  if (!a.ok()) {
    *error = "kafka admin client: " + a.status().message();
    return false;
  }
  admin = std::move(a.value());

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
  // Only the partitions that move stop during a rebalance (docs/kafka.md).
  if (c.consumer_properties.count("partition.assignment.strategy") == 0) {
    co.properties.emplace_back("partition.assignment.strategy", "cooperative-sticky");
  }
  co.properties.emplace_back("socket.nagle.disable", "true");
  for (const auto& [k, v] : c.consumer_properties) co.properties.emplace_back(k, v);
  co.on_rebalance = [this](RebalanceKind kind, std::span<const TopicPartition> parts) { OnRebalance(kind, parts); };
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
  if (!LoadPatterns(&errors, /*initial=*/false)) {
    reload_failures->Add();
    spdlog::error("reload rejected, the running patterns keep running:\n{}", errors);
    return;
  }
  reloads->Add();
}

// ---------------------------------------------------------------- rebalances

void Daemon::Impl::OnRebalance(RebalanceKind kind, std::span<const TopicPartition> parts) {
  rebalances->Add();
  if (kind == RebalanceKind::kAssigned) {
    Assign(parts);
  } else {
    Release(parts, kind == RebalanceKind::kLost);
  }
  // Eager assignors revoke everything before each new assignment: the member stays
  // joined through that. A lost assignment means it must join again.
  health->SetAssignment(kind != RebalanceKind::kLost, owned_count);
}

void Daemon::Impl::Assign(std::span<const TopicPartition> parts) {
  std::vector<TopicPartition> asked(parts.begin(), parts.end());
  Result<std::vector<TopicPartitionOffset>> committed = consumer->Committed(asked, kCommittedWaitMs);
  if (!committed.ok()) {
    spdlog::warn("committed offsets of the assigned partitions: {}; reading from the group's start positions",
                 committed.status().message());
  }
  const int64_t now = SteadyMs();
  for (size_t i = 0; i < parts.size(); ++i) {
    const TopicPartition& tp = parts[i];
    const uint32_t id = PartitionId(tp.topic, tp.partition);
    Partition& p = partitions[id];
    if (p.owned) continue;  // (an eager protocol assigning what it never revoked)
    p.owned = true;
    ++owned_count;
    p.engine = NewEngine(p.repartitioned ? p.route : direct_route, p.repartitioned);
    p.next_offset = -1;
    p.committed = -1;
    p.marks.clear();
    p.last_seen_ms = now;
    p.idle = false;
    p.events = 0;
    p.dropped_counted = 0;
    p.max_ts = INT64_MIN;
    p.max_ts_record_ms = 0;
    ResetTold(p);
    p.last_told_ms = 0;
    p.last_idle_told_ms = 0;
    std::string metadata;
    if (committed.ok()) {
      for (const TopicPartitionOffset& o : committed.value()) {
        if (o.topic != tp.topic || o.partition != tp.partition) continue;
        if (o.offset >= 0) p.committed = o.offset;
        metadata = o.metadata;
      }
    }
    p.persistent = false;
    p.has_durable = false;
    p.checkpointed_offset = -1;
    p.checkpoints_in_flight = 0;
    p.committed_checkpoint = 0;
    p.marks_from_state = false;
    const bool keeps_state = checkpointer != nullptr && (p.repartitioned ? p.route >= 0 : direct_route >= 0);
    if (keeps_state && !OpenState(p, id, metadata)) return;
    if (!p.repartitioned) {
      p.source = SourceId(tp.topic, tp.partition);
      p.stream = p.engine->StreamId(tp.topic);
      // Holds back its window timers from the start, until its first record or until it
      // has been quiet for input.idle (CheckIdle).
      p.engine->AddPartition(0);
    } else {
      for (uint32_t s = 0; s < sources.size(); ++s) p.engine->AddPartition(s);
      std::string why;
      // A restored state brings its marks (OpenState). Else they are those of the commit
      // metadata (a group that ran without state.dir), or none: never the marks of an
      // earlier ownership of the partition, which would drop the records read again as
      // copies (a partition lost before its first commit is read from the start).
      CommittedCheckpoint ignored;
      const std::string_view marks = ParseCheckpointMetadata(metadata, &ignored) ? std::string_view() : metadata;
      if (!p.marks_from_state && !p.source_marks.Restore(
              marks, [this](std::string_view topic, int32_t partition) { return SourceId(topic, partition); },
              &why)) {
        spdlog::warn("partition {}[{}]: {}; records produced twice since that commit will not be recognised",
                     tp.topic, tp.partition, why);
      }
    }
    // Rebuilding until the partition is read up to where its log ends now (known after
    // the first fetch). Nothing committed: nothing to rebuild.
    p.rebuilding = p.committed >= 0;
    p.rebuild_end = -1;
    partition_owned->WithLabels({tp.topic, std::to_string(tp.partition)}).Set(1);
    spdlog::info("partition {}[{}] assigned: {} from offset {}", tp.topic, tp.partition,
                 !p.repartitioned ? "input" : p.route < 0 ? "repartition topic of no pattern now" : "repartitioned by " + (routes[p.route].label.empty() ? std::string("nothing") : routes[p.route].label),
                 p.committed >= 0 ? std::to_string(p.committed) : std::string("the start (nothing committed)"));
  }
  CheckRebuilt();
}

void Daemon::Impl::ResetTold(Partition& p) {
  p.told.assign(routes.size(), {});
  for (size_t r = 0; r < routes.size(); ++r) {
    // A route without key uses partition 0 only.
    p.told[r].assign(routes[r].key_slots.empty() ? 1 : routes[r].partitions, INT64_MIN);
  }
}

void Daemon::Impl::Release(std::span<const TopicPartition> parts, bool lost) {
  std::vector<uint32_t> ids;
  for (const TopicPartition& tp : parts) {
    const uint32_t id = PartitionId(tp.topic, tp.partition);
    if (partitions[id].owned) ids.push_back(id);
  }
  if (!lost && !ids.empty()) {
    // Deliver what these partitions have in flight, so that their commit can pass it.
    const int64_t deadline = SteadyMs() + kRevokeFlushMs;
    while (unacked > 0 && SteadyMs() < deadline && fatal.ok()) {
      health->Beat();
      PollProducer(10);
      RetryFailed();
    }
    // The partitions' state to the store and changelog first: the commit names it.
    if (checkpointer != nullptr) {
      for (uint32_t id : ids) CheckpointPartition(id);
      checkpointer->Wait();
      TakeDurable();
    }
    Status s = Commit(/*sync=*/true, &ids);
    if (CommitFenced(s)) {
      // The group has moved on: the eager protocol on some brokers (librdkafka's mock), or
      // there the cooperative one when another member's rejoin came first (docs/kafka.md).
      spdlog::info("commit on revocation refused ({}): the next owner reads again from the last commit",
                   s.message());
    } else if (!s.ok()) {
      spdlog::warn("commit on revocation: {}", s.message());
    }
  }
  for (uint32_t id : ids) {
    Partition& p = partitions[id];
    CountDropped(p);
    const engine::Stats& stats = p.engine->stats();
    spdlog::info("partition {}[{}] {}: dropped {} partial matches of {} keys, {} events held", p.topic,
                 p.kafka_partition, lost ? "lost" : "revoked", stats.live_runs, stats.live_keys, stats.buffered);
    p.engine.reset();
    if (p.persistent) checkpointer->Close(id);
    p.persistent = false;
    p.has_durable = false;
    p.owned = false;
    p.marks.clear();
    p.rebuilding = false;
    --owned_count;
    partition_owned->WithLabels({p.topic, std::to_string(p.kafka_partition)}).Set(0);
  }
  CheckRebuilt();
}

// ---------------------------------------------------------------- the loop

int Daemon::Impl::RouteOfTopic(std::string_view topic) const {
  for (size_t r = 0; r < routes.size(); ++r) {
    if (!routes[r].direct && routes[r].topic == topic) return static_cast<int>(r);
  }
  return -1;
}

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
  Partition& p = partitions.emplace_back();
  p.topic.assign(topic);
  p.kafka_partition = partition;
  p.topic_hash = TopicHash8(topic);
  p.route = RouteOfTopic(topic);
  p.repartitioned = p.route >= 0;
  return id;
}

void Daemon::Impl::Send(std::string_view topic, std::string_view key, std::string_view value,
                        std::span<const Header> headers, bool is_alert, int64_t event_time_us, int32_t partition) {
  const uint64_t seq = next_seq++;
  outstanding.push_back({event_time_us, loop_ms, is_alert, false});
  ++unacked;
  Produce(seq, topic, key, value, headers, partition);
}

void Daemon::Impl::Produce(uint64_t seq, std::string_view topic, std::string_view key,
                           std::string_view value, std::span<const Header> headers, int32_t partition) {
  while (true) {
    Status s = producer->Produce(topic, key, value, headers, seq, partition);
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
    r.partition = partition;
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
    // A repartitioned record must go back to its partition; the others were partitioned by key.
    again.partition = r.topic.find(".tern.repartition.") != std::string_view::npos ? r.partition
                                                                                    : Producer::kAnyPartition;
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
  const uint32_t id = PartitionId(m.topic(), m.partition());
  Partition& part = partitions[id];
  // Fetched before a revocation served inside the same poll: its new owner reads it.
  if (!part.owned) return;
  health->Beat();
  part.last_seen_ms = polled_ms;
  part.idle = false;
  ++part.events;
  const uint64_t seq_before = next_seq;
  if (!part.repartitioned) {
    HandleInput(m, part, consumed_us);
  } else {
    HandleRepartitioned(m, part, consumed_us);
  }
  part.next_offset = m.offset() + 1;
  if (next_seq != seq_before) part.marks.push_back({m.offset(), next_seq});
  // Mid-batch (a poll brings up to kMaxBatch records): the collect pause stays that of
  // about kCheckpointChangedKeys keys.
  if (part.persistent && part.checkpoints_in_flight < kBusyCheckpointsInFlight &&
      part.engine->ChangedKeys() >= kCheckpointChangedKeys) {
    CheckpointPartition(id);
  }
}

void Daemon::Impl::HandleInput(const Message& m, Partition& part, int64_t consumed_us) {
  events_in->Add();
  const DaemonConfig& c = options.config;
  // A dead letter or late copy: the record as received, with its source in headers.
  char partition_text[24], offset_text[24];
  auto send_copy = [&](std::string_view topic, std::string_view error) {
    Header headers[4] = {{"tern-topic", m.topic()},
                         {"tern-partition", DecimalText(m.partition(), partition_text)},
                         {"tern-offset", DecimalText(m.offset(), offset_text)},
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

  engine::Engine& engine = *part.engine;
  nfa::StoredEvent* e = engine.NewEvent();
  if (testing_only_stall_ms > 0 && m.has_key() && m.key() == kTestingOnlyStallKey) {
    spdlog::warn("{}: stalling for {} ms", kTestingOnlyStallEnv, testing_only_stall_ms);
    std::this_thread::sleep_for(std::chrono::milliseconds(testing_only_stall_ms));
  }
  std::string error;
  if (!parser->Parse(m.value(), *e, &error) || !engine.CheckTime(0, e->ts(), &error)) {
    engine.Discard(e);
    malformed->Add();
    spdlog::debug("{}[{}]@{}: malformed event: {}", m.topic(), m.partition(), m.offset(), error);
    if (!c.dead_letter_topic.empty()) send_copy(c.dead_letter_topic, error);
    return;
  }
  e->position = SourcePosition(part.topic_hash, m.partition(), m.offset());
  e->offset = static_cast<uint64_t>(m.offset());
  e->partition = 0;
  e->stream = part.stream;
  if (direct_route >= 0) CheckKeyOwner(part, *e);
  Repartition(m, part, *e);  // before Push: the event is the caller's until then
  if (e->ts() > part.max_ts) {
    part.max_ts = e->ts();
    part.max_ts_record_ms = std::max<int64_t>(m.timestamp_ms(), 0);
  }
  if (engine.Push(e)) {
    late->Add();
    if (!c.late_topic.empty()) send_copy(c.late_topic, {});
  }
  SendAlerts(part, &m, m.timestamp_ms(), consumed_us);
}

void Daemon::Impl::Repartition(const Message& m, Partition& part, nfa::StoredEvent& e) {
  char partition_text[24], offset_text[24], time_text[24], ms_text[24];
  Header headers[5] = {{kSourceTopicHeader, m.topic()},
                       {kSourcePartitionHeader, DecimalText(m.partition(), partition_text)},
                       {kSourceOffsetHeader, DecimalText(m.offset(), offset_text)},
                       {kSourceTimeHeader, DecimalText(part.max_ts, time_text)},
                       {kSourceTimestampHeader, DecimalText(std::max<int64_t>(m.timestamp_ms(), 0), ms_text)}};
  const int64_t after = std::max(part.max_ts, e.ts());
  const uint32_t stream = e.stream;
  for (size_t r = 0; r < routes.size(); ++r) {
    Route& route = routes[r];
    if (route.direct) continue;
    // The filter numbers streams its own way.
    if (part.source >= route.filter_streams.size()) route.filter_streams.resize(part.source + 1, UINT32_MAX);
    uint32_t& filter_stream = route.filter_streams[part.source];
    if (filter_stream == UINT32_MAX) filter_stream = route.filter->StreamId(part.topic);
    e.stream = filter_stream;
    bool concerned = false;
    for (size_t i = 0; i < route.programs.size() && !concerned; ++i) concerned = route.filter->MayConcern(i, e);
    e.stream = stream;
    if (!concerned) continue;
    uint64_t hash = 0;
    engine::RouteKey(route.key_slots, e, &route_key, &hash);
    const int32_t to = route.key_slots.empty() ? 0 : RepartitionPartition(hash, route.partitions);
    Send(route.topic, route_key, m.value(), headers, /*is_alert=*/false, 0, to);
    repartition_out->Add();
    if (r < part.told.size() && static_cast<size_t>(to) < part.told[r].size()) part.told[r][to] = after;
  }
}

void Daemon::Impl::SendWatermark(Partition& part, size_t route, int32_t to, bool idle) {
  char partition_text[24], time_text[24], ms_text[24];
  // The timestamp is that of the record that brought the time: window closes it causes
  // are reported as completed by it (tern-event-ms, end-to-end latency).
  Header headers[5] = {{kSourceTopicHeader, part.topic},
                       {kSourcePartitionHeader, DecimalText(part.kafka_partition, partition_text)},
                       {kSourceTimeHeader, DecimalText(part.max_ts, time_text)},
                       {kSourceTimestampHeader, DecimalText(part.max_ts_record_ms, ms_text)},
                       {kSourceIdleHeader, "1"}};
  // Not marked: a watermark lost in a crash is sent again by whoever reads the source next.
  Send(routes[route].topic, {}, {}, std::span<const Header>(headers, idle ? 5 : 4), /*is_alert=*/false, 0, to);
  repartition_out->Add();
}

void Daemon::Impl::TellWatermarks(int64_t now_ms) {
  for (Partition& part : partitions) {
    if (!part.owned || part.repartitioned || part.max_ts == INT64_MIN || part.idle) continue;
    for (size_t r = 0; r < routes.size() && r < part.told.size(); ++r) {
      if (routes[r].direct) continue;
      for (int32_t to = 0; to < static_cast<int32_t>(part.told[r].size()); ++to) {
        if (part.told[r][to] >= part.max_ts) continue;
        SendWatermark(part, r, to, /*idle=*/false);
        part.told[r][to] = part.max_ts;
      }
    }
    part.last_told_ms = now_ms;
  }
}

void Daemon::Impl::CheckKeyOwner(const Partition& part, const nfa::StoredEvent& e) {
  Route& route = routes[direct_route];
  uint64_t hash = 0;
  engine::RouteKey(route.key_slots, e, &route_key, &hash);
  KeyOwner& owner = key_owners[hash & (kKeyOwnersSize - 1)];
  if (owner.hash == hash && owner.source != part.source && owner.source != UINT32_MAX) {
    for (const auto& program : route.programs) key_conflicts->WithLabels({program->name}).Add();
    if (!route.warned_conflict) {
      route.warned_conflict = true;
      const Source& other = sources[owner.source];
      std::string key_text;
      engine::AppendValueJson(e.slot(route.key_slots.front()), key_text);
      if (key_text.size() > 200) key_text = key_text.substr(0, 200) + "...";
      for (const auto& program : route.programs) {
        spdlog::warn("pattern {}: key {} = {} seen on partitions {}[{}] and {}[{}], but input.key.field says the "
                     "topic is keyed by it: this key's partial matches are split between partitions (and maybe "
                     "members); key the topic by {} or leave input.key.field empty (warned once)",
                     program->name, route.label, key_text,
                     other.topic, other.partition, part.topic, part.kafka_partition, route.label);
      }
    }
  }
  owner.hash = hash;
  owner.source = part.source;
}

void Daemon::Impl::HandleRepartitioned(const Message& m, Partition& part, int64_t consumed_us) {
  repartition_in->Add();
  SourceRecord src;
  std::string error;
  auto header = [&m](std::string_view name, std::string_view* value) {
    std::optional<std::string_view> v = m.FindHeader(name);
    if (!v) return false;
    *value = *v;
    return true;
  };
  if (!ParseSourceRecord(header, &src, &error)) {
    malformed->Add();
    spdlog::warn("{}[{}]@{}: not a repartitioned record: {}; skipped", m.topic(), m.partition(), m.offset(), error);
    return;
  }
  engine::Engine& engine = *part.engine;
  const uint32_t source = SourceId(src.topic, src.partition);
  if (src.offset < 0) {
    if (src.idle) {
      engine.MarkIdle(source);
    } else if (src.max_ts != INT64_MIN) {
      engine.AdvancePartition(source, src.max_ts);
    }
    // Window closes: completed by the source record that brought the time (an idle
    // source's brought none).
    if (src.idle || src.timestamp_ms <= 0) {
      SendAlerts(part, nullptr, 0, 0);
    } else {
      SendAlerts(part, &m, src.timestamp_ms, consumed_us);
    }
    return;
  }
  if (!part.source_marks.Take(source, src.offset)) {
    repartition_duplicates->Add();
    return;
  }
  if (src.max_ts != INT64_MIN) engine.AdvancePartition(source, src.max_ts);
  nfa::StoredEvent* e = engine.NewEvent();
  if (!parser->Parse(m.value(), *e, &error)) {
    // The source parsed it: only a different time field or size limit can refuse it.
    engine.Discard(e);
    malformed->Add();
    spdlog::warn("{}[{}]@{}: repartitioned event from {}[{}]@{} is malformed here: {}", m.topic(), m.partition(),
                 m.offset(), src.topic, src.partition, src.offset, error);
    return;
  }
  const Source& s = sources[source];
  e->position = SourcePosition(s.topic_hash, src.partition, src.offset);
  e->offset = static_cast<uint64_t>(m.offset());
  e->partition = source;
  e->stream = engine.StreamId(src.topic);
  engine.Push(e);  // late or not was decided, counted and copied at the source
  SendAlerts(part, &m, src.timestamp_ms, consumed_us);
}

void Daemon::Impl::CountDropped(Partition& part) {
  const uint64_t dropped = part.engine->stats().dropped_runs;
  dropped_partials->Add(dropped - part.dropped_counted);
  part.dropped_counted = dropped;
}

void Daemon::Impl::SendAlerts(Partition& part, const Message* completing, int64_t event_ms, int64_t consumed_us) {
  if (!part.engine->limited_keys().empty()) [[unlikely]] {
    for (const engine::LimitedKey& k : part.engine->limited_keys()) {
      spdlog::warn("pattern {}, key {}: more than {} partial matches (state.max.partial.matches); the oldest "
                   "are dropped (counted in tern_partial_matches_dropped_total, not logged again for this key)",
                   part.engine->programs()[k.pattern]->name, k.key_json, options.config.max_partial_matches);
    }
    part.engine->limited_keys().clear();
  }
  engine::AlertList& alerts = part.engine->alerts();
  if (alerts.empty()) return;
  const int64_t produced_us = NowUs();
  char consumed_text[24], produced_text[24], event_text[24];
  const std::string_view consumed = DecimalText(consumed_us, consumed_text);
  const std::string_view produced = DecimalText(produced_us, produced_text);
  const std::string_view event = DecimalText(event_ms, event_text);
  const std::vector<std::shared_ptr<const nfa::Program>>& programs = part.engine->programs();
  for (engine::Alert& a : alerts) {
    Header headers[5] = {{"tern-alert-id", a.id},
                         {"tern-pattern", programs[a.pattern]->name},
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
    HoldBoundEvents(part, a);
  }
  alerts.clear();
}

void Daemon::Impl::HoldBoundEvents(Partition& part, const engine::Alert& a) {
  // Every event an Engine holds came through its one Kafka partition: one mark, at the
  // oldest (binding order is event-time order, not always offset order).
  if (a.bound.empty()) return;
  uint64_t oldest = UINT64_MAX;
  for (const engine::BoundEvent& b : a.bound) oldest = std::min(oldest, b.offset);
  part.marks.push_back({static_cast<int64_t>(oldest), next_seq});
}

void Daemon::Impl::RetryFailed() {
  if (retry.empty()) return;
  std::vector<Retry> again;
  again.swap(retry);
  for (const Retry& r : again) {
    header_scratch.clear();
    for (const auto& [k, v] : r.headers) header_scratch.push_back({k, v});
    Produce(r.seq, r.topic, r.key, r.value, header_scratch, r.partition);
  }
}

void Daemon::Impl::CheckIdle(int64_t now_ms) {
  const int64_t idle_after_ms = options.config.idle_ms;
  if (idle_after_ms <= 0) return;  // input.idle = 0: never idle
  // The time of the input partitions still sending: an idle direct partition's windows
  // close by it (its own time cannot move), as one Engine over all of them would.
  int64_t active_wm = INT64_MAX;
  bool any_active = false;
  for (Partition& p : partitions) {
    if (!p.owned || p.repartitioned) continue;
    if (!p.idle && now_ms - p.last_seen_ms >= idle_after_ms) {
      p.idle = true;
      spdlog::debug("partition {}[{}] idle: no record {} for {} ms; window timers stop waiting for it", p.topic,
                    p.kafka_partition,
                    p.next_offset < 0 ? std::string("since it was assigned")
                                      : "after offset " + std::to_string(p.next_offset - 1),
                    now_ms - p.last_seen_ms);
      const uint64_t seq_before = next_seq;
      p.engine->MarkIdle(0);
      SendAlerts(p, nullptr, 0, 0);
      // Window timers belong to no input record: hold the partition's commit until they
      // are acknowledged, as if its last record had produced them.
      if (next_seq != seq_before && p.next_offset >= 0) p.marks.push_back({p.next_offset - 1, next_seq});
      p.last_idle_told_ms = 0;
    }
    if (p.idle) {
      // Its repartition partitions stop waiting for it too; said again every
      // kIdleRetellMs, for a repartition partition's next owner, which reads from its
      // committed offset (and may wait that long for an idle source).
      if (now_ms - p.last_idle_told_ms >= std::max(idle_after_ms, kIdleRetellMs)) {
        for (size_t r = 0; r < routes.size() && r < p.told.size(); ++r) {
          if (routes[r].direct) continue;
          for (int32_t to = 0; to < static_cast<int32_t>(p.told[r].size()); ++to) SendWatermark(p, r, to, true);
        }
        p.last_idle_told_ms = now_ms;
      }
    } else if (p.max_ts != INT64_MIN) {
      any_active = true;
      active_wm = std::min(active_wm, SatSub(p.max_ts, options.config.lateness_ms));
    }
  }
  if (!any_active || direct_route < 0) return;
  for (Partition& p : partitions) {
    if (!p.owned || p.repartitioned || !p.idle) continue;
    const uint64_t seq_before = next_seq;
    p.engine->AdvanceWatermark(active_wm);
    SendAlerts(p, nullptr, 0, 0);
    if (next_seq != seq_before && p.next_offset >= 0) p.marks.push_back({p.next_offset - 1, next_seq});
  }
}

void Daemon::Impl::CheckRebuilt() {
  size_t rebuilding = 0;
  bool ask = false;
  for (const Partition& p : partitions) ask = ask || (p.owned && p.rebuilding && p.rebuild_end < 0);
  std::vector<PartitionLag> lags;
  if (ask) lags = consumer->Lag();
  for (Partition& p : partitions) {
    if (!p.owned || !p.rebuilding) continue;
    if (p.rebuild_end < 0) {
      for (const PartitionLag& l : lags) {
        if (l.topic == p.topic && l.partition == p.kafka_partition && l.high_watermark >= 0) {
          p.rebuild_end = l.high_watermark;
        }
      }
    }
    if (p.rebuild_end >= 0 && (p.next_offset >= p.rebuild_end || p.committed >= p.rebuild_end)) {
      spdlog::info("partition {}[{}] rebuilt: read again up to offset {}; {} partial matches", p.topic,
                   p.kafka_partition, p.rebuild_end, p.engine->stats().live_runs);
      p.rebuilding = false;
      continue;
    }
    ++rebuilding;
  }
  health->SetRebuilding(rebuilding);
}

Status Daemon::Impl::Commit(bool sync, const std::vector<uint32_t>* only) {
  std::vector<TopicPartitionOffset> offsets;
  auto consider = [&](uint32_t id) {
    Partition& p = partitions[id];
    if (!p.owned) return;
    if (p.persistent) {
      // At the newest durable checkpoint, once every message produced before it is
      // acknowledged: its state covers the partial matches, its position the rest.
      if (!p.has_durable || p.durable.seq_gate > acked_prefix) return;
      if (p.durable.checkpoint <= p.committed_checkpoint) return;
      if (p.durable.position < p.committed) return;  // never below what the group has
      p.committed = p.durable.position;
      p.committed_checkpoint = p.durable.checkpoint;
      p.marks.clear();
      p.engine->ForgetRereadBefore(static_cast<uint64_t>(p.durable.position));  // bounds its memory
      offsets.push_back({p.topic, p.kafka_partition, p.durable.position,
                         CheckpointMetadata({p.durable.checkpoint, p.durable.changelog_offset})});
      return;
    }
    if (p.next_offset < 0) return;
    while (!p.marks.empty() && p.marks.front().seq_end <= acked_prefix) p.marks.pop_front();
    int64_t safe = p.next_offset;
    // Marks come in sequence order, not offset order (an alert's bound events are
    // older than the record that completed it): the smallest offset of any.
    for (const Mark& mark : p.marks) safe = std::min(safe, mark.offset);
    p.engine->OldestLivePositions(&live_positions);
    for (uint64_t held : live_positions) {
      if (held != UINT64_MAX) safe = std::min(safe, static_cast<int64_t>(held));
    }
    // Not inside a match that discarded partial matches (Engine::RereadPoint).
    safe = static_cast<int64_t>(p.engine->RereadPoint(static_cast<uint64_t>(safe)));
    std::string metadata;
    if (p.repartitioned) {
      // The source marks as of the committed offset: the latest checkpoint not past it
      // (and, like any start, not inside such a match).
      p.source_marks.Checkpoint(p.next_offset);
      int64_t at = -1;
      while (p.source_marks.LatestAtOrBelow(safe, &at)) {
        const int64_t moved = static_cast<int64_t>(p.engine->RereadPoint(static_cast<uint64_t>(at)));
        if (moved == at) break;
        safe = moved;
        at = -1;
      }
      if (at < 0 || !p.source_marks.CommitPoint(at, [this](uint32_t s) { return sources[s].name; }, &at, &metadata)) {
        return;
      }
      safe = at;
      if (metadata.size() > SourceMarks::kMaxMetadata) metadata.clear();
    }
    if (safe <= p.committed) return;  // never below what the group has
    p.committed = safe;
    p.engine->ForgetRereadBefore(static_cast<uint64_t>(safe));
    offsets.push_back({p.topic, p.kafka_partition, safe, std::move(metadata)});
  };
  if (only != nullptr) {
    for (uint32_t id : *only) consider(id);
  } else {
    for (uint32_t id = 0; id < partitions.size(); ++id) consider(id);
  }
  if (offsets.empty()) return Status();
  Status s = sync ? consumer->Commit(offsets) : consumer->CommitAsync(offsets);
  if (!s.ok() && only == nullptr) spdlog::warn("commit: {}", s.message());
  return s;
}

void Daemon::Impl::PublishHealth() {
  health->Beat();
  health->SetProducerBacklog(unacked, outstanding.empty() ? 0 : outstanding.front().produced_ms);
}

void Daemon::Impl::UpdateStats() {
  uint64_t keys = 0, runs = 0;
  std::vector<engine::PatternStats> per_pattern(all_programs.size());
  for (Partition& p : partitions) {
    if (!p.owned) continue;
    CountDropped(p);
    const engine::Stats& s = p.engine->stats();
    keys += s.live_keys;
    runs += s.live_runs;
    const std::string partition = std::to_string(p.kafka_partition);
    partition_events->WithLabels({p.topic, partition}).Set(static_cast<double>(p.events));
    partition_partials->WithLabels({p.topic, partition}).Set(static_cast<double>(s.live_runs));
    if (!p.repartitioned && p.max_ts != INT64_MIN) {
      partition_watermark->WithLabels({p.topic, partition}).Set(static_cast<double>(p.max_ts));
    }
    const int route = p.repartitioned ? p.route : direct_route;
    if (route < 0 || static_cast<size_t>(route) >= routes.size()) continue;
    for (size_t i = 0; i < routes[route].pattern_index.size() && i < p.engine->programs().size(); ++i) {
      const engine::PatternStats ps = p.engine->pattern_stats(i);
      per_pattern[routes[route].pattern_index[i]].live_runs += ps.live_runs;
      per_pattern[routes[route].pattern_index[i]].live_keys += ps.live_keys;
    }
  }
  live_keys->Set(static_cast<double>(keys));
  live_partials->Set(static_cast<double>(runs));
  for (size_t i = 0; i < pattern_gauges.size() && i < per_pattern.size(); ++i) {
    pattern_gauges[i].first->Set(static_cast<double>(per_pattern[i].live_runs));
    pattern_gauges[i].second->Set(static_cast<double>(per_pattern[i].live_keys));
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
               m.options.config.group, m.options.config.brokers, m.all_programs.size());
  while (!stop_.load(std::memory_order_relaxed) && m.fatal.ok()) {
    m.PublishHealth();
    if (!m.subscribed_yet) {
      // Before anything is consumed: the partition counts of the input topics and the
      // repartition topics, which need the brokers (retried until they answer; /readyz
      // says why meanwhile).
      if (!m.Subscribe()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(kPollWaitMs));
        continue;
      }
      m.health->SetPhase(Health::Phase::kRunning);
    }
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
    if (now - m.last_watermark_ms >= kWatermarkIntervalMs) {
      m.last_watermark_ms = now;
      m.TellWatermarks(now);
    }
    if (now - m.last_rebuild_check_ms >= kRebuildCheckMs) {
      m.last_rebuild_check_ms = now;
      m.CheckRebuilt();
    }
    if (m.checkpointer != nullptr) {
      m.TakeDurable();
      if (now - m.last_checkpoint_ms >= m.options.config.checkpoint_interval_ms) {
        m.last_checkpoint_ms = now;
        m.CheckpointAll(/*wait=*/false);
      } else {
        m.CheckpointBusy();
      }
    }
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
  m.CheckpointAll(/*wait=*/true);
  m.Commit(/*sync=*/true);
  // Leaving the group revokes what is left (Release commits nothing new: done above).
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
