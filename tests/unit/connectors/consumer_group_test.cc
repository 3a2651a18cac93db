// Tests of connectors::Consumer in a group of two on the mock cluster: commit
// metadata, commits in the revoke callback with the cooperative and the eager
// protocol, what a new owner reads on assign, a watcher outside the group, and
// the rebalance pause (printed).
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "connectors/consumer.h"
#include "connectors/mock_cluster.h"
#include "tests/unit/connectors/test_util.h"

namespace tern::connectors {
namespace {

constexpr char kTopic[] = "events";
constexpr int kPartitions = 4;
constexpr int kPerPartition = 10;

using Clock = std::chrono::steady_clock;

// kPerPartition messages into each partition, values "p<partition>-<i>".
void Fill(const MockCluster& mock, int from, int to) {
  ProducerOptions options;
  options.bootstrap_servers = mock.bootstrap_servers();
  options.properties = testing::FastProducerProperties();
  auto producer = Producer::Create(std::move(options));
  REQUIRE(producer.ok());
  for (int p = 0; p < kPartitions; ++p) {
    for (int i = from; i < to; ++i) {
      std::string value = "p" + std::to_string(p) + "-" + std::to_string(i);
      REQUIRE((*producer)->Produce(kTopic, "k", value, {}, 0, p).ok());
    }
  }
  REQUIRE((*producer)->Flush(5000).ok());
}

std::vector<TopicPartition> Sorted(std::vector<TopicPartition> v) {
  std::sort(v.begin(), v.end(),
            [](const TopicPartition& a, const TopicPartition& b) { return a.partition < b.partition; });
  return v;
}

// One group member and what happened to it.
struct Member {
  std::unique_ptr<Consumer> consumer;
  std::vector<std::pair<RebalanceKind, std::vector<TopicPartition>>> rebalances;
  std::set<int32_t> owned;
  std::map<int32_t, std::vector<int64_t>> read;  // offsets in the order read
  std::vector<Status> revoke_commits;             // Commit results inside kRevoked or kLost
  std::vector<TopicPartitionOffset> committed_on_assign;  // Committed() inside kAssigned
  int64_t commit_on_revoke = -1;                  // what to commit for a revoked partition; -1: nothing
  Clock::time_point first_read_after;             // set by the test; first read after it
  Clock::time_point first_read{};

  // Closing runs on_rebalance, which uses the members above and `consumer`
  // (null inside reset()): close first.
  ~Member() {
    if (consumer != nullptr) consumer->Close();
  }

  void Start(const MockCluster& mock, const std::string& assignor) {
    ConsumerOptions options;
    options.bootstrap_servers = mock.bootstrap_servers();
    options.group_id = "tern-group";
    options.properties = testing::FastConsumerProperties();
    options.properties.emplace_back("partition.assignment.strategy", assignor);
    options.on_rebalance = [this](RebalanceKind kind, std::span<const TopicPartition> parts) {
      rebalances.emplace_back(kind, std::vector<TopicPartition>(parts.begin(), parts.end()));
      if (kind == RebalanceKind::kAssigned) {
        for (const TopicPartition& tp : parts) owned.insert(tp.partition);
        // (No REQUIRE in here: it may run in Close, from a destructor.)
        auto committed = consumer->Committed(parts, 5000);
        if (committed.ok()) {
          committed_on_assign.insert(committed_on_assign.end(), committed->begin(), committed->end());
        }
        return;
      }
      for (const TopicPartition& tp : parts) owned.erase(tp.partition);
      if (commit_on_revoke >= 0) {
        std::vector<TopicPartitionOffset> offsets;
        for (const TopicPartition& tp : parts) {
          offsets.push_back({tp.topic, tp.partition, commit_on_revoke, "revoked@" + std::to_string(tp.partition)});
        }
        revoke_commits.push_back(consumer->Commit(offsets));
      }
    };
    auto made = Consumer::Create(std::move(options));
    REQUIRE_MESSAGE(made.ok(), made.status().ToString());
    consumer = std::move(*made);
    const std::string topics[] = {kTopic};
    REQUIRE(consumer->Subscribe(topics).ok());
  }

  void PollOnce(MessageBatch* batch) {
    REQUIRE(consumer->Poll(10, 1000, batch).ok());
    for (const Message& m : *batch) {
      read[m.partition()].push_back(m.offset());
      if (first_read == Clock::time_point{} && Clock::now() >= first_read_after) first_read = Clock::now();
    }
  }

