// Event parsing throughput: engine::EventParser (simdjson DOM) against an
// On-Demand implementation of the same contract, plus the bare parse floors.
// This is the measurement behind the DOM choice documented in event_parser.cc.
// Tested by the CTest smoke run (tiny argument).
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench/card_events.h"
#include "engine/event_parser.h"
#include "nfa/event.h"
#include "nfa/schema.h"

namespace tern::bench {
namespace {

namespace ondemand = simdjson::ondemand;

// Lines built once per size and cached (constant seed).
struct Corpus {
  std::string text;
  std::vector<std::string_view> lines;
};

const Corpus& GetCorpus(int64_t count) {
  static std::map<int64_t, std::unique_ptr<Corpus>> cache;
  auto& slot = cache[count];
  if (!slot) {
    slot = std::make_unique<Corpus>();
    CardEventGenerator generator(1);
    for (int64_t i = 0; i < count; ++i) generator.Append(slot->text);
    size_t begin = 0;
    while (begin < slot->text.size()) {
      size_t end = slot->text.find('\n', begin);
      slot->lines.emplace_back(slot->text.data() + begin, end - begin);
      begin = end + 1;
    }
  }
  return *slot;
}

nfa::Schema CardSchema() {
  nfa::Schema schema;
  for (const std::string& field : kCardFields) schema.Intern(FieldPathFromText(field));
  return schema;
}

// The same contract as engine::EventParser on simdjson On-Demand: one forward pass
// over the document guided by a trie of the wanted paths. Unlike DOM it does not
// validate members it skips. Bench-only (no duplicate-key or prefix-path handling).
class OnDemandEventParser {
 public:
  OnDemandEventParser(const nfa::Schema& schema, std::string time_field) : schema_(schema) {
    nodes_.emplace_back();
    for (uint32_t s = 0; s < schema.size(); ++s) {
      uint32_t node = 0;
      for (const auto& segment : schema.path(s).segments) node = Child(node, segment);
      nodes_[node].slots.push_back(s);
    }
    nodes_[Child(0, {time_field, 0})].is_time = true;
  }

  // Not inlined, like EventParser::Parse, so profiles compare like with like.
  [[gnu::noinline]] bool Parse(std::string_view line, nfa::StoredEvent& out, std::string* error) {
    const size_t needed = line.size() + simdjson::SIMDJSON_PADDING;
    if (needed > capacity_) {
      capacity_ = std::max<size_t>(needed, 4096);
      buffer_ = std::make_unique_for_overwrite<char[]>(capacity_);
    }
    std::memcpy(buffer_.get(), line.data(), line.size());
    std::memset(buffer_.get() + line.size(), 0, simdjson::SIMDJSON_PADDING);
    out.strings.clear();
    out.slots.assign(schema_.size(), nfa::Value::Missing());
    has_time_ = false;
    ondemand::document doc;
    if (parser_.iterate(buffer_.get(), line.size(), capacity_).get(doc) != simdjson::SUCCESS) {
      return Fail(error, "not JSON");
    }
    ondemand::object object;
    if (doc.get_object().get(object) != simdjson::SUCCESS) return Fail(error, "not an object");
    if (!VisitObject(object, 0, out)) return Fail(error, "not JSON");
    // Trailing content after the object (3.0 has no document::at_end()).
    if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) return Fail(error, "not JSON");
    if (!has_time_) return Fail(error, "missing time field");
    out.payload.assign(line);
    const char* base = out.strings.data();
    for (nfa::Value& slot : out.slots) {
      if (slot.kind == nfa::ValueKind::kString || slot.kind == nfa::ValueKind::kJson) {
        slot.str = base + slot.i;
      }
    }
    return true;
  }

 private:
  struct Node {
    std::string name;  // empty: index node
    int64_t index = 0;
    std::vector<uint32_t> slots;
    bool is_time = false;
    std::vector<uint32_t> children;
  };

  uint32_t Child(uint32_t node, const nfa::FieldSegment& segment) {
    for (uint32_t c : nodes_[node].children) {
      if (nodes_[c].name == segment.name && nodes_[c].index == segment.index) return c;
    }
    nodes_.push_back({segment.name, segment.name.empty() ? segment.index : 0, {}, false, {}});
    uint32_t c = static_cast<uint32_t>(nodes_.size() - 1);
    nodes_[node].children.push_back(c);
    return c;
  }

  static bool Fail(std::string* error, const char* reason) {
    if (error != nullptr) *error = reason;
    return false;
  }

  bool VisitObject(ondemand::object object, uint32_t node, nfa::StoredEvent& out) {
    for (auto field_result : object) {
      ondemand::field field;
      if (std::move(field_result).get(field) != simdjson::SUCCESS) return false;
      for (uint32_t c : nodes_[node].children) {
        const Node& child = nodes_[c];
        if (!child.name.empty() && field.key().unsafe_is_equal(child.name)) {
          if (!Visit(field.value(), c, out)) return false;
          break;
        }
      }
    }
    return true;
  }

  bool VisitArray(ondemand::array array, uint32_t node, nfa::StoredEvent& out) {
    size_t count = 0;
    if (array.count_elements().get(count) != simdjson::SUCCESS) return false;
    int64_t i = 0;
    for (auto element_result : array) {
      ondemand::value element;
      if (std::move(element_result).get(element) != simdjson::SUCCESS) return false;
      for (uint32_t c : nodes_[node].children) {
        const Node& child = nodes_[c];
        int64_t want = child.index < 0 ? child.index + static_cast<int64_t>(count) : child.index;
        if (child.name.empty() && want == i) {
          if (!Visit(element, c, out)) return false;
          break;
        }
      }
      ++i;
    }
    return true;
  }

