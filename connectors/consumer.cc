// Consumer over librdkafka's high-level consumer (rd_kafka_consumer_poll), with
// the rebalance callback assigning explicitly so the owner hears of every change.
// Tested by tests/unit/connectors/consumer_test.cc.
#include "connectors/consumer.h"

#include <librdkafka/rdkafka.h>

#include <cstring>

#include "connectors/kafka_conf.h"

namespace tern::connectors {

namespace {

// Owns an rd_kafka_topic_partition_list_t.
class PartitionList {
 public:
  explicit PartitionList(size_t size) : list_(rd_kafka_topic_partition_list_new(size)) {}
  explicit PartitionList(rd_kafka_topic_partition_list_t* list) : list_(list) {}
  ~PartitionList() {
    if (list_ != nullptr) rd_kafka_topic_partition_list_destroy(list_);
  }
  PartitionList(const PartitionList&) = delete;
  PartitionList& operator=(const PartitionList&) = delete;
  rd_kafka_topic_partition_list_t* get() const { return list_; }

 private:
  rd_kafka_topic_partition_list_t* list_;
};

std::vector<TopicPartition> ToPartitions(const rd_kafka_topic_partition_list_t* list) {
  std::vector<TopicPartition> out;
  if (list == nullptr) return out;
  out.reserve(list->cnt);
  for (int i = 0; i < list->cnt; ++i) out.push_back({list->elems[i].topic, list->elems[i].partition});
  return out;
}

std::vector<TopicPartitionOffset> ToOffsets(const rd_kafka_topic_partition_list_t* list) {
  std::vector<TopicPartitionOffset> out;
  if (list == nullptr) return out;
  out.reserve(list->cnt);
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = list->elems[i];
    TopicPartitionOffset o{p.topic, p.partition, p.offset, {}};
    if (p.metadata != nullptr) o.metadata.assign(static_cast<const char*>(p.metadata), p.metadata_size);
    out.push_back(std::move(o));
  }
  return out;
}

// The first per-partition error of a commit, or ok.
Status PartitionErrors(const rd_kafka_topic_partition_list_t* list, const char* what) {
  for (int i = 0; list != nullptr && i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = list->elems[i];
    if (p.err) {
      return Status::FromKafka(p.err, std::string(what) + " " + p.topic + "[" +
                                          std::to_string(p.partition) + "]");
    }
  }
  return Status::Ok();
}

// The list frees each element's metadata with librdkafka's allocator.
void FillOffsets(rd_kafka_t* handle, rd_kafka_topic_partition_list_t* list,
                 std::span<const TopicPartitionOffset> offsets) {
  for (const TopicPartitionOffset& o : offsets) {
    rd_kafka_topic_partition_t* p = rd_kafka_topic_partition_list_add(list, o.topic.c_str(), o.partition);
    p->offset = o.offset;
    if (!o.metadata.empty()) {
      p->metadata = rd_kafka_mem_malloc(handle, o.metadata.size());
      std::memcpy(p->metadata, o.metadata.data(), o.metadata.size());
      p->metadata_size = o.metadata.size();
    }
  }
}

}  // namespace

struct Consumer::Callbacks {
  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque);
  static void OnCommit(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                       rd_kafka_topic_partition_list_t* offsets, void* opaque);
};

// ---- Message and MessageBatch

std::string_view Message::topic() const { return rd_kafka_topic_name(message_->rkt); }
int32_t Message::partition() const { return message_->partition; }
int64_t Message::offset() const { return message_->offset; }
bool Message::has_key() const { return message_->key != nullptr; }

std::string_view Message::key() const {
  if (message_->key == nullptr) return {};
  return {static_cast<const char*>(message_->key), message_->key_len};
}

std::string_view Message::value() const {
  if (message_->payload == nullptr) return {};
  return {static_cast<const char*>(message_->payload), message_->len};
}

int64_t Message::timestamp_ms() const {
  rd_kafka_timestamp_type_t type;
  return rd_kafka_message_timestamp(message_, &type);
}

size_t Message::header_count() const {
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(message_, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) return 0;
  return rd_kafka_header_cnt(headers);
}

