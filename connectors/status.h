// Status and Result<T>: how connectors report recoverable runtime errors (Kafka),
// with librdkafka's retriable/fatal flags. No exceptions on the event path.
// Tested by tests/unit/connectors/status_test.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace tern::connectors {

enum class Errc {
  kOk,
  kInvalidConfig,  // a property the client rejected; the message names it
  kKafka,          // any other librdkafka error; kafka_error() holds its code
  kTimedOut,       // a Flush or Commit did not finish in time
  kQueueFull,      // the producer queue is full: Poll, then produce again
  // The consumer group moved on without this member's generation
  // (REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
  // FENCED_INSTANCE_ID, or its assignment was lost): it may no longer commit.
  kFenced,
  // The broker does not implement the request (librdkafka's mock and the Admin
  // API's CreateTopics): fall back to something else, retrying will not help.
  kUnsupported,
};

// A success or an error with a message and two flags. Cheap to copy when ok.
// Thread: any. Locks: none.
class Status {
 public:
  Status() = default;  // ok
  static Status Ok() { return Status(); }
  static Status Error(Errc code, std::string message, bool retriable = false, bool fatal = false) {
    Status s;
    s.code_ = code;
    s.message_ = std::move(message);
    s.retriable_ = retriable;
    s.fatal_ = fatal;
    return s;
  }
  // An error from a librdkafka rd_kafka_resp_err_t value; the message is
  // "<context>: <librdkafka's description>". kOk for RD_KAFKA_RESP_ERR_NO_ERROR.
  // retriable() for timeouts, transport and leadership errors and a full queue
  // (trying again later may work); fatal() for RD_KAFKA_RESP_ERR__FATAL.
  // kFenced and kUnsupported are never retriable.
  static Status FromKafka(int32_t kafka_error, const std::string& context);

  bool ok() const { return code_ == Errc::kOk; }
  Errc code() const { return code_; }
  int32_t kafka_error() const { return kafka_error_; }  // rd_kafka_resp_err_t, 0 if none
  const std::string& message() const { return message_; }
  bool retriable() const { return retriable_; }  // the same call may succeed later
  bool fatal() const { return fatal_; }          // the client is unusable: recreate it
  std::string ToString() const;                  // "ok" or "error: message [retriable]"

 private:
  Errc code_ = Errc::kOk;
  int32_t kafka_error_ = 0;
  std::string message_;
  bool retriable_ = false;
  bool fatal_ = false;
};

// A value or the Status saying why there is none.
// Thread: any. Locks: none.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}                 // NOLINT: implicit on purpose
  Result(Status status) : status_(std::move(status)) {}          // NOLINT: must not be ok
  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T& operator*() { return *value_; }
  T* operator->() { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;  // ok iff value_ is set
};

}  // namespace tern::connectors
