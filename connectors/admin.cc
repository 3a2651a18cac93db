// Admin over rd_kafka_CreateTopics (answered on a temporary queue) and
// rd_kafka_metadata for one topic.
// Tested by tests/unit/connectors/admin_test.cc.
#include "connectors/admin.h"

#include <librdkafka/rdkafka.h>

#include "connectors/kafka_conf.h"

namespace tern::connectors {

namespace internal {

Status CreateTopicStatus(int32_t kafka_error, std::string_view topic, std::string_view detail) {
  if (kafka_error == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) return Status::Ok();
  std::string context = "create topic '" + std::string(topic) + "'";
  if (!detail.empty()) context += " (" + std::string(detail) + ")";
  return Status::FromKafka(kafka_error, context);
}

}  // namespace internal

namespace {

// Owns what one rd_kafka_CreateTopics call needs.
struct CreateCall {
  rd_kafka_NewTopic_t* topic = nullptr;
  rd_kafka_AdminOptions_t* options = nullptr;
  rd_kafka_queue_t* queue = nullptr;
  rd_kafka_event_t* event = nullptr;
  ~CreateCall() {
    if (event != nullptr) rd_kafka_event_destroy(event);
    if (queue != nullptr) rd_kafka_queue_destroy(queue);
    if (options != nullptr) rd_kafka_AdminOptions_destroy(options);
    if (topic != nullptr) rd_kafka_NewTopic_destroy(topic);
  }
};

}  // namespace

Result<std::unique_ptr<Admin>> Admin::Create(AdminOptions options) {
  std::unique_ptr<Admin> admin(new Admin());
  admin->options_ = std::move(options);
  Result<rd_kafka_t*> handle = admin->NewHandle(/*auto_create=*/false);
  if (!handle.ok()) return handle.status();
  admin->handle_ = *handle;
  return admin;
}

Admin::~Admin() {
  if (auto_create_handle_ != nullptr) rd_kafka_destroy(auto_create_handle_);
  if (handle_ != nullptr) rd_kafka_destroy(handle_);
}

Result<rd_kafka_t*> Admin::NewHandle(bool auto_create) const {
  internal::ConfHandle conf;
  const Properties defaults = {
      {"bootstrap.servers", options_.bootstrap_servers},
      {"allow.auto.create.topics", auto_create ? "true" : "false"},
  };
  Status applied = internal::ApplyProperties(conf.get(), defaults);
  if (applied.ok()) applied = internal::ApplyProperties(conf.get(), options_.properties);
  if (!applied.ok()) return applied;
  char error[512] = "";
  // A producer handle: it never produces, but it is the lightest one that can
  // send admin and metadata requests.
  rd_kafka_t* handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), error, sizeof error);
  if (handle == nullptr) return Status::Error(Errc::kInvalidConfig, std::string("admin: ") + error);
  conf.release();
  return handle;
}