Header Message::header(size_t index) const {
  rd_kafka_headers_t* headers = nullptr;
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  if (rd_kafka_message_headers(message_, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      rd_kafka_header_get_all(headers, index, &name, &value, &size) !=
          RD_KAFKA_RESP_ERR_NO_ERROR) {
    return {};
  }
  return {name, value == nullptr ? std::string_view() :
                                   std::string_view(static_cast<const char*>(value), size)};
}

std::optional<std::string_view> Message::FindHeader(std::string_view name) const {
  std::optional<std::string_view> found;
  for (size_t i = 0, n = header_count(); i < n; ++i) {
    Header h = header(i);
    if (h.key == name) found = h.value;
  }
  return found;
}

MessageBatch& MessageBatch::operator=(MessageBatch&& other) noexcept {
  if (this != &other) {
    Clear();
    messages_ = std::move(other.messages_);
    other.messages_.clear();
  }
  return *this;
}

void MessageBatch::Clear() {
  for (Message& m : messages_) rd_kafka_message_destroy(m.message_);
  messages_.clear();
}

// ---- Consumer

Result<std::unique_ptr<Consumer>> Consumer::Create(ConsumerOptions options) {
  if (options.group_id.empty()) {
    return Status::Error(Errc::kInvalidConfig, "a consumer needs a group id");
  }
  internal::ConfHandle conf;
  const Properties defaults = {
      {"bootstrap.servers", options.bootstrap_servers},
      {"group.id", options.group_id},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      {"enable.partition.eof", "false"},
  };
  Status applied = internal::ApplyProperties(conf.get(), defaults);
  if (applied.ok()) applied = internal::ApplyProperties(conf.get(), options.properties);
  if (!applied.ok()) return applied;

  std::unique_ptr<Consumer> consumer(new Consumer());
  rd_kafka_conf_set_rebalance_cb(conf.get(), &Callbacks::OnRebalance);
  rd_kafka_conf_set_opaque(conf.get(), consumer.get());
  char error[512] = "";
  consumer->handle_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), error, sizeof error);
  if (consumer->handle_ == nullptr) {
    return Status::Error(Errc::kInvalidConfig, std::string("consumer: ") + error);
  }
  conf.release();
  consumer->options_ = std::move(options);
  // Errors, logs and commit results of the main queue are served by consumer_poll.
  rd_kafka_poll_set_consumer(consumer->handle_);
  consumer->queue_ = rd_kafka_queue_get_consumer(consumer->handle_);
  return consumer;
}

Consumer::~Consumer() {
  if (handle_ == nullptr) return;
  Close();
  if (queue_ != nullptr) rd_kafka_queue_destroy(queue_);
  rd_kafka_destroy(handle_);
}

Status Consumer::Subscribe(std::span<const std::string> topics) {
  PartitionList list(topics.size());
  for (const std::string& t : topics) {
    rd_kafka_topic_partition_list_add(list.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  }
  return Status::FromKafka(rd_kafka_subscribe(handle_, list.get()), "subscribe");
}

Status Consumer::Assign(std::span<const TopicPartitionOffset> offsets) {
  PartitionList list(offsets.size());
  for (const TopicPartitionOffset& o : offsets) {
    rd_kafka_topic_partition_list_add(list.get(), o.topic.c_str(), o.partition)->offset = o.offset;
  }
  return Status::FromKafka(rd_kafka_assign(handle_, list.get()), "assign");
}

Status Consumer::QueryWatermarks(const std::string& topic, int32_t partition, int64_t* low, int64_t* high,
                                 int timeout_ms) {
  return Status::FromKafka(
      rd_kafka_query_watermark_offsets(handle_, topic.c_str(), partition, low, high, timeout_ms),
      "watermarks of " + topic + "[" + std::to_string(partition) + "]");
}

bool Consumer::Take(rd_kafka_message_t* message, MessageBatch* batch, Status* fatal) {
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    batch->messages_.emplace_back(message);
    return true;
  }
  Status status;
  if (message->err == RD_KAFKA_RESP_ERR__FATAL) {
    char reason[512] = "";
    rd_kafka_fatal_error(handle_, reason, sizeof reason);
    status = Status::Error(Errc::kKafka, std::string("consumer fatal error: ") + reason,
                           /*retriable=*/false, /*fatal=*/true);
    *fatal = status;
  } else {
    std::string context = "consume";
    if (message->rkt != nullptr) {
      context += std::string(" ") + rd_kafka_topic_name(message->rkt) + "[" +
                 std::to_string(message->partition) + "]";
    }
    const char* detail = rd_kafka_message_errstr(message);
    status = Status::FromKafka(message->err, context + (detail ? std::string(" (") + detail + ")" : ""));
  }
  if (options_.on_error) options_.on_error(status);
  rd_kafka_message_destroy(message);
  return false;
}

