// The shuffle's Kafka-free parts (see shuffle.h).
#include "connectors/shuffle.h"

#include <charconv>
#include <cstdio>

#include "engine/routing.h"

namespace tern::connectors {

namespace {

constexpr std::string_view kMarksPrefix = "tern-marks1 ";
constexpr size_t kMaxTopicName = 249;

bool ParseInt(std::string_view text, int64_t* v) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *v);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string RepartitionTopic(std::string_view group, std::string_view key_label) {
  std::string name;
  name.reserve(group.size() + key_label.size() + 20);
  name.append(group).append(".tern.repartition.").append(key_label.empty() ? "global" : key_label);
  for (char& c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  if (name.size() > kMaxTopicName) {
    char hash[20];
    std::snprintf(hash, sizeof hash, ".%016llx", static_cast<unsigned long long>(engine::RouteHash(name)));
    name.resize(kMaxTopicName - 17);
    name += hash;
  }
  return name;
}

int32_t RepartitionPartition(uint64_t key_hash, int32_t partitions) {
  if (partitions <= 1) return 0;
  return static_cast<int32_t>(key_hash % static_cast<uint64_t>(partitions));
}

std::string_view DecimalText(int64_t v, char (&buf)[24]) {
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return {buf, static_cast<size_t>(end - buf)};
}

bool ParseSourceRecord(const std::function<bool(std::string_view name, std::string_view* value)>& header,
                       SourceRecord* record, std::string* error) {
  std::string_view value;
  if (!header(kSourceTopicHeader, &record->topic) || record->topic.empty()) {
    *error = "no " + std::string(kSourceTopicHeader) + " header";
    return false;
  }
  int64_t n = 0;
  if (!header(kSourcePartitionHeader, &value) || !ParseInt(value, &n) || n < 0 || n > INT32_MAX) {
    *error = "no valid " + std::string(kSourcePartitionHeader) + " header";
    return false;
  }
  record->partition = static_cast<int32_t>(n);
  if (!header(kSourceTimeHeader, &value) || !ParseInt(value, &record->max_ts)) {
    *error = "no valid " + std::string(kSourceTimeHeader) + " header";
    return false;
  }
  record->offset = -1;
  if (header(kSourceOffsetHeader, &value) && (!ParseInt(value, &record->offset) || record->offset < 0)) {
    *error = "invalid " + std::string(kSourceOffsetHeader) + " header";
    return false;
  }
  record->idle = header(kSourceIdleHeader, &value) && value == "1";
  record->timestamp_ms = 0;
  if (header(kSourceTimestampHeader, &value) && !ParseInt(value, &record->timestamp_ms)) record->timestamp_ms = 0;
  return true;
}

bool SourceMarks::Take(uint32_t source, int64_t offset) {
  if (source >= marks_.size()) marks_.resize(source + 1, -1);
  if (offset <= marks_[source]) return false;
  marks_[source] = offset;
  return true;
}

void SourceMarks::Checkpoint(int64_t next_offset) {
  if (!checkpoints_.empty() && checkpoints_.back().offset >= next_offset) {
    // Nothing read since (a repeated checkpoint), or read again from before: keep the last.
    if (checkpoints_.back().offset == next_offset) checkpoints_.back().marks = marks_;
    return;
  }
  if (checkpoints_.size() >= kMaxCheckpoints) {
    // Thin the older half: every other one goes. Commits then land on a coarser grid.
    std::deque<Saved> thinned;
    const size_t half = checkpoints_.size() / 2;
    for (size_t i = 0; i < checkpoints_.size(); ++i) {
      if (i >= half || i % 2 == 1) thinned.push_back(std::move(checkpoints_[i]));
    }
    checkpoints_.swap(thinned);
  }
  checkpoints_.push_back({next_offset, marks_});
}

bool SourceMarks::LatestAtOrBelow(int64_t safe, int64_t* offset) const {
  bool found = false;
  for (size_t i = 0; i < checkpoints_.size() && checkpoints_[i].offset <= safe; ++i) {
    *offset = checkpoints_[i].offset;
    found = true;
  }
  return found;
}

bool SourceMarks::CommitPoint(int64_t safe, const std::function<std::string(uint32_t source)>& name,
                              int64_t* offset, std::string* metadata) {
  size_t best = checkpoints_.size();
  for (size_t i = 0; i < checkpoints_.size() && checkpoints_[i].offset <= safe; ++i) best = i;
  if (best == checkpoints_.size()) return false;
  checkpoints_.erase(checkpoints_.begin(), checkpoints_.begin() + static_cast<std::ptrdiff_t>(best));
  const Saved& c = checkpoints_.front();
  *offset = c.offset;
  metadata->assign(kMarksPrefix);
  bool first = true;
  for (uint32_t s = 0; s < c.marks.size(); ++s) {
    if (c.marks[s] < 0) continue;
    if (!first) metadata->push_back(',');
    first = false;
    metadata->append(name(s));
    metadata->push_back('=');
    metadata->append(std::to_string(c.marks[s]));
  }
  return true;
}

bool SourceMarks::Restore(std::string_view metadata,
                          const std::function<uint32_t(std::string_view topic, int32_t partition)>& find,
                          std::string* error) {
  marks_.clear();
  checkpoints_.clear();
  if (metadata.empty()) return true;
  if (!metadata.starts_with(kMarksPrefix)) {
    *error = "commit metadata is not Tern's source marks";
    return false;
  }
  metadata.remove_prefix(kMarksPrefix.size());
  while (!metadata.empty()) {
    const size_t comma = metadata.find(',');
    const std::string_view entry = metadata.substr(0, comma);
    metadata = comma == std::string_view::npos ? std::string_view() : metadata.substr(comma + 1);
    // topic/partition=offset; a topic name has no '/' or '='.
    const size_t slash = entry.rfind('/');
    const size_t eq = entry.rfind('=');
    int64_t partition = 0, offset = 0;
    if (slash == std::string_view::npos || eq == std::string_view::npos || eq < slash ||
        !ParseInt(entry.substr(slash + 1, eq - slash - 1), &partition) || partition < 0 ||
        partition > INT32_MAX || !ParseInt(entry.substr(eq + 1), &offset) || offset < 0) {
      *error = "malformed source mark '" + std::string(entry) + "' in commit metadata";
      marks_.clear();
      return false;
    }
    const uint32_t source = find(entry.substr(0, slash), static_cast<int32_t>(partition));
    if (source >= marks_.size()) marks_.resize(source + 1, -1);
    marks_[source] = std::max(marks_[source], offset);
  }
  return true;
}

}  // namespace tern::connectors