  // What happened, for failure messages.
  std::string Describe() const {
    std::string out = "rebalances:";
    for (const auto& [kind, parts] : rebalances) {
      out += kind == RebalanceKind::kAssigned ? " +[" : kind == RebalanceKind::kRevoked ? " -[" : " lost[";
      for (const TopicPartition& tp : parts) out += " " + std::to_string(tp.partition);
      out += " ]";
    }
    out += "; read:";
    for (const auto& [p, offsets] : read) {
      out += " p" + std::to_string(p) + "{";
      for (int64_t o : offsets) out += " " + std::to_string(o);
      out += " }";
    }
    out += "; revoke commits:";
    for (const Status& s : revoke_commits) out += " " + s.ToString();
    out += "; committed on assign:";
    for (const TopicPartitionOffset& c : committed_on_assign) {
      out += " p" + std::to_string(c.partition) + "@" + std::to_string(c.offset) + "'" + c.metadata + "'";
    }
    return out;
  }

  size_t ReadCount() const {
    size_t n = 0;
    for (const auto& [p, offsets] : read) n += offsets.size();
    return n;
  }
};

// Polls the members in turn until `done` or `seconds` pass; returns `done`.
bool PollUntil(std::initializer_list<Member*> members, const std::function<bool()>& done, double seconds) {
  MessageBatch batch;
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  while (!done() && Clock::now() < deadline) {
    for (Member* m : members) {
      if (m->consumer != nullptr) m->PollOnce(&batch);
    }
  }
  return done();
}

double Seconds(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

TEST_CASE("commit metadata round trip; a consumer that never subscribes reads the group's commits") {
  auto mock = MockCluster::Start(1);
  REQUIRE(mock.ok());
  REQUIRE((*mock)->CreateTopic(kTopic, kPartitions).ok());
  Fill(**mock, 0, kPerPartition);

  Member a;
  a.Start(**mock, "cooperative-sticky");
  REQUIRE(PollUntil({&a}, [&] { return a.ReadCount() == kPartitions * kPerPartition; }, 15));
  CHECK(a.consumer->protocol() == RebalanceProtocol::kCooperative);

  const std::string long_text(4000, 'm');  // within Kafka's default 4096-byte bound
  const std::vector<TopicPartitionOffset> offsets = {
      {kTopic, 0, 3, "source 0:17,1:4"}, {kTopic, 1, 5, long_text}, {kTopic, 2, 7, ""}};
  REQUIRE(a.consumer->Commit(offsets).ok());
  const TopicPartition asked[] = {{kTopic, 0}, {kTopic, 1}, {kTopic, 2}, {kTopic, 3}};
  auto committed = a.consumer->Committed(asked, 5000);
  REQUIRE_MESSAGE(committed.ok(), committed.status().ToString());
  REQUIRE(committed->size() == 4);
  CHECK((*committed)[0] == offsets[0]);
  CHECK((*committed)[1] == offsets[1]);
  CHECK((*committed)[2] == offsets[2]);
  CHECK((*committed)[3].offset == -1001);  // nothing committed
  CHECK((*committed)[3].metadata.empty());

  // An async commit carries metadata as well, and a later one replaces it.
  {
    const std::vector<TopicPartitionOffset> later = {{kTopic, 0, 4, "source 0:20"}};
    REQUIRE(a.consumer->CommitAsync(later).ok());
  }

  // A watcher: same group id, never subscribes, so it never joins (the group
  // keeps one member and does not rebalance).
  ConsumerOptions options;
  options.bootstrap_servers = (*mock)->bootstrap_servers();
  options.group_id = "tern-group";
  options.properties = testing::FastConsumerProperties();
  options.on_rebalance = [](RebalanceKind, std::span<const TopicPartition>) { FAIL("the watcher joined"); };
  auto watcher = Consumer::Create(std::move(options));
  REQUIRE(watcher.ok());
  std::vector<TopicPartitionOffset> seen;
  REQUIRE(PollUntil({&a}, [&] {
    auto w = (*watcher)->Committed(asked, 5000);
    REQUIRE_MESSAGE(w.ok(), w.status().ToString());
    seen = *w;
    return seen[0].offset == 4;
  }, 5));
  CHECK(seen[0].metadata == "source 0:20");
  CHECK(seen[1] == offsets[1]);
  CHECK((*watcher)->protocol() == RebalanceProtocol::kNone);
  CHECK((*watcher)->assignment().empty());
  // The member kept its partitions all along.
  CHECK(a.rebalances.size() == 1);
  CHECK(a.owned.size() == kPartitions);
}

TEST_CASE("cooperative-sticky: a joining member takes some partitions; the first commits in the "
          "revoke callback; the new owner, and later the first again, read from the group's commit") {
  auto mock = MockCluster::Start(1);
  REQUIRE(mock.ok());
  REQUIRE((*mock)->CreateTopic(kTopic, kPartitions).ok());
  Fill(**mock, 0, kPerPartition);

  Member a;
  a.commit_on_revoke = 2;  // held back: the new owner reads offsets 2.. again
  const auto a_start = Clock::now();
  a.Start(**mock, "cooperative-sticky");
  REQUIRE(PollUntil({&a}, [&] { return a.ReadCount() == kPartitions * kPerPartition; }, 15));
  MESSAGE("first member's join to its last record: " << Seconds(a_start, Clock::now()) << " s");
  REQUIRE(a.rebalances.size() == 1);
  CHECK(a.owned.size() == kPartitions);

  Member b;
  const auto b_start = Clock::now();
  b.first_read_after = b_start;
  b.Start(**mock, "cooperative-sticky");
  REQUIRE(PollUntil({&a, &b}, [&] { return b.first_read != Clock::time_point{}; }, 30));
  MESSAGE("second member's subscribe to its first record (cooperative, session.timeout.ms 3000): "
          << Seconds(b_start, b.first_read) << " s");
  // Until the new owner has read each of its partitions to the end.
  auto b_done = [&] {
    if (b.owned.empty()) return false;
    for (int32_t p : b.owned) {
      auto it = b.read.find(p);
      if (it == b.read.end() || it->second.empty() || it->second.back() != kPerPartition - 1) return false;
    }
    return true;
  };
  INFO("a: " << a.Describe());  // (written only when a check below fails)
  INFO("b: " << b.Describe());
  REQUIRE(PollUntil({&a, &b}, b_done, 10));

  // The first member gave up only what moved, committing inside the callback.
  REQUIRE(a.rebalances.size() == 2);
  CHECK(a.rebalances[1].first == RebalanceKind::kRevoked);
  const std::vector<TopicPartition> moved = Sorted(a.rebalances[1].second);
  CHECK(moved.size() == 2);
  CHECK(a.owned.size() == 2);
  REQUIRE(a.revoke_commits.size() == 1);
  // A broker takes a commit of the current generation until the next one is
  // being formed. The mock answers REBALANCE_IN_PROGRESS as soon as the second
  // member's next join has reached it, which under load can come before the
  // callback's commit: then the group's commit is still none, and the new
  // owner reads everything again (at least once, nothing lost).
  const bool taken = a.revoke_commits[0].ok();
  if (!taken) {
    CHECK_MESSAGE(CommitFenced(a.revoke_commits[0]), a.revoke_commits[0].ToString());
    CHECK(a.revoke_commits[0].kafka_error() == 27);  // REBALANCE_IN_PROGRESS
  }
  MESSAGE("commit in the cooperative revoke callback: " << std::string(taken ? "taken" : "refused, rebalance in progress"));
  const int64_t group_commit = taken ? 2 : -1001;
  const int64_t start = taken ? 2 : 0;

  // The new owner sees the group's commit, metadata included, and reads from it.
  REQUIRE(b.rebalances.size() == 1);
  CHECK(b.rebalances[0].first == RebalanceKind::kAssigned);
  CHECK(Sorted(b.rebalances[0].second) == moved);
  REQUIRE(b.committed_on_assign.size() == 2);
  for (const TopicPartitionOffset& c : b.committed_on_assign) {
    CHECK(c.offset == group_commit);
    CHECK(c.metadata == (taken ? "revoked@" + std::to_string(c.partition) : ""));
  }
  CHECK(b.ReadCount() == 2 * static_cast<size_t>(kPerPartition - start));
  for (const TopicPartition& tp : moved) {
    REQUIRE(!b.read[tp.partition].empty());
    CHECK(b.read[tp.partition].front() == start);
  }

  // The second member leaves without committing: the partitions come back to
  // the first, which reads them again from the group's commit, not from where
  // it had got to (kPerPartition).
  for (const TopicPartition& tp : moved) a.read[tp.partition].clear();
  const auto leave = Clock::now();
  REQUIRE(b.consumer->Close().ok());
  b.consumer.reset();
  auto moved_read = [&] {
    size_t n = 0;
    for (const TopicPartition& tp : moved) n += a.read[tp.partition].size();
    return n;
  };
  REQUIRE(PollUntil({&a}, [&] { return moved_read() >= 2 * static_cast<size_t>(kPerPartition - start); }, 15));
  MESSAGE("partitions back after a member left: " << Seconds(leave, Clock::now()) << " s");
  CHECK(a.owned.size() == kPartitions);
  CHECK(a.rebalances.back().first == RebalanceKind::kAssigned);
  CHECK(Sorted(a.rebalances.back().second) == moved);
  for (const TopicPartition& tp : moved) {
    REQUIRE(!a.read[tp.partition].empty());
    CHECK(a.read[tp.partition].front() == start);
  }
}

TEST_CASE("eager (range): a joining member makes the first revoke everything; on the mock a commit "
          "in the revoke callback is refused as kFenced") {
  auto mock = MockCluster::Start(1);
  REQUIRE(mock.ok());
  REQUIRE((*mock)->CreateTopic(kTopic, kPartitions).ok());
  Fill(**mock, 0, kPerPartition);

  Member a;
  a.commit_on_revoke = 2;
  a.Start(**mock, "range");
  REQUIRE(PollUntil({&a}, [&] { return a.ReadCount() == kPartitions * kPerPartition; }, 15));
  CHECK(a.consumer->protocol() == RebalanceProtocol::kEager);
  // What the member commits while it still may.
  std::vector<TopicPartitionOffset> early;
  for (int p = 0; p < kPartitions; ++p) early.push_back({kTopic, p, 1, "early"});
  REQUIRE(a.consumer->Commit(early).ok());

  Member b;
  const auto b_start = Clock::now();
  b.first_read_after = b_start;
  b.Start(**mock, "range");
  REQUIRE(PollUntil({&a, &b}, [&] { return b.first_read != Clock::time_point{} && a.rebalances.size() >= 3; }, 30));
  MESSAGE("second member's subscribe to its first record (eager, session.timeout.ms 3000): "
          << Seconds(b_start, b.first_read) << " s");

  REQUIRE(a.rebalances.size() >= 3);
  CHECK(a.rebalances[1].first == RebalanceKind::kRevoked);
  CHECK(a.rebalances[1].second.size() == kPartitions);
  // The mock refuses commits while the group is joining (a real broker accepts
  // them until the new generation is formed).
  REQUIRE(!a.revoke_commits.empty());
  CHECK_MESSAGE(CommitFenced(a.revoke_commits[0]), a.revoke_commits[0].ToString());
  CHECK(a.revoke_commits[0].kafka_error() == 27);  // REBALANCE_IN_PROGRESS
  CHECK(a.rebalances[2].first == RebalanceKind::kAssigned);
  CHECK(a.rebalances[2].second.size() == 2);
  // Each member starts its partitions at the last accepted commit.
  REQUIRE(b.committed_on_assign.size() == 2);
  for (const TopicPartitionOffset& c : b.committed_on_assign) {
    CHECK(c.offset == 1);
    CHECK(c.metadata == "early");
  }
  REQUIRE(PollUntil({&a, &b}, [&] { return a.ReadCount() >= kPartitions * kPerPartition + 2 * (kPerPartition - 1); }, 10));
  for (int32_t p : a.owned) {
    REQUIRE(a.read[p].size() > kPerPartition);
    CHECK(a.read[p][kPerPartition] == 1);
  }
}

TEST_CASE("a member the coordinator forgot hears kLost; its commit there is kFenced; it rejoins") {
  auto mock = MockCluster::Start(1);
  REQUIRE(mock.ok());
  REQUIRE((*mock)->CreateTopic(kTopic, kPartitions).ok());
  Fill(**mock, 0, kPerPartition);

  Member a;
  a.commit_on_revoke = 2;
  a.Start(**mock, "cooperative-sticky");
  REQUIRE(PollUntil({&a}, [&] { return a.ReadCount() == kPartitions * kPerPartition; }, 15));
  const int32_t unknown_member[] = {25};  // RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID
  (*mock)->PushRequestErrors(KafkaApi::kHeartbeat, unknown_member);
  REQUIRE(PollUntil({&a}, [&] { return a.rebalances.size() >= 3; }, 20));
  CHECK(a.rebalances[1].first == RebalanceKind::kLost);
  CHECK(a.rebalances[1].second.size() == kPartitions);
  REQUIRE(a.revoke_commits.size() == 1);
  CHECK_MESSAGE(CommitFenced(a.revoke_commits[0]), a.revoke_commits[0].ToString());
  CHECK(a.rebalances[2].first == RebalanceKind::kAssigned);
  CHECK(a.rebalances[2].second.size() == kPartitions);
}

}  // namespace
}  // namespace tern::connectors