Status Consumer::Poll(int timeout_ms, size_t max_messages, MessageBatch* batch) {
  batch->Clear();
  Status fatal;
  // One blocking poll, then drain what is already fetched without waiting.
  // (rd_kafka_consume_batch_queue would wait out the whole timeout unless the
  // batch fills, which costs latency at low rates.)
  rd_kafka_message_t* message = rd_kafka_consumer_poll(handle_, timeout_ms);
  while (message != nullptr) {
    Take(message, batch, &fatal);
    if (!fatal.ok()) return fatal;
    if (batch->size() >= max_messages) break;
    message = rd_kafka_consumer_poll(handle_, 0);
  }
  return Status::Ok();
}

Status Consumer::Commit(std::span<const TopicPartitionOffset> offsets) {
  if (offsets.empty()) return Status::Ok();
  PartitionList list(offsets.size());
  FillOffsets(handle_, list.get(), offsets);
  Status status = Status::FromKafka(rd_kafka_commit(handle_, list.get(), /*async=*/0), "commit");
  if (status.ok()) status = PartitionErrors(list.get(), "commit");
  return status;
}

Status Consumer::CommitAsync(std::span<const TopicPartitionOffset> offsets) {
  if (offsets.empty()) return Status::Ok();
  PartitionList list(offsets.size());
  FillOffsets(handle_, list.get(), offsets);
  // The result is enqueued on the consumer queue and served by a later Poll.
  return Status::FromKafka(
      rd_kafka_commit_queue(handle_, list.get(), queue_, &Callbacks::OnCommit, this),
      "commit");
}

void Consumer::Callbacks::OnCommit(rd_kafka_t*, rd_kafka_resp_err_t err,
                                   rd_kafka_topic_partition_list_t* offsets, void* opaque) {
  auto* self = static_cast<Consumer*>(opaque);
  if (!self->options_.on_commit) return;
  Status status = Status::FromKafka(err, "commit");
  if (status.ok()) status = PartitionErrors(offsets, "commit");
  std::vector<TopicPartitionOffset> list = ToOffsets(offsets);
  self->options_.on_commit(status, list);
}

RebalanceProtocol Consumer::protocol() const {
  const char* name = rd_kafka_rebalance_protocol(handle_);
  if (name == nullptr) return RebalanceProtocol::kNone;
  if (std::strcmp(name, "COOPERATIVE") == 0) return RebalanceProtocol::kCooperative;
  if (std::strcmp(name, "EAGER") == 0) return RebalanceProtocol::kEager;
  return RebalanceProtocol::kNone;
}

Result<std::vector<TopicPartitionOffset>> Consumer::Committed(
    std::span<const TopicPartition> partitions, int timeout_ms) {
  PartitionList list(partitions.size());
  for (const TopicPartition& p : partitions) {
    rd_kafka_topic_partition_list_add(list.get(), p.topic.c_str(), p.partition);
  }
  Status status =
      Status::FromKafka(rd_kafka_committed(handle_, list.get(), timeout_ms), "committed offsets");
  if (status.ok()) status = PartitionErrors(list.get(), "committed offset of");
  if (!status.ok()) return status;
  return ToOffsets(list.get());
}

std::vector<TopicPartition> Consumer::assignment() const {
  rd_kafka_topic_partition_list_t* raw = nullptr;
  if (rd_kafka_assignment(handle_, &raw) != RD_KAFKA_RESP_ERR_NO_ERROR) return {};
  PartitionList list(raw);
  return ToPartitions(list.get());
}

