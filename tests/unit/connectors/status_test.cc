// Tests of connectors::Status: librdkafka codes to retriable/fatal flags.
#include "connectors/status.h"

#include <doctest/doctest.h>
#include <librdkafka/rdkafka.h>

namespace tern::connectors {
namespace {

TEST_CASE("status from librdkafka codes") {
  CHECK(Status::FromKafka(RD_KAFKA_RESP_ERR_NO_ERROR, "x").ok());

  Status timed_out = Status::FromKafka(RD_KAFKA_RESP_ERR__TIMED_OUT, "flush");
  CHECK(timed_out.code() == Errc::kTimedOut);
  CHECK(timed_out.retriable());
  CHECK_FALSE(timed_out.fatal());
  CHECK(timed_out.message().starts_with("flush: "));

  Status full = Status::FromKafka(RD_KAFKA_RESP_ERR__QUEUE_FULL, "produce");
  CHECK(full.code() == Errc::kQueueFull);
  CHECK(full.retriable());

  Status too_large = Status::FromKafka(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, "produce");
  CHECK(too_large.code() == Errc::kKafka);
  CHECK(too_large.kafka_error() == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  CHECK_FALSE(too_large.retriable());

  Status fatal = Status::FromKafka(RD_KAFKA_RESP_ERR__FATAL, "produce");
  CHECK(fatal.fatal());
  CHECK(fatal.ToString().find("[fatal]") != std::string::npos);
  CHECK(Status().ToString() == "ok");
}

TEST_CASE("status: a commit the group no longer allows is kFenced; an unsupported request kUnsupported") {
  for (rd_kafka_resp_err_t err :
       {RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS, RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION,
        RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID, RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID,
        RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST}) {
    Status s = Status::FromKafka(err, "commit");
    CAPTURE(s.message());
    CHECK(s.code() == Errc::kFenced);
    CHECK(s.kafka_error() == err);
    CHECK_FALSE(s.retriable());
  }
  for (rd_kafka_resp_err_t err :
       {RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE, RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION}) {
    Status s = Status::FromKafka(err, "create topic");
    CHECK(s.code() == Errc::kUnsupported);
    CHECK_FALSE(s.retriable());
  }
  CHECK(Status::FromKafka(RD_KAFKA_RESP_ERR_NOT_COORDINATOR, "commit").code() == Errc::kKafka);
}

TEST_CASE("result holds a value or a status") {
  Result<int> good(7);
  CHECK(good.ok());
  CHECK(*good == 7);
  Result<int> bad(Status::Error(Errc::kInvalidConfig, "nope"));
  CHECK_FALSE(bad.ok());
  CHECK(bad.status().message() == "nope");
}

}  // namespace
}  // namespace tern::connectors
