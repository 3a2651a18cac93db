// Tests of the shuffle's Kafka-free parts: topic names, source headers, and the source
// marks that drop records produced twice, through checkpoints and commit metadata.
#include "connectors/shuffle.h"

#include <doctest/doctest.h>

#include <map>
#include <string>

namespace tern::connectors {
namespace {

TEST_CASE("repartition topic names: Kafka's characters only, at most 249, distinct") {
  CHECK(RepartitionTopic("tern", "card") == "tern.tern.repartition.card");
  CHECK(RepartitionTopic("tern", "") == "tern.tern.repartition.global");
  CHECK(RepartitionTopic("fraud team", "user.id,`odd key`") == "fraud_team.tern.repartition.user.id__odd_key_");
  const std::string a = RepartitionTopic("g", std::string(400, 'a'));
  const std::string b = RepartitionTopic("g", std::string(399, 'a') + "b");
  CHECK(a.size() == 249);
  CHECK(b.size() == 249);
  CHECK(a != b);
  CHECK(RepartitionPartition(12345, 1) == 0);
  CHECK(RepartitionPartition(12345, 0) == 0);
  CHECK(RepartitionPartition(12345, 8) == 12345 % 8);
}

TEST_CASE("source records: event and watermark records, and what is refused") {
  std::map<std::string, std::string> h = {{"tern-src-topic", "payments"},
                                          {"tern-src-partition", "3"},
                                          {"tern-src-offset", "41"},
                                          {"tern-src-time", "-9223372036854775808"},
                                          {"tern-src-ms", "1700000000000"}};
  auto header = [&](std::string_view name, std::string_view* value) {
    auto it = h.find(std::string(name));
    if (it == h.end()) return false;
    *value = it->second;
    return true;
  };
  SourceRecord r;
  std::string error;
  REQUIRE(ParseSourceRecord(header, &r, &error));
  CHECK(r.topic == "payments");
  CHECK(r.partition == 3);
  CHECK(r.offset == 41);
  CHECK(r.max_ts == INT64_MIN);
  CHECK_FALSE(r.idle);
  CHECK(r.timestamp_ms == 1700000000000);
  h.erase("tern-src-offset");
  h["tern-src-idle"] = "1";
  REQUIRE(ParseSourceRecord(header, &r, &error));
  CHECK(r.offset == -1);
  CHECK(r.idle);
  h["tern-src-partition"] = "x";
  CHECK_FALSE(ParseSourceRecord(header, &r, &error));
  CHECK(error == "no valid tern-src-partition header");
  h["tern-src-partition"] = "1";
  h["tern-src-offset"] = "-4";
  CHECK_FALSE(ParseSourceRecord(header, &r, &error));
  h.erase("tern-src-topic");
  CHECK_FALSE(ParseSourceRecord(header, &r, &error));
  CHECK(error == "no tern-src-topic header");
}

std::string Name(uint32_t s) { return "t" + std::to_string(s % 2) + "/" + std::to_string(s); }

TEST_CASE("source marks: copies are dropped, commits carry the marks at the committed offset") {
  SourceMarks marks;
  // Repartition offsets 0..5: source 0 offsets 10, 11, source 1 offset 7, then 12 (0), a
  // copy of 11 (0) and 8 (1).
  CHECK(marks.Take(0, 10));
  CHECK(marks.Take(0, 11));
  marks.Checkpoint(2);
  CHECK(marks.Take(1, 7));
  CHECK(marks.Take(0, 12));
  marks.Checkpoint(4);
  CHECK_FALSE(marks.Take(0, 11));  // produced again
  CHECK_FALSE(marks.Take(0, 12));
  CHECK(marks.Take(1, 8));
  marks.Checkpoint(6);
  CHECK(marks.checkpoints() == 3);

  int64_t offset = -1;
  std::string metadata;
  CHECK_FALSE(marks.CommitPoint(1, Name, &offset, &metadata));  // no checkpoint at or below 1
  REQUIRE(marks.CommitPoint(5, Name, &offset, &metadata));      // 4: the latest not past 5
  CHECK(offset == 4);
  CHECK(metadata == "tern-marks1 t0/0=12,t1/1=7");
  CHECK(marks.checkpoints() == 2);  // the one at 2 is gone

  // The next owner reads again from 4 with the marks as of 4: the copy at 4 (source 0,
  // offset 11) is dropped, the original at 5 (source 1, offset 8) is taken.
  SourceMarks next;
  std::string error;
  REQUIRE(next.Restore(metadata, [](std::string_view topic, int32_t p) {
    CHECK(topic == (p % 2 ? "t1" : "t0"));
    return static_cast<uint32_t>(p);
  }, &error));
  CHECK(next.mark(0) == 12);
  CHECK(next.mark(1) == 7);
  CHECK_FALSE(next.Take(0, 11));
  CHECK(next.Take(1, 8));

  CHECK(next.Restore("", [](std::string_view, int32_t) { return 0u; }, &error));
  CHECK(next.mark(0) == -1);
  CHECK_FALSE(next.Restore("someone else's", [](std::string_view, int32_t) { return 0u; }, &error));
  CHECK(error == "commit metadata is not Tern's source marks");
  CHECK_FALSE(next.Restore("tern-marks1 t0/x=3", [](std::string_view, int32_t) { return 0u; }, &error));
  CHECK(error == "malformed source mark 't0/x=3' in commit metadata");
}

TEST_CASE("source marks: many checkpoints are thinned, never past the safe offset") {
  SourceMarks marks;
  for (int64_t i = 0; i < 3 * static_cast<int64_t>(SourceMarks::kMaxCheckpoints); ++i) {
    marks.Take(0, i);
    marks.Checkpoint(i + 1);
  }
  CHECK(marks.checkpoints() <= SourceMarks::kMaxCheckpoints);
  int64_t offset = -1;
  std::string metadata;
  const int64_t safe = 2 * static_cast<int64_t>(SourceMarks::kMaxCheckpoints) + 17;
  REQUIRE(marks.CommitPoint(safe, Name, &offset, &metadata));
  CHECK(offset <= safe);
  // The marks belong to that offset: source 0's last record below it.
  CHECK(metadata == "tern-marks1 t0/0=" + std::to_string(offset - 1));
}

}  // namespace
}  // namespace tern::connectors
