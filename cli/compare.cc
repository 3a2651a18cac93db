// Subset comparison of JSON values and multiset matching of alert lists.
// Recursion over JSON nesting is bounded by simdjson's depth limit (1024); this
// code only runs on test expectations and alerts, never on the event path.
#include "cli/compare.h"

#include <simdjson.h>

#include <algorithm>
#include <deque>
#include <vector>

#include "engine/wide_numbers.h"

namespace tern::cli {

namespace {

namespace dom = simdjson::dom;

void Convert(dom::element e, JsonNode* out) {
  switch (e.type()) {
    case dom::element_type::NULL_VALUE:
      out->kind = JsonNode::Kind::kNull;
      break;
    case dom::element_type::BOOL:
      out->kind = JsonNode::Kind::kBool;
      out->boolean = e.get_bool().value_unsafe();
      break;
    case dom::element_type::INT64:
      out->kind = JsonNode::Kind::kNumber;
      out->is_int = true;
      out->integer = e.get_int64().value_unsafe();
      out->number = static_cast<double>(out->integer);
      break;
    case dom::element_type::UINT64:
      out->kind = JsonNode::Kind::kNumber;
      out->number = static_cast<double>(e.get_uint64().value_unsafe());
      break;
    case dom::element_type::DOUBLE:
      out->kind = JsonNode::Kind::kNumber;
      out->number = e.get_double().value_unsafe();
      break;
    case dom::element_type::STRING:
      out->kind = JsonNode::Kind::kString;
      out->text = e.get_string().value_unsafe();
      break;
    case dom::element_type::ARRAY: {
      out->kind = JsonNode::Kind::kArray;
      dom::array array = e.get_array().value_unsafe();  // named: see the object case
      for (dom::element item : array) {
        out->items.emplace_back();
        Convert(item, &out->items.back());
      }
      break;
    }
    case dom::element_type::OBJECT: {
      // Iterating get_object().value_unsafe() directly would bind the loop to a
      // member of a destroyed temporary.
      out->kind = JsonNode::Kind::kObject;
      dom::object object = e.get_object().value_unsafe();
      for (dom::key_value_pair member : object) {
        out->member_names.emplace_back(member.key);
        out->items.emplace_back();
        Convert(member.value, &out->items.back());
      }
      break;
    }
  }
}

bool SameNumber(const JsonNode& a, const JsonNode& b) {
  if (a.is_int && b.is_int) return a.integer == b.integer;
  return a.number == b.number;
}

}  // namespace

bool ParseJson(std::string_view text, JsonNode* out, std::string* error) {
  dom::parser parser;
  simdjson::padded_string padded(text);
  dom::element root;
  // Alerts echo their events as received: numbers outside simdjson's range included.
  std::vector<engine::NumberPatch> patches;
  auto code = engine::ParseWithWideNumbers(parser, padded.data(), padded.size(), patches, &root);
  if (code != simdjson::SUCCESS) {
    *error = std::string("not JSON: ") + simdjson::error_message(code);
    return false;
  }
  *out = JsonNode{};
  Convert(root, out);
  return true;
}

bool Subsumes(const JsonNode& expected, const JsonNode& actual) {
  if (expected.kind != actual.kind) return false;
  switch (expected.kind) {
    case JsonNode::Kind::kNull:
      return true;
    case JsonNode::Kind::kBool:
      return expected.boolean == actual.boolean;
    case JsonNode::Kind::kNumber:
      return SameNumber(expected, actual);
    case JsonNode::Kind::kString:
      return expected.text == actual.text;
    case JsonNode::Kind::kArray:
      if (expected.items.size() != actual.items.size()) return false;
      for (size_t i = 0; i < expected.items.size(); ++i) {
        if (!Subsumes(expected.items[i], actual.items[i])) return false;
      }
      return true;
    case JsonNode::Kind::kObject:
      for (size_t i = 0; i < expected.items.size(); ++i) {
        const JsonNode* found = nullptr;
        for (size_t j = 0; j < actual.items.size(); ++j) {
          if (actual.member_names[j] == expected.member_names[i]) {
            found = &actual.items[j];
            break;
          }
        }
        if (found == nullptr || !Subsumes(expected.items[i], *found)) return false;
      }
      return true;
  }
  return false;
}

MatchResult MatchAlerts(const std::vector<JsonNode>& expected,
                        const std::vector<JsonNode>& actual) {
  constexpr size_t kNone = static_cast<size_t>(-1);
  const size_t n = expected.size();
  const size_t m = actual.size();
  std::vector<std::vector<size_t>> edges(n);  // expected -> compatible actual alerts
  for (size_t e = 0; e < n; ++e) {
    for (size_t a = 0; a < m; ++a) {
      if (Subsumes(expected[e], actual[a])) edges[e].push_back(a);
    }
  }
  // Kuhn's algorithm with breadth-first search for each augmenting path.
  std::vector<size_t> match_of_expected(n, kNone);
  std::vector<size_t> match_of_actual(m, kNone);
  std::vector<size_t> reached_from(m);  // expected alert that reached an actual one in this search
  std::vector<bool> seen(m);
  std::deque<size_t> queue;
  for (size_t root = 0; root < n; ++root) {
    std::fill(seen.begin(), seen.end(), false);
    queue.assign(1, root);
    size_t free_actual = kNone;
    while (!queue.empty() && free_actual == kNone) {
      size_t e = queue.front();
      queue.pop_front();
      for (size_t a : edges[e]) {
        if (seen[a]) continue;
        seen[a] = true;
        reached_from[a] = e;
        if (match_of_actual[a] == kNone) {
          free_actual = a;
          break;
        }
        queue.push_back(match_of_actual[a]);
      }
    }
    // Flip the alternating path that ends at the free actual alert.
    for (size_t a = free_actual; a != kNone;) {
      size_t e = reached_from[a];
      size_t previous = match_of_expected[e];
      match_of_expected[e] = a;
      match_of_actual[a] = e;
      a = previous;
    }
  }
  MatchResult result;
  for (size_t e = 0; e < n; ++e) {
    if (match_of_expected[e] == kNone) result.missing.push_back(e);
  }
  for (size_t a = 0; a < m; ++a) {
    if (match_of_actual[a] == kNone) result.unexpected.push_back(a);
  }
  return result;
}

}  // namespace tern::cli