  bool Visit(ondemand::value value, uint32_t node, nfa::StoredEvent& out) {
    const Node& n = nodes_[node];
    ondemand::json_type type;
    if (value.type().get(type) != simdjson::SUCCESS) return false;
    if (!n.children.empty()) {
      if (type == ondemand::json_type::object) {
        ondemand::object object;
        return value.get_object().get(object) == simdjson::SUCCESS && VisitObject(object, node, out);
      }
      if (type == ondemand::json_type::array) {
        ondemand::array array;
        return value.get_array().get(array) == simdjson::SUCCESS && VisitArray(array, node, out);
      }
      return true;
    }
    nfa::Value v;
    switch (type) {
      case ondemand::json_type::null:
        v = nfa::Value::Null();
        if (!value.is_null()) return false;
        break;
      case ondemand::json_type::boolean: {
        bool b;
        if (value.get_bool().get(b) != simdjson::SUCCESS) return false;
        v = nfa::Value::Bool(b);
        break;
      }
      case ondemand::json_type::number: {
        ondemand::number_type kind;
        if (value.get_number_type().get(kind) != simdjson::SUCCESS) return false;
        if (kind == ondemand::number_type::signed_integer) {
          int64_t i;
          if (value.get_int64().get(i) != simdjson::SUCCESS) return false;
          v = nfa::Value::Int(i);
        } else {
          double d;
          if (value.get_double().get(d) != simdjson::SUCCESS) return false;
          v = nfa::Value::Double(d);
        }
        break;
      }
      case ondemand::json_type::string: {
        std::string_view s;
        if (value.get_string().get(s) != simdjson::SUCCESS) return false;
        if (n.is_time) {
          if (!engine::ParseRfc3339(s, &out.id.ts)) return false;
          has_time_ = true;
        }
        v = nfa::Value::Int(static_cast<int64_t>(out.strings.size()));
        v.kind = nfa::ValueKind::kString;
        v.len = static_cast<uint32_t>(s.size());
        out.strings.append(s);
        break;
      }
      case ondemand::json_type::array:
      case ondemand::json_type::object: {
        std::string_view raw;
        if (type == ondemand::json_type::array) {
          ondemand::array array;
          if (value.get_array().get(array) != simdjson::SUCCESS) return false;
          if (array.raw_json().get(raw) != simdjson::SUCCESS) return false;
        } else {
          ondemand::object object;
          if (value.get_object().get(object) != simdjson::SUCCESS) return false;
          if (object.raw_json().get(raw) != simdjson::SUCCESS) return false;
        }
        v = nfa::Value::Int(static_cast<int64_t>(out.strings.size()));
        v.kind = nfa::ValueKind::kJson;
        v.len = static_cast<uint32_t>(raw.size());
        out.strings.append(raw);
        break;
      }
    }
    if (n.is_time && !has_time_) {
      if (v.kind != nfa::ValueKind::kInt) return false;
      out.id.ts = v.i;
      has_time_ = true;
    }
    for (uint32_t s : n.slots) out.slots[s] = v;
    return true;
  }

  const nfa::Schema& schema_;
  std::vector<Node> nodes_;  // [0] is the root object
  ondemand::parser parser_;
  std::unique_ptr<char[]> buffer_;
  size_t capacity_ = 0;
  bool has_time_ = false;
};

template <typename Parser>
void RunParser(benchmark::State& state, Parser& parser) {
  const Corpus& corpus = GetCorpus(state.range(0));
  nfa::StoredEvent event;
  std::string error;
  int64_t failures = 0;
  for (auto _ : state) {
    for (std::string_view line : corpus.lines) {
      if (!parser.Parse(line, event, &error)) ++failures;
      benchmark::DoNotOptimize(event.slots.data());
    }
  }
  if (failures != 0) state.SkipWithError("parse failures");
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(corpus.lines.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(corpus.text.size()));
}

void BM_Parse_Dom(benchmark::State& state) {
  nfa::Schema schema = CardSchema();
  engine::EventParser parser(schema, "ts");
  RunParser(state, parser);
}

void BM_Parse_OnDemand(benchmark::State& state) {
  nfa::Schema schema = CardSchema();
  OnDemandEventParser parser(schema, "ts");
  RunParser(state, parser);
}

// Floors: parse each line and read only the time field.
void BM_Parse_DomTimeOnly(benchmark::State& state) {
  nfa::Schema schema;
  engine::EventParser parser(schema, "ts");
  RunParser(state, parser);
}

void BM_Parse_OnDemandTimeOnly(benchmark::State& state) {
  nfa::Schema schema;
  OnDemandEventParser parser(schema, "ts");
  RunParser(state, parser);
}

constexpr int64_t kSmokeLines = 1000;
constexpr int64_t kFullLines = 1000000;

// The machine is shared, so with --benchmark_repetitions the fastest run is the one
// least disturbed by other work: report it next to mean and median.
double Fastest(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

void Configure(benchmark::internal::Benchmark* b) {
  b->Arg(kSmokeLines)->Arg(kFullLines)->Unit(benchmark::kMillisecond);
  b->ComputeStatistics("min", Fastest);
}

BENCHMARK(BM_Parse_Dom)->Apply(Configure);
BENCHMARK(BM_Parse_OnDemand)->Apply(Configure);
BENCHMARK(BM_Parse_DomTimeOnly)->Apply(Configure);
BENCHMARK(BM_Parse_OnDemandTimeOnly)->Apply(Configure);

}  // namespace
}  // namespace tern::bench

BENCHMARK_MAIN();
