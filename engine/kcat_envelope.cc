// kcat envelopes through simdjson's DOM parser: the members are few and the payload is
// one escaped string, which the parser unescapes into its own string buffer.
#include "engine/kcat_envelope.h"

#include <simdjson.h>

#include <cstring>

namespace tern::engine {

namespace dom = simdjson::dom;

struct KcatEnvelopeParser::Impl {
  dom::parser parser;
  std::unique_ptr<char[]> buffer;  // the line and SIMDJSON_PADDING zero bytes
  size_t capacity = 0;
};

KcatEnvelopeParser::KcatEnvelopeParser() : impl_(std::make_unique<Impl>()) {}
KcatEnvelopeParser::~KcatEnvelopeParser() = default;

namespace {

// An integer member in [0, max]; JSON numbers only (kcat prints them bare).
bool ReadCount(dom::element value, int64_t max, int64_t* out) {
  int64_t n = 0;
  if (value.get_int64().get(n) != simdjson::SUCCESS || n < 0 || n > max) return false;
  *out = n;
  return true;
}

}  // namespace

bool KcatEnvelopeParser::Parse(std::string_view line, KcatRecord* out, std::string* error) {
  Impl& m = *impl_;
  auto fail = [error](std::string_view reason) {
    if (error != nullptr) error->assign(reason);
    return false;
  };
  const size_t needed = line.size() + simdjson::SIMDJSON_PADDING;
  if (needed > m.capacity) {
    size_t capacity = m.capacity == 0 ? 4096 : m.capacity;
    while (capacity < needed) capacity *= 2;
    m.buffer = std::make_unique_for_overwrite<char[]>(capacity);
    m.capacity = capacity;
  }
  std::memcpy(m.buffer.get(), line.data(), line.size());
  std::memset(m.buffer.get() + line.size(), 0, simdjson::SIMDJSON_PADDING);
  dom::element root;
  const simdjson::error_code parsed = m.parser.parse(m.buffer.get(), line.size(), false).get(root);
  if (parsed == simdjson::UTF8_ERROR) return fail("not JSON: not valid UTF-8");
  if (parsed != simdjson::SUCCESS) return fail("not JSON");
  dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) return fail("not a JSON object");
  bool topic = false, partition = false, offset = false, payload = false;
  for (dom::key_value_pair member : object) {
    const std::string_view key = member.key;
    if (key == "topic") {
      if (member.value.get_string().get(out->topic) != simdjson::SUCCESS || out->topic.empty()) {
        return fail("\"topic\" is not a topic name");
      }
      topic = true;
    } else if (key == "partition") {
      int64_t n = 0;
      if (!ReadCount(member.value, INT32_MAX, &n)) {
        return fail("\"partition\" is not an integer from 0 to 2147483647");
      }
      out->partition = static_cast<int32_t>(n);
      partition = true;
    } else if (key == "offset") {
      if (!ReadCount(member.value, INT64_MAX, &out->offset)) return fail("\"offset\" is not an integer >= 0");
      offset = true;
    } else if (key == "payload") {
      out->null_payload = member.value.is_null();
      if (out->null_payload) {
        out->payload = {};
      } else if (member.value.get_string().get(out->payload) != simdjson::SUCCESS) {
        return fail("\"payload\" is not a string");
      }
      payload = true;
    }
  }
  if (!topic) return fail("no \"topic\"");
  if (!partition) return fail("no \"partition\"");
  if (!offset) return fail("no \"offset\"");
  if (!payload) return fail("no \"payload\"");
  return true;
}

}  // namespace tern::engine
