// The envelope `kcat -C -J` prints around each Kafka record, one JSON object per line:
// {"topic":"t","partition":0,"offset":42,"tstype":"create","ts":1700000000000,
//  "broker":1,"headers":["k","v"],"key":"k","payload":"{\"ts\":1,...}"}
// (headers only when the record has some; key and payload null when absent). The
// record's topic, partition and offset are its place in the log (what alert ids hash,
// engine/routing.h SourcePosition); the payload is the event.
// Tested by tests/unit/engine/kcat_envelope_test.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace tern::engine {

struct KcatRecord {
  std::string_view topic;    // valid until the next Parse
  int32_t partition = -1;    // >= 0
  int64_t offset = -1;       // >= 0
  std::string_view payload;  // the message value, unescaped; valid until the next Parse
  bool null_payload = false; // "payload":null (a tombstone, or a record without a value)
};

// One per input, reused: a warm parser does not allocate per envelope (simdjson's DOM
// parser and a padded copy buffer). The other members kcat prints (tstype, ts, broker,
// headers, key) are accepted and ignored, in any order.
// Thread: the thread reading the input. Locks: none.
class KcatEnvelopeParser {
 public:
  KcatEnvelopeParser();
  ~KcatEnvelopeParser();
  KcatEnvelopeParser(const KcatEnvelopeParser&) = delete;
  KcatEnvelopeParser& operator=(const KcatEnvelopeParser&) = delete;

  // False, with *error set to a short reason ("not JSON", "no \"payload\"", "\"partition\"
  // is not an integer from 0 to 2147483647", ...), when `line` is not an envelope.
  bool Parse(std::string_view line, KcatRecord* out, std::string* error);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tern::engine
