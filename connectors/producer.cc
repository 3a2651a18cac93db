// Producer over rd_kafka_producev with a delivery-report callback.
// Tested by tests/unit/connectors/producer_test.cc.
#include "connectors/producer.h"

#include <librdkafka/rdkafka.h>

#include "connectors/kafka_conf.h"

namespace tern::connectors {

struct Producer::Callbacks {
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);
  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque);
};

Result<std::unique_ptr<Producer>> Producer::Create(ProducerOptions options) {
  internal::ConfHandle conf;
  const Properties defaults = {
      {"bootstrap.servers", options.bootstrap_servers},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"linger.ms", "1"},
  };
  Status applied = internal::ApplyProperties(conf.get(), defaults);
  if (applied.ok()) applied = internal::ApplyProperties(conf.get(), options.properties);
  if (!applied.ok()) return applied;

  std::unique_ptr<Producer> producer(new Producer());
  producer->on_delivery_ = std::move(options.on_delivery);
  producer->on_error_ = std::move(options.on_error);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &Callbacks::OnDelivery);
  if (producer->on_error_) rd_kafka_conf_set_error_cb(conf.get(), &Callbacks::OnError);
  rd_kafka_conf_set_opaque(conf.get(), producer.get());
  char error[512] = "";
  producer->handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), error, sizeof error);
  if (producer->handle_ == nullptr) {
    return Status::Error(Errc::kInvalidConfig, std::string("producer: ") + error);
  }
  conf.release();
  return producer;
}

Producer::~Producer() {
  if (handle_ == nullptr) return;
  on_delivery_ = nullptr;  // the owner may be half destroyed: report nothing
  on_error_ = nullptr;
  rd_kafka_flush(handle_, 5000);
  rd_kafka_destroy(handle_);
}

void Producer::Callbacks::OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* message,
                                     void* opaque) {
  auto* self = static_cast<Producer*>(opaque);
  if (!self->on_delivery_) return;
  DeliveryReport report;
  report.topic = message->rkt != nullptr ? rd_kafka_topic_name(message->rkt) : "";
  report.partition = message->partition;
  report.offset = message->err ? -1 : message->offset;
  report.opaque = reinterpret_cast<uintptr_t>(message->_private);
  if (message->err) {
    // librdkafka already retried what it could; retriable() here means that
    // producing the message again may succeed (e.g. message.timeout.ms expired).
    report.status = Status::FromKafka(message->err, "delivery to '" + std::string(report.topic) + "'");
    if (message->key != nullptr) report.key = {static_cast<const char*>(message->key), message->key_len};
    if (message->payload != nullptr) {
      report.value = {static_cast<const char*>(message->payload), message->len};
    }
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(message, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name = nullptr;
      const void* value = nullptr;
      size_t size = 0;
      for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
        self->failed_headers_.push_back(
            {name, value == nullptr ? std::string_view() : std::string_view(static_cast<const char*>(value), size)});
      }
      report.headers = self->failed_headers_;
    }
  }
  self->on_delivery_(report);
  self->failed_headers_.clear();
}

void Producer::Callbacks::OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* self = static_cast<Producer*>(opaque);
  Status status;
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    status = self->fatal_error();
  } else {
    status = Status::FromKafka(err, std::string("producer: ") + reason);
  }
  if (self->on_error_) self->on_error_(status);
}

Status Producer::Produce(std::string_view topic, std::string_view key, std::string_view value,
                         std::span<const Header> headers, uint64_t opaque, int32_t partition) {
  topic_scratch_.assign(topic);
  rd_kafka_headers_t* hdrs = nullptr;
  if (!headers.empty()) {
    hdrs = rd_kafka_headers_new(headers.size());
    for (const Header& h : headers) {
      rd_kafka_header_add(hdrs, h.key.data(), static_cast<ssize_t>(h.key.size()), h.value.data(),
                          static_cast<ssize_t>(h.value.size()));
    }
  }
  rd_kafka_resp_err_t err = rd_kafka_producev(
      handle_, RD_KAFKA_V_TOPIC(topic_scratch_.c_str()), RD_KAFKA_V_PARTITION(partition),
      RD_KAFKA_V_KEY(key.empty() ? nullptr : const_cast<char*>(key.data()), key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
      RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(opaque))), RD_KAFKA_V_END);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();  // the headers now belong to it
  if (hdrs != nullptr) rd_kafka_headers_destroy(hdrs);
  if (err == RD_KAFKA_RESP_ERR__FATAL) return fatal_error();
  return Status::FromKafka(err, "produce to '" + topic_scratch_ + "'");
}

int Producer::Poll(int timeout_ms) { return rd_kafka_poll(handle_, timeout_ms); }

Status Producer::Flush(int timeout_ms) {
  return Status::FromKafka(rd_kafka_flush(handle_, timeout_ms), "flush");
}

int Producer::in_flight() const { return rd_kafka_outq_len(handle_); }

std::string Producer::ClusterId(int timeout_ms) const {
  char* id = rd_kafka_clusterid(handle_, timeout_ms);
  if (id == nullptr) return {};
  std::string out(id);
  rd_kafka_mem_free(handle_, id);
  return out;
}

Status Producer::fatal_error() const {
  char reason[512] = "";
  rd_kafka_resp_err_t err = rd_kafka_fatal_error(handle_, reason, sizeof reason);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
  return Status::Error(Errc::kKafka, std::string("producer fatal error: ") + reason,
                       /*retriable=*/false, /*fatal=*/true);
}

}  // namespace tern::connectors