std::vector<PartitionLag> Consumer::Lag() const {
  rd_kafka_topic_partition_list_t* raw = nullptr;
  if (rd_kafka_assignment(handle_, &raw) != RD_KAFKA_RESP_ERR_NO_ERROR) return {};
  PartitionList list(raw);
  rd_kafka_position(handle_, list.get());
  std::vector<PartitionLag> out;
  out.reserve(list.get()->cnt);
  for (int i = 0; i < list.get()->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = list.get()->elems[i];
    PartitionLag lag;
    lag.topic = p.topic;
    lag.partition = p.partition;
    lag.position = p.offset >= 0 ? p.offset : -1;
    int64_t low = -1;
    int64_t high = -1;
    if (rd_kafka_get_watermark_offsets(handle_, p.topic, p.partition, &low, &high) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        high >= 0) {
      lag.high_watermark = high;
    }
    if (lag.position >= 0 && lag.high_watermark >= 0) {
      lag.lag = std::max<int64_t>(0, lag.high_watermark - lag.position);
    }
    out.push_back(std::move(lag));
  }
  return out;
}

void Consumer::Callbacks::OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                      rd_kafka_topic_partition_list_t* partitions,
                                      void* opaque) {
  auto* self = static_cast<Consumer*>(opaque);
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  std::vector<TopicPartition> changed = ToPartitions(partitions);
  Status status;
  // The cooperative protocol calls back with empty changes too (a rebalance that
  // moved nothing of this member's); librdkafka still wants them applied.
  const bool report = self->options_.on_rebalance && !changed.empty();
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (report) self->options_.on_rebalance(RebalanceKind::kAssigned, changed);
    for (const TopicPartitionOffset& o : self->start_at_) {
      rd_kafka_topic_partition_t* p = rd_kafka_topic_partition_list_find(partitions, o.topic.c_str(), o.partition);
      if (p != nullptr) p->offset = o.offset;
    }
    self->start_at_.clear();
    if (cooperative) {
      rd_kafka_error_t* error = rd_kafka_incremental_assign(rk, partitions);
      if (error != nullptr) {
        status = Status::Error(Errc::kKafka, std::string("assign: ") + rd_kafka_error_string(error),
                               false, rd_kafka_error_is_fatal(error));
        rd_kafka_error_destroy(error);
      }
    } else {
      status = Status::FromKafka(rd_kafka_assign(rk, partitions), "assign");
    }
  } else {
    RebalanceKind kind =
        rd_kafka_assignment_lost(rk) ? RebalanceKind::kLost : RebalanceKind::kRevoked;
    if (report) self->options_.on_rebalance(kind, changed);
    if (cooperative) {
      rd_kafka_error_t* error = rd_kafka_incremental_unassign(rk, partitions);
      if (error != nullptr) {
        status = Status::Error(Errc::kKafka,
                               std::string("unassign: ") + rd_kafka_error_string(error), false,
                               rd_kafka_error_is_fatal(error));
        rd_kafka_error_destroy(error);
      }
    } else {
      status = Status::FromKafka(rd_kafka_assign(rk, nullptr), "unassign");
    }
  }
  if (!status.ok() && self->options_.on_error) self->options_.on_error(status);
}

Status Consumer::ProbeBrokers(int timeout_ms, size_t* brokers) {
  const rd_kafka_metadata_t* metadata = nullptr;
  Status status = Status::FromKafka(
      rd_kafka_metadata(handle_, /*all_topics=*/0, /*only_rkt=*/nullptr, &metadata, timeout_ms),
      "metadata");
  if (metadata != nullptr) {
    *brokers = static_cast<size_t>(metadata->broker_cnt);
    rd_kafka_metadata_destroy(metadata);
  }
  return status;
}

Status Consumer::Close() {
  if (closed_) return Status::Ok();
  closed_ = true;
  return Status::FromKafka(rd_kafka_consumer_close(handle_), "close");
}

}  // namespace tern::connectors
