// Status from librdkafka error codes, and its one-line rendering.
// Tested by tests/unit/connectors/status_test.cc.
#include "connectors/status.h"

#include <librdkafka/rdkafka.h>

namespace tern::connectors {

namespace {

bool Retriable(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
      return true;
    default:
      return false;
  }
}

Errc Code(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
      return Errc::kTimedOut;
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
      return Errc::kQueueFull;
    // A commit in a generation the group has left behind. REBALANCE_IN_PROGRESS
    // belongs here too: the rebalance that is on may hand the partitions to
    // another member, so a commit must not wait for it (and librdkafka rejoins
    // on its own).
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
    case RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID:
    case RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST:
      return Errc::kFenced;
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
      return Errc::kUnsupported;
    default:
      return Errc::kKafka;
  }
}

}  // namespace

Status Status::FromKafka(int32_t kafka_error, const std::string& context) {
  auto err = static_cast<rd_kafka_resp_err_t>(kafka_error);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Ok();
  bool retriable = Retriable(err);
  bool fatal = err == RD_KAFKA_RESP_ERR__FATAL;
  Status s = Error(Code(err), context + ": " + rd_kafka_err2str(err), retriable, fatal);
  s.kafka_error_ = kafka_error;
  return s;
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string text = "error: " + message_;
  if (fatal_) text += " [fatal]";
  if (retriable_) text += " [retriable]";
  return text;
}

}  // namespace tern::connectors