Status Admin::CreateTopic(std::string_view name, int partitions, int replication, int timeout_ms,
                          const std::vector<std::pair<std::string, std::string>>& configs) {
  const std::string topic(name);
  // CreateTopics goes to the controller. librdkafka 2.0.2's mock names broker 0
  // as controller, which does not exist (its brokers are 1..N): the request
  // would wait for it until the timeout. Ask first.
  const rd_kafka_metadata_t* metadata = nullptr;
  Status status = Status::FromKafka(rd_kafka_metadata(handle_, /*all_topics=*/0, nullptr, &metadata, timeout_ms),
                                    "create topic '" + topic + "': metadata");
  if (!status.ok()) return status;
  const int32_t controller = rd_kafka_controllerid(handle_, 0);
  bool reachable = false;
  for (int i = 0; i < metadata->broker_cnt; ++i) reachable |= metadata->brokers[i].id == controller;
  rd_kafka_metadata_destroy(metadata);
  if (!reachable) {
    return Status::Error(Errc::kUnsupported, "create topic '" + topic + "': the brokers name no controller (" +
                                                 std::to_string(controller) +
                                                 "; librdkafka's mock cluster has none and no CreateTopics)");
  }
  CreateCall call;
  char error[512] = "";
  call.topic = rd_kafka_NewTopic_new(topic.c_str(), partitions, replication, error, sizeof error);
  if (call.topic == nullptr) {
    return Status::Error(Errc::kInvalidConfig, "create topic '" + topic + "': " + error);
  }
  for (const auto& [config, value] : configs) {
    if (rd_kafka_NewTopic_set_config(call.topic, config.c_str(), value.c_str()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::Error(Errc::kInvalidConfig, "create topic '" + topic + "': config " + config + "=" + value);
    }
  }
  call.options = rd_kafka_AdminOptions_new(handle_, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  // The request's own timeout, and how long the controller may take to create it.
  if (rd_kafka_AdminOptions_set_request_timeout(call.options, timeout_ms, error, sizeof error) ||
      rd_kafka_AdminOptions_set_operation_timeout(call.options, timeout_ms, error, sizeof error)) {
    return Status::Error(Errc::kInvalidConfig, "create topic '" + topic + "': " + error);
  }
  call.queue = rd_kafka_queue_new(handle_);
  rd_kafka_CreateTopics(handle_, &call.topic, 1, call.options, call.queue);
  // librdkafka answers by timeout_ms itself; the margin is for its scheduling.
  call.event = rd_kafka_queue_poll(call.queue, timeout_ms + 1000);
  if (call.event == nullptr) {
    return Status::FromKafka(RD_KAFKA_RESP_ERR__TIMED_OUT, "create topic '" + topic + "'");
  }
  // A request-level error: no controller reached, or CreateTopics unsupported
  // (the mock: "Topic Admin API (KIP-4) not supported by broker").
  if (rd_kafka_resp_err_t err = rd_kafka_event_error(call.event); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* detail = rd_kafka_event_error_string(call.event);
    return internal::CreateTopicStatus(err, topic, detail != nullptr ? detail : "");
  }
  const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(call.event);
  size_t count = 0;
  const rd_kafka_topic_result_t** topics = rd_kafka_CreateTopics_result_topics(result, &count);
  for (size_t i = 0; i < count; ++i) {
    const char* detail = rd_kafka_topic_result_error_string(topics[i]);
    Status s = internal::CreateTopicStatus(rd_kafka_topic_result_error(topics[i]), topic,
                                           detail != nullptr ? detail : "");
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Result<int> Admin::PartitionCount(std::string_view name, int timeout_ms, bool allow_auto_create) {
  rd_kafka_t* handle = handle_;
  if (allow_auto_create) {
    if (auto_create_handle_ == nullptr) {
      Result<rd_kafka_t*> made = NewHandle(/*auto_create=*/true);
      if (!made.ok()) return made.status();
      auto_create_handle_ = *made;
    }
    handle = auto_create_handle_;
  }
  const std::string topic(name);
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(handle, topic.c_str(), nullptr);
  if (rkt == nullptr) {
    return Status::FromKafka(rd_kafka_last_error(), "topic '" + topic + "'");
  }
  const rd_kafka_metadata_t* metadata = nullptr;
  Status status = Status::FromKafka(rd_kafka_metadata(handle, /*all_topics=*/0, rkt, &metadata, timeout_ms),
                                    "metadata of topic '" + topic + "'");
  rd_kafka_topic_destroy(rkt);
  if (!status.ok()) return status;
  int partitions = 0;
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = metadata->topics[i];
    if (topic != t.topic) continue;
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      status = Status::FromKafka(t.err, "metadata of topic '" + topic + "'");
    } else {
      partitions = t.partition_cnt;
    }
  }
  rd_kafka_metadata_destroy(metadata);
  if (!status.ok()) return status;
  if (partitions == 0) {
    return Status::FromKafka(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, "metadata of topic '" + topic + "'");
  }
  return partitions;
}

}  // namespace tern::connectors
